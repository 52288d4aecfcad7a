"""A pushed embedding dataset is prepared for search before anyone asks (viewer/warm.py): its
view opens and its approximate index builds in the background, so the first query is answered
by the index. Against a real server, datasets committed through the hub's API."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from servers import start_server, stop_server

from tests.search.helpers import card, dataset_files, exact_rows, host, metric, semantic, table

ROWS = 3000  # past the threshold below: the split gets an approximate index
FLAGS = ("--search-approx-threshold", "1000")
OPENED = "embedhub_search_view_open_duration_seconds_count"
BUILT = 'embedhub_search_index_builds_total{result="ok"}'


def _wait(srv, name: str, at_least: float, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while metric(srv, name) < at_least:
        assert time.monotonic() < deadline, f"{name} never reached {at_least}"
        time.sleep(0.1)


def test_pushed_embedding_dataset_is_ready_before_its_first_query(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "home", *FLAGS)
    try:
        token = srv.token("alice")
        t = table(ROWS, seed=21)
        # A dataset whose card has no `embedhub:` block is left for its first query; pushed
        # first, so the warmer (first changed, first served) has passed it by the time the
        # embedding dataset is ready.
        host(srv, token, "alice/plain", dataset_files(t, readme=card(model=None)))
        host(srv, token, "alice/ready", dataset_files(t, shards=2))
        _wait(srv, BUILT, 1)  # no query was sent
        assert metric(srv, OPENED) == 1  # alice/ready's one split, not alice/plain's
        q = np.random.default_rng(22).standard_normal(384).astype(np.float32)
        r = semantic(srv, dataset="alice/ready", vector=q.tolist(), k=10)
        assert r.status_code == 200, r.text
        assert r.headers["X-Search-Method"] == "approximate"  # the very first query
        assert [x["row_idx"] for x in r.json()["rows"]] == exact_rows(t, q, 10)
        assert metric(srv, OPENED) == 1  # it reused the prepared view
        # A new commit to the branch is prepared too (new data: a new view and index).
        host(srv, token, "alice/ready", dataset_files(table(ROWS, seed=23), shards=2))
        _wait(srv, BUILT, 2)
        assert metric(srv, OPENED) == 2
        # The plain dataset still answers, opened by this first query of its own.
        r = semantic(srv, dataset="alice/plain", vector=q.tolist(), k=10)
        assert r.status_code == 200, r.text
        assert metric(srv, OPENED) == 3
    finally:
        stop_server(srv)


def test_lazy_server_leaves_it_to_the_first_query(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "home", *FLAGS, "--search-lazy")
    try:
        t = table(ROWS, seed=24)
        host(srv, srv.token("alice"), "alice/lazy", dataset_files(t))
        time.sleep(1)  # what a warmer would have had to start in
        assert metric(srv, OPENED) == 0
        q = np.random.default_rng(25).standard_normal(384).astype(np.float32)
        r = semantic(srv, dataset="alice/lazy", vector=q.tolist(), k=10)
        assert r.status_code == 200, r.text
        assert r.headers["X-Search-Method"] == "exact"  # the build only starts now
        assert [x["row_idx"] for x in r.json()["rows"]] == exact_rows(t, q, 10)
        assert metric(srv, OPENED) == 1
    finally:
        stop_server(srv)
