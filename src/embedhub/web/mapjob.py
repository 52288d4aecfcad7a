"""The projection job, run as its own process (`python -m embedhub.web.mapjob ARGS_JSON`) so
UMAP's CPU time and memory never sit in the server, and a crash costs only the job.

Every file appears by an atomic rename, in an order that makes each one safe to serve the
moment it exists: the PCA view with its labels and colours first, then `meta.json` (which
says the first view is ready), then `umap.f32` last. A job killed half-way leaves only
temporary files; the server sees no `umap.f32` and no live job, and starts it again."""

from __future__ import annotations

import fcntl
import gzip
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from embedhub.config import Settings
from embedhub.db import Database
from embedhub.hub.paths import RepoId
from embedhub.hub.store import Hub
from embedhub.web import mapdata, projection
from embedhub.web.repodata import Repo

LOCK, PROGRESS, ERROR, META = "lock", "progress.json", "error.json", "meta.json"
PCA, UMAP, LABELS, COLORS = "pca.f32", "umap.f32", "labels.json.gz", "colors.json.gz"


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def clear_temporaries(folder: Path) -> None:
    for leftover in folder.glob(".*.tmp-*"):
        leftover.unlink(missing_ok=True)


class Job:
    def __init__(self, args: dict[str, Any]) -> None:
        self.args = args
        self.out = Path(args["out"])
        self.last_report = 0.0

    def progress(self, stage: str, fraction: float) -> None:
        now = time.monotonic()
        if now - self.last_report < 0.5 and fraction < 1:
            return
        self.last_report = now
        body = {"stage": stage, "progress": round(fraction, 3), "pid": os.getpid()}
        write_atomic(self.out / PROGRESS, orjson.dumps(body))

    def run(self) -> None:
        a = self.args
        settings = Settings(data_dir=Path(a["data_dir"]))
        hub = Hub(settings, Database(settings.db_path))
        rid = RepoId(a["type"], a["namespace"], a["name"])
        repo = _repo_at(hub, rid, a["commit"])
        self.progress("reading", 0.0)
        schema = mapdata.schema_of(repo, a["files"][0])
        cols = mapdata.pick_columns(schema)
        wanted = [cols.embedding, *([cols.label] if cols.label else []), *cols.colors]
        table = mapdata.read_table(repo, a["files"], wanted)
        matrix = mapdata.vectors(table, cols.embedding)
        self.progress("pca", 0.2)
        first = projection.to_unit_square(projection.pca(matrix))
        colors = []
        for name in cols.colors:
            described = mapdata.color_column(table.column(name).to_pylist())
            if described is not None:
                colors.append({"name": name, **described})
        write_atomic(self.out / PCA, first.tobytes())
        write_atomic(
            self.out / LABELS, gzip.compress(orjson.dumps(mapdata.labels(table, cols.label)))
        )
        write_atomic(self.out / COLORS, gzip.compress(orjson.dumps(colors)))
        meta = {
            "rows": int(matrix.shape[0]),
            "dims": int(matrix.shape[1]) if matrix.ndim == 2 else 0,
            "embedding": cols.embedding,
            "label": cols.label,
            "colors": [{k: v for k, v in c.items() if k != "values"} for c in colors],
        }
        write_atomic(self.out / META, orjson.dumps(meta))
        del table
        self.progress("umap", 0.3)
        layout = projection.to_unit_square(projection.umap_2d(matrix, self.progress))
        write_atomic(self.out / UMAP, layout.tobytes())
        self.progress("done", 1.0)


def _repo_at(hub: Hub, rid: RepoId, commit: str) -> Repo:
    # The server checked the visitor's rights before starting the job; the job reads as the
    # server itself.
    row = hub.row(rid)
    if row is None:
        raise FileNotFoundError(rid.id)
    return Repo(hub, rid, row.private, hub.git(rid), commit, commit)


def _die_with_parent() -> None:
    """End this job when the server that started it ends (its parent changes): a stopped
    server leaves no job behind, and the next one starts the projection again."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(3)

    threading.Thread(target=watch, daemon=True).start()


def main(raw: str) -> int:
    args = json.loads(raw)
    out = Path(args["out"])
    out.mkdir(parents=True, exist_ok=True)
    with open(out / LOCK, "a+b") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0  # another job is computing this projection
        _die_with_parent()
        clear_temporaries(out)
        job = Job(args)
        try:
            job.run()
        except mapdata.NoEmbedding as exc:
            write_atomic(out / ERROR, orjson.dumps({"message": str(exc)}))
        except Exception as exc:  # the page shows why; the job's log has the traceback
            write_atomic(out / ERROR, orjson.dumps({"message": f"The projection failed: {exc}"}))
            raise
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main(sys.argv[1]))
