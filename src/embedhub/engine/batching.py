"""Choosing the next batch: a pure function, so it can be tested without a model.

Work on CPU scales with *padded* tokens (longest input x inputs), so a batch groups inputs of
similar length. The oldest waiting input is always in the next batch, so long inputs are never
starved by a stream of short ones."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Waiting(Protocol):
    tokens: int
    group: tuple  # inputs only share a forward pass within one group (truncation side, prompt)
    seq: int  # arrival order


# A pass's memory grows with its attention scores, inputs x length^2, more than with its padded
# tokens, and runtimes keep the buffers of the largest pass they have run. The largest request
# the default limits allow (1,150 inputs of 256 tokens) grew a server by 602-650 MB in passes
# of 8,192 tokens (32 inputs) and by 158-262 MB in passes of 4 inputs (bench/api_hostile.py),
# which embedded that request in-process at the same speed (57 s either way). So past this
# length a pass holds at most max_batch_tokens x ATTENTION_LENGTH attention cells: 4 inputs of
# 256 tokens, 16 of 128.
ATTENTION_LENGTH = 32


def padded_cost(lengths: Sequence[int]) -> int:
    return max(lengths) * len(lengths) if lengths else 0


def fits(longest: int, count: int, max_batch_tokens: int) -> bool:
    """Whether `count` inputs padded to `longest` tokens may share one forward pass."""
    return (
        longest * count <= max_batch_tokens
        and longest * longest * count <= max_batch_tokens * ATTENTION_LENGTH
    )


def pick_batch(waiting: Sequence[Waiting], max_batch_tokens: int) -> list[int]:
    """Indices into `waiting` for the next forward pass; never empty when `waiting` isn't."""
    if not waiting:
        return []
    oldest = min(range(len(waiting)), key=lambda i: waiting[i].seq)
    group = waiting[oldest].group
    same = sorted(
        (i for i in range(len(waiting)) if waiting[i].group == group),
        key=lambda i: (waiting[i].tokens, waiting[i].seq),
    )
    at = same.index(oldest)
    lo, hi = at, at + 1  # the window same[lo:hi], grown toward the closer length
    longest = waiting[oldest].tokens
    while True:
        left = waiting[same[lo - 1]].tokens if lo > 0 else None
        right = waiting[same[hi]].tokens if hi < len(same) else None
        if left is None and right is None:
            break
        # Prefer the neighbour that adds less padding: a shorter one costs nothing extra.
        take_left = right is None or (left is not None and longest - left <= right - longest)
        new_longest = longest if take_left or right is None else max(longest, right)
        if not fits(new_longest, hi - lo + 1, max_batch_tokens):
            if take_left or left is None:
                break
            # The longer neighbour doesn't fit; a shorter one still might.
            if not fits(longest, hi - lo + 1, max_batch_tokens):
                break
            take_left = True
            new_longest = longest
        if take_left:
            lo -= 1
        else:
            hi += 1
        longest = new_longest
    return same[lo:hi]


def split_by_length(lengths: Sequence[int], call_overhead_tokens: int) -> list[list[int]]:
    """Split one batch into forward passes so that padding never costs more than another call.

    On a CPU every padded token costs about as much as a real one, and each forward pass has a
    fixed cost (Python and thread-pool dispatch: tens of tokens' worth on small models). Walking
    the inputs from shortest to longest, an input opens a new pass when padding the current
    pass up to its length would cost more than that fixed cost."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    passes: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i in order:
        n = lengths[i]
        if current and (n - longest) * len(current) > call_overhead_tokens:
            passes.append(current)
            current = []
        current.append(i)
        longest = n
    if current:
        passes.append(current)
    return passes
