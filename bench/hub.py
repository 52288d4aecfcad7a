"""Benchmark the hub's big-file paths with the official client: upload and download of one
large file through Xet (the default client, hf_xet installed) and through plain LFS
(HF_HUB_DISABLE_XET=1), then Xet's dedup on a new version of a Parquet embedding dataset.
Not a test: it prints seconds, MB/s, the Xet/LFS ratio measured in the same run, memory, and
the bytes the server says it received.

    .venv/bin/python bench/hub.py [--gib 2] [--dedup-mb 500] [--skip-dedup] [--skip-transfer]
                                  [--push-rows 200000]

Each mode gets a fresh `embedhub serve` and data dir, and each client run a fresh interpreter
and HF_HOME (huggingface_hub reads HF_ENDPOINT / HF_HUB_DISABLE_XET at import time; a fresh
HF_HOME means no local Xet cache helps). Server memory is the peak RSS during a phase minus
the RSS before it, sampled every 50 ms; client memory is the client's own peak RSS.

Dedup: a Parquet file of 384-d float32 embeddings written in row groups (as `embedhub embed`
writes them), uploaded; then the same rows plus 1% new ones, uploaded again from another
HF_HOME. The server's own counter (embedhub_xet_received_bytes_total) says how many bytes the
second upload sent.

push_to_hub: `Dataset.push_to_hub` of 200k x 384 float32 embeddings, then `load_dataset` by
name, every value compared (issue 11's third target)."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import requests

MB = 1_000_000
UPLOAD = """
import json, resource, sys, time
from huggingface_hub import HfApi
endpoint, token, repo, path, name = sys.argv[1:6]
api = HfApi(endpoint=endpoint, token=token)
api.create_repo(repo, repo_type="dataset", exist_ok=True)
t = time.perf_counter()
api.upload_file(path_or_fileobj=path, path_in_repo=name, repo_id=repo, repo_type="dataset")
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds,
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""
DOWNLOAD = """
import json, resource, sys, time
from huggingface_hub import hf_hub_download
endpoint, token, repo, path, name = sys.argv[1:6]
t = time.perf_counter()
got = hf_hub_download(repo, name, repo_type="dataset", token=token, endpoint=endpoint,
                      local_dir=path)
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "path": got,
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""
PUSH = """
import json, sys, time
import numpy as np
from datasets import Dataset, load_dataset
endpoint, token, repo, rows, _ = sys.argv[1:6]
vectors = np.random.default_rng(0).standard_normal((int(rows), 384), dtype=np.float32)
ds = Dataset.from_dict({"id": np.arange(len(vectors)), "embedding": vectors})
t = time.perf_counter()
ds.push_to_hub(repo, token=token)
pushed = time.perf_counter() - t
t = time.perf_counter()
loaded = load_dataset(repo, token=token, split="train").with_format("numpy")
loaded_s = time.perf_counter() - t
same = bool(np.array_equal(np.stack(loaded["embedding"]), vectors)
            and np.array_equal(loaded["id"], np.arange(len(vectors))))
print(json.dumps({"push_s": pushed, "load_s": loaded_s, "rows": len(loaded), "same": same}))
"""


class PeakRss(threading.Thread):
    """The highest RSS of a process while this runs (`with PeakRss(pid) as p: ...; p.peak`)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.start_rss = self.peak = self.proc.memory_info().rss
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.05):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.join()

    @property
    def growth(self) -> int:
        return self.peak - self.start_rss


def start_server(data_dir: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [
        sys.executable,
        "-m",
        "embedhub",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/health", timeout=2).status_code == 200:
                return proc, url
        except requests.ConnectionError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("embedhub serve did not start")


def make_token(data_dir: Path) -> str:
    out = subprocess.run(
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
    return out.stdout.strip().splitlines()[-1]


def run_client(
    script: str, url: str, token: str, repo: str, path: Path, name: str, *, lfs: bool, home: Path
) -> dict:
    env = {
        **os.environ,
        "HF_HOME": str(home),
        "HF_HUB_OFFLINE": "0",
        "HF_ENDPOINT": url,
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "HF_HUB_DISABLE_XET": "1" if lfs else "0",
    }
    proc = subprocess.run(
        [sys.executable, "-c", script, url, token, repo, str(path), name],
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"client failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def received(url: str) -> float:
    for line in requests.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith("embedhub_xet_received_bytes_total "):
            return float(line.split()[1])
    raise SystemExit("the server has no embedhub_xet_received_bytes_total metric")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(8 * 1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def big_file(path: Path, size: int) -> None:
    """Random float32s: incompressible, like real embeddings."""
    rng = np.random.default_rng(0)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            block = rng.standard_normal(min(left, 64 * MB) // 4 + 1, dtype=np.float32).tobytes()
            f.write(block[: min(left, len(block))])
            left -= min(left, len(block))


def transfer(mode: str, tmp: Path, path: Path) -> dict:
    data_dir = tmp / f"home-{mode}"
    proc, url = start_server(data_dir)
    try:
        token, lfs = make_token(data_dir), mode == "lfs"
        with PeakRss(proc.pid) as up:
            u = run_client(
                UPLOAD,
                url,
                token,
                f"bench/{mode}",
                path,
                path.name,
                lfs=lfs,
                home=tmp / f"hf-up-{mode}",
            )
        with PeakRss(proc.pid) as down:
            d = run_client(
                DOWNLOAD,
                url,
                token,
                f"bench/{mode}",
                tmp / f"down-{mode}",
                path.name,
                lfs=lfs,
                home=tmp / f"hf-down-{mode}",
            )
        ok = sha256(Path(d["path"])) == sha256(path)
        Path(d["path"]).unlink()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {
        "upload_s": u["seconds"],
        "download_s": d["seconds"],
        "server_upload": up.growth,
        "server_download": down.growth,
        "client_upload": u["rss"],
        "client_download": d["rss"],
        "same_bytes": ok,
    }


def parquet_version(path: Path, rows: int, seed: int = 0) -> None:
    """`rows` rows of (id, 384-d embedding); the rows of a smaller call are a prefix of
    these, as when a dataset gets new rows appended."""
    rng = np.random.default_rng(seed)
    schema = pa.schema([("id", pa.int64()), ("embedding", pa.list_(pa.float32(), 384))])
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for start in range(0, rows, 16384):
            n = min(16384, rows - start)
            vectors = rng.standard_normal((n, 384), dtype=np.float32)
            writer.write_table(
                pa.table(
                    {
                        "id": pa.array(np.arange(start, start + n)),
                        "embedding": pa.FixedSizeListArray.from_arrays(
                            pa.array(vectors.ravel()), 384
                        ),
                    },
                    schema=schema,
                )
            )


def dedup(tmp: Path, mb: int) -> dict:
    rows = mb * MB // (384 * 4 + 8)
    v1, v2 = tmp / "v1" / "train.parquet", tmp / "v2" / "train.parquet"
    for path, n in ((v1, rows), (v2, rows + rows // 100)):
        path.parent.mkdir()
        parquet_version(path, n)
    data_dir = tmp / "home-dedup"
    proc, url = start_server(data_dir)
    try:
        token = make_token(data_dir)
        first = received(url)
        run_client(
            UPLOAD,
            url,
            token,
            "bench/dedup",
            v1,
            "train.parquet",
            lfs=False,
            home=tmp / "hf-dedup-1",
        )
        second = received(url)
        run_client(
            UPLOAD,
            url,
            token,
            "bench/dedup",
            v2,
            "train.parquet",
            lfs=False,
            home=tmp / "hf-dedup-2",
        )
        third = received(url)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {
        "v1": v1.stat().st_size,
        "v2": v2.stat().st_size,
        "sent_v1": second - first,
        "sent_v2": third - second,
    }


def push_to_hub(tmp: Path, rows: int) -> dict:
    """`Dataset.push_to_hub` of `rows` x 384 float32 embeddings with the default client,
    then `load_dataset` by name: seconds for each, and whether every value came back."""
    data_dir = tmp / "home-push"
    proc, url = start_server(data_dir)
    try:
        token = make_token(data_dir)
        return run_client(
            PUSH, url, token, "bench/pushed", Path(str(rows)), "", lfs=False, home=tmp / "hf-push"
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def report(size: int, results: dict[str, dict]) -> None:
    print(f"one file of {size / MB:.0f} MB (random float32)")
    for mode, r in results.items():
        for what in ("upload", "download"):
            s = r[f"{what}_s"]
            ratio = ""
            if mode == "xet" and "lfs" in results:
                ratio = f"  = {results['lfs'][f'{what}_s'] / s:4.2f}x the LFS rate"
            print(
                f"{what:8} {mode:3}: {s:7.2f} s {size / MB / s:8.1f} MB/s{ratio}  "
                f"server RSS +{r[f'server_{what}'] / MB:6.0f} MB  "
                f"client peak RSS {r[f'client_{what}'] / MB:6.0f} MB"
            )
        print(f"download {mode:3}: bytes identical: {r['same_bytes']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=2, help="size of the transfer file, GiB")
    parser.add_argument("--dedup-mb", type=int, default=500, help="Parquet size for dedup, MB")
    parser.add_argument("--skip-transfer", action="store_true")
    parser.add_argument("--skip-dedup", action="store_true")
    parser.add_argument("--push-rows", type=int, default=200_000, help="0: skip push_to_hub")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="embedhub-bench-") as name:
        tmp = Path(name)
        if not args.skip_transfer:
            size = int(args.gib * 1024**3)
            big_file(tmp / "big.bin", size)
            results = {mode: transfer(mode, tmp, tmp / "big.bin") for mode in ("xet", "lfs")}
            report(size, results)
        if not args.skip_dedup:
            d = dedup(tmp, args.dedup_mb)
            print(f"dedup: v1 {d['v1'] / MB:.1f} MB, server received {d['sent_v1'] / MB:.1f} MB")
            print(
                f"dedup: v2 (+1% rows) {d['v2'] / MB:.1f} MB, server received "
                f"{d['sent_v2'] / MB:.2f} MB = {100 * d['sent_v2'] / d['v2']:.1f}% of it"
            )
        if args.push_rows:
            p = push_to_hub(tmp, args.push_rows)
            print(
                f"push_to_hub: {p['rows']:,} x 384 in {p['push_s']:.1f} s, load_dataset "
                f"{p['load_s']:.1f} s, every value identical: {p['same']}"
            )


if __name__ == "__main__":
    main()
