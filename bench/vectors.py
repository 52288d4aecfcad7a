"""Generated embedding-like vectors for the search benchmarks, and exact top-k to grade them.

Sentence embeddings are not uniform noise: they bunch around topics. Uniform random vectors
have no near neighbours at all (every point is about equally far from every other), which
no approximate index can do well on and no real dataset looks like. So: points scattered
around a few thousand random topic centres, with a spread that puts a point's cosine to its
own centre around 0.6 (what all-MiniLM-L6-v2 gives for sentences on one topic), normalised."""

from __future__ import annotations

import numpy as np


def clustered(
    n: int, dim: int, n_queries: int, *, seed: int = 0, per_topic: int = 100
) -> tuple[np.ndarray, np.ndarray]:
    """(n x dim data, n_queries x dim queries), float32, unit length; queries are fresh
    points from the same topics, not copies of data rows. A topic holds `per_topic` rows on
    average: more than the k searched for, so a query's true top-k are rows of its topic and
    not near-ties among unrelated rows (which no index, and no user, can tell apart)."""
    rng = np.random.default_rng(seed)
    topics = max(1, n // per_topic)
    centres = rng.standard_normal((topics, dim), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    spread = 1.3 / np.sqrt(dim)  # noise norm ~1.3: cosine to the centre ~0.6

    def draw(count: int) -> np.ndarray:
        out = np.empty((count, dim), dtype=np.float32)
        for start in range(0, count, 100_000):  # in slices: 1M x 384 temporaries add up
            m = min(100_000, count - start)
            block = centres[rng.integers(0, topics, m)]
            block += rng.standard_normal((m, dim), dtype=np.float32) * spread
            block /= np.linalg.norm(block, axis=1, keepdims=True)
            out[start : start + m] = block
        return out

    return draw(n), draw(n_queries)


def exact_top(data: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Row numbers of the k best inner products per query, best first."""
    scores = queries @ data.T
    top = np.argpartition(-scores, k, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
    return np.take_along_axis(top, order, axis=1)


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of the true top-k found in each answer (recall@k)."""
    hits = [len(set(f.tolist()) & set(t.tolist())) for f, t in zip(found, truth, strict=True)]
    return sum(hits) / truth.size
