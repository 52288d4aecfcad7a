"""The startup sweep: temporary files and folders a killed server (or a killed git) left in the
data directory. Everything here is written under a temporary name and renamed into place
when complete, so a leftover is never part of a repo or object; it only wastes disk, or (a
git `*.lock`) blocks the next update of a ref.

Only what is older than this process is removed, and only when no other server holds the
data directory (the caller checks that), so nothing in use is ever swept."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger("embedhub.hub")

# Relative to the data directory: the object stores' temp folders, and each repo's.
LFS_PATTERNS = ("lfs/tmp/commit-*", "lfs/tmp/obj-*", "xet/tmp/xorb-*")
# Inside a bare repo: our commit scratch space, git's push quarantine and temp objects and
# packs, and lock files of refs a killed git was updating.
REPO_PATTERNS = (
    "embedhub-blobs-*",
    "embedhub-index-*",
    "objects/tmp_objdir-incoming-*",
    "objects/incoming-*",
    "objects/??/tmp_obj_*",
    "objects/pack/tmp_*",
    "refs/**/*.lock",
    "packed-refs.lock",
    "HEAD.lock",
    "config.lock",
)
# Beside the repos: a repo being created (.new-) or deleted (.deleted-).
NAMESPACE_PATTERNS = (".new-*", ".deleted-*")


def leftovers(data_dir: Path, before: float) -> Iterator[Path]:
    """Temporary files and folders under `data_dir` last modified before `before`."""
    hub = data_dir / "hub"
    candidates = [p for pattern in LFS_PATTERNS for p in data_dir.glob(pattern)]
    namespaces = [ns for kind in ("models", "datasets", "spaces") for ns in hub.glob(f"{kind}/*")]
    for namespace in namespaces:
        candidates += [p for pattern in NAMESPACE_PATTERNS for p in namespace.glob(pattern)]
        for repo in namespace.glob("*.git"):
            candidates += [p for pattern in REPO_PATTERNS for p in repo.glob(pattern)]
    for path in candidates:
        try:
            if path.lstat().st_mtime < before:
                yield path
        except FileNotFoundError:
            continue


def sweep(data_dir: Path, before: float) -> list[tuple[Path, int]]:
    """Remove the leftovers; returns (path, bytes freed) for each, and logs them."""
    removed = []
    for path in leftovers(data_dir, before):
        size = _size(path)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append((path, size))
    if removed:
        total = sum(size for _, size in removed)
        log.info(
            "startup sweep: removed %d leftover(s) of earlier runs, %d bytes: %s",
            len(removed),
            total,
            ", ".join(str(p.relative_to(data_dir)) for p, _ in removed[:20])
            + (" ..." if len(removed) > 20 else ""),
        )
    return removed


def _size(path: Path) -> int:
    if not path.is_dir() or path.is_symlink():
        return path.lstat().st_size
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except FileNotFoundError:
                pass
    return total
