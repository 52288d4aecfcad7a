"""The server's side of one Xet upload, without the client: the xorbs of a file are POSTed one
after another, then its shard, to a fresh `embedhub serve`; printed are the server's
CPU-seconds per GiB for each phase and the shard POST's wall time.

The shard POST is where the client only waits: the server checks the file's sha256 against
its bytes, unpacking every chunk again. With the official client on a 2-core box this tail
was 15-20% of a 1 GiB Xet upload's wall time (timed from the access log), and the client's
own work does not hide it, so it is timed here alone, with the box's other load the only
noise. The reference in the same run is the server's CPU-seconds per GiB for a plain LFS
upload of the same size (batch API + PUT), which receives, hashes and fsyncs once.

    .venv/bin/python bench/xet_register.py [--mib 512] [--mixed]

The xorbs are made by embedhub's own client-side code (`embedhub.xet.upload`), with BG4-LZ4
chunks as hf_xet 1.8 makes of float32 data (bench/hub.py's file); --mixed gives every other
xorb plain LZ4 (bench/xet_cpu.py's half-and-half file)."""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
import requests

sys.path.insert(0, str(Path(__file__).parent))
from hub import make_token, start_server

from embedhub.xet import compression, hashes, upload

GIB = 1024**3


def prepared(size: int, mixed: bool) -> tuple[upload.Upload, bytes]:
    data = np.random.default_rng(0).standard_normal(size // 4, dtype=np.float32).tobytes()
    up = upload.prepare(data, scheme=compression.BG4_LZ4)
    if mixed:  # every other xorb with plain LZ4 chunks: same chunks, so the same xorb hash
        lz4 = upload.prepare(data, scheme=compression.LZ4).xorbs
        up.xorbs = [lz4[i] if i % 2 else x for i, x in enumerate(up.xorbs)]
    return up, data


def cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


def xet_upload(url: str, token: str, up: upload.Upload, proc: psutil.Process) -> dict:
    headers = {"Authorization": f"Bearer {token}"}
    r = requests.get(
        f"{url}/api/datasets/bench/x/xet-write-token/main", headers=headers, timeout=30
    )
    r.raise_for_status()
    cas = r.json()["casUrl"]
    xet = {"Authorization": f"Bearer {r.json()['accessToken']}"}
    before = cpu(proc)
    for h, blob in up.xorbs:
        name = hashes.to_hex(h)
        r = requests.post(f"{cas}/v1/xorbs/default/{name}", data=blob, headers=xet, timeout=300)
        r.raise_for_status()
    xorbs = cpu(proc) - before
    before, t = cpu(proc), time.perf_counter()
    r = requests.post(f"{cas}/v1/shards", data=up.shard(), headers=xet, timeout=300)
    r.raise_for_status()
    return {"xorbs": xorbs, "shard": cpu(proc) - before, "shard_s": time.perf_counter() - t}


def lfs_upload(url: str, token: str, data: bytes, proc: psutil.Process) -> float:
    data = data[:-1] + bytes([data[-1] ^ 1])  # not the Xet file, whose sha256 is known now
    oid = hashlib.sha256(data).hexdigest()
    batch = {"operation": "upload", "objects": [{"oid": oid, "size": len(data)}]}
    r = requests.post(
        f"{url}/datasets/bench/x.git/info/lfs/objects/batch", json=batch, timeout=30,
        headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.git-lfs+json"},
    )  # fmt: skip
    r.raise_for_status()
    action = r.json()["objects"][0]["actions"]["upload"]
    before = cpu(proc)
    requests.put(action["href"], data=data, headers=action.get("header", {}), timeout=300)
    return cpu(proc) - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=512, help="size of the uploaded file, MiB")
    parser.add_argument("--mixed", action="store_true", help="half the xorbs plain LZ4")
    args = parser.parse_args()
    up, data = prepared(args.mib * 1024 * 1024, args.mixed)
    gib = len(data) / GIB
    with tempfile.TemporaryDirectory(prefix="embedhub-bench-") as name:
        home = Path(name) / "home"
        server, url = start_server(home)
        try:
            token = make_token(home)
            requests.post(
                f"{url}/api/repos/create", json={"name": "x", "organization": "bench",
                                                 "type": "dataset"},
                headers={"Authorization": f"Bearer {token}"}, timeout=30,
            ).raise_for_status()  # fmt: skip
            proc = psutil.Process(server.pid)
            xet = xet_upload(url, token, up, proc)
            lfs = lfs_upload(url, token, data, proc)
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(
        f"{gib:.2f} GiB, {len(up.xorbs)} xorbs, server CPU-s/GiB: xorbs {xet['xorbs'] / gib:.2f}, "
        f"shard {xet['shard'] / gib:.2f} (its POST {xet['shard_s'] / gib:.2f} s/GiB wall); "
        f"LFS upload {lfs / gib:.2f}; Xet total = {(xet['xorbs'] + xet['shard']) / lfs:.2f}x LFS"
    )


if __name__ == "__main__":
    main()
