"""The server's side of the map: where each projection is cached (one folder per repo,
commit, config and split under DATA_DIR/web/maps), what state it is in, and starting the
job process (mapjob.py) when a projection is missing or its job died."""

from __future__ import annotations

import fcntl
import hashlib
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import orjson

from embedhub.config import Settings
from embedhub.hub.paths import RepoId
from embedhub.web import mapjob

# UMAP already uses every core: more jobs at once would only slow each other (and the
# embedding engine) down. A projection waiting its turn shows as "queued".
MAX_JOBS = 1


class Maps:
    def __init__(self, root: Path, settings: Settings) -> None:
        self.root = root
        self.settings = settings
        self._jobs: dict[Path, subprocess.Popen] = {}
        self._lock = threading.Lock()

    def folder(self, rid: RepoId, commit: str, config: str, split: str) -> Path:
        # config and split are the visitor's words: hashed, never part of a path as given.
        tag = hashlib.sha256(f"{config}\0{split}".encode()).hexdigest()[:20]
        return self.root / rid.type / rid.namespace / rid.name / commit / tag

    def file(self, folder: Path, name: str) -> Path | None:
        """A finished file of the projection, or None: files appear only whole (mapjob)."""
        path = folder / name
        return path if path.is_file() else None

    def state(self, folder: Path) -> dict[str, Any]:
        """What the map page shows: `error`, `running` (with stage and progress) or `ready`,
        and the views that can be drawn already."""
        if (folder / mapjob.ERROR).is_file():
            message = orjson.loads((folder / mapjob.ERROR).read_bytes())["message"]
            return {"status": "error", "message": message, "views": []}
        views = []
        meta: dict[str, Any] = {}
        if (folder / mapjob.META).is_file():
            meta = orjson.loads((folder / mapjob.META).read_bytes())
            views.append("pca")
            if (folder / mapjob.UMAP).is_file():
                views.append("umap")
        out: dict[str, Any] = {"views": views, **meta}
        if "umap" in views:
            return {**out, "status": "ready", "stage": "done", "progress": 1.0}
        progress = {"stage": "queued", "progress": 0.0}
        if (folder / mapjob.PROGRESS).is_file():
            progress = orjson.loads((folder / mapjob.PROGRESS).read_bytes())
        return {**out, "status": "running", **progress}

    def running(self, folder: Path) -> bool:
        """Whether a job holds the folder's lock (a dead job's lock is free again)."""
        lock_path = folder / mapjob.LOCK
        if not lock_path.exists():
            return False
        with open(lock_path, "a+b") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(f, fcntl.LOCK_UN)
        return False

    def ensure(self, folder: Path, rid: RepoId, commit: str, files: list[str]) -> None:
        """Start the job unless the projection is complete, failed for good, or computing."""
        if (folder / mapjob.UMAP).is_file() or (folder / mapjob.ERROR).is_file():
            return
        with self._lock:
            self._reap()
            if folder in self._jobs or self.running(folder) or len(self._jobs) >= MAX_JOBS:
                return
            folder.mkdir(parents=True, exist_ok=True)
            args = {
                "data_dir": str(self.settings.data_dir),
                "type": rid.type,
                "namespace": rid.namespace,
                "name": rid.name,
                "commit": commit,
                "files": files,
                "out": str(folder),
            }
            log = open(folder / "job.log", "ab")
            self._jobs[folder] = subprocess.Popen(
                [sys.executable, "-m", "embedhub.web.mapjob", orjson.dumps(args).decode()],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            log.close()

    def _reap(self) -> None:
        for folder, job in list(self._jobs.items()):
            if job.poll() is not None:
                del self._jobs[folder]
