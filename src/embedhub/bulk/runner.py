"""The one main loop of every `embedhub embed` run, whatever embeds the rows: an executor
(in-process or remote, see local.py; or Ray, see ray_mode.py) turns the input files into
result tables in input order, and this loop commits them through the sink while the progress
line follows. Row numbers are given here too, the same way for every executor."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol

import pyarrow as pa

from embedhub.bulk import inputs
from embedhub.bulk.embedders import EmbedderInfo
from embedhub.bulk.plan import DoneSet
from embedhub.bulk.progress import Progress, make_progress
from embedhub.bulk.rows import ID_COLUMN, ROW_COLUMN, TextSpec
from embedhub.bulk.sink import Sink
from embedhub.bulk.store import WorkDir

if TYPE_CHECKING:
    from embedhub.bulk.config import JobConfig


class Executor(Protocol):
    """What embeds a run's rows."""

    mode: str  # the summary's name for it: "in-process", "remote", "ray"

    @property
    def retries(self) -> int:
        """Requests retried (remote mode)."""
        ...

    def totals(self, files: list[inputs.InputFile]) -> tuple[int | None, int | None]:
        """(rows, bytes) of the input where known, for the progress line."""
        ...

    def results(
        self, files: list[inputs.InputFile], schema: pa.Schema, done: DoneSet, progress: Progress
    ) -> Iterator[pa.Table]:
        """Each batch planned and embedded (plan.Planner.finish's tables), in input order."""
        ...

    def info(self) -> EmbedderInfo:
        """What made the vectors, for the card (known once `results` has run)."""
        ...

    def close(self) -> None: ...


def stream(
    cfg: JobConfig, spec: TextSpec, files: list[inputs.InputFile], schema: pa.Schema,
    work: WorkDir, executor: Executor,
) -> Sink:  # fmt: skip
    """Run the input through `executor` into durable parts; the sink holds the counts."""
    run_no = work.begin_run(run_settings(cfg, spec))
    done = DoneSet(work.done_keys())
    sink = Sink(
        work,
        done,
        run=run_no,
        id_column=spec.id_column or ID_COLUMN,
        embedding_column=spec.embedding_column,
        shard_rows=cfg.shard_rows,
    )
    rows, nbytes = executor.totals(files)
    progress = make_progress(quiet=cfg.quiet, total_rows=rows, total_bytes=nbytes)
    try:
        t0 = time.monotonic()
        for result in executor.results(files, schema, done, progress):
            embedded = sink.consume(result)
            progress.advance(result.num_rows, embedded, sink.current_part)
        sink.close()
        sink.counts.stream_seconds = time.monotonic() - t0
    except BaseException:
        sink.abandon()
        raise
    finally:
        progress.close()
    sink.counts.retries = executor.retries
    return sink


def run_settings(cfg: JobConfig, spec: TextSpec) -> dict[str, str]:
    """What the work dir records about a run."""
    return {
        "model": cfg.model.model_id,
        "text": spec.template or spec.column or "",
        "command": cfg.command,
    }


def numbered(
    f: inputs.InputFile,
    schema: pa.Schema,
    batch_rows: int,
    start: int,
    on_bytes: Callable[[int], None] | None = None,
) -> Iterator[pa.RecordBatch]:
    """The file's batches with their row numbers in the whole input, from `start`."""
    row = start
    for batch in inputs.read_batches(f, batch_rows, schema, on_bytes):
        numbers = pa.array(range(row, row + batch.num_rows), pa.int64())
        row += batch.num_rows
        yield batch.append_column(ROW_COLUMN, numbers)
