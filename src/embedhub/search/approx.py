"""The approximate index of large splits: an HNSW graph from usearch (see bench/ann_choice.py
for the measurements against faiss and hnswlib that chose it), saved as one file and
memory-mapped when served, so a restart loads it in milliseconds and it costs no more memory
than the pages queries touch.

It only proposes candidates: their scores are computed again exactly from the float32 matrix
(exact.scores_of), so every returned score equals what exact search gives for that row, and
the graph can store its vectors at reduced precision (half the memory, faster to build)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from embedhub.search.views import Vectors

CONNECTIVITY = 16  # graph degree: recall vs size and build time (bench/ann_choice.py)
EXPANSION_ADD = 64
EXPANSION_SEARCH = 256
DTYPE = "f16"
CHUNK = 20_000  # vectors added per call: progress reports and a bounded normalised copy


class ApproxIndex:
    def __init__(self, index) -> None:  # a usearch.index.Index
        self.index = index

    def candidates(self, q: np.ndarray, count: int) -> np.ndarray:
        """Row numbers of up to `count` likely nearest rows (q unit length)."""
        found = self.index.search(q, count, threads=1)
        return np.asarray(found.keys, np.int64)

    def close(self) -> None:
        self.index.reset()


def build(vec: Vectors, dest: Path, *, threads: int, progress: Callable[[float], None]) -> None:
    """Write the index for `vec` to `dest` (a temporary path: the caller publishes it)."""
    from usearch.index import Index

    n = vec.matrix.shape[0]
    index = Index(
        ndim=vec.dim,
        metric="ip",  # on unit vectors: cosine
        dtype=DTYPE,
        connectivity=CONNECTIVITY,
        expansion_add=EXPANSION_ADD,
        expansion_search=EXPANSION_SEARCH,
    )
    for start in range(0, n, CHUNK):
        stop = min(start + CHUNK, n)
        block = np.asarray(vec.matrix[start:stop]) * vec.scale[start:stop, None]
        index.add(np.arange(start, stop), block, threads=threads)
        progress(stop / n)
    index.save(str(dest))
    index.reset()


def load(path: Path) -> ApproxIndex:
    """Memory-map a saved index; raises ValueError when the file is not a usable index."""
    from usearch.index import Index

    index = Index.restore(str(path), view=True)
    if index is None:
        raise ValueError(f"{path} is not a usearch index")
    index.expansion_search = EXPANSION_SEARCH
    return ApproxIndex(index)
