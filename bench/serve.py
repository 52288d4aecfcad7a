"""Benchmark `embedhub serve` against in-process `SentenceTransformer.encode` on the same texts,
in the same run. Not a test: it prints numbers and ratios.

    .venv/bin/python bench/serve.py [--texts 2000] [--concurrency 16] [--workers N]

Corpus: bench/corpus.py (Python reference-manual paragraphs and docstrings; real prose, mixed
short and long). The server runs with its cache off, so every text is really embedded."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).parent))

from corpus import real_texts  # noqa: E402

MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def start_server(
    port: int, data_dir: str, runtime: str, extra: tuple[str, ...] = ()
) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "embedhub",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            data_dir,
            "--cache-size",
            "0",
            "--runtime",
            runtime,
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("server did not start")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_clients(
    port: int, payloads: list[list[str]], concurrency: int
) -> tuple[float, list[float]]:
    """Each client keeps one connection and takes the next payload until none are left."""
    work: queue.Queue = queue.Queue()
    for p in payloads:
        work.put(p)
    latencies: list[float] = []
    lock = threading.Lock()
    errors: list[str] = []

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        path = f"/pipeline/feature-extraction/{MODEL}"
        while True:
            try:
                texts = work.get_nowait()
            except queue.Empty:
                return
            body = json.dumps({"inputs": texts})
            t0 = time.perf_counter()
            conn.request("POST", path, body, {"Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
            elapsed = time.perf_counter() - t0
            if resp.status != 200:
                errors.append(f"{resp.status} {data[:200]!r}")
            with lock:
                latencies.append(elapsed)

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"{len(errors)} failed requests, e.g. {errors[0]}")
    return time.perf_counter() - start, latencies


def pct(values: list[float], q: float) -> float:
    return (
        statistics.quantiles(values, n=100)[q - 1] * 1000 if len(values) > 1 else values[0] * 1000
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--texts", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--port", type=int, default=8791)
    ap.add_argument(
        "--runtime",
        action="append",
        choices=("torch", "onnx"),
        help="server runtime(s) to measure (default: both)",
    )
    ap.add_argument("--workers", type=int, help="the server's --workers (default: its own)")
    args = ap.parse_args()

    texts = real_texts(args.texts)
    from sentence_transformers import SentenceTransformer

    from embedhub.models import bundled_model_path

    model = SentenceTransformer(str(bundled_model_path()), device="cpu")
    tokens = sum(min(len(ids), 256) for ids in model.tokenizer(texts)["input_ids"])
    print(f"corpus: {len(texts)} texts, {tokens} tokens (bench/corpus.py: Python docs prose)")

    model.encode(texts[:64])  # warm-up
    t0 = time.perf_counter()
    model.encode(texts, batch_size=32)
    ref_s = time.perf_counter() - t0
    ref_rate = len(texts) / ref_s
    print(f"in-process encode(batch_size=32): {ref_rate:8.1f} texts/s {tokens / ref_s:9.0f} tok/s")
    del model

    for runtime in args.runtime or ["torch", "onnx"]:
        with tempfile.TemporaryDirectory() as home:
            bench_server(args, runtime, home, texts, tokens, ref_rate)


def bench_server(args, runtime: str, home: str, texts: list[str], tokens: int, ref_rate: float):
    extra = ("--workers", str(args.workers)) if args.workers else ()
    proc = start_server(args.port, home, runtime, extra)
    try:
        run_clients(args.port, [[t] for t in texts[:64]], args.concurrency)  # warm-up
        # An idle server, one request at a time: what a lone client waits. The longest texts
        # show what a worker's thread count costs (one pass of one input can't be shared).
        longest = sorted(texts, key=len)[-64:]
        for label, payloads in (
            ("1 longest text", [[t] for t in longest[:20]]),
            ("32 longest texts", [longest[i : i + 32] for i in range(0, 64, 8)][:5]),
        ):
            _, lat = run_clients(args.port, payloads, 1)
            print(f"server --runtime {runtime}, idle, {label}: p50 {pct(lat, 50):7.1f} ms")
        for per_request in (1, 32):
            payloads = [texts[i : i + per_request] for i in range(0, len(texts), per_request)]
            seconds, lat = run_clients(args.port, payloads, args.concurrency)
            rate = len(texts) / seconds
            print(
                f"server --runtime {runtime}, {per_request:2d} text(s)/request, "
                f"{args.concurrency} clients: {rate:8.1f} texts/s {tokens / seconds:9.0f} tok/s"
                f"  p50 {pct(lat, 50):7.1f} ms  p99 {pct(lat, 99):7.1f} ms"
                f"  ratio vs in-process {rate / ref_rate:.2f}x"
            )
        print(f"server --runtime {runtime} peak RSS: {peak_rss_mb(proc.pid):.0f} MB")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
