"""`--ray`: the same job on a Ray cluster. Ray Data reads the input files (one read task per
file), a pool of embedding actors (each with its own model and engine) plans and embeds the
batches, and the driver commits the results through the same sink as the other modes, so the
output, resume and exactly-once rules are identical.

The driver is the single committer on purpose: the output folder is a path on the driver's
machine, and one writer is what makes "recorded only after the rename" hold. Reading and
embedding, the costly parts, are what spread over the cluster. Input paths must be readable
from every node (a shared filesystem), as for any Ray Data file read."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from concurrent.futures import Future
from functools import partial
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import ray
from ray.data import ActorPoolStrategy, Datasource, ReadTask
from ray.data.block import BlockMetadata

from embedhub.bulk import inputs
from embedhub.bulk.embedders import EmbedderInfo, LocalEmbedder
from embedhub.bulk.errors import BulkError
from embedhub.bulk.plan import DoneSet, Planner
from embedhub.bulk.progress import Progress
from embedhub.bulk.rows import TextSpec, annotate
from embedhub.bulk.runner import numbered
from embedhub.config import Settings, settings_from_env
from embedhub.models import ModelNotFound, resolve_model
from embedhub.types import ModelSpec

if TYPE_CHECKING:
    from embedhub.bulk.config import JobConfig


class RayExecutor:
    mode = "ray"
    retries = 0

    def __init__(self, cfg: JobConfig, spec: TextSpec) -> None:
        self.cfg, self.spec = cfg, spec
        self.settings = cfg.settings or settings_from_env()  # the actors get the driver's
        self.normalizes = _normalizes(cfg.model)  # checks the model exists before Ray starts
        self.dimension: int | None = None
        self.counts: list[int | None] = []

    def totals(self, files: list[inputs.InputFile]) -> tuple[int | None, int | None]:
        self.counts = _row_counts(files, self.spec)
        return (sum(c or 0 for c in self.counts) if None not in self.counts else None), None

    def results(
        self, files: list[inputs.InputFile], schema: pa.Schema, done: DoneSet, progress: Progress
    ) -> Iterator[pa.Table]:
        _connect(self.cfg)
        try:
            for batch in self._dataset(files, schema, done).iter_batches(
                batch_size=None, batch_format="pyarrow"
            ):
                self.dimension = batch.schema.field("__embedding").type.list_size
                yield batch
        except ray.exceptions.RayError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, BulkError):
                raise BulkError(cause.message) from None
            raise BulkError(f"the Ray job failed: {str(exc).strip().splitlines()[-1]}") from exc

    def _dataset(self, files, schema: pa.Schema, done: DoneSet):  # -> ray.data.Dataset
        threads = self.settings.threads or 2
        cpus = int(ray.cluster_resources().get("CPU", 1))
        actors = self.cfg.actors or max(1, cpus // threads)
        source = _Files(files, schema, self.counts, self.cfg.batch_rows)
        return ray.data.read_datasource(source).map_batches(
            _EmbedActor,
            fn_constructor_kwargs={
                "model": self.cfg.model,
                "spec": self.spec,
                "done": [ray.put(done.keys)],  # in a list: Ray passes the reference through
                "settings": self.settings,
                "threads": threads,
            },
            batch_size=self.cfg.batch_rows,
            batch_format="pyarrow",
            compute=ActorPoolStrategy(size=actors),
            # One CPU reserved per actor although it runs `threads` threads: the read tasks
            # need a slot too, and they mostly wait on the actors.
            num_cpus=1,
        )

    def info(self) -> EmbedderInfo:
        """The dimension is the actors' (seen in their results): the driver loads no weights."""
        return EmbedderInfo(self.cfg.model.model_id, self.dimension or 0, self.normalizes, "Ray")

    def close(self) -> None:
        pass


def _connect(cfg) -> None:
    if ray.is_initialized():
        return
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True  # the same row order as the other modes
    ctx.enable_progress_bars = False  # ours is enough
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    options: dict[str, Any] = {"logging_level": "WARNING", "log_to_driver": False}
    if cfg.ray != "auto":
        ray.init(address=cfg.ray, **options)
        return
    try:  # a cluster already running on this machine (`ray start --head`)
        ray.init(address="auto", **options)
    except ConnectionError:
        ray.init(num_cpus=cfg.ray_cpus or os.cpu_count(), include_dashboard=False, **options)


def _row_counts(files, spec: TextSpec) -> list[int | None]:
    """Rows per file, when row numbers must run on across files (no --id-column): a cheap
    parsing pass next to embedding; Parquet and Arrow know their counts already."""
    if spec.id_column is not None or len(files) == 1:
        return [inputs.row_count(f) for f in files]
    return [
        inputs.row_count(f) or sum(b.num_rows for b in inputs.read_batches(f, 65536)) for f in files
    ]


def _normalizes(model: ModelSpec) -> bool:
    """Whether the model ends in Normalize, from its files (the driver loads no weights)."""
    try:
        path = resolve_model(model)
    except ModelNotFound as exc:
        raise BulkError(str(exc)) from exc
    modules = (
        json.loads((path / "modules.json").read_text()) if (path / "modules.json").exists() else []
    )
    return any(m.get("type", "").endswith("Normalize") for m in modules)


class _Files(Datasource):
    """A Ray Data datasource over our own readers: every format we read locally, read the
    same way on the cluster, with row numbers that match the local run."""

    def __init__(self, files, schema: pa.Schema, counts: list[int | None], batch_rows: int):
        self.files, self.schema, self.batch_rows = files, schema, batch_rows
        self.offsets = _offsets(counts)

    def estimate_inmemory_data_size(self) -> int:
        return sum(f.path.stat().st_size for f in self.files)

    def get_read_tasks(self, parallelism, per_task_row_limit=None, data_context=None):
        return [
            ReadTask(
                partial(_read_file, f, self.schema, offset, self.batch_rows),
                BlockMetadata(
                    num_rows=None,
                    size_bytes=f.path.stat().st_size,
                    exec_stats=None,
                    input_files=(str(f.path),),
                ),
            )
            for f, offset in zip(self.files, self.offsets, strict=True)
        ]


def _offsets(counts: list[int | None]) -> list[int]:
    offsets, at = [], 0
    for n in counts:
        offsets.append(at)
        at += n or 0
    return offsets


def _read_file(f, schema: pa.Schema, offset: int, batch_rows: int):
    for batch in numbered(f, schema, batch_rows, offset):
        yield pa.Table.from_batches([batch])


class _EmbedActor:
    """One model per actor; plans each batch (skip, keep, reuse, embed) like the driver
    does in the other modes, and returns the same result table."""

    def __init__(
        self, model: ModelSpec, spec: TextSpec, done: list, settings: Settings, threads: int
    ) -> None:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        self.spec = spec
        self.embedder = LocalEmbedder(model, settings=settings, threads=threads)
        self.planner = Planner(DoneSet(ray.get(done[0])))

    def __call__(self, batch: pa.Table) -> pa.Table:
        ann = annotate(batch, self.spec, "the input")
        plan = self.planner.plan(ann, self._embed)
        return self.planner.finish(plan, self.embedder.info.dimension)

    def _embed(self, texts: list[str]) -> Future:
        future: Future = Future()
        future.set_result(self.embedder.embed(texts))
        return future
