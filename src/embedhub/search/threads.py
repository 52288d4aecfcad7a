"""Threads for one query's search work: faiss scans and numpy gathers release the GIL in
their C work, so parts of one query run on several cores at once."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

# Threads for the parts after the first (that one runs on the asking thread). As many as cores:
# under load, every query's later parts wait here.
_POOL = ThreadPoolExecutor(os.cpu_count() or 1, thread_name_prefix="search-part")


_local = threading.local()


def one_omp_thread() -> None:
    """One query is scanned on one thread: no OpenMP team to start. Set once per thread
    (the call costs a good part of a millisecond when made per query)."""
    if not getattr(_local, "one_thread", False):
        import faiss

        faiss.omp_set_num_threads(1)
        _local.one_thread = True


def in_parallel(fn: Callable[[int], T], items: Iterable[int]) -> list[T]:
    """[fn(i) for i in items], the first on this thread and the others on the pool's (fn
    releases the GIL in its C work: faiss scans, numpy gathers)."""
    first, *rest = items
    later = [_POOL.submit(fn, i) for i in rest]
    return [fn(first), *(f.result() for f in later)]
