"""Exact search in a quarter of the memory reads: a first pass over 8-bit codes, then exact
float32 scores for the few rows the first pass can't rule out.

An exact scan is bound by memory bandwidth (it reads all n x dim x 4 bytes per query). Here
each row's unit vector u_i = x_i / |x_i| is also kept as one byte per dimension (faiss's
8-bit scalar quantizer: per-dimension min/max, decoded d_i), which faiss scans with SIMD.

Why the answer is still exact. For a unit query q, the true cosine is s_i = <u_i, q>; faiss
reports a_i ~ <d_i, q>. With e_i = |u_i - d_i| (measured for every row when the codes are
made, rounded up) and E a bound on float rounding, |s_i - a_i| <= e_i + E =: r_i by
Cauchy-Schwarz (|<u_i - d_i, q>| <= |u_i - d_i| |q|, |q| = 1). So every row lies in
[a_i - r_i, a_i + r_i]. Let `cut` be the k-th largest lower bound a_i - r_i: k rows score at
least `cut`, so the k-th best true score S_k >= cut. The exact rescoring computes s_i to within
E as well, so any row the full float32 scan would put in its top k (ties included) has
s_i >= S_k - 2E >= cut - 2E, hence a_i + r_i >= cut - 2E: it is a candidate. Every candidate
is scored exactly (exact.scores_of) and the best k are chosen as a full scan chooses them
(exact.best). faiss returns only the `probe` best a_i (of each shard: row ranges scanned on
two threads at once); a row it did not return has a_j <= a_last (the smallest returned by its
shard), so max(a_last) + max(r) < cut - 2E rules them all out;
otherwise the probe grows, and past a share of the rows the caller scans in full.

Rows whose vectors are not finite (or overflow) have no meaningful bound: they are always
rescored. E: faiss's sum of dim products in float32 is off by at most ~dim * 2^-24 * |d_i|
(|d_i| ~ 1), as is the rescoring; E = 1e-4 + dim * 2^-22 covers both several times over."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from embedhub.search.exact import best, scores_of
from embedhub.search.threads import in_parallel, one_omp_thread
from embedhub.search.views import Vectors

CHUNK = 32768  # rows encoded at once: a bounded normalised copy
PROBE = 64  # first-pass results per query (per shard), at least ...
PROBE_PER_K = 8  # ... and this many per wanted row
MAX_PROBE_SHARE = 8  # past n / this, the full scan is cheaper: give up
# The codes are cut into row ranges scanned by that many threads at once (faiss scans one
# query on one thread): splits this big or bigger get one shard per core, up to two.
SHARD_ROWS = 50_000
MAX_SHARDS = 2


@dataclass
class Shard:
    index: Any  # faiss.IndexScalarQuantizer (QT_8bit, inner product) of the u_i in the range
    start: int  # its first row


class Prefilter:
    def __init__(
        self, shards: list[Shard], radius: np.ndarray, odd: np.ndarray, slack: float
    ) -> None:
        self.shards = shards
        self.radius = radius  # r_i = e_i + E (float64; inf for odd rows)
        self.odd = odd  # rows always rescored
        self.slack = slack  # E
        finite = radius[np.isfinite(radius)]
        self.max_radius = float(finite.max()) if len(finite) else 0.0

    @property
    def rows(self) -> int:
        return len(self.radius)

    def search(self, vec: Vectors, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The exact top k (as exact.scan gives it) for a unit query; None when the bound
        can't rule out enough rows cheaply (the caller scans in full)."""
        n = self.rows
        k = min(k, n)
        probe = max(PROBE, PROBE_PER_K * k)
        query = np.ascontiguousarray(q[None], np.float32)
        while True:
            a, ids, unseen = self._first_pass(query, probe)
            r = self.radius[ids]
            lower = a - r
            cut = (
                np.partition(lower, len(lower) - k)[len(lower) - k] if len(lower) >= k else -np.inf
            )
            floor = cut - 2 * self.slack
            if unseen + self.max_radius < floor:
                break
            if probe * MAX_PROBE_SHARE >= n:
                return None
            probe *= 8
        candidates = np.union1d(ids[a + r >= floor], self.odd).astype(np.int64)
        return best(scores_of(vec, candidates, q), candidates, k)

    def _first_pass(self, query: np.ndarray, probe: int) -> tuple[np.ndarray, np.ndarray, float]:
        """(scores, rows) of each shard's `probe` best codes, and the score no row left out
        exceeds (-inf when none is left out): a shard's unreturned rows score at most its
        last returned one."""
        found = in_parallel(lambda j: _probe(self.shards[j], query, probe), range(len(self.shards)))
        a = np.concatenate([f[0] for f in found])
        ids = np.concatenate([f[1] for f in found])
        unseen = max((f[2] for f in found), default=-np.inf)
        return a, ids, unseen


def _probe(shard: Shard, query: np.ndarray, probe: int) -> tuple[np.ndarray, np.ndarray, float]:
    one_omp_thread()
    size = shard.index.ntotal
    scores, ids = shard.index.search(query, min(probe, size))
    a = scores[0].astype(np.float64)
    unseen = float(a[-1]) if probe < size else -np.inf
    return a, ids[0] + shard.start, unseen


def build(vec: Vectors, shards: int | None = None) -> Prefilter:
    """The codes and radii of every row of `vec` (two passes over the matrix, in chunks),
    in `shards` row ranges (default: by size and cores)."""
    import faiss

    n, dim = vec.matrix.shape
    if shards is None:
        shards = min(MAX_SHARDS, os.cpu_count() or 1, n // SHARD_ROWS)
    shards = max(1, min(shards, n))
    trained = faiss.IndexScalarQuantizer(
        dim, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    # Training takes each dimension's min and max over what it is given: give it exactly
    # those of all rows, so no value is clamped.
    low, high = np.full(dim, np.inf, np.float32), np.full(dim, -np.inf, np.float32)
    for rows in _chunks(0, n):
        u, _ = vec.units(slice(rows[0], rows[-1] + 1))
        low, high = np.minimum(low, u.min(axis=0)), np.maximum(high, u.max(axis=0))
    trained.train(np.stack([low, high]))
    slack = 1e-4 + dim * 2.0**-22
    radius = np.empty(n, np.float64)
    odd = [np.empty(0, np.int64)]
    bounds = [n * i // shards for i in range(shards + 1)]
    parts = []
    for start, stop in zip(bounds, bounds[1:], strict=False):
        index = faiss.clone_index(trained)
        for rows in _chunks(start, stop):
            u, bad = vec.units(slice(rows[0], rows[-1] + 1))
            codes = index.sa_encode(u)
            index.add_sa_codes(codes)
            # float32 is enough: its relative error (~dim * 2^-24) is far inside the slack
            error = np.linalg.norm(u - index.sa_decode(codes), axis=1).astype(np.float64)
            radius[rows] = np.where(bad, np.inf, error * (1 + 1e-3) + slack)  # rounded up
            odd.append(rows[bad])
        parts.append(Shard(index, start))
    return Prefilter(parts, radius, np.concatenate(odd), slack)


def _chunks(start: int, stop: int):
    for at in range(start, stop, CHUNK):
        yield np.arange(at, min(stop, at + CHUNK))
