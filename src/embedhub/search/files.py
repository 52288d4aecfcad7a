"""Local paths for repo files, for readers that need one (Parquet is read by random access).

Files are kept by content id under `root`, so a file shared by many commits is there once. A
file the hub stores as a plain file is hard-linked (instant, no extra space, and it stays
valid even if the hub's store drops it later); anything else is streamed into a temporary
file and renamed into place, so a reader never sees a partial copy."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

from embedhub.hub.blobs import RepoFile
from embedhub.search.artefacts import TMP_MARK, fsync_file, remove_stale_temps, temp_path

# Copy in big reads: a Xet file's read decodes whole chunks (~64 KiB), so each read's cut
# chunks are decoded twice.
_COPY = 8 << 20
_USED = ".used"


class FileCache:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        # A copy and its use marker change together under this lock, and a cleanup decides on
        # each file under it: otherwise a cleanup could find a just-published copy whose
        # marker isn't written yet and delete it under its reader (seen when a push's own
        # cleanup ran while the search warmer copied the new files).
        self._lock = threading.Lock()

    def path(self, f: RepoFile) -> Path:
        dest = self.root / f.oid[:2] / f.oid
        with self._lock:
            if dest.exists() and dest.stat().st_size == f.size:
                _touch(_used(dest))
                return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_path(dest)
        try:
            if not (f.local is not None and _link(f.local, tmp)):
                with f.open() as src, open(tmp, "wb") as out:
                    shutil.copyfileobj(src, out, _COPY)
                fsync_file(tmp)
            if tmp.stat().st_size != f.size:
                raise OSError(f"{f.path}: expected {f.size} bytes, read {tmp.stat().st_size}")
            with self._lock:
                os.replace(tmp, dest)
                _touch(_used(dest))
        finally:
            tmp.unlink(missing_ok=True)
        return dest

    def remove_unused(self, older_than_s: float, alive) -> int:
        """Drop copies not used for `older_than_s` seconds. Use is recorded on a marker file
        beside each copy: a hard-linked copy shares its inode, and so its times, with the
        hub's own object, which is not ours to touch."""
        removed = 0
        cutoff = time.time() - older_than_s
        for folder in self.root.iterdir() if self.root.exists() else []:
            if not folder.is_dir():
                continue
            remove_stale_temps(folder, alive)
            for p in folder.iterdir():
                if p.name.endswith(_USED) or TMP_MARK in p.name:
                    continue
                with self._lock:
                    try:
                        if _used(p).stat().st_mtime >= cutoff:
                            continue
                    except FileNotFoundError:
                        pass
                    _used(p).unlink(missing_ok=True)
                    p.unlink(missing_ok=True)
                removed += 1
        return removed


def _link(src: Path, dest: Path) -> bool:
    try:
        os.link(src, dest)
        return True
    except OSError:  # another filesystem, or links not allowed: copy instead
        return False


def _used(path: Path) -> Path:
    return path.with_name(path.name + _USED)


def _touch(path: Path) -> None:
    path.touch()
