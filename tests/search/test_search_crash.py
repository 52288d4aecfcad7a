"""kill -9 while a search index builds, and damaged index files: the next start rebuilds, and
no answer ever comes from a bad index (every answer equals exact search)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
from servers import start_server, stop_server

from tests.search.helpers import dataset_files, exact_rows, host, metric, semantic, table

ROWS = 4000


def _answer(srv, q: np.ndarray) -> tuple[list[int], str]:
    r = semantic(srv, dataset="alice/big", vector=q.tolist(), k=10)
    assert r.status_code == 200, r.text
    return [x["row_idx"] for x in r.json()["rows"]], r.headers["X-Search-Method"]


def _index_files(home: Path) -> list[Path]:
    return sorted((home / "search" / "indexes").rglob("approx-*"))


def _wait_for_approx(srv, q: np.ndarray, timeout: float = 600) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ids, method = _answer(srv, q)
        if method == "approximate":
            return ids
        time.sleep(0.2)
    raise AssertionError("the approximate index never became ready")


def test_kill_during_build_then_restart(tmp_path: Path) -> None:
    home = tmp_path / "home"
    # Lazy: the first query starts the build (not the push), so the kill lands during it.
    flags = ("--search-approx-threshold", "1000", "--search-lazy")
    srv = start_server(home, *flags)
    t = table(ROWS, seed=11)
    q = np.random.default_rng(12).standard_normal(384).astype(np.float32)
    expect = exact_rows(t, q, 10)
    try:
        host(srv, srv.token("alice"), "alice/big", dataset_files(t, shards=2))
        ids, method = _answer(srv, q)  # starts the build in the background
        assert (ids, method) == (expect, "exact")
        deadline = time.monotonic() + 120
        while metric(srv, "embedhub_search_index_builds_in_progress") < 1:
            if metric(srv, 'embedhub_search_index_builds_total{result="ok"}') >= 1:
                break  # a fast machine finished before we looked; the kill still tests restart
            assert time.monotonic() < deadline, "no build started"
            time.sleep(0.02)
        os.kill(srv.proc.pid, signal.SIGKILL)
        srv.proc.wait(30)
    finally:
        stop_server(srv)
    for f in _index_files(home):  # whatever is there is complete with its sidecar, or a temp
        assert f.name.endswith(".json") or ".tmp-" in f.name or Path(f"{f}.json").exists(), f

    srv = start_server(home, *flags)
    try:
        ids, _ = _answer(srv, q)
        assert ids == expect
        assert _wait_for_approx(srv, q) == expect
        finals = [f for f in _index_files(home) if f.suffix == ".faiss"]
        assert len(finals) == 1 and Path(f"{finals[0]}.json").exists()
        assert not [f for f in _index_files(home) if ".tmp-" in f.name]  # leftovers removed
    finally:
        stop_server(srv)

    # Damage the finished index the ways a crash or a disk can (garbage of the same size is
    # in the unit tests): each time the next start answers exactly, then builds it again.
    final = finals[0]
    half = Path(f"{final}.half0")  # a part's float16 unit vectors (approx.half_paths)
    assert half.exists() and Path(f"{half}.json").exists()
    damages = {
        "truncated": lambda: os.truncate(final, final.stat().st_size // 2),
        "sidecar lost": lambda: Path(f"{final}.json").unlink(),
        "float16 file truncated": lambda: os.truncate(half, half.stat().st_size // 2),
    }
    for what, damage in damages.items():
        damage()
        srv = start_server(home, *flags)
        try:
            ids, method = _answer(srv, q)
            assert (ids, method) == (expect, "exact"), what
            assert _wait_for_approx(srv, q) == expect, what
            assert metric(srv, 'embedhub_search_index_builds_total{result="ok"}') == 1, what
        finally:
            stop_server(srv)
