"""Benchmark `embedhub serve` on every runtime x precision against in-process
`SentenceTransformer.encode(batch_size=32)` on the same texts, in the same run. Not a test: it
prints numbers and ratios.

    .venv/bin/python bench/serve.py [--texts 2000] [--seconds 20] [--concurrency 16]
                                    [--variant openvino:int8 ...]

Load generator: wrk (Debian's `wrk` package: `apt-get install -y wrk`) with bench/wrk_bodies.lua,
one wrk thread: it is C and epoll, so it takes a small share of the cores the server runs on
(a Python client took ~a quarter of them and hid the server's speed). Idle latency is measured
with one plain HTTP connection, one request at a time.

Corpus: bench/corpus.py (Python reference-manual paragraphs and docstrings; real prose, mixed
short and long). The server runs with its cache off, so every text is really embedded."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).parent))

from corpus import real_texts

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
ROUTE = f"/pipeline/feature-extraction/{MODEL}"
VARIANTS = ("torch:fp32", "onnx:fp32", "openvino:fp32", "openvino:int8")
LUA = Path(__file__).with_name("wrk_bodies.lua")


def start_server(port: int, home: str, runtime: str, precision: str, extra: list[str]):
    cmd = [sys.executable, "-m", "embedhub", "serve", "--port", str(port), "--data-dir", home]
    cmd += ["--cache-size", "0", "--runtime", runtime, "--precision", precision, *extra]
    log = open(Path(home) / "serve.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    started = time.perf_counter()
    while time.perf_counter() - started < 1800:
        if proc.poll() is not None:
            raise SystemExit(f"server exited:\n{(Path(home) / 'serve.log').read_text()[-3000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return proc, time.perf_counter() - started
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wrk(port: int, bodies: Path, clients: int, seconds: int) -> dict:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{clients}", f"-d{seconds}s", "--timeout", "60s", "-s", str(LUA)]
        + [f"http://127.0.0.1:{port}{ROUTE}", "--", str(bodies)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["failed"]:
        raise SystemExit(f"{result['failed']} failed requests:\n{out.stdout}")
    return result


def idle_p50_ms(port: int, texts: list[str], n: int = 50) -> tuple[float, float, float]:
    """p50 of one short text at a time on an idle server, ms: as the client sees it, as the
    server's middleware timed it (x-total-time) and the forward pass (x-inference-time).
    The gaps say where the rest goes: the client and socket, or the framework."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times, total, inference = [], [], []
    for i in range(n):
        body = json.dumps({"inputs": texts[i % len(texts)]})
        t0 = time.perf_counter()
        conn.request("POST", ROUTE, body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        times.append(time.perf_counter() - t0)
        total.append(float(response.getheader("x-total-time", "nan")))
        inference.append(float(response.getheader("x-inference-time", "nan")))
        time.sleep(0.02)  # idle between requests: no batching with a neighbour
    return statistics.median(times) * 1000, statistics.median(total), statistics.median(inference)


def reference_rate(texts: list[str]) -> float:
    """In-process encode(batch_size=32), texts per second."""
    from sentence_transformers import SentenceTransformer

    from embedhub.models import bundled_model_path

    model = SentenceTransformer(str(bundled_model_path()), device="cpu")
    model.encode(texts[:64])  # warm-up
    t0 = time.perf_counter()
    model.encode(texts, batch_size=32)
    return len(texts) / (time.perf_counter() - t0)


def bench(args, variant: str, texts: list[str], ref_rate: float, bodies: dict) -> None:
    runtime, precision = variant.split(":")
    extra = ["--workers", str(args.workers)] if args.workers else []
    with tempfile.TemporaryDirectory() as home:
        extra += ["--onnx-cache-dir", args.graph_cache or str(Path(home) / "graphs")]
        # Started twice: the first start converts (unless --graph-cache holds the graph),
        # the second is what every later start of this model costs.
        proc, first_s = start_server(args.port, home, runtime, precision, extra)
        proc.terminate()
        proc.wait(timeout=60)
        proc, start_s = start_server(args.port, home, runtime, precision, extra)
        try:
            name = f"{runtime} {precision}"
            info = _info(args.port)
            wrk(args.port, bodies[1], args.concurrency, 3)  # warm-up
            idle, total, inference = idle_p50_ms(
                args.port, [t for t in texts if len(t) < 80] or texts
            )
            rows = [
                f"{name:14} first start {first_s:5.1f} s, later start {start_s:4.1f} s to "
                f"healthy, idle 1 short text p50 {idle:6.1f} ms "
                f"(server {total:.0f} ms, forward pass {inference:.0f} ms)"
            ]
            for per_request in (1, 32):
                r = wrk(args.port, bodies[per_request], args.concurrency, args.seconds)
                rate = r["requests"] * per_request / r["seconds"]
                rows.append(
                    f"{name:14} {per_request:2d} text(s)/request x {args.concurrency} clients: "
                    f"{rate:7.1f} texts/s = {rate / ref_rate:4.2f}x encode; "
                    f"p50 {r['p50_ms']:7.1f} ms, p99 {r['p99_ms']:7.1f} ms"
                )
            rows.append(f"{name:14} peak RSS {peak_rss_mb(proc.pid):.0f} MB")
            if info.get("quality"):
                q = info["quality"]
                rows.append(
                    f"{name:14} quality vs fp32 ({q['queries']} held-out queries): mean cosine "
                    f"{q['mean_cosine']:.4f}, min {q['min_cosine']:.4f}, top-10 agreement "
                    f"{q['top10_agreement']:.3f} ({q['recipe']})"
                )
            print("\n".join(rows), flush=True)
        finally:
            proc.terminate()
            proc.wait(timeout=60)


def _info(port: int) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/info")
    return json.loads(conn.getresponse().read())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--texts", type=int, default=2000)
    ap.add_argument("--seconds", type=int, default=20, help="per wrk measurement")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--port", type=int, default=8791)
    ap.add_argument("--variant", action="append", choices=VARIANTS, help="default: all")
    ap.add_argument("--workers", type=int, help="the server's --workers (default: its own)")
    ap.add_argument("--graph-cache", help="a graph cache to reuse (default: a fresh one)")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")

    texts = real_texts(args.texts)
    ref_rate = reference_rate(texts)
    print(f"corpus: {len(texts)} texts (bench/corpus.py); load generator: wrk, 1 thread")
    print(f"in-process encode(batch_size=32): {ref_rate:.1f} texts/s (the 1.00x reference)")
    with tempfile.TemporaryDirectory() as tmp:
        bodies = {}
        for n in (1, 32):
            bodies[n] = Path(tmp) / f"bodies{n}.txt"
            bodies[n].write_text(
                "".join(
                    json.dumps({"inputs": texts[i : i + n]}) + "\n" for i in range(0, len(texts), n)
                )
            )
        for variant in args.variant or VARIANTS:
            bench(args, variant, texts, ref_rate, bodies)


if __name__ == "__main__":
    main()
