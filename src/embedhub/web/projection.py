"""2-D projections of an embedding matrix: PCA for a first view in a second or two, then UMAP
(umap-learn) for the map people actually read. Coordinates come out scaled into [-1, 1], the
space the WebGL scatter plot draws in."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable

import numpy as np

Progress = Callable[[str, float], None]
# UMAP's neighbour search is quadratic-ish in the input width; 50 principal components keep
# nearly all the neighbourhood structure of 384-1024-wide sentence embeddings at a fraction of
# the cost (the usual preprocessing for UMAP on text embeddings).
UMAP_INPUT_DIMS = 50
NEIGHBOURS = 15  # UMAP's n_neighbors (its default)
# From here on the neighbour graph comes from a faiss HNSW index instead of UMAP's own
# NN-descent: for 100k x 384 vectors that step took 56 s (numba compiling included) and faiss
# 23 s, at a recall of 0.98 against exact neighbours; the whole projection went from 111 s to
# 76 s (bench/web.py's target is 2 min). Below it UMAP searches exactly itself.
FAISS_NEIGHBOURS_FROM = 4096


def pca(vectors: np.ndarray, dims: int = 2) -> np.ndarray:
    """The first `dims` principal components (randomised SVD: fast for tall matrices)."""
    from sklearn.decomposition import PCA

    n, d = vectors.shape
    dims = min(dims, n, d)
    if n < 2 or dims < 1:  # nothing to spread: one point sits in the middle
        return np.zeros((n, 2), np.float32)
    out = PCA(n_components=dims, svd_solver="randomized", random_state=0).fit_transform(vectors)
    if out.shape[1] < 2:
        out = np.pad(out, ((0, 0), (0, 2 - out.shape[1])))
    return out.astype(np.float32)


def umap_2d(vectors: np.ndarray, progress: Progress) -> np.ndarray:
    import umap

    n = vectors.shape[0]
    if n < 4:  # UMAP needs a few neighbours; a handful of points is drawn as PCA places them
        return pca(vectors)
    progress("reducing", 0.0)
    reduced = pca(vectors, UMAP_INPUT_DIMS) if vectors.shape[1] > UMAP_INPUT_DIMS else vectors
    progress("neighbours", 0.1)
    k = min(NEIGHBOURS, n - 1)
    knn = neighbours(reduced, k) if n >= FAISS_NEIGHBOURS_FROM else (None, None, None)
    reducer = umap.UMAP(
        n_components=2,
        n_neighbors=k,
        metric="cosine",
        precomputed_knn=knn,
        low_memory=n > 500_000,  # the faster neighbour search fits in memory below that
        random_state=None,  # a fixed seed turns off UMAP's parallel layout
        tqdm_kwds={"disable": False, "file": _EpochReader(progress), "mininterval": 0.5},
    )
    with warnings.catch_warnings():  # that a map made so can't `transform` new points
        warnings.filterwarnings("ignore", "precomputed_knn", UserWarning)
        return reducer.fit_transform(reduced).astype(np.float32)


def neighbours(vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's k nearest rows by cosine, as UMAP takes them precomputed: (indices,
    distances), each row's own index first at distance 0; -1 / inf where fewer were found."""
    import faiss

    n = len(vectors)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), np.float32)
    index = faiss.IndexHNSWFlat(unit.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 40
    index.add(unit)
    index.hnsw.efSearch = 64
    sims, ids = index.search(unit, k + 1)
    rows = np.arange(n)[:, None]
    # The row itself (when found) and misses go last; the k - 1 best others stay in order.
    order = np.argsort((ids == rows) | (ids < 0), axis=1, kind="stable")[:, : k - 1]
    ids = np.take_along_axis(ids, order, axis=1)
    dists = np.where(ids >= 0, np.maximum(1 - np.take_along_axis(sims, order, axis=1), 0), np.inf)
    return (
        np.hstack([rows, ids]).astype(np.int64),
        np.hstack([np.zeros((n, 1)), dists]).astype(np.float32),
    )


def to_unit_square(xy: np.ndarray) -> np.ndarray:
    """Centre and scale so the points fill [-1, 1] on their wider axis, aspect kept (a 1%
    margin lets the outermost points show whole)."""
    if len(xy) == 0:
        return xy.astype(np.float32)
    xy = np.nan_to_num(xy.astype(np.float64))
    low, high = xy.min(axis=0), xy.max(axis=0)
    centre = (low + high) / 2
    half = float(max((high - low).max() / 2, 1e-12))
    return ((xy - centre) / half * 0.99).astype(np.float32)


class _EpochReader:
    """A file for UMAP's tqdm bar: turns "12/200" into layout progress (0.4-1.0 of the job)."""

    _COUNT = re.compile(r"(\d+)/(\d+)")

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def write(self, text: str) -> int:
        found = self._COUNT.findall(text)
        if found:
            done, total = map(int, found[-1])
            self.progress("layout", 0.4 + 0.6 * done / max(total, 1))
        return len(text)

    def flush(self) -> None:
        pass
