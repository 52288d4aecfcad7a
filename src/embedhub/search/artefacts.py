"""Files that are built once and then only read (row tables, vector matrices, indexes), made
crash-safe the same way: built under a temporary name, flushed to disk, renamed into place,
and only then described by a small JSON sidecar holding the size and CRC-32 of the bytes.

A file without its sidecar, or whose size or checksum differs from it, is not used: it is
deleted and built again. So a build killed at any point (kill -9, power loss after the
rename but before the sidecar) never leaves a file that is served."""

from __future__ import annotations

import json
import os
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

_CHUNK = 8 << 20
TMP_MARK = ".tmp-"


def temp_path(final: Path) -> Path:
    """A unique name next to `final`; the pid in it lets a later start remove it safely."""
    return final.with_name(f"{final.name}{TMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}")


def crc32_of(path: Path) -> int:
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            crc = zlib.crc32(chunk, crc)
    return crc


def sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    fsync_file(path)


def publish(tmp: Path, final: Path, info: dict[str, Any]) -> dict[str, Any]:
    """Make the finished `tmp` the artefact `final`, described by `info` (+ size, crc32)."""
    fsync_file(tmp)
    described = {**info, "size": tmp.stat().st_size, "crc32": crc32_of(tmp)}
    os.replace(tmp, final)
    write_json(sidecar(final), described)
    fsync_dir(final.parent)
    return described


def write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = temp_path(path)
    with open(tmp, "w") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def verified(final: Path, *, checksum: bool = True) -> dict[str, Any] | None:
    """The sidecar's description when `final` is complete and intact, else None (and any
    leftover of it is removed, so the caller builds it again)."""
    info = read_json(sidecar(final))
    ok = (
        info is not None
        and final.exists()
        and final.stat().st_size == info.get("size")
        and (not checksum or crc32_of(final) == info.get("crc32"))
    )
    if ok:
        return info
    discard(final)
    return None


def discard(final: Path) -> None:
    sidecar(final).unlink(missing_ok=True)
    final.unlink(missing_ok=True)


def remove_stale_temps(folder: Path, alive: Callable[[int], bool]) -> int:
    """Delete temporary files left by builds whose process is gone; returns how many."""
    removed = 0
    for p in folder.glob(f"*{TMP_MARK}*"):
        pid = p.name.split(TMP_MARK, 1)[1].split("-", 1)[0]
        if pid.isdigit() and not alive(int(pid)):
            p.unlink(missing_ok=True)
            removed += 1
    return removed


def pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
