"""Deciding, row by row, what a batch needs: skip (no text), keep (already in the output),
reuse (same text embedded earlier in this run) or embed. Then joining the vectors back.

The same code runs on the driver (in-process and remote modes) and inside each Ray actor, and
both hand the sink the same thing: the batch's output columns plus the embedding (null where
nothing was embedded), the row key and the row's state."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from embedhub.bulk.rows import Annotated

EMBEDDED, DUPLICATE, UNCHANGED, EMPTY = 0, 1, 2, 3
KEY_COLUMN, STATE_COLUMN = "__key", "__state"


class DoneSet:
    """Keys of rows already in the output (sorted, 8 bytes each) and which of them this
    run's input has shown again."""

    def __init__(self, keys: np.ndarray) -> None:
        self.keys = keys
        self.seen = np.zeros(len(keys), dtype=bool)

    def contains(self, keys: np.ndarray) -> np.ndarray:
        if not len(self.keys):
            return np.zeros(len(keys), dtype=bool)
        at = np.clip(np.searchsorted(self.keys, keys), 0, len(self.keys) - 1)
        return self.keys[at] == keys

    def mark(self, keys: np.ndarray) -> np.ndarray:
        """Mark keys seen; returns those seen before in this run (the same row twice)."""
        at = np.searchsorted(self.keys, keys)
        again = keys[self.seen[at]]
        self.seen[at] = True
        return again

    def seen_keys(self) -> np.ndarray:
        return self.keys[self.seen]


Vector = np.ndarray | tuple[Future, int]


@dataclass
class Plan:
    ann: Annotated
    states: np.ndarray  # int8 per row
    texts: list[str] = field(default_factory=list)  # what the model must embed
    refs: dict[int, Vector] = field(default_factory=dict)  # row -> where its vector comes from
    future: Future | None = None
    fresh: list[bytes] = field(default_factory=list)  # hashes this batch embeds first


class Planner:
    """Plans batches and keeps the vectors of recent texts, so a text repeated anywhere in a
    run is embedded once. Batches may be in flight while later ones are planned: a repeat of a
    text still being embedded points at that batch's future."""

    def __init__(self, done: DoneSet, cache_size: int = 16384) -> None:
        self.done = done
        self.cache: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self.cache_size = cache_size
        self.pending: dict[bytes, tuple[Future, int]] = {}

    def plan(self, ann: Annotated, submit: Callable[[list[str]], Future]) -> Plan:
        states = np.full(ann.num_rows, EMBEDDED, dtype=np.int8)
        states[self.done.contains(ann.keys)] = UNCHANGED
        plan = Plan(ann, states)
        future: Future = Future()  # stands in until the real one exists
        for i, (text, h) in enumerate(zip(ann.texts, ann.hashes, strict=True)):
            if text is None or h is None:  # no text, so no hash
                states[i] = EMPTY
            elif states[i] == UNCHANGED:
                continue
            elif h in self.cache:
                self.cache.move_to_end(h)
                plan.refs[i], states[i] = self.cache[h], DUPLICATE
            elif h in self.pending:
                plan.refs[i], states[i] = self.pending[h], DUPLICATE
            else:
                self.pending[h] = (future, len(plan.texts))
                plan.refs[i] = self.pending[h]
                plan.fresh.append(h)
                plan.texts.append(text)
        if plan.texts:
            plan.future = submit(plan.texts)
            plan.future.add_done_callback(lambda f: _chain(f, future))
        return plan

    def finish(self, plan: Plan, dimension: int | None = None) -> pa.Table:
        """The batch with its vectors; waits for its own embedding to finish."""
        if plan.future is not None:
            plan.future.result()  # raise the model's error here, on the caller's thread
        for h in plan.fresh:
            future, j = self.pending.pop(h)
            self.cache[h] = future.result()[j].copy()
            if len(self.cache) > self.cache_size:
                self.cache.popitem(last=False)
        return _result_table(plan, dimension)


def _chain(source: Future, target: Future) -> None:
    if source.exception() is not None:
        target.set_exception(source.exception())
    else:
        target.set_result(source.result())


def _vector(ref: Vector) -> np.ndarray:
    if isinstance(ref, tuple):
        future, j = ref
        return future.result()[j]
    return ref


def _result_table(plan: Plan, dimension: int | None) -> pa.Table:
    n = plan.ann.num_rows
    d = dimension if not plan.refs else len(_vector(next(iter(plan.refs.values()))))
    if d is None:
        raise ValueError("the dimension is needed for a batch with nothing embedded")
    matrix = np.zeros((n, d), dtype=np.float32)
    for i, ref in plan.refs.items():
        matrix[i] = _vector(ref)
    has = np.isin(plan.states, (EMBEDDED, DUPLICATE))
    embedding = pa.FixedSizeListArray.from_arrays(pa.array(matrix.ravel()), d, mask=pa.array(~has))
    return (
        plan.ann.table.append_column("__embedding", embedding)
        .append_column(KEY_COLUMN, pa.array(plan.ann.keys, pa.int64()))
        .append_column(STATE_COLUMN, pa.array(plan.states, pa.int8()))
    )
