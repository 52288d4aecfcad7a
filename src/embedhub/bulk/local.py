"""The executor of in-process and remote runs: the driver reads, plans and embeds through an
Embedder (the local engine or a remote service), with up to three batches in flight."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa

from embedhub.bulk import inputs
from embedhub.bulk.embedders import Embedder, EmbedderInfo
from embedhub.bulk.plan import DoneSet, Planner
from embedhub.bulk.progress import Progress
from embedhub.bulk.rows import TextSpec, annotate
from embedhub.bulk.runner import numbered


class HereExecutor:
    def __init__(
        self, embedder: Embedder, spec: TextSpec, batch_rows: int, *, mode: str, own: bool
    ) -> None:
        """`own`: close the embedder when done (False when the caller lent it)."""
        self.embedder, self.spec, self.batch_rows = embedder, spec, batch_rows
        self.mode, self.own = mode, own

    @property
    def retries(self) -> int:
        return getattr(self.embedder, "retries", 0)

    def totals(self, files: list[inputs.InputFile]) -> tuple[int | None, int | None]:
        counts = [inputs.row_count(f) for f in files]
        rows = None if None in counts else sum(c or 0 for c in counts)
        return rows, sum(f.path.stat().st_size for f in files)

    def results(
        self, files: list[inputs.InputFile], schema: pa.Schema, done: DoneSet, progress: Progress
    ) -> Iterator[pa.Table]:
        """Results in input order, with up to three batches in flight: while the model works
        on one, the next is read, hashed and queued, so the engine never waits for the
        reader."""
        planner, embedder = Planner(done), self.embedder
        dimension = embedder.info.dimension
        with ThreadPoolExecutor(2, thread_name_prefix="embed") as pool:
            inflight: deque = deque()
            for ann in self._annotated(files, schema, progress):
                inflight.append(planner.plan(ann, lambda t: pool.submit(embedder.embed, t)))
                if len(inflight) >= 3:
                    yield planner.finish(inflight.popleft(), dimension)
            while inflight:
                yield planner.finish(inflight.popleft(), dimension)

    def _annotated(self, files, schema: pa.Schema, progress: Progress) -> Iterator:
        row = 0
        for f in files:
            for batch in numbered(f, schema, self.batch_rows, row, progress.add_bytes):
                row += batch.num_rows
                yield annotate(batch, self.spec, str(f))

    def info(self) -> EmbedderInfo:
        return self.embedder.info

    def close(self) -> None:
        if self.own:
            self.embedder.close()
