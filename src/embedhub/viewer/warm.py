"""A pushed embedding dataset made ready for search right away, in the background: its splits'
views (the rows and the float32 matrix, built from the Parquet files) and, for large splits,
the approximate index. Otherwise the first query after a push waits for the view: ~15 s for 1M
x 384 rows on two cores (bench/search.py).

Only datasets whose card has an `embedhub:` block (what `embedhub embed` writes) are prepared:
they were made to be searched. Any other dataset is prepared by its first query, as before;
`--search-lazy` makes that the rule for all. The hub calls `changed` after every commit, push
and ref change (Hub.listeners); one thread prepares the datasets in the order they changed,
each at its default branch's latest commit. A query arriving meanwhile waits for the same
build of the view (one build per split), then is answered exactly until the index is ready."""

from __future__ import annotations

import logging
import threading
import time

from embedhub.errors import EmbedhubError
from embedhub.hub.paths import RepoId
from embedhub.viewer.context import DEFAULT_REVISION, Viewer

log = logging.getLogger("embedhub.search")


class Warmer:
    def __init__(self, viewer: Viewer) -> None:
        self.viewer = viewer
        self._pending: dict[RepoId, None] = {}  # an ordered set: first changed, first served
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def changed(self, rid: RepoId) -> None:
        """The hub's listener: queue the repo (it returns at once)."""
        if rid.type != "dataset":
            return
        with self._cond:
            self._pending[rid] = None
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="search-warm", daemon=True)
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending:
                    self._cond.wait()
                rid = next(iter(self._pending))
                del self._pending[rid]
            try:
                self.warm(rid)
            except Exception:  # a head start, never a failure: the first query tries again
                log.warning("could not prepare %s for search", rid.id, exc_info=True)

    def warm(self, rid: RepoId) -> None:
        """Open every split of `rid`'s default branch and start its approximate indexes."""
        try:
            snap = self.viewer.snapshots.get(rid, DEFAULT_REVISION)
        except EmbedhubError:  # no default branch (yet), or the repo is gone
            return
        if snap.meta is None:
            return
        for split in snap.splits:
            if not split.supported:
                continue
            started = time.perf_counter()
            try:
                view = self.viewer.open_view(snap, split, DEFAULT_REVISION)
            except EmbedhubError as exc:  # a split that can't be searched: its query says why
                log.info("not preparing %s (%s) for search: %s", rid.id, split.split, exc.message)
                continue
            self.viewer.indexes.prepare(view)
            log.info(
                "prepared %s (%s, %d rows) for search in %.1f s",
                rid.id,
                split.split,
                view.num_rows,
                time.perf_counter() - started,
            )
