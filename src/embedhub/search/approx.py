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

The candidates are ranked by their unit vectors in float16 (faiss IndexRefine over an
IndexScalarQuantizer per part, in files of their own that faiss memory-maps: 768 MB per million
384-d rows, half the float32 matrix), and only the best few of them (rescored(k)) are then read
from the float32 matrix's file and scored exactly: every returned score is the exact one, so
the approximation only ever costs recall, never a wrong score. Why not rank them from the
float32 matrix itself: the split is then served without its 1.5 GB matrix resident
(Vectors.drop_resident, rows_of): a server with a 1M and a 100k split open went from 2.31 to
1.61 GiB RSS (bench/search.py). float16 moved the dot products of 1,050 random 384-d unit
rows with a unit query by at most 4e-5, which rescoring several times k rows exactly absorbs.
Measured in-process on a 1M-row index (Xeon, AVX-512): ranking a part's 1,050 candidates this
way took 0.21 ms against 0.28 ms for the float32 rows read in place, and nearest() 1.84 ms p50
against 1.86 ms before.

The rows are coded in PARTS parts (one quantizer, trained once), each searched on a thread of
its own: faiss scans one query on one thread. Each part's thread scans its codes and ranks
its own share of the candidates (in float16, above), so a query's two halves meet once, at the
end. On two idle cores a 1M-row scan took 4.7 ms instead of 7.2-7.5 (codes out of the caches,
as between real queries); scoring each part's candidates on its own thread, rather than
merging the parts' candidates first and scoring them in two halves, took 0.5 ms more off (5.5
-> 5.0 ms for the scan and the scoring, 1M rows, in-process). The codes live in 2 MiB pages
(memory.huge_pages): one part's scan of 500k rows then took 2.9 ms instead of 3.5.

A row's part is drawn at random (seeded), not by position: every part then holds about 1/PARTS
of any query's best rows, whatever the data's order (a file sorted by topic, or alternating
questions and answers, would put all of a query's neighbours in one part if parts were
contiguous or by parity), so each part's best pool/PARTS candidates (plus a margin for the
draw's spread) stand for the best `pool` of all rows. Measured when this was chosen, on the
20k real embeddings bench/ann_choice.py --real uses: a pool of 0.1% / 0.2% / 0.4% of the rows
gave recall@10 0.891 / 0.972 / 0.994 taken from all rows at once, and 0.896 / 0.974 / 0.996 as
two parts' shares. The file (approx-N.faiss) is an .npz of the parts (each a serialized faiss
index) and their row numbers (`rows{j}`, ascending); approx-N.faiss.half{j} holds part j's
float16 unit vectors (a faiss IndexScalarQuantizer file), in the part's order."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from embedhub.memory import huge_pages
from embedhub.search.exact import best, exact_scores
from embedhub.search.threads import in_parallel, one_omp_thread
from embedhub.search.views import Vectors

CANDIDATES = 2_000  # rows rescored exactly at least ...
PER_ROW = 20  # ... and this many per wanted row
SAMPLE = 50_000  # rows the quantizer is trained on
# Fewer rows can't train the quantizer (16 centroids per code): such a split stays exact,
# whatever --search-approx-threshold says.
MIN_ROWS = 16
CHUNK = 16_384  # rows coded per call: progress reports and bounded temporaries (~25 MB)
PARTS = 2  # parts of the rows, scanned at once (see above)
# Each part's share of the pool is this much more than 1/PARTS of it: the draw puts 1,000 +-
# 22 (one standard deviation) of the best 2,000 rows in each of two parts.
MARGIN = 1.05
# Rows of the float16 ranking rescored exactly: several times k, as float16 only reorders rows
# whose scores are close. Rounding a unit vector to float16 moves its dot product with a unit
# query by at most 2**-11 * sum(|u_i q_i|) <= 4.9e-4 (384-d), by ~4e-5 at most on random rows.
RESCORE_PER_ROW, RESCORE_EXTRA = 2, 20


def half_paths(index: Path) -> list[Path]:
    """The float16 files of the index's parts (approx-N.faiss.half0, ...)."""
    return [index.with_name(f"{index.name}.half{j}") for j in range(PARTS)]


def rescored(k: int) -> int:
    return RESCORE_PER_ROW * k + RESCORE_EXTRA


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
    def __init__(self, parts: list, rows: list[np.ndarray], halves: list) -> None:
        # parts: a faiss.IndexPQFastScan each; rows[j]: the row number of each of part j's
        # codes, ascending (the order they were added in); halves[j]: the unit vectors of
        # part j's rows in float16, in the same order (a memory-mapped IndexScalarQuantizer).
        import faiss

        kept = [(p, r, h) for p, r, h in zip(parts, rows, halves, strict=True) if p.ntotal > 0]
        self.parts = [p for p, _, _ in kept]
        self.rows = [r for _, r, _ in kept]
        self.halves = [h for _, _, h in kept]
        self.refined = [faiss.IndexRefine(p, h) for p, _, h in kept]

    @property
    def ntotal(self) -> int:
        return sum(p.ntotal for p in self.parts)

    def nearest(self, vec: Vectors, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The best k rows of `vec` (ids, exact scores), best first (q unit length)."""
        import faiss

        if not self.parts:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        x = np.ascontiguousarray(q[None], np.float32)
        share = int(pool(k) * MARGIN / len(self.parts)) + 1
        want = rescored(k)
        params = faiss.IndexRefineSearchParameters(k_factor=share / want)

        def search_part(j: int) -> tuple[np.ndarray, np.ndarray]:
            one_omp_thread()
            # The part's best `share` by codes, the best `want` of those by float16 vectors.
            ranked, found = self.refined[j].search(x, want, params=params)
            kept = found[0] >= 0
            return self.rows[j][found[0][kept]], ranked[0][kept]

        found = in_parallel(search_part, range(len(self.parts)))
        ids, _ = best(
            np.concatenate([f[1] for f in found]), np.concatenate([f[0] for f in found]), want
        )
        return best(exact_scores(vec, ids, x[0]), ids, k)


def build(
    vec: Vectors, dest: Path, halves: list[Path], *, threads: int, progress: Callable[[float], None]
) -> None:
    """Write the index for `vec` to `dest` and its parts' float16 unit vectors to `halves`
    (temporary paths: the caller publishes them)."""
    import faiss

    faiss.omp_set_num_threads(threads)  # this thread's builds only
    n = vec.matrix.shape[0]
    trained = faiss.IndexPQFastScan(vec.dim, subquantizers(vec.dim), 4, faiss.METRIC_INNER_PRODUCT)
    # Odd rows (non-finite) come zeroed: no NaN reaches training; rescoring ranks them last.
    trained.train(vec.units(slice(0, n, max(1, n // SAMPLE)))[0])
    # Each row's part (see above); size as a tuple: numpy's stubs type an int size as a scalar.
    owner = np.random.default_rng(0).integers(0, PARTS, size=(n,))
    parts = [faiss.clone_index(trained) for _ in range(PARTS)]  # the same codebooks, no rows
    numbers = [np.flatnonzero(owner == j) for j in range(PARTS)]
    done = 0
    # One part after the other: a part's float16 vectors are in memory until written (2 bytes
    # per value: 384 MB for half of 1M x 384 rows), on top of the float32 matrix the exact
    # passes keep resident meanwhile; and sized once, as add() would grow them by doubling,
    # copying them each time. A 1M-row build's heap peak over its start (in-process): 826 MiB
    # for both parts at once through add(), 542 MiB this way (235 MiB without float16 files).
    for part, rows, path in zip(parts, numbers, halves, strict=True):
        fp16 = _half_index(vec.dim)
        size = fp16.code_size
        fp16.codes.resize(len(rows) * size)
        codes = faiss.rev_swig_ptr(fp16.codes.data(), fp16.codes.size()) if len(rows) else []
        for start in range(0, len(rows), CHUNK):
            units = vec.units(rows[start : start + CHUNK])[0]
            part.add(units)
            codes[start * size : (start + len(units)) * size] = fp16.sa_encode(units).ravel()
            done += len(units)
            progress(done / n)
        fp16.ntotal = len(rows)  # what add() would have left: the same codes, the same file
        faiss.write_index(fp16, str(path))
        del fp16, codes
    saved = {f"part{j}": faiss.serialize_index(p) for j, p in enumerate(parts)}
    saved |= {f"rows{j}": rows for j, rows in enumerate(numbers)}
    with open(dest, "wb") as f:  # a file object: savez would add .npz to a name
        np.savez(f, **saved)


def _half_index(dim: int):
    import faiss

    return faiss.IndexScalarQuantizer(
        dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
    )


def load(path: Path, rows: int) -> ApproxIndex:
    """Read a saved index (and map its parts' float16 files, half_paths(path)); ValueError
    when the files are not an index of `rows` rows (an index of another kind, e.g. the single
    HNSW graph or PQ index, or the parts of consecutive rows, that earlier versions built, or
    parts without float16 files, is refused: built again)."""
    import faiss

    try:
        with np.load(path, allow_pickle=False) as saved:
            count = sum(name.startswith("part") for name in saved.files)
            blobs = [saved[f"part{j}"] for j in range(count)]
            numbers = [saved[f"rows{j}"] for j in range(count)]
        parts = [faiss.deserialize_index(b) for b in blobs]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, RuntimeError) as exc:
        # np.load: not an .npz (a plain faiss file is not one) or a damaged one; KeyError: no
        # row numbers (parts of consecutive rows); faiss reports a bad index as RuntimeError.
        raise ValueError(f"{path} is not a faiss index in parts: {exc}") from None
    kinds = {type(p).__name__ for p in parts if not isinstance(p, faiss.IndexPQFastScan)}
    if kinds or not parts:  # deserialize_index gives the concrete type
        raise ValueError(f"{path} holds {', '.join(kinds) or 'no index'}, not PQ fast-scan parts")
    if any(len(r) != p.ntotal for p, r in zip(parts, numbers, strict=True)):
        raise ValueError(f"{path}: a part's row numbers don't match its codes")
    every = np.concatenate(numbers)
    if len(every) != rows or (rows and (every.min() < 0 or every.max() >= rows)):
        raise ValueError(f"{path} holds {len(every)} vectors, the split has {rows}")
    halves = []
    for part, half_path in zip(parts, half_paths(path), strict=False):
        try:  # the codes stay in the file, mapped (faiss's IO_FLAG_MMAP_IFC)
            half = faiss.read_index(str(half_path), faiss.IO_FLAG_MMAP_IFC)
        except RuntimeError as exc:
            raise ValueError(f"{half_path} is not a faiss index: {exc}") from None
        fp16 = faiss.ScalarQuantizer.QT_fp16
        if not isinstance(half, faiss.IndexScalarQuantizer) or half.sq.qtype != fp16:
            raise ValueError(f"{half_path} holds a {type(half).__name__}, not float16 vectors")
        if (half.ntotal, half.d) != (part.ntotal, part.d):
            raise ValueError(f"{half_path} holds {half.ntotal} x {half.d}, its part {part.ntotal}")
        halves.append(half)
    if len(halves) != len(parts):
        raise ValueError(f"{path} has {len(parts)} parts, this version makes {PARTS}")
    for part in parts:  # every query reads all of the codes (see memory.huge_pages)
        if part.codes.size():
            codes = faiss.rev_swig_ptr(part.codes.get(), part.codes.size())  # a view, no copy
            huge_pages(codes.ctypes.data, codes.nbytes)
    return ApproxIndex(parts, [r.astype(np.int64, copy=False) for r in numbers], halves)
