"""One `embedhub embed` run: check the input up front, stream it through an embedder into
durable parts, drop rows the input no longer has, publish the dataset, push it if asked."""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa

from embedhub.bulk import inputs
from embedhub.bulk.card import make_card
from embedhub.bulk.config import OUTPUT_FORMATS, JobConfig
from embedhub.bulk.embedders import Embedder, LocalEmbedder, RemoteEmbedder
from embedhub.bulk.errors import BulkError
from embedhub.bulk.local import HereExecutor
from embedhub.bulk.publish import publish
from embedhub.bulk.rows import TextSpec, check_columns
from embedhub.bulk.runner import Executor, stream
from embedhub.bulk.sink import Sink, rewrite_stale
from embedhub.bulk.store import WORK_DIR, WorkDir
from embedhub.config import Settings, settings_from_env


@dataclass
class Summary:
    output: str
    mode: str
    model: str
    dimension: int
    rows: int  # input rows read
    embedded: int  # rows given a new vector this run
    duplicates: int  # of those, rows whose text was already embedded in this run
    unchanged: int  # rows already in the output, kept as they were
    skipped: int  # rows without text
    removed: int  # rows dropped because the input no longer has them
    total_rows: int  # rows in the published dataset
    shards: int
    seconds: float
    rows_per_second: float  # rows embedded per second of the whole run
    stream_seconds: float  # the streaming part alone (no model load, no publish)
    skipped_ids: list[str] = field(default_factory=list)
    retries: int = 0  # remote requests retried after 429/5xx
    pushed_to: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def run(cfg: JobConfig, embedder: Embedder | None = None) -> Summary:
    """Run a job. `embedder` lets a caller (tests, notebooks) reuse a loaded model."""
    started = time.monotonic()
    spec, files, schema = validate(cfg)
    prepare_output(cfg.output, cfg.overwrite)
    work = WorkDir(cfg.output)
    try:
        executor = _executor(cfg, spec, embedder)
        try:
            sink = stream(cfg, spec, files, schema, work, executor)
        finally:
            executor.close()
        return _finish(cfg, work, sink, executor, started)
    finally:
        work.close()


def _executor(cfg: JobConfig, spec: TextSpec, embedder: Embedder | None) -> Executor:
    if cfg.ray is not None:
        try:
            from embedhub.bulk.ray_mode import RayExecutor
        except ImportError as exc:
            raise BulkError(f"--ray needs Ray Data: pip install 'embedhub[ray]' ({exc})") from exc
        return RayExecutor(cfg, spec)
    mode = "remote" if cfg.url else "in-process"
    if embedder is not None:
        return HereExecutor(embedder, spec, cfg.batch_rows, mode=mode, own=False)
    if cfg.url:
        embedder = RemoteEmbedder(
            cfg.url, cfg.model.model_id, token=cfg.token, concurrency=cfg.concurrency
        )
    else:
        embedder = LocalEmbedder(cfg.model, settings=model_settings(cfg))
    return HereExecutor(embedder, spec, cfg.batch_rows, mode=mode, own=True)


def model_settings(cfg: JobConfig) -> Settings:
    """How the model runs: the job's settings, else the EMBEDHUB_* variables'."""
    return cfg.settings or settings_from_env()


def validate(cfg: JobConfig) -> tuple[TextSpec, list[inputs.InputFile], pa.Schema]:
    """Everything that can be checked before any work: files, formats, columns, flags."""
    if cfg.output_format not in OUTPUT_FORMATS:
        expected = " or ".join(OUTPUT_FORMATS)
        raise BulkError(f"--format {cfg.output_format!r}: expected {expected}")
    if cfg.column and cfg.template:
        raise BulkError("--column and --template are exclusive: the template names its columns")
    if cfg.batch_rows < 1 or cfg.shard_rows < 1:
        raise BulkError("--batch-rows and --shard-rows must be positive")
    files = inputs.discover(cfg.inputs, input_format=cfg.input_format, split=cfg.split)
    schemas = [inputs.probe(f) for f in files]
    normalize = "remote" if cfg.url else "model"
    precision = model_settings(cfg).precision
    if not cfg.url and precision != "fp32":
        # int8 vectors differ from exact ones: changing precision re-embeds every row, so a
        # dataset never mixes the two (exact runtimes agree to 1e-5 and share one key).
        normalize += f"\0{precision}"
    spec = TextSpec(
        column=cfg.column or (None if cfg.template else inputs.TEXT_COLUMN),
        template=cfg.template,
        id_column=cfg.id_column,
        embedding_column=cfg.embedding_column,
        model_key=f"{cfg.model.model_id}\0{normalize}",
    )
    for f, s in zip(files, schemas, strict=True):
        check_columns(spec, s, str(f))
    return spec, files, inputs.unify(files, schemas)


def prepare_output(output: Path, overwrite: bool) -> None:
    if overwrite and output.exists():
        for name in ("README.md", "data", WORK_DIR):
            path = output / name
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    if output.exists() and not output.is_dir():
        raise BulkError(f"{output}: --output must be a folder, this is a file")
    if output.is_dir() and any(output.iterdir()) and not (output / WORK_DIR).is_dir():
        raise BulkError(
            f"{output}: the folder is not empty and was not made by `embedhub embed`; "
            "pick an empty or new folder"
        )
    output.mkdir(parents=True, exist_ok=True)


# --- the end of every run ---------------------------------------------------------------------
def _finish(
    cfg: JobConfig, work: WorkDir, sink: Sink, executor: Executor, started: float
) -> Summary:
    run_no = sink.run
    duplicates = work.duplicate_ids(run_no)
    if duplicates:
        listed = ", ".join(f"{i!r} ({n} times)" for i, n in duplicates)
        raise BulkError(f"--id-column {cfg.id_column!r} is not unique: {listed}")
    removed = rewrite_stale(work, run_no, sink.id_column)
    schema = sink.schema
    assert schema is not None
    total = work.row_count()
    info = executor.info()
    card = make_card(
        schema=schema,
        rows=total,
        num_bytes=sum(work.part_path(p).stat().st_size for p in work.part_numbers()),
        fmt=cfg.output_format,
        model=info,
        embedding_column=sink.embedding_column,
        command=cfg.command,
        text=cfg.template or cfg.column or inputs.TEXT_COLUMN,
        id_column=sink.id_column,
    )
    shards = publish(cfg.output, work, schema, fmt=cfg.output_format, card=card)
    c = sink.counts
    seconds = time.monotonic() - started
    return Summary(
        output=str(cfg.output),
        mode=executor.mode,
        model=info.model_id,
        dimension=info.dimension,
        rows=c.rows,
        embedded=c.embedded,
        duplicates=c.duplicates,
        unchanged=c.unchanged,
        skipped=c.skipped,
        removed=removed,
        total_rows=total,
        shards=shards,
        seconds=round(seconds, 3),
        rows_per_second=round(c.embedded / seconds, 1) if seconds else 0.0,
        stream_seconds=round(c.stream_seconds, 3),
        skipped_ids=c.skipped_ids,
        retries=c.retries,
    )
