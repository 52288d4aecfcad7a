"""Handing freed memory back to the OS after a large, one-off piece of work.

Both allocators in this process keep what was freed for reuse: glibc keeps freed blocks in its
arenas (one per thread that allocated), and pyarrow's memory pool (mimalloc) keeps freed
segments. After work that peaks far above the steady state (a batch of long inputs, reading a
million-row Parquet file into a search view), that keeps the server's RSS at the peak for good."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys


def release_freed_memory(arrow: bool = False) -> None:
    """Return freed heap to the OS (glibc; a no-op elsewhere); `arrow` also pyarrow's pool
    (only where pyarrow is already imported: this must not import it)."""
    if arrow and "pyarrow" in sys.modules:
        sys.modules["pyarrow"].default_memory_pool().release_unused()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _libc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:  # not glibc (macOS, musl): nothing to trim
        return None


_LIBC = _libc()
