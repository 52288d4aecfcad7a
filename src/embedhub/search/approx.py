"""The approximate index of large splits: an HNSW graph from faiss, chosen over usearch and
hnswlib by bench/ann_choice.py (same vectors, one build thread each, in one run: faiss built
fastest at equal or better recall; see the README's Search section for the numbers).

It stores its vectors as float16 (half the memory of float32; it only proposes candidates) and
is memory-mapped when served, so a restart reopens it at once. Candidates are scored again
exactly from the float32 matrix (exact.scores_of): every returned score equals what exact
search gives for that row."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from embedhub.search.views import Vectors

CONNECTIVITY = 32  # graph degree (M): recall vs size and build time
EXPANSION_ADD = 64  # efConstruction
EXPANSION_SEARCH = 128  # efSearch
CHUNK = 20_000  # vectors added per call: progress reports and a bounded normalised copy


class ApproxIndex:
    def __init__(self, index) -> None:  # a faiss.IndexHNSWSQ
        self.index = index

    def candidates(self, q: np.ndarray, count: int) -> np.ndarray:
        """Row numbers of up to `count` likely nearest rows (q unit length)."""
        import faiss

        faiss.omp_set_num_threads(1)  # one query: no thread team to start (per thread)
        _, ids = self.index.search(np.ascontiguousarray(q[None], np.float32), count)
        found = ids[0]
        return found[found >= 0].astype(np.int64)


def build(vec: Vectors, dest: Path, *, threads: int, progress: Callable[[float], None]) -> None:
    """Write the index for `vec` to `dest` (a temporary path: the caller publishes it)."""
    import faiss

    faiss.omp_set_num_threads(threads)  # this thread's builds only
    n = vec.matrix.shape[0]
    index = faiss.IndexHNSWSQ(
        vec.dim,
        faiss.ScalarQuantizer.QT_fp16,
        CONNECTIVITY,
        faiss.METRIC_INNER_PRODUCT,
    )
    index.hnsw.efConstruction = EXPANSION_ADD
    index.train(np.zeros((1, vec.dim), np.float32))  # float16 needs no training data
    for start in range(0, n, CHUNK):
        stop = min(start + CHUNK, n)
        block = np.asarray(vec.matrix[start:stop]) * vec.scale[start:stop, None]  # unit rows
        index.add(np.ascontiguousarray(block, np.float32))
        progress(stop / n)
    faiss.write_index(index, str(dest))


def load(path: Path, rows: int) -> ApproxIndex:
    """Memory-map a saved index; ValueError when the file is not an index of `rows` rows."""
    import faiss

    try:
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
    except RuntimeError as exc:  # faiss reports a bad file as a RuntimeError
        raise ValueError(f"{path} is not a faiss index: {exc}") from None
    if index.ntotal != rows:
        raise ValueError(f"{path} holds {index.ntotal} vectors, the split has {rows}")
    if not isinstance(index, faiss.IndexHNSW):  # read_index gives the concrete type
        raise ValueError(f"{path} holds a {type(index).__name__}, not an HNSW index")
    index.hnsw.efSearch = EXPANSION_SEARCH
    return ApproxIndex(index)
