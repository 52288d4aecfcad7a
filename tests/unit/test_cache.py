"""The embedding LRU."""

from __future__ import annotations

import numpy as np

from embedhub.engine.cache import EmbeddingCache


def v(x: float) -> np.ndarray:
    return np.full(3, x, dtype=np.float32)


def test_get_and_put():
    cache = EmbeddingCache(2)
    assert cache.get("a") is None
    cache.put("a", v(1))
    np.testing.assert_array_equal(cache.get("a"), v(1))
    cache.put("a", v(2))  # replaces
    np.testing.assert_array_equal(cache.get("a"), v(2))
    assert len(cache) == 1


def test_evicts_least_recently_used():
    cache = EmbeddingCache(2)
    cache.put("a", v(1))
    cache.put("b", v(2))
    assert cache.get("a") is not None  # a is now the most recent
    cache.put("c", v(3))
    assert cache.get("b") is None
    assert cache.get("a") is not None and cache.get("c") is not None
    assert len(cache) == 2
    cache.put("d", v(4))  # c was read after a, so a goes
    assert cache.get("a") is None and len(cache) == 2


def test_tuple_keys_are_distinct():
    cache = EmbeddingCache(10)
    cache.put(("t", ("right", None)), v(1))
    cache.put(("t", ("left", None)), v(2))
    np.testing.assert_array_equal(cache.get(("t", ("right", None))), v(1))
    np.testing.assert_array_equal(cache.get(("t", ("left", None))), v(2))


def test_capacity_zero_is_off():
    cache = EmbeddingCache(0)
    cache.put("a", v(1))
    assert cache.get("a") is None and len(cache) == 0
