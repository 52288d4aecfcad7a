"""Every split's search artefacts under one folder, and the work around them: opening and
building views, choosing exact or approximate search, building approximate indexes in the
background (one at a time), and removing what is no longer used.

Layout: ROOT/TYPEs/NS/NAME/CONTENT/ where CONTENT names the split's data (a hash of its files'
content ids, in order). Two commits with the same data files (a README-only commit) share
one folder, so moving a branch rebuilds nothing unless the data changed."""

from __future__ import annotations

import hashlib
import logging
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from embedhub.memory import release_freed_memory
from embedhub.search import approx, prefilter
from embedhub.search.artefacts import (
    discard,
    pid_alive,
    publish,
    remove_stale_temps,
    temp_path,
    verified,
)
from embedhub.search.exact import ExactScanner, search_subset, unit
from embedhub.search.fulltext import FullText, open_fulltext
from embedhub.search.metrics import SearchMetrics
from embedhub.search.views import View, open_view

log = logging.getLogger("embedhub.search")
USED = "used"  # marker whose mtime says when the folder was last used


@dataclass(frozen=True)
class SearchSettings:
    # Rows from which a split also gets an approximate index. bench/search.py prints where
    # exact search stops meeting 20 ms on the machine it runs on; 200k is a placeholder
    # until it runs on a quiet one (this shared machine's timings mean nothing).
    approx_threshold: int = 200_000
    build_threads: int = 1  # the other cores keep answering queries during a build
    # A folder superseded by newer data of the same revision is removed once unused this long.
    superseded_grace_s: float = 60.0
    # Any folder unused this long is removed (it is rebuilt if asked for again).
    unused_ttl_s: float = 7 * 24 * 3600.0
    keep_open: int = 16  # views kept open in memory
    cleanup_every_s: float = 300.0


@dataclass(frozen=True)
class SplitKey:
    """One split's data: its repo, and the content ids of its files in row order."""

    repo_type: str
    namespace: str
    name: str
    oids: tuple[str, ...]

    @property
    def content(self) -> str:
        return _content_id(self.oids)

    def folder(self, root: Path) -> Path:
        return root / f"{self.repo_type}s" / self.namespace / self.name / self.content


@lru_cache(maxsize=1024)  # a key is made per query: hash its files' ids once, not each time
def _content_id(oids: tuple[str, ...]) -> str:
    return hashlib.sha256("\n".join(oids).encode()).hexdigest()[:32]


@dataclass
class Result:
    ids: np.ndarray
    scores: np.ndarray
    method: str  # "exact" | "approximate" | "filtered"
    searched: int  # rows the answer was chosen from


class Indexes:
    def __init__(
        self,
        root: Path,
        settings: SearchSettings,
        metrics: SearchMetrics | None = None,
        repo_exists: Callable[[str, str, str], bool] = lambda *_: True,
        also_clean: Callable[[], object] = lambda: None,
    ) -> None:
        """`also_clean` runs with every cleanup pass (the viewer drops unused file copies)."""
        self.root = root
        self.repo_exists = repo_exists
        self.also_clean = also_clean
        self.settings = settings
        self.metrics = metrics or SearchMetrics(None)
        self.scanner = ExactScanner()
        self._views: OrderedDict[Path, View] = OrderedDict()
        self._approx: dict[tuple[Path, str], approx.ApproxIndex] = {}
        self._prefilters: dict[tuple[Path, str], prefilter.Prefilter] = {}
        self._locks: dict[Path, threading.Lock] = {}
        self._lock = threading.Lock()
        self._latest: dict[tuple, Path] = {}  # (repo, revision, config, split) -> folder
        self._superseded: dict[Path, float] = {}
        self._touched: dict[Path, float] = {}
        self._builder = _Builder(self)
        root.mkdir(parents=True, exist_ok=True)

    # --- views ---------------------------------------------------------------------------
    def view(self, key: SplitKey, paths: Callable[[], list[Path]], latest_for: tuple) -> View:
        """The split's view, opened (or built) on first use. `paths` gives the data files
        when a build needs them; `latest_for` names the revision the request asked for."""
        folder = key.folder(self.root)
        self._note_latest(latest_for, folder)
        self._builder.start()
        with self._lock:
            found = self._views.get(folder)
            if found is not None:
                self._views.move_to_end(folder)
        if found is not None:
            self._mark_used(folder)
            return found
        with self._lock:
            lock = self._locks.setdefault(folder, threading.Lock())
        with lock:  # one build per folder; others wait for it and then share it
            with self._lock:
                if folder in self._views:
                    return self._views[folder]
            started = time.perf_counter()
            if folder.exists():  # what a build killed earlier left behind
                remove_stale_temps(folder, pid_alive)
            view = open_view(folder, paths())
            filters = self._prefilters_of(view)
            # Reading the Parquet files and coding the first pass peaked far above this.
            release_freed_memory(arrow=True)
            self.metrics.view_opened(time.perf_counter() - started)
            self._mark_used(folder, force=True)
            with self._lock:
                self._views[folder] = view
                self._prefilters.update(filters)
                while len(self._views) > self.settings.keep_open:
                    self._close(next(iter(self._views)))
        return view

    def _prefilters_of(self, view: View) -> dict[tuple[Path, str], prefilter.Prefilter]:
        """Exact search's first pass, for splits below the approximate threshold (above it,
        the approximate index answers, and 1 byte per value more would count against the
        memory budget of large splits)."""
        if not 0 < view.num_rows < self.settings.approx_threshold:
            return {}
        return {(view.folder, c): prefilter.build(v) for c, v in view.vectors.items()}

    def _mark_used(self, folder: Path, force: bool = False) -> None:
        """Refresh the folder's use time on disk, at most hourly (it only guards the TTL)."""
        now = time.monotonic()
        if force or now - self._touched.get(folder, -1e9) > 3600:
            self._touched[folder] = now
            (folder / USED).touch()

    def fulltext(self, view: View) -> FullText | None:
        """The view's full-text index, built on first use (under the folder's lock, so a
        cleanup pass can't remove the folder while it is written)."""
        with self._lock:
            lock = self._locks.setdefault(view.folder, threading.Lock())
        with lock:
            view.folder.mkdir(parents=True, exist_ok=True)
            return open_fulltext(view.folder, view.rows)

    # --- nearest rows --------------------------------------------------------------------
    def nearest(
        self, view: View, column: str, q: np.ndarray, k: int, rows: np.ndarray | None = None
    ) -> Result:
        vec = view.vectors[column]
        q = unit(q)
        if rows is not None:  # a filter: exact over the rows it keeps
            ids, scores = search_subset(vec, rows, q, k)
            self._release_matrix(view, column)
            self.metrics.query("filtered")
            return Result(ids, scores, "filtered", len(rows))
        n = vec.matrix.shape[0]
        index = self._approx.get((view.folder, column))
        if index is not None:
            ids, scores = index.nearest(vec, q, k)
            self.metrics.query("approximate")
            return Result(ids, scores, "approximate", n)
        if self._wants_approx(n):
            self._builder.want(view, column)  # answered exactly until it is ready
        first_pass = self._prefilters.get((view.folder, column))
        found = self.scanner.search(vec, q, k, first_pass)
        if found is None:  # the index became ready during the pass (ExactScanner.release)
            return self.nearest(view, column, q, k)
        ids, scores = found
        self._release_matrix(view, column)
        self.metrics.query("exact")
        return Result(ids, scores, "exact", n)

    def _release_matrix(self, view: View, column: str) -> None:
        """Release the float32 pages an exact read just brought in, where the split's index
        serves its queries (see _load_or_build_approx): a filtered query's rows, or a pass
        that began just before the index was published. The next such read faults them back
        from the page cache: ~1 ms more for a filter keeping 1-10% of 1M rows (in-process)."""
        if (view.folder, column) in self._approx:
            view.vectors[column].drop_resident()

    def prepare(self, view: View) -> None:
        """Start what a first query on `view` would start: the approximate index of each
        vector column of a large split (for a split just pushed: viewer/warm.py)."""
        if self._wants_approx(view.num_rows):
            for column in view.vectors:
                if (view.folder, column) not in self._approx:
                    self._builder.want(view, column)

    def _wants_approx(self, rows: int) -> bool:
        return rows >= max(self.settings.approx_threshold, approx.MIN_ROWS)

    def approx_state(self, view: View, column: str) -> str:
        if (view.folder, column) in self._approx:
            return "ready"
        return "building" if self._builder.pending(view, column) else "none"

    def wait_idle(self, timeout: float) -> bool:
        """For tests and benchmarks: wait until no build is pending."""
        return self._builder.wait_idle(timeout)

    # --- approximate indexes (called by the builder thread) ------------------------------
    def _load_or_build_approx(self, view: View, column: str) -> None:
        number = list(view.vectors).index(column)  # as the vectors-N.npy files are numbered
        final = view.folder / f"approx-{number}.faiss"
        index = self._saved_approx(final, view.num_rows)
        if index is None:
            self._build_approx(view, column, final)
            index = approx.load(final, view.num_rows)
        release_freed_memory()  # the build's and the load's copies (coded rows, file bytes)
        self._approx[(view.folder, column)] = index
        self.scanner.release(view.vectors[column])  # queries mid-pass: the index answers
        # From now on a query reads the float16 files and a few float32 rows (by pread): the
        # float32 matrix that exact passes brought in need not stay resident (1.5 GB at 1M).
        self._release_matrix(view, column)

    def _saved_approx(self, final: Path, rows: int) -> approx.ApproxIndex | None:
        # The float16 files are published first, the codes last: the codes vouch for all.
        halves = approx.half_paths(final)
        if any(verified(h) is None for h in halves) or verified(final) is None:
            discard(final)
            return None
        try:
            return approx.load(final, rows)
        except ValueError as exc:  # complete but not usable (an older kind): build anew
            log.warning("rebuilding the approximate index: %s", exc)
            for path in (final, *halves):
                discard(path)
            return None

    def _build_approx(self, view: View, column: str, final: Path) -> None:
        tmp, halves = temp_path(final), [temp_path(h) for h in approx.half_paths(final)]
        started = time.perf_counter()
        self.metrics.build_started()
        try:
            approx.build(
                view.vectors[column],
                tmp,
                halves,
                threads=self.settings.build_threads,
                progress=self.metrics.build_progress,
            )
            info = {"column": column, "rows": view.num_rows}
            for half, path in zip(halves, approx.half_paths(final), strict=True):
                publish(half, path, info)
            publish(tmp, final, info)
            self.metrics.build_finished(time.perf_counter() - started, ok=True)
            log.info(
                "approximate index of %s built in %.1fs", view.folder, time.perf_counter() - started
            )
        except BaseException:
            self.metrics.build_finished(time.perf_counter() - started, ok=False)
            raise
        finally:
            for path in (tmp, *halves):
                path.unlink(missing_ok=True)

    # --- removing what is not used -------------------------------------------------------
    def _note_latest(self, latest_for: tuple, folder: Path) -> None:
        with self._lock:
            before = self._latest.get(latest_for)
            self._latest[latest_for] = folder
            superseded = (
                before is not None and before != folder and before not in self._latest.values()
            )
            if before is not None and superseded:
                self._superseded[before] = time.monotonic()
            self._superseded.pop(folder, None)
        if superseded:
            self._builder.poke()  # its cleanup pass removes the old folder after the grace

    def cleanup(self) -> list[Path]:
        """Remove superseded folders past their grace time, folders unused past the TTL and
        folders of repos that no longer exist; returns what was removed."""
        now, removed = time.monotonic(), []
        with self._lock:
            gone = [
                f
                for f, t in self._superseded.items()
                if now - t >= self.settings.superseded_grace_s
            ]
        removed = [folder for folder in gone if self._remove(folder)]
        cutoff = time.time() - self.settings.unused_ttl_s
        for folder in self._content_folders():
            repo_type, ns, name = folder.parts[-4][:-1], folder.parts[-3], folder.parts[-2]
            marker = folder / USED
            stale = not marker.exists() or marker.stat().st_mtime < cutoff
            if (stale or not self.repo_exists(repo_type, ns, name)) and self._remove(folder):
                removed.append(folder)
        self.also_clean()
        return removed

    def _content_folders(self) -> list[Path]:
        return [p for p in self.root.glob("*/*/*/*") if p.is_dir()]

    def _remove(self, folder: Path) -> bool:
        """Remove a folder unless a request is building it right now (False then: a later
        pass tries again). Readers already holding its files keep them: unlinked files live
        on while mapped."""
        with self._lock:
            lock = self._locks.setdefault(folder, threading.Lock())
        if not lock.acquire(blocking=False):
            return False
        try:
            with self._lock:
                self._close(folder)
                self._superseded.pop(folder, None)
            shutil.rmtree(folder, ignore_errors=True)
        finally:
            lock.release()
        self.metrics.removed()
        return True

    def _close(self, folder: Path) -> None:
        """Forget an open view (call with the lock held)."""
        self._views.pop(folder, None)
        for key in [k for k in self._approx if k[0] == folder]:
            self._approx.pop(key)
        for key in [k for k in self._prefilters if k[0] == folder]:
            self._prefilters.pop(key)

    def close(self) -> None:
        self._builder.stop()


class _Builder:
    """One background thread that loads or builds approximate indexes, one at a time. It runs
    at the same CPU priority as queries: a build takes seconds of CPU, and while it waits, every
    query on that split is an exact scan of the whole matrix, so starving it (it once ran at
    nice 10: under 16 busy clients a 1M-row build then took 164 s instead of ~10) costs the
    queries far more than sharing a core with it for those seconds."""

    def __init__(self, owner: Indexes) -> None:
        self.owner = owner
        self._queue: list[tuple[View, str]] = []
        self._active: tuple[Path, str] | None = None
        self._failed: dict[tuple[Path, str], float] = {}
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._poked = False

    def want(self, view: View, column: str) -> None:
        key = (view.folder, column)
        with self._cond:
            if self.pending(view, column) or time.monotonic() - self._failed.get(key, -1e9) < 60:
                return
            self._queue.append((view, column))
            self._cond.notify_all()
        self.start()

    def start(self) -> None:
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="search-index", daemon=True)
                self._thread.start()

    def poke(self) -> None:
        """Run a cleanup pass soon (a folder was superseded)."""
        with self._cond:
            self._poked = True
            self._cond.notify_all()

    def pending(self, view: View, column: str) -> bool:
        key = (view.folder, column)
        return self._active == key or any((v.folder, c) == key for v, c in self._queue)

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._active is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def _run(self) -> None:
        """Builds when asked; between builds (and after each), removes what is unused."""
        every = self.owner.settings.cleanup_every_s
        while True:
            with self._cond:
                if not self._queue and not self._stopping and not self._poked:
                    self._cond.wait(every)
                if self._stopping:
                    return
                self._poked = False
                job = self._queue.pop(0) if self._queue else None
                if job is not None:
                    self._active = (job[0].folder, job[1])
            if job is not None:
                self._build(*job)
            try:
                self.owner.cleanup()
            except Exception:  # a failed cleanup must not stop the builder
                log.exception("search index cleanup failed")

    def _build(self, view: View, column: str) -> None:
        try:
            self.owner._load_or_build_approx(view, column)
        except Exception:
            log.exception("approximate index for %s (%s) failed", view.folder, column)
            self._failed[(view.folder, column)] = time.monotonic()
        finally:
            with self._cond:
                self._active = None
                self._cond.notify_all()
