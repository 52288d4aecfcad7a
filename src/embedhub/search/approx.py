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
one pass over the matrix); its cost per query grows with the rows (see the parts below).

Why these codes: one bit per dimension (faiss IndexLSH, the same scan by Hamming distance) was
slower (10.6 ms per million) and ranks real neighbours worse; on real all-MiniLM-L6-v2
embeddings of 20k paragraphs, rescoring the best 0.2% of rows gave recall@10 0.9825 with these
codes and 0.9075 with bits; 2 dimensions per code (96 bytes) ranked better still (0.986 of the
true top 10 within the best 0.1%, against 0.897) but scanned 2.4x slower (15.6 ms per
million). The pool of 2,000 candidates is 0.2% of a million rows (bench/ann_choice.py --real).

Every returned score is the exact one (exact.scores_of), so the approximation only ever costs
recall, never a wrong score.

The rows are coded in PARTS parts (one quantizer, trained once), scanned at once on as many
threads: faiss scans one query on one thread. On two idle cores a 1M-row scan took 4.7 ms
instead of 7.2-7.5 (codes out of the caches, as between real queries), for the same 2,000
candidates: each part gives its own best 2,000 and the best of those are kept. The file
(approx-N.faiss) is an .npz of the parts, each a serialized faiss index."""

from __future__ import annotations

import itertools
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from embedhub.search.threads import in_parallel, one_omp_thread
from embedhub.search.views import Vectors

CANDIDATES = 2_000  # rows rescored exactly at least ...
PER_ROW = 20  # ... and this many per wanted row
SAMPLE = 50_000  # rows the quantizer is trained on
CHUNK = 50_000  # rows coded per call: progress reports and a bounded normalised copy
PARTS = 2  # parts of the rows, scanned at once (see above)


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
    def __init__(self, parts: list) -> None:  # faiss.IndexPQFastScan each, rows in order
        self.parts = [p for p in parts if p.ntotal > 0]
        self.starts = np.cumsum([0] + [p.ntotal for p in self.parts[:-1]]).astype(np.int64)

    @property
    def ntotal(self) -> int:
        return sum(p.ntotal for p in self.parts)

    def candidates(self, q: np.ndarray, count: int) -> np.ndarray:
        """Row numbers of up to `count` likely nearest rows, ascending (q unit length)."""
        if not self.parts:
            return np.empty(0, np.int64)
        x = np.ascontiguousarray(q[None], np.float32)

        def scan(j: int) -> tuple[np.ndarray, np.ndarray]:
            one_omp_thread()
            part = self.parts[j]
            scores, ids = part.search(x, min(count, part.ntotal))
            found = ids[0] >= 0
            return scores[0][found], ids[0][found] + self.starts[j]

        found = in_parallel(scan, range(len(self.parts)))
        scores = np.concatenate([f[0] for f in found])
        ids = np.concatenate([f[1] for f in found])
        if len(ids) > count:
            ids = ids[np.argpartition(-scores, count - 1)[:count]]
        return np.sort(ids)  # ascending: the exact rescoring reads the matrix in order


def build(vec: Vectors, dest: Path, *, threads: int, progress: Callable[[float], None]) -> None:
    """Write the index for `vec` to `dest` (a temporary path: the caller publishes it)."""
    import faiss

    faiss.omp_set_num_threads(threads)  # this thread's builds only
    n = vec.matrix.shape[0]
    trained = faiss.IndexPQFastScan(vec.dim, subquantizers(vec.dim), 4, faiss.METRIC_INNER_PRODUCT)
    # Odd rows (non-finite) come zeroed: no NaN reaches training; rescoring ranks them last.
    trained.train(vec.units(slice(0, n, max(1, n // SAMPLE)))[0])
    bounds = np.linspace(0, n, PARTS + 1).astype(np.int64)
    parts = []
    for lo, hi in itertools.pairwise(bounds.tolist()):
        part = faiss.clone_index(trained)  # the same codebooks, no rows yet
        for start in range(lo, hi, CHUNK):
            stop = min(start + CHUNK, hi)
            part.add(vec.units(slice(start, stop))[0])
            progress(stop / n)
        parts.append(part)
    with open(dest, "wb") as f:  # a file object: savez would add .npz to a name
        np.savez(f, **{f"part{j}": faiss.serialize_index(p) for j, p in enumerate(parts)})


def load(path: Path, rows: int) -> ApproxIndex:
    """Read a saved index; ValueError when the file is not an index of `rows` rows (an index
    of another kind, e.g. the single HNSW graph or PQ index earlier versions built, is
    refused: built again)."""
    import faiss

    try:
        with np.load(path, allow_pickle=False) as saved:
            blobs = [saved[f"part{j}"] for j in range(len(saved.files))]
        parts = [faiss.deserialize_index(b) for b in blobs]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, RuntimeError) as exc:
        # np.load: not an .npz (a plain faiss file is not one) or a damaged one; faiss
        # reports a bad index as a RuntimeError.
        raise ValueError(f"{path} is not a faiss index in parts: {exc}") from None
    kinds = {type(p).__name__ for p in parts if not isinstance(p, faiss.IndexPQFastScan)}
    if kinds or not parts:  # deserialize_index gives the concrete type
        raise ValueError(f"{path} holds {', '.join(kinds) or 'no index'}, not PQ fast-scan parts")
    index = ApproxIndex(parts)
    if index.ntotal != rows:
        raise ValueError(f"{path} holds {index.ntotal} vectors, the split has {rows}")
    return index
