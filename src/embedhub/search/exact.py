"""Exact cosine top-k over a memory-mapped matrix: what `semantic_search` computes.

Scoring a query reads the whole matrix, so it is bound by memory bandwidth, not arithmetic.
Queries for the same matrix that arrive while a scan runs therefore join it at its next
block and share it from there (one matrix-matrix product instead of several matrix-vector
ones), leaving once they have seen every block: sixteen concurrent clients cost about one
scan each, not sixteen, while a big index is still being built and every query is answered
exactly (ExactScanner)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from embedhub.search.views import EPS, Vectors

if TYPE_CHECKING:
    from embedhub.search.prefilter import Prefilter

CHUNK = 32768  # rows scored at once: bounded temporaries, cache-friendly
# Up to this many waiting queries go through the prefilter one by one; more share one full
# scan (a matrix-matrix product reads the matrix once for all of them).
PREFILTER_BATCH = 4


def unit(q: np.ndarray) -> np.ndarray:
    q = np.asarray(q, np.float32).reshape(-1)
    return q / max(float(np.linalg.norm(q)), EPS)


def scores_of(vec: Vectors, rows: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Exact cosine scores of some rows (q already unit length)."""
    return _scaled(vec, rows, _dots(np.asarray(vec.matrix), rows, q))


def exact_scores(vec: Vectors, rows: np.ndarray, q: np.ndarray) -> np.ndarray:
    """scores_of a few rows (bit for bit), read from the matrix's file (Vectors.rows_of)
    instead of through its mapping, which this process then need not keep resident."""
    block = vec.rows_of(rows)
    return _scaled(vec, rows, _dots(block, np.arange(len(block)), q))


def _dots(matrix: np.ndarray, rows: np.ndarray, q: np.ndarray) -> np.ndarray:
    import faiss

    rows = np.ascontiguousarray(rows, np.int64)
    q = np.ascontiguousarray(q, np.float32)
    dots = np.empty(len(rows), np.float32)
    if len(rows) and matrix.flags.c_contiguous:
        # Each row's dot product read in place: a gather (take) first copies the rows, and
        # the rows of a search's candidates are scattered over the whole matrix (1,000 of
        # them out of 1M: 0.89 ms instead of 1.22 here).
        faiss.fvec_inner_products_by_idx(
            faiss.swig_ptr(dots),
            faiss.swig_ptr(q),
            faiss.swig_ptr(matrix),
            faiss.swig_ptr(rows),
            matrix.shape[1],
            1,
            len(rows),
        )
    elif len(rows):
        dots = matrix.take(rows, axis=0) @ q
    return dots


def _scaled(vec: Vectors, rows: np.ndarray, dots: np.ndarray) -> np.ndarray:
    return np.nan_to_num(dots * vec.scale[rows], nan=-np.inf)


def best(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best (ids, scores), best first; equal scores by lower id (a fixed order)."""
    if len(scores) > k:
        part = np.argpartition(-scores, k - 1)[:k]
        # argpartition cuts ties at the k-th score arbitrarily: keep every tied row, then sort.
        cut = scores[part].min()
        part = np.flatnonzero(scores >= cut)
        scores, ids = scores[part], ids[part]
    order = np.lexsort((ids, -scores))[:k]
    return ids[order], scores[order]


def search_subset(vec: Vectors, rows: np.ndarray, q: np.ndarray, k: int):
    """Exact top-k among `rows` only (a filtered search)."""
    out_ids, out_scores = [], []
    for start in range(0, len(rows), CHUNK):
        part = rows[start : start + CHUNK]
        ids, s = best(scores_of(vec, part, q), part, k)
        out_ids.append(ids)
        out_scores.append(s)
    if not out_ids:
        return np.empty(0, np.int64), np.empty(0, np.float32)
    return best(np.concatenate(out_scores), np.concatenate(out_ids), k)


@dataclass
class _Ask:
    q: np.ndarray
    k: int
    done: threading.Event = field(default_factory=threading.Event)
    result: tuple[np.ndarray, np.ndarray] | None = None
    error: BaseException | None = None
    lead: bool = False  # woken to scan for everyone waiting, not with an answer
    released: bool = False  # woken without an answer: ask the split's new index (release)
    left: int = 0  # blocks still to score, once it has joined the pass
    ids: list[np.ndarray] = field(default_factory=list)  # its best rows of each block so far
    scores: list[np.ndarray] = field(default_factory=list)


@dataclass
class _Pass:
    """The circular scan of one matrix: who waits to join it, who is in it, where it is."""

    waiting: list[_Ask] = field(default_factory=list)  # arrived; join at the next block
    active: list[_Ask] = field(default_factory=list)  # scored on every block until each saw all
    at: int = 0  # the next block
    leading: bool = False  # a thread is scanning
    released: bool = False  # everyone in it is let go at the next block (release)


class ExactScanner:
    """Shared, circular scans per matrix. The caller's own thread does the work: the first to
    arrive scans block after block for everyone in the pass, and a query that arrives
    meanwhile joins at the next block and leaves once it has seen every block, wherever the
    scan was (a shared "elevator" scan, as databases do for table scans). So a query waits
    at most one pass of the matrix, not the rest of the current pass and then a pass of its
    own (under 16 clients on 1M rows, that was up to ~2 s). When the leading thread's own
    query has seen every block it hands the lead to one still in the pass, and returns: a
    lead that kept scanning for later arrivals would hold its own answer back for as long as
    queries keep coming."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._passes: dict[int, _Pass] = {}
        self.scans = 0.0  # blocks scored, in passes of the whole matrix (the tests read it)

    def search(
        self, vec: Vectors, q: np.ndarray, k: int, prefilter: Prefilter | None = None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The exact top k; None when the pass was released before this query's answer."""
        ask = _Ask(q, k)
        key = id(vec.matrix)
        with self._lock:
            state = self._passes.setdefault(key, _Pass())
            state.waiting.append(ask)
            lead = not state.leading
            state.leading = True
        while True:
            if lead:
                self._lead(key, state, vec, prefilter, ask)
            ask.done.wait()
            if not ask.lead:
                break
            ask.lead, lead = False, True  # handed the lead: scan on, own ask included
            ask.done.clear()
        if ask.error is not None:
            raise ask.error
        if ask.released:
            return None
        assert ask.result is not None
        return ask.result

    def release(self, vec: Vectors) -> None:
        """Let every query in the pass over `vec` go unanswered at its next block (search
        returns None): its split's approximate index has just become ready. The queries that
        joined last would otherwise wait a whole pass more (1-2 s on 1M rows under load), with
        every new query now answered by the index competing for the cores."""
        with self._lock:
            state = self._passes.get(id(vec.matrix))
            if state is not None:
                state.released = True

    def _lead(
        self, key: int, state: _Pass, vec: Vectors, prefilter: Prefilter | None, own: _Ask
    ) -> None:
        blocks = _blocks(vec)
        try:
            while not own.done.is_set():
                with self._lock:
                    joining, state.waiting = state.waiting, []
                    released = state.released
                state.active += joining
                if released:
                    for ask in state.active:
                        ask.released = True
                        ask.done.set()
                    state.active = []
                    break
                for ask in joining:
                    ask.left = blocks
                if prefilter is not None and 0 < len(joining) <= PREFILTER_BATCH:
                    self._prefiltered(state, joining, vec, prefilter)
                if state.active:
                    self._score_block(state, vec, state.at % blocks)
                    state.at = (state.at + 1) % blocks
        except BaseException as exc:  # every query in the pass must wake, with the error
            for ask in state.active:
                ask.error = exc
                ask.done.set()
            state.active = []
        finally:
            with self._lock:
                unfinished = [a for a in state.active if not a.done.is_set()]
                state.active = unfinished
                heirs = unfinished or state.waiting
                if heirs:
                    heirs[0].lead = True
                    heirs[0].done.set()
                else:
                    state.leading = False
                    self._passes.pop(key, None)

    def _prefiltered(
        self, state: _Pass, joining: list[_Ask], vec: Vectors, prefilter: Prefilter
    ) -> None:
        """A few new queries on a split with a first pass: answered from it, one by one."""
        for ask in joining:
            ask.result = prefilter.search(vec, ask.q, ask.k)
            if ask.result is not None:  # else the bound ruled out too few rows: scan
                state.active.remove(ask)
                ask.done.set()

    def _score_block(self, state: _Pass, vec: Vectors, block: int) -> None:
        asks = state.active
        start = block * CHUNK
        found = _block_top(vec, start, np.stack([a.q for a in asks]), max(a.k for a in asks))
        self.scans += 1 / _blocks(vec)
        for ask, (ids, scores) in zip(asks, found, strict=True):
            ask.ids.append(ids)
            ask.scores.append(scores)
            ask.left -= 1
            if ask.left == 0:
                ask.result = best(np.concatenate(ask.scores), np.concatenate(ask.ids), ask.k)
                ask.ids, ask.scores = [], []
                ask.done.set()
        state.active = [a for a in asks if a.left > 0]


def _blocks(vec: Vectors) -> int:
    """Blocks in a pass of the matrix (one, empty, for a matrix without rows)."""
    return max(1, -(-vec.matrix.shape[0] // CHUNK))


def _block_top(
    vec: Vectors, start: int, queries: np.ndarray, k: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each query's best k rows (ties at the k-th included) of the block at `start`."""
    block = np.asarray(vec.matrix[start : start + CHUNK])
    m = len(block)
    # One row of scores per query (contiguous: a column of a rows x queries product is a
    # strided read per query), and each row's k-th best found for all queries in one call.
    s = (queries @ block.T) * vec.scale[start : start + m]
    s = np.nan_to_num(s, nan=-np.inf)
    kth = np.partition(s, m - k, axis=1)[:, m - k] if m > k else None
    out = []
    for j, row in enumerate(s):
        keep = np.arange(m) if kth is None else np.flatnonzero(row >= kth[j])  # ties too
        out.append((keep + start, row[keep]))
    return out


def scan(vec: Vectors, queries: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Exact top-k of every query over the whole matrix (queries already unit length)."""
    n = vec.matrix.shape[0]
    k = min(k, n)
    found: list[tuple[list[np.ndarray], list[np.ndarray]]] = [([], []) for _ in queries]
    for start in range(0, n, CHUNK):
        for j, (ids, scores) in enumerate(_block_top(vec, start, queries, k)):
            found[j][0].append(ids)
            found[j][1].append(scores)
    return [best(np.concatenate(s), np.concatenate(i), k) for i, s in found]
