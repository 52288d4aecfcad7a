"""Exact search's scan alone, in this process, all in one run: the full float32 scan
(exact.scan, BLAS) against the 8-bit first pass + exact rescoring (prefilter.py) on one
thread and on two (row ranges scanned at once), queries interleaved so load hits all alike.
Every first-pass answer is checked against the full scan's.

    PYTHONPATH=src .venv/bin/python bench/search_scan.py [--rows 100000] [--queries 100]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from vectors import clustered

from embedhub.search import prefilter
from embedhub.search.exact import scan, unit
from embedhub.search.views import Vectors


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--k", type=int, default=10)
    args = ap.parse_args()
    data, queries = clustered(args.rows, 384, args.queries, seed=1)
    with tempfile.TemporaryDirectory(prefix="bench-scan-") as tmp:
        path = Path(tmp) / "matrix.npy"
        np.save(path, data)  # memory-mapped, as the server keeps it
        matrix = np.load(path, mmap_mode="r")
        vec = Vectors("embedding", matrix, (1 / np.linalg.norm(data, axis=1)).astype(np.float32))
        del data
        started = time.perf_counter()
        one = prefilter.build(vec, 1)
        built = time.perf_counter() - started
        ways = {
            "full scan": lambda q: scan(vec, q[None], args.k)[0],
            "first pass, 1 thread": lambda q: one.search(vec, q, args.k),
            "first pass, 2 threads": lambda q: two.search(vec, q, args.k),
        }
        two = prefilter.build(vec, 2)
        times: dict[str, list[float]] = {name: [] for name in ways}
        for q in queries:
            q = unit(q)
            answers = {}
            for name, way in ways.items():
                start = time.perf_counter()
                answers[name] = way(q)
                times[name].append(time.perf_counter() - start)
            want = answers["full scan"][0].tolist()
            for name, got in answers.items():
                assert got is not None and got[0].tolist() == want, name  # no near-ties here
    base = statistics.median(times["full scan"])
    print(
        f"{args.rows:,} x 384, k={args.k}, {args.queries} queries; "
        f"first pass built in {built:.2f} s"
    )
    for name, seconds in times.items():
        p50 = statistics.median(seconds)
        print(f"  {name}: p50 {p50 * 1000:.2f} ms ({p50 / base:.2f}x the full scan)")


if __name__ == "__main__":
    main()
