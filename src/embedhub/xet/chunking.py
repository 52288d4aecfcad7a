"""Xet's content-defined chunking (hub-docs `docs/xet/chunking.md`): a gear rolling hash over the
bytes, a boundary after byte i when `h & MASK == 0` and the chunk is at least 8 KiB, a forced
boundary at 128 KiB.

The hash after byte i only depends on the last 64 bytes (each step shifts left by one), and no
boundary is tested within the first 8 KiB of a chunk, so at every position that can be tested
the hash equals the 64-byte window sum `sum(TABLE[b[i-k]] << k)`. That sum is computed for a
whole block at once with numpy (six doubling steps instead of 64 shifts), and the boundaries
are then picked by a walk over the rare candidate positions."""

from __future__ import annotations

import numpy as np

from embedhub.xet.gear_table import TABLE

MIN_CHUNK = 8 * 1024
MAX_CHUNK = 128 * 1024
MASK = np.uint64(0xFFFF_0000_0000_0000)
WINDOW = 64
BLOCK = 1024 * 1024  # small enough for the temporaries to stay in cache


def _window_hashes(data: np.ndarray) -> np.ndarray:
    """h[i] = sum over k < 64 of TABLE[data[i-k]] << k (mod 2**64), missing terms zero."""
    h = TABLE[data]
    span = 1
    while span < WINDOW:
        # The right side is a new array, computed before the in-place add changes h.
        h[span:] += h[:-span] << np.uint64(span)
        span *= 2
    return h


def _candidates(data: bytes | memoryview) -> np.ndarray:
    """Positions whose window hash passes the mask test, over the whole input."""
    view = np.frombuffer(data, dtype=np.uint8)
    found = []
    for start in range(0, len(view), BLOCK):
        # Each block is hashed with the 63 bytes before it, so every window is complete.
        lead = min(start, WINDOW - 1)
        block = view[start - lead : start + BLOCK]
        hits = np.flatnonzero((_window_hashes(block) & MASK) == 0)
        found.append(hits[hits >= lead] + (start - lead))
    return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)


def boundaries(data: bytes | memoryview) -> list[int]:
    """The end offset of each chunk (the last one is len(data)); [] for empty input."""
    size = len(data)
    cands = _candidates(data)
    ends: list[int] = []
    start = 0
    while start < size:
        first_testable = start + MIN_CHUNK - 1
        forced = start + MAX_CHUNK - 1
        j = int(np.searchsorted(cands, first_testable))
        if j < len(cands) and cands[j] <= forced:
            end = int(cands[j]) + 1
        else:
            end = min(forced + 1, size)
        ends.append(end)
        start = end
    return ends


def split(data: bytes) -> list[bytes]:
    out, start = [], 0
    for end in boundaries(data):
        out.append(data[start:end])
        start = end
    return out
