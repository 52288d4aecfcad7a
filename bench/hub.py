"""Benchmark the hub: upload and download of a ~200 MB Parquet dataset through the official
client (HfApi.upload_folder / snapshot_download), against a plain file copy of the same folder
in the same run. Not a test: it prints MB/s and ratios.

    .venv/bin/python bench/hub.py [--mb 200] [--shards 4]

It starts its own `embedhub serve` on a temporary data dir. The upload runs twice: the default
client (hf_xet installed: files travel base64 in the commit body, "regular" mode) and the plain
LFS path (HF_HUB_DISABLE_XET=1: batch API + signed PUTs). Each client run is a fresh
interpreter, since huggingface_hub reads HF_ENDPOINT / HF_HUB_DISABLE_XET at import time."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import requests

CLIENT = """
import json, sys, time
from huggingface_hub import HfApi, snapshot_download
from embedhub.hub.client import LFS_HEADER
endpoint, token, repo, folder, dest, lfs = sys.argv[1:7]
api = HfApi(endpoint=endpoint, token=token, headers=LFS_HEADER if lfs == "1" else None)
api.create_repo(repo, repo_type="dataset", exist_ok=True)
t = time.perf_counter()
api.upload_folder(folder_path=folder, repo_id=repo, repo_type="dataset")
up = time.perf_counter() - t
t = time.perf_counter()
snapshot_download(repo, repo_type="dataset", local_dir=dest, endpoint=endpoint, token=token)
down = time.perf_counter() - t
print(json.dumps({"upload_s": up, "download_s": down}))
"""


def make_dataset(folder: Path, total_mb: int, shards: int, seed: int) -> int:
    """Random float32 embeddings (incompressible, like real ones) plus an id column. Each
    upload mode gets its own seed: the LFS store deduplicates, and a second upload of the same
    bytes would transfer nothing."""
    (folder / "data").mkdir(parents=True)
    (folder / "README.md").write_text("---\nlicense: mit\n---\n# bench embeddings\n")
    dim = 384
    rows = total_mb * 1024 * 1024 // (dim * 4) // shards
    rng = np.random.default_rng(seed)
    for s in range(shards):
        vectors = rng.standard_normal((rows, dim), dtype=np.float32)
        table = pa.table({
            "id": pa.array(np.arange(s * rows, (s + 1) * rows)),
            "embedding": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), dim),
        })
        pq.write_table(table, folder / "data" / f"train-{s:05d}-of-{shards:05d}.parquet",
                       compression="none")
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def start_server(data_dir: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "embedhub", "serve", "--port", str(port), "--data-dir",
         str(data_dir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/health", timeout=2).status_code == 200:
                return proc, url
        except requests.ConnectionError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("embedhub serve did not start")


def run_client(url: str, token: str, repo: str, folder: Path, dest: Path, lfs: bool,
               home: Path) -> dict:
    env = {**os.environ, "HF_HOME": str(home), "HF_HUB_OFFLINE": "0",
           "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_HUB_DISABLE_XET": "1" if lfs else "0",
           "HF_ENDPOINT": url}
    proc = subprocess.run([sys.executable, "-c", CLIENT, url, token, repo, str(folder),
                           str(dest), "1" if lfs else "0"], env=env, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise SystemExit(f"client failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="dataset size in MB")
    parser.add_argument("--shards", type=int, default=4, help="Parquet files")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="embedhub-bench-") as tmp_name:
        tmp = Path(tmp_name)
        modes = ("regular", "lfs")
        sizes = [make_dataset(tmp / mode, args.mb, args.shards, seed)
                 for seed, mode in enumerate(modes)]
        mb = sizes[0] / 1e6
        t = time.perf_counter()
        shutil.copytree(tmp / "regular", tmp / "copy")
        copy_s = time.perf_counter() - t
        proc, url = start_server(tmp / "home")
        try:
            token = subprocess.run(
                [sys.executable, "-m", "embedhub", "token", "create", "bench", "--write",
                 "--data-dir", str(tmp / "home")], capture_output=True, text=True, check=True,
            ).stdout.strip().splitlines()[-1]
            results = {
                mode: run_client(url, token, f"bench/{mode}", tmp / mode,
                                 tmp / f"down-{mode}", mode == "lfs", tmp / f"hf-{mode}")
                for mode in modes
            }
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        report(mb, copy_s, results)


def report(mb: float, copy_s: float, results: dict[str, dict]) -> None:
    copy_rate = mb / copy_s
    print(f"dataset: {mb:.1f} MB of Parquet")
    print(f"plain file copy (shutil.copytree): {copy_s:6.2f} s  {copy_rate:8.1f} MB/s")
    for mode, r in results.items():
        for what in ("upload", "download"):
            seconds = r[f"{what}_s"]
            rate = mb / seconds
            print(f"{what:8} via hub ({mode:7}): {seconds:6.2f} s  {rate:8.1f} MB/s  "
                  f"= {rate / copy_rate:5.2f}x file copy")


if __name__ == "__main__":
    main()
