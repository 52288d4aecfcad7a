"""Which approximate nearest-neighbour index backs large search indexes: usearch, faiss and
hnswlib graphs, faiss IVF, and two code scans whose best candidates are rescored exactly (faiss
PQ fast-scan with one 4-bit code per 4 dimensions, what embedhub uses, and one bit per
dimension), side by side on the same vectors, in one run, against exact search (numpy).

Prints per index: build seconds, query p50 (one query at a time, as the server asks), and
recall@10 against exact top-10 (graphs and IVF as they answer; the code scans after rescoring,
as embedhub.search.approx does). Vectors are generated clustered (like real sentence
embeddings, unlike uniform noise, on which no graph index does well) and L2-normalised, or with
--real, real embeddings of paragraphs of text.

    .venv/bin/python bench/ann_choice.py [N=200000] [--dim 384] [--queries 200] [--only TEXT]
                                         [--real]

A library that is not installed is skipped (only the chosen one is a dependency of embedhub).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from vectors import clustered, exact_top, recall

from embedhub.search.approx import pool

K = 10


def _time_queries(search, queries: np.ndarray) -> tuple[float, np.ndarray]:
    found, seconds = [], []
    for q in queries:
        t = time.perf_counter()
        found.append(search(q))
        seconds.append(time.perf_counter() - t)
    return statistics.median(seconds) * 1000, np.array(found)


def try_usearch(data, queries, dtype):
    from usearch.index import Index

    index = Index(ndim=data.shape[1], metric="ip", dtype=dtype, connectivity=16)
    t = time.perf_counter()
    index.add(np.arange(len(data)), data, log=False, threads=1)
    build = time.perf_counter() - t
    index.expansion_search = 64
    p50, found = _time_queries(lambda q: index.search(q, K, threads=1).keys, queries)
    return build, p50, found


def try_faiss_hnsw(data, queries, fp16=False):
    import faiss

    if fp16:  # what embedhub used before the one-bit codes
        index = faiss.IndexHNSWSQ(
            data.shape[1], faiss.ScalarQuantizer.QT_fp16, 32, faiss.METRIC_INNER_PRODUCT
        )
        index.train(data[:1])
    else:
        index = faiss.IndexHNSWFlat(data.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 64
    t = time.perf_counter()
    index.add(data)
    build = time.perf_counter() - t
    index.hnsw.efSearch = 64
    p50, found = _time_queries(lambda q: index.search(q[None], K)[1][0], queries)
    return build, p50, found


def try_faiss_ivf(data, queries, sq8=False):
    import faiss

    lists = int(np.sqrt(len(data)))
    quantizer = faiss.IndexFlatIP(data.shape[1])
    if sq8:
        index = faiss.IndexIVFScalarQuantizer(
            quantizer,
            data.shape[1],
            lists,
            faiss.ScalarQuantizer.QT_8bit,
            faiss.METRIC_INNER_PRODUCT,
        )
    else:
        index = faiss.IndexIVFFlat(quantizer, data.shape[1], lists, faiss.METRIC_INNER_PRODUCT)
    t = time.perf_counter()
    sample = data[np.random.default_rng(0).choice(len(data), min(len(data), lists * 64), False)]
    index.train(sample)
    index.add(data)
    build = time.perf_counter() - t
    index.nprobe = max(8, lists // 16)
    p50, found = _time_queries(lambda q: index.search(q[None], K)[1][0], queries)
    return build, p50, found


def try_codes(data, queries, kind, candidates, per_code=0):
    """A scan of compact codes, its best `candidates` rescored exactly from the float32 rows.
    kind "pq": a 4-bit product-quantizer code per 4 dimensions (embedhub.search.approx), or
    per `per_code` dimensions; "bits": one bit per dimension against its median (IndexLSH)."""
    import faiss

    from embedhub.search.approx import subquantizers

    dim = data.shape[1]
    t = time.perf_counter()
    if kind == "pq":
        codes = dim // per_code if per_code else subquantizers(dim)
        index = faiss.IndexPQFastScan(dim, codes, 4, faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.IndexLSH(dim, dim, False, True)
    index.train(data[:: max(1, len(data) // 50_000)])
    index.add(data)
    build = time.perf_counter() - t

    def search(q):
        _, ids = index.search(q[None], candidates)
        cand = np.sort(ids[0][ids[0] >= 0])
        return cand[np.argsort(-(data[cand] @ q))[:K]]

    p50, found = _time_queries(search, queries)
    return build, p50, found


def real_vectors(n: int, queries: int) -> tuple[np.ndarray, np.ndarray]:
    """Real embeddings: n + queries paragraphs of bench/corpus.py (cut to 300 characters)
    embedded with the bundled model; the last `queries` are the queries."""
    from corpus import real_texts
    from sentence_transformers import SentenceTransformer

    from embedhub.models import bundled_model_path

    texts = [t[:300] for t in real_texts(n + queries)]
    model = SentenceTransformer(str(bundled_model_path()), device="cpu")
    out = model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    return out[:n].astype(np.float32), out[n:].astype(np.float32)


def try_hnswlib(data, queries):
    import hnswlib

    index = hnswlib.Index(space="ip", dim=data.shape[1])
    index.set_num_threads(1)
    index.init_index(max_elements=len(data), ef_construction=64, M=16)
    t = time.perf_counter()
    index.add_items(data, np.arange(len(data)))
    build = time.perf_counter() - t
    index.set_ef(64)
    index.set_num_threads(1)
    p50, found = _time_queries(lambda q: index.knn_query(q, K)[0][0], queries)
    return build, p50, found


def _one_thread() -> None:
    """The server builds with one thread (the other core answers queries): measure so."""
    try:
        import faiss

        faiss.omp_set_num_threads(1)
    except ImportError:
        pass


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", type=int, default=200_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--only", default="", help="run only the indexes whose name contains this")
    ap.add_argument(
        "--real",
        action="store_true",
        help="real embeddings of N paragraphs (embedded first: minutes) instead of generated "
        "vectors; the codes then rescore the best 0.1%%, 0.2%% and 0.4%% of rows (1,000 to "
        "4,000 of 1M), since a fixed 2,000 of a small set would find everything",
    )
    args = ap.parse_args()
    _one_thread()
    if args.real:
        data, queries = real_vectors(args.n, args.queries)
    else:
        data, queries = clustered(args.n, args.dim, args.queries)
    t = time.perf_counter()
    truth = exact_top(data, queries, K)
    exact_ms = (time.perf_counter() - t) / len(queries) * 1000
    print(
        f"{args.n:,} x {args.dim}, {args.queries} queries; exact (numpy) {exact_ms:.2f} ms/query",
        flush=True,
    )
    candidates = {
        "usearch f32 (M=16, ef=64)": lambda: try_usearch(data, queries, "f32"),
        "usearch f16 (M=16, ef=64)": lambda: try_usearch(data, queries, "f16"),
        "usearch i8 (M=16, ef=64)": lambda: try_usearch(data, queries, "i8"),
        "faiss HNSWFlat (M=32, ef=64)": lambda: try_faiss_hnsw(data, queries),
        "faiss HNSW fp16 (M=32, ef=64)": lambda: try_faiss_hnsw(data, queries, True),
        "faiss IVFFlat (sqrt(n) lists, 1/16)": lambda: try_faiss_ivf(data, queries),
        "faiss IVF-SQ8 (sqrt(n) lists, 1/16)": lambda: try_faiss_ivf(data, queries, True),
        "hnswlib (M=16, ef=64)": lambda: try_hnswlib(data, queries),
    }
    shares = (0.001, 0.002, 0.004) if args.real else (pool(K) / args.n,)
    for share in shares:
        count = max(K, int(args.n * share))
        for kind, label, per_code in (
            ("pq", "faiss PQ 4 bits/4 dims", 0),
            ("pq", "faiss PQ 4 bits/6 dims", 6),  # smaller codes: faster scans, worse ranks
            ("pq", "faiss PQ 4 bits/8 dims", 8),
            ("bits", "faiss 1 bit/dim", 0),
        ):
            if per_code and args.dim % per_code:
                continue
            candidates[f"{label} + rescore {count}"] = partial(
                try_codes, data, queries, kind, count, per_code
            )
    print(f"{'index':34} {'build s':>8} {'p50 ms':>7} {'recall@10':>9}")
    for name, run in candidates.items():
        if args.only not in name:
            continue
        try:
            build, p50, found = run()
        except ImportError:
            print(f"{name:34} not installed", flush=True)
            continue
        print(f"{name:34} {build:8.1f} {p50:7.3f} {recall(found, truth):9.4f}", flush=True)


if __name__ == "__main__":
    main()
