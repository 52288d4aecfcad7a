"""The approximate index of large splits: 4-bit product-quantizer codes (faiss's
IndexPQFastScan: one 4-bit code per 4 dimensions, 48 bytes per 384-d row, 48 MB per million
rows, in RAM), scanned with SIMD lookup tables; its best candidates are then scored exactly
from the float32 matrix.

Why codes and not a graph or lists, on 1M x 384 embedding-like vectors (bench/vectors.py, two
busy cores): faiss HNSW needed far more than the 3-minute build budget (M=16,
efConstruction 40: 41 s per 200k rows, and recall@10 0.92 at efSearch 128, 0.947 at 512);
IVF never passed 0.82 recall@10 (a point's cell is decided as much by its noise as by its
topic, so neighbours scatter over cells no probe visits). A scan of compact codes has no such
blind spots and builds in seconds (k-means of 16 centroids per 4 dimensions on a sample, then
one pass over the matrix); its cost per query grows with the rows (~6.5 ms per million here).

Why these codes: one bit per dimension (faiss IndexLSH, the same scan by Hamming distance) was
slower (10.6 ms per million) and ranks real neighbours worse; on real all-MiniLM-L6-v2
embeddings of 20k paragraphs, rescoring the best 0.2% of rows gave recall@10 0.9825 with these
codes and 0.9075 with bits; 2 dimensions per code (96 bytes) ranked better still (0.986 of the
true top 10 within the best 0.1%, against 0.897) but scanned 2.4x slower (15.6 ms per
million). The pool of 2,000 candidates is 0.2% of a million rows (bench/ann_choice.py --real).

Every returned score is the exact one (exact.scores_of), so the approximation only ever costs
recall, never a wrong score."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from embedhub.search.views import Vectors

CANDIDATES = 2_000  # rows rescored exactly at least ...
PER_ROW = 20  # ... and this many per wanted row
SAMPLE = 50_000  # rows the quantizer is trained on
CHUNK = 50_000  # rows coded per call: progress reports and a bounded normalised copy


def pool(k: int) -> int:
    """How many candidates to rescore for the best `k`."""
    return max(CANDIDATES, PER_ROW * k)


def subquantizers(dim: int) -> int:
    """One 4-bit code per 4 dimensions (per 2, or 1, when the count is not a multiple)."""
    for per_code in (4, 2):
        if dim % per_code == 0:
            return dim // per_code
    return dim


class ApproxIndex:
    def __init__(self, index) -> None:  # a faiss.IndexPQFastScan
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
    index = faiss.IndexPQFastScan(vec.dim, subquantizers(vec.dim), 4, faiss.METRIC_INNER_PRODUCT)
    # Odd rows (non-finite) come zeroed: no NaN reaches training; rescoring ranks them last.
    index.train(vec.units(slice(0, n, max(1, n // SAMPLE)))[0])
    for start in range(0, n, CHUNK):
        stop = min(start + CHUNK, n)
        index.add(vec.units(slice(start, stop))[0])
        progress(stop / n)
    faiss.write_index(index, str(dest))


def load(path: Path, rows: int) -> ApproxIndex:
    """Read a saved index; ValueError when the file is not an index of `rows` rows (an index
    of another kind, e.g. the HNSW graph earlier versions built, is refused: built again)."""
    import faiss

    try:
        index = faiss.read_index(str(path))
    except RuntimeError as exc:  # faiss reports a bad file as a RuntimeError
        raise ValueError(f"{path} is not a faiss index: {exc}") from None
    if not isinstance(index, faiss.IndexPQFastScan):  # read_index gives the concrete type
        raise ValueError(f"{path} holds a {type(index).__name__}, not a PQ fast-scan index")
    if index.ntotal != rows:
        raise ValueError(f"{path} holds {index.ntotal} vectors, the split has {rows}")
    return ApproxIndex(index)
