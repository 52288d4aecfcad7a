"""The regular (base64) commit path with one big file, as old clients send it (issue 11,
item 2): the server's RSS growth, the most temporary disk it used, and that the file landed
in LFS whole. Not a test: it prints figures next to the target (RSS growth of a few hundred
MB at most for a 1 GiB file; issue 11 saw +4.85 GB before the commit body was streamed).

    .venv/bin/python bench/hub_commit.py [--mb 1024]

The body is produced as it is sent, so the client holds little. (huggingface_hub itself sends
a file this big through Xet or LFS: preupload answers "lfs" for it.)"""

from __future__ import annotations

import argparse
import base64
import hashlib
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests
from hub_hostile import MB, Watch, start  # bench/hub_hostile.py

PIECE = 3 * MB  # a multiple of 3: every piece but the last is base64 without padding


class DiskWatch:
    """The most disk the data directory's filesystem lost while a scenario ran."""

    def __init__(self, path: Path) -> None:
        self.path, self.stop = path, threading.Event()

    def __enter__(self) -> DiskWatch:
        self.base = self.low = shutil.disk_usage(self.path).free
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def _run(self) -> None:
        while not self.stop.wait(0.1):
            self.low = min(self.low, shutil.disk_usage(self.path).free)


def file_bytes(size: int, seed: int) -> Iterator[bytes]:
    """`size` pseudo-random bytes, a piece at a time (the same for the same seed)."""
    block = hashlib.sha256(str(seed).encode()).digest() * (PIECE // 32)
    for i in range(size // PIECE):
        yield i.to_bytes(8, "little") + block[8:]
    if size % PIECE:  # the last piece: only its base64 may end in padding
        yield block[: size % PIECE]


def commit_body(path: str, size: int, seed: int, digest: Any) -> Iterator[bytes]:
    yield b'{"key":"header","value":{"summary":"big"}}\n{"key":"file","value":{"content":"'
    for piece in file_bytes(size, seed):
        digest.update(piece)
        yield base64.b64encode(piece)
    yield b'","path":"' + path.encode() + b'","encoding":"base64"}}\n'


def raw_commit(url: str, token: str, repo: str, size: int) -> tuple[str, str]:
    digest = hashlib.sha256()
    r = requests.post(
        f"{url}/api/datasets/{repo}/commit/main",
        data=commit_body("big.bin", size, 1, digest),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
        timeout=3600,
    )
    return str(r.status_code), digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=1024, help="size of the file")
    args = parser.parse_args()
    size = args.mb * MB
    data_dir = Path(tempfile.mkdtemp(prefix="embedhub-commit-"))
    proc, url = start(data_dir, lfs_threshold=10 * MB)
    try:
        token = subprocess.run(
            [sys.executable, "-m", "embedhub", "token", "create", "bench", "--write"]
            + ["--data-dir", str(data_dir)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()[-1]
        requests.post(
            f"{url}/api/repos/create",
            json={"name": "r", "type": "dataset"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        ).raise_for_status()
        runs = [("raw ndjson commit", lambda: raw_commit(url, token, "bench/r", size))]
        print(f"one file of {size / MB:.0f} MB, base64 in the commit body")
        head = f"{'scenario':30} {'answer':8} {'seconds':>8} {'RSS growth':>11}"
        print(f"{head} {'temp disk':>10} in LFS")
        for name, run in runs:
            with Watch(url, proc.pid) as w, DiskWatch(data_dir) as d:
                t = time.perf_counter()
                answer, sha = run()
                seconds = time.perf_counter() - t
            stored = data_dir / "lfs" / "objects" / sha[:2] / sha[2:4] / sha
            whole = stored.exists() and stored.stat().st_size == size
            growth, disk = (w.peak - w.base) / MB, (d.base - d.low) / MB
            print(f"{name:30} {answer:8} {seconds:8.1f} {growth:8.0f} MB {disk:7.0f} MB {whole}")
        print("target: RSS growth of a few hundred MB at most (issue 11: < 300 MB)")
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
