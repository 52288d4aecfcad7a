"""The hub under the hostile inputs of issue 8 (D4-D7): server RSS growth and the worst
/health latency while each runs. Not a test: it prints figures next to their targets
(RSS growth < 300 MB for any single request the default limits allow; /health never stalls
for more than 1 s).

    .venv/bin/python bench/hub_hostile.py [--mb 600] [--downloads 10] [--only D6,D7]

It starts its own `embedhub serve` on a temporary data directory, with a huge LFS threshold
so that big files stay in git (the D6 case: a big non-LFS file)."""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import requests

MB = 1024 * 1024


class Watch:
    """Samples the server's RSS and /health latency in the background while a scenario runs."""

    def __init__(self, url: str, pid: int) -> None:
        self.url, self.proc = url, psutil.Process(pid)
        self.stop = threading.Event()

    def __enter__(self) -> Watch:
        self.base = self.peak = self.proc.memory_info().rss
        self.worst = 0.0
        self.threads = [threading.Thread(target=f, daemon=True) for f in (self._rss, self._health)]
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()

    def _rss(self) -> None:
        while not self.stop.wait(0.02):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def _health(self) -> None:
        while not self.stop.wait(0.05):
            t = time.perf_counter()
            requests.get(f"{self.url}/health", timeout=60)
            self.worst = max(self.worst, time.perf_counter() - t)


def chunks(total: int, piece: bytes) -> Iterator[bytes]:
    for _ in range(total // len(piece)):
        yield piece


def commit_body(path: str, size: int) -> Iterator[bytes]:
    """One file line of `size` random bytes, base64, produced a piece at a time."""
    yield b'{"key": "header", "value": {"summary": "big"}}\n{"key": "file", "value": {"content": "'
    block = os.urandom(3 * MB)
    for _ in range(size // len(block)):
        yield base64.b64encode(block)
    yield b'", "path": ' + json.dumps(path).encode() + b', "encoding": "base64"}}\n'


def scenarios(url: str, token: str, repo: str, mb: int, downloads: int) -> list:
    auth = {"Authorization": f"Bearer {token}"}
    batch_url = f"{url}/datasets/{repo}.git/info/lfs/objects/batch"
    many = {
        "operation": "download",
        "objects": [{"oid": f"{i:064x}", "size": 1} for i in range(200_000)],
    }

    def d4() -> str:
        r = requests.post(
            f"{url}/api/validate-yaml", data=chunks(1024 * MB, b"x" * MB), timeout=600
        )
        return str(r.status_code)

    def d5() -> str:
        big = requests.post(batch_url, json=many, timeout=600).status_code
        ok = requests.post(batch_url, json={**many, "objects": many["objects"][:1000]}, timeout=600)
        return f"200k objects: {big}, 1000 objects: {ok.status_code}"

    def d7() -> str:
        r = requests.post(
            f"{url}/api/datasets/{repo}/commit/main",
            data=commit_body("big.txt", mb * MB),
            headers={**auth, "Content-Type": "application/x-ndjson"},
            timeout=3600,
        )
        return str(r.status_code)

    def d6() -> str:
        def get(_: int) -> int:
            r = requests.get(
                f"{url}/datasets/{repo}/resolve/main/big.txt", stream=True, timeout=600
            )
            return sum(len(c) for c in r.iter_content(MB))

        with ThreadPoolExecutor(downloads) as pool:
            sizes = list(pool.map(get, range(downloads)))
        return f"{downloads} x {sizes[0] // MB} MB"

    return [
        ("D4 1 GiB to /api/validate-yaml", d4),
        ("D5 LFS batch of 200k objects", d5),
        (f"D7 one-file commit of {mb} MB", d7),
        ("D6 concurrent downloads", d6),
    ]


def start(data_dir: Path, lfs_threshold: int = 1 << 40) -> tuple[subprocess.Popen, str]:
    """A server on `data_dir`; by default every file stays in git (no LFS)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "EMBEDHUB_LFS_THRESHOLD": str(lfs_threshold), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "embedhub",
            "serve",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(900):
        try:
            if requests.get(f"{url}/health", timeout=2).status_code == 200:
                return proc, url
        except requests.ConnectionError:
            time.sleep(0.2)
    raise SystemExit("server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=600, help="size of the one-file commit")
    parser.add_argument("--downloads", type=int, default=10)
    parser.add_argument("--only", default="", help="run only these, e.g. D6,D7")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="embedhub-hostile-"))
    proc, url = start(data_dir)
    try:
        token = (
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "embedhub",
                    "token",
                    "create",
                    "bench",
                    "--write",
                    "--data-dir",
                    str(data_dir),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        requests.post(
            f"{url}/api/repos/create",
            json={"name": "r", "type": "dataset"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
        print(f"{'scenario':38} {'answer':28} {'RSS growth':>12} {'worst /health':>14}")
        run: Callable[[], str]
        for name, run in scenarios(url, token, "bench/r", args.mb, args.downloads):
            if args.only and name.split()[0] not in args.only.split(","):
                continue
            with Watch(url, proc.pid) as w:
                try:
                    answer = run()
                except requests.ConnectionError:
                    # A refused body is answered, and the connection closed, while the
                    # client is still sending: requests reports the closed connection.
                    answer = "closed while sending (refused)"
            growth = (w.peak - w.base) / MB
            print(f"{name:38} {answer:28} {growth:9.0f} MB {w.worst * 1000:11.0f} ms")
        print("targets: RSS growth < 300 MB, worst /health < 1000 ms")
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
