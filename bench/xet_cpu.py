"""CPU cost of one big upload on the server, Xet vs LFS: the server's CPU-seconds (user +
system) per GiB uploaded with the official client, each mode on a fresh `embedhub serve`.

On a 2-core box the client and the server share the cores, so CPU-seconds, more than wall
time, decide the Xet/LFS upload ratio of bench/hub.py; they are also steadier than wall time
on a loaded machine. Not a test: it prints numbers.

Time the server itself, not the store's functions in a fresh process: a small fresh process
pays page faults for every new ~64 kB buffer, which makes per-chunk allocations look like a
third of the cost of validating a xorb; in the long-running server they are not (measured:
buffer reuse that saved ~2 CPU-s/GiB per pass in a fresh process saved nothing here).

    .venv/bin/python bench/xet_cpu.py [--gib 0.5] [--modes xet,lfs]

The file is half random float32 (like embeddings) and half float32 rounded to two decimals
(like quantized values): hf_xet 1.8 stores about half its chunks as LZ4 and half as BG4-LZ4
(a few as is), and no chunk repeats, so every byte is sent and unpacked."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).parent))
from hub import UPLOAD, make_token, run_client, start_server

GIB = 1024**3


def mixed_file(path: Path, size: int) -> None:
    rng = np.random.default_rng(0)
    block = 64 * 1024 * 1024
    with open(path, "wb") as f:
        for i, start in enumerate(range(0, size, block)):
            n = min(block, size - start)
            values = rng.standard_normal(n // 4 + 1, dtype=np.float32)
            if i % 2:
                values = np.round(values, 2)
            f.write(values.tobytes()[:n])


def cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


def upload(mode: str, tmp: Path, path: Path) -> dict:
    data_dir = tmp / f"home-{mode}"
    server, url = start_server(data_dir)
    try:
        token = make_token(data_dir)
        watched = psutil.Process(server.pid)
        before = cpu_seconds(watched)
        client = run_client(
            UPLOAD, url, token, f"bench/{mode}", path, path.name, lfs=mode == "lfs",
            home=tmp / f"hf-{mode}",
        )  # fmt: skip
        return {"server_cpu": cpu_seconds(watched) - before, "seconds": client["seconds"]}
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=0.5, help="size of the uploaded file, GiB")
    parser.add_argument("--modes", default="xet,lfs", help="comma-separated: xet, lfs")
    args = parser.parse_args()
    size = int(args.gib * GIB)
    with tempfile.TemporaryDirectory(prefix="embedhub-bench-") as name:
        tmp = Path(name)
        mixed_file(tmp / "big.bin", size)
        for mode in args.modes.split(","):
            r = upload(mode, tmp, tmp / "big.bin")
            print(
                f"upload {mode:3}: server {r['server_cpu'] / (size / GIB):5.2f} CPU-s/GiB, "
                f"{r['seconds']:6.2f} s wall ({size / GIB:.2f} GiB)"
            )


if __name__ == "__main__":
    main()
