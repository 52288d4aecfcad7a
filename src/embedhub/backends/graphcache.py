"""Converted graphs, made once per model and kept on disk: keyed by the weights and by the
converter, written to a private folder and renamed into place, built by one process at a time.

Why a folder rename: a graph is several files (model.xml + model.bin, a quality report), and
a process killed mid-conversion must never leave something that a later start loads. A
folder only ever appears complete; a killed build leaves a `.tmp` folder, swept by the next
build. Why a lock: several servers may share one cache and start together; the first converts,
the others wait for it and load its graph instead of converting the same model again."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

log = logging.getLogger("embedhub.backends")


def graph_key(model_path: Path, *parts: str) -> str:
    """The weights' identity (names, sizes and times of the model's files) plus `parts` (the
    converter's name and version, the recipe): a change to any of them makes a new graph."""
    h = hashlib.sha256("\0".join(parts).encode())
    for f in sorted(Path(model_path).rglob("*")):
        if f.is_file() and f.suffix in (".safetensors", ".bin", ".json"):
            st = f.stat()
            h.update(f"{f.relative_to(model_path)}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def cached_graph(
    cache_dir: Path, key: str, build: Callable[[Path], None], what: str, verb: str = "converting"
) -> Path:
    """The folder `cache_dir/key`, made by `build(folder)` if it isn't there yet (logged as
    "`verb` `what` once")."""
    final = cache_dir / key
    if final.is_dir():
        return final
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _locked(cache_dir / f"{key}.lock"):
        if final.is_dir():  # another process built it while we waited
            return final
        for stale in cache_dir.glob(f"{key}.tmp*"):  # a killed build's leftovers
            shutil.rmtree(stale, ignore_errors=True)
        tmp = cache_dir / f"{key}.tmp{os.getpid()}"
        tmp.mkdir()
        log.info("%s %s once, cached in %s", verb, what, final)
        start = time.perf_counter()
        try:
            with quiet():
                build(tmp)
            tmp.rename(final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        log.info("done %s %s in %.1f s", verb, what, time.perf_counter() - start)
    return final


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    # flock is released by the kernel when its holder dies, so a killed build never blocks.
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Converters print progress, warnings and notes (~90 lines for one model) to stdout and
    stderr from Python and from C++. Send all of it to debug logging instead: at the level of
    file descriptors, so the C++ side is caught too."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile() as sink, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            sink.seek(0)
            for line in sink.read().decode(errors="replace").splitlines():
                if line.strip():
                    log.debug("converter: %s", line)
            for w in caught:
                log.debug("converter warning: %s: %s", w.category.__name__, w.message)
