"""Making the dataset visible: shards under their final names, then the card.

Shard names carry the final count (train-00003-of-00012), known only at the end, so parts live
in the work dir and are published together: the old card goes first (a folder without a card is
a dataset still being made), the new data/ folder is staged beside it and swapped in by rename,
and the card is written last. Parquet shards are hard links to the parts (no copy)."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from embedhub.bulk.config import EXTENSIONS
from embedhub.bulk.store import WorkDir, fsync_dir


def publish(output: Path, work: WorkDir, schema: pa.Schema, *, fmt: str, card: str) -> int:
    """Publish every recorded part; returns the number of shards."""
    parts = work.part_numbers()
    count = max(len(parts), 1)  # an empty dataset still gets one (empty) shard
    stage = work.root / "publish"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    readme = output / "README.md"
    readme.unlink(missing_ok=True)
    fsync_dir(output)
    names = [f"train-{i:05d}-of-{count:05d}.{EXTENSIONS[fmt]}" for i in range(count)]
    sources: list[Path | None] = [work.part_path(p) for p in parts] or [None]
    for name, source in zip(names, sources, strict=True):
        _place(source, stage / name, schema, fmt)
    fsync_dir(stage)
    _swap(stage, output / "data", work.root / "data.old")
    _write_atomic(readme, card.encode())
    return count


def _place(source: Path | None, dest: Path, schema: pa.Schema, fmt: str) -> None:
    if fmt == "jsonl.gz":
        _to_jsonl(source, dest)
    elif source is None:
        pq.write_table(schema.empty_table(), dest, compression="zstd")
    else:
        try:
            os.link(source, dest)
        except OSError:  # a filesystem without hard links
            shutil.copyfile(source, dest)


def _to_jsonl(source: Path | None, dest: Path) -> None:
    """JSON Lines for tools that want text; float32 values round-trip exactly."""
    with gzip.open(dest, "wb") as out:
        if source is None:
            return
        for batch in pq.ParquetFile(source).iter_batches(1024):
            for row in batch.to_pylist():
                out.write(orjson.dumps(row, default=str) + b"\n")
        out.flush()
        os.fsync(out.fileobj.fileno())  # type: ignore[union-attr]


def _swap(stage: Path, data: Path, old: Path) -> None:
    shutil.rmtree(old, ignore_errors=True)
    if data.exists():
        os.replace(data, old)
    os.replace(stage, data)
    fsync_dir(data.parent)
    shutil.rmtree(old, ignore_errors=True)


def _write_atomic(path: Path, content: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(content)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)
