"""Handing freed memory back to the OS after a large, one-off piece of work, and asking it
for huge pages where a hot, randomly read block of memory lives (huge_pages).

Both allocators in this process keep what was freed for reuse: glibc keeps freed blocks in its
arenas (one per thread that allocated), and pyarrow's memory pool (mimalloc, unless
arrow_on_glibc put Arrow on glibc, as the CLI does) keeps freed segments. After work that peaks
far above the steady state (a batch of long inputs, reading a million-row Parquet file into a
search view), that keeps the server's RSS at the peak for good."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys


def release_freed_memory(arrow: bool = False) -> None:
    """Return freed heap to the OS (glibc; a no-op elsewhere); `arrow` also pyarrow's pool
    (only where pyarrow is already imported: this must not import it)."""
    if arrow and "pyarrow" in sys.modules:
        sys.modules["pyarrow"].default_memory_pool().release_unused()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def arrow_on_glibc() -> bool:
    """Have Arrow allocate from glibc's malloc, not from its own pool (mimalloc in the
    wheels), so that release_freed_memory hands back what reading Parquet used: reading runs
    on Arrow's own threads, and mimalloc kept ~40 MiB of their freed pages per split opened
    (its collect covers the calling thread only). Arrow reads the choice once, when pyarrow
    is imported, so this must run before that: False when it came too late (and Arrow is
    not on glibc). An ARROW_DEFAULT_MEMORY_POOL set by the user is left as it is.

    Measured (/tmp/ann/stages.py, a server opening one 100k-row split): RSS 776 MiB on
    mimalloc, 734 MiB on glibc; the same server with a 100k and a 1M split open
    (bench/search.py): 2.41 -> 2.32 GiB, and the 1M split opened as fast (19.0 s)."""
    if "pyarrow" in sys.modules:
        return sys.modules["pyarrow"].default_memory_pool().backend_name == "system"
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    return True


# madvise(2) advice values (Linux): back a range with 2 MiB pages from now on; collapse the
# pages it already has into huge ones right away (Linux 6.1+); drop a range's pages.
MADV_DONTNEED, MADV_HUGEPAGE, MADV_COLLAPSE = 4, 14, 25
HUGE_PAGE = 2 << 20  # bytes
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def huge_pages(address: int, size: int) -> bool:
    """Ask for 2 MiB pages over the whole huge pages inside [address, address + size), which
    the caller has already written: True when the kernel collapsed them. Best effort: False
    where transparent huge pages are off, the kernel is older than 6.1 or this is not Linux.

    Why: a search scans tens of MB of codes per query; in 4 KiB pages each scan walks ~12,000
    page-table entries, and in a virtual machine every TLB miss walks two levels of tables."""
    span = _whole_pages(address, size, HUGE_PAGE)
    if span is None:
        return False
    # Eligible for huge pages where THP is in 'madvise' mode (this host's default), then
    # collapsed now rather than whenever khugepaged gets to it.
    _LIBC.madvise(*span, MADV_HUGEPAGE)
    return _LIBC.madvise(*span, MADV_COLLAPSE) == 0


def drop_pages(address: int, size: int) -> bool:
    """Unmap the whole pages inside [address, address + size) of a read-only file mapping from
    this process: its RSS no longer counts them, the page cache keeps them (a later read maps
    them again without I/O). False where madvise is not available (nothing changes)."""
    span = _whole_pages(address, size, PAGE)
    return span is not None and _LIBC.madvise(*span, MADV_DONTNEED) == 0


def _whole_pages(address: int, size: int, page: int) -> tuple[int, int] | None:
    """(start, length) of the whole `page`-sized pages inside [address, address + size);
    None when there is none, or no libc to madvise with."""
    start = -(-address // page) * page
    end = (address + size) // page * page
    if _LIBC is None or end <= start:
        return None
    return start, end - start


def _libc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:  # not glibc (macOS, musl): nothing to trim
        return None
    if not hasattr(libc, "malloc_trim"):
        return None
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    return libc


_LIBC = _libc()
