"""Exact semantic search, before vs after, in one run: two `embedhub serve` processes on the
same pushed dataset, one running a base source tree (e.g. main's `src/`) and one running this
checkout, queried in alternation (each query goes to both, in alternating order), so a noisy
shared machine slows both alike and the ratio holds.

    PYTHONPATH=src .venv/bin/python bench/search_ab.py --base-src /path/to/main/src \
        [--rows 100000] [--queries 100]

Prints, for each server: p50 of a text query (embedding included, issue 13's target < 20 ms),
of a raw-vector query (no embedding), and of POST /embed alone; then after/base ratios."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).parent))  # first: bench/search.py, not tests/search/
from search import push, text_queries, write_dataset
from servers import start_server, stop_server
from vectors import clustered


def started(home: Path, src: str):
    """A server whose `embedhub` package comes from `src` (PYTHONPATH is inherited)."""
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = src
    try:
        return start_server(home)
    finally:
        if before is None:
            os.environ.pop("PYTHONPATH")
        else:
            os.environ["PYTHONPATH"] = before


def timed(method: str, url: str, **kwargs) -> float:
    start = time.perf_counter()
    r = requests.request(method, url, timeout=600, **kwargs)
    seconds = time.perf_counter() - start
    assert r.status_code == 200, r.text
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-src", required=True, help="the `src` folder to compare against")
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=100)
    args = ap.parse_args()
    this_src = str(Path(__file__).parents[1] / "src")
    data, vectors = clustered(args.rows, 384, args.queries, seed=1)
    texts = text_queries(args.queries)
    with tempfile.TemporaryDirectory(prefix="bench-search-ab-") as tmp:
        work = Path(tmp)
        write_dataset(work / "data", data)
        del data
        servers = {
            "base": started(work / "base", args.base_src),
            "this": started(work / "this", this_src),
        }
        try:
            times: dict[str, dict[str, list[float]]] = {n: {} for n in servers}
            for srv in servers.values():
                push(srv, srv.token("bench"), work / "data", "bench/exact")
                url = f"{srv.url}/datasets-server/semantic-search"
                for _ in range(3):  # opens (builds) the split's view; first embeddings
                    timed("POST", url, json={"dataset": "bench/exact", "query": "warm up"})
            order = list(servers.items())
            for i in range(args.queries):
                for name, srv in order if i % 2 else order[::-1]:
                    url = f"{srv.url}/datasets-server/semantic-search"
                    got = times[name]
                    text = {"dataset": "bench/exact", "query": texts[i], "k": 10}
                    vector = {"dataset": "bench/exact", "vector": vectors[i].tolist(), "k": 10}
                    embed = {"inputs": [texts[i] + " again"]}
                    got.setdefault("text", []).append(timed("POST", url, json=text))
                    got.setdefault("vector", []).append(timed("POST", url, json=vector))
                    got.setdefault("embed", []).append(
                        timed("POST", f"{srv.url}/embed", json=embed)
                    )
        finally:
            for srv in servers.values():
                stop_server(srv)
    p50 = {n: {k: statistics.median(v) * 1000 for k, v in t.items()} for n, t in times.items()}
    print(f"exact search, {args.rows:,} x 384, {args.queries} queries each, p50 in ms:")
    for name in servers:
        row = p50[name]
        print(
            f"  {name}: text query {row['text']:.1f} (target < 20), vector query "
            f"{row['vector']:.1f}, /embed alone {row['embed']:.1f}"
        )
    ratios = ", ".join(f"{k} {p50['this'][k] / p50['base'][k]:.2f}x" for k in ("text", "vector"))
    print(f"  this/base: {ratios} (lower is faster)")


if __name__ == "__main__":
    main()
