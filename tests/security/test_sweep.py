"""The startup sweep on its own (issue 8, D11): a Hub started on a data directory with the
leftovers of killed runs removes those older than itself, keeps everything else, and leaves
them alone while another server uses the directory."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from embedhub.config import Settings
from embedhub.db import Database
from embedhub.hub.store import Hub

OLD = [
    "lfs/tmp/obj-1",
    "lfs/tmp/commit-1/file-a",
    "hub/datasets/ns/.new-1/HEAD",
    "hub/models/ns/.deleted-1/objects/x",
    "hub/datasets/ns/r.git/embedhub-blobs-1/b",
    "hub/datasets/ns/r.git/embedhub-index-1/index",
    "hub/datasets/ns/r.git/objects/tmp_objdir-incoming-1/pack/tmp_pack_1",
    "hub/datasets/ns/r.git/objects/ab/tmp_obj_1",
    "hub/datasets/ns/r.git/refs/heads/dev.lock",
    "hub/spaces/ns/s.git/packed-refs.lock",
]
KEPT = [
    "lfs/objects/ab/cd/abcd",
    "hub/datasets/ns/r.git/HEAD",
    "hub/datasets/ns/r.git/refs/heads/main",
    "hub/datasets/ns/r.git/embedhub.lock",
    "hub/datasets/ns/r.git/objects/ab/cdef",
    "hub/datasets/ns/.newish",
]


def plant(root: Path, names: list[str], mtime: float) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 100)
        os.utime(path, (mtime, mtime))
        for parent in path.relative_to(root).parents:  # folders as old as their files
            if str(parent) != ".":
                os.utime(root / parent, (mtime, mtime))


def start(data_dir: Path) -> Hub:
    settings = Settings(data_dir=data_dir)
    hub = Hub(settings, Database(settings.db_path))
    hub.start()
    return hub


def test_sweep_removes_only_old_leftovers(tmp_path, caplog):
    plant(tmp_path, OLD + KEPT, time.time() - 3600)
    new = "lfs/tmp/obj-2"
    start(tmp_path)  # a first server: the sweep ran before anything of its own existed
    plant(tmp_path, [new], time.time() + 60)  # "newer than the process", as in-flight work
    caplog.set_level("INFO", logger="embedhub.hub")
    plant(tmp_path, ["lfs/tmp/obj-3"], time.time() - 60)
    start(tmp_path)
    for name in OLD + ["lfs/tmp/obj-3"]:
        assert not (tmp_path / name).exists(), name
    for name in KEPT + [new]:
        assert (tmp_path / name).exists(), name
    assert "startup sweep: removed 1 leftover(s)" in caplog.text and "obj-3" in caplog.text


def test_no_sweep_while_another_server_runs(tmp_path, caplog):
    (tmp_path / "hub").mkdir()
    with open(tmp_path / "hub" / "serve.lock", "a+b") as other:
        fcntl.flock(other, fcntl.LOCK_SH)  # what a running server holds
        plant(tmp_path, ["lfs/tmp/obj-1"], time.time() - 3600)
        caplog.set_level("INFO", logger="embedhub.hub")
        start(tmp_path)
        assert (tmp_path / "lfs/tmp/obj-1").exists()
        assert "another server uses" in caplog.text
