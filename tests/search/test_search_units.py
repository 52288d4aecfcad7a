"""The search package without a server: filters, exact and approximate search against
sentence-transformers' semantic_search, crash-safe artefacts, full-text queries, layout and
the card's metadata block. Real files in tmp_path, real libraries, generated vectors."""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from sentence_transformers.util import semantic_search

from embedhub.cardmeta import CardMetaError, EmbeddingMeta, card_data_of, meta_from_card_data
from embedhub.search import approx
from embedhub.search.artefacts import TMP_MARK, remove_stale_temps, verified
from embedhub.search.exact import (
    ExactScanner,
    exact_scores,
    scan,
    scores_of,
    search_subset,
    unit,
)
from embedhub.search.fulltext import match_expression, open_fulltext
from embedhub.search.indexes import Indexes, SearchSettings, SplitKey
from embedhub.search.layout import layout
from embedhub.search.views import ROWS, Vectors, open_view
from embedhub.search.where import WhereError, compile_where, matching_rows

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))
from vectors import clustered, exact_top, recall

# --- where ----------------------------------------------------------------------------------
PEOPLE = pa.table(
    {
        "age": [10, 40, 50, None],
        "name": ["Simone", "Ann", "O'Hara", "Bo"],
        "children": [0, 1, 0, 2],
        "vip": [True, False, True, None],
    }
)


@pytest.mark.parametrize(
    ("where", "names"),
    [
        ("age>30 AND (name='Simone' OR children=0)", ["O'Hara"]),  # the Hub's own example
        ("name='O''Hara'", ["O'Hara"]),
        ("vip=true", ["Simone", "O'Hara"]),
        ("NOT vip", ["Ann"]),
        ("age IS NULL", ["Bo"]),
        ("age IS NOT NULL AND age <> 40", ["Simone", "O'Hara"]),
        ("age IN (10, 50)", ["Simone", "O'Hara"]),
        ("name LIKE 'S%'", ["Simone"]),
        ("AGE >= 40", ["Ann", "O'Hara"]),  # unquoted names fold case, as in DuckDB
        ("age > '30'", ["Ann", "O'Hara"]),  # a quoted number is cast to the column's type
        ("age = 2.5", []),
        ("age > children", ["Simone", "Ann", "O'Hara"]),
        ("age = null", []),  # SQL: comparing with NULL keeps nothing
    ],
)
def test_where_filters_like_sql(where: str, names: list[str]) -> None:
    rows = matching_rows(PEOPLE, compile_where(where, PEOPLE.schema))
    assert PEOPLE.column("name").take(pa.array(rows)).to_pylist() == names


@pytest.mark.parametrize(
    ("where", "says"),
    [
        ("1=1; DROP TABLE data", "invalid symbols"),
        ("age=1 -- comment", "invalid symbols"),
        ("age=1 /* x */", "invalid symbols"),
        ("age=1 UNION SELECT * FROM data", "is invalid"),
        ("age=(SELECT max(age) FROM data)", "a subquery"),
        ("read_parquet('/etc/passwd') = 1", "the function"),
        ("age = abs(-1)", "the function"),
        ("data.age = 1", "plain column name"),
        ("nope = 1", "no column 'nope'"),
        ('"AGE" = 1', "no column 'AGE'"),  # quoted names are exact
        ("name = 3", "quote the value"),
        ("name > age", "compares columns of types"),
        ("1 = 1", "compares no column"),
        ("age + 1 = 3", "is not allowed"),
        ("age BETWEEN 1 AND 3", "is not allowed"),
        ("", "is invalid"),
        ("x" * 5000, "longer than"),
    ],
)
def test_where_refuses_anything_else(where: str, says: str) -> None:
    with pytest.raises(WhereError, match=says):
        compile_where(where, PEOPLE.schema)


# --- exact and approximate search -----------------------------------------------------------
def _vectors(tmp_path: Path, data: np.ndarray, missing: list[int] = ()) -> Path:
    """A one-file split with an id, a text and an `embedding` column; `missing` rows have no
    vector."""
    values = [None if i in missing else row.tolist() for i, row in enumerate(data)]
    table = pa.table(
        {
            "id": np.arange(len(data)),
            "text": [f"row {i}" for i in range(len(data))],
            "embedding": pa.array(values, pa.list_(pa.float32(), data.shape[1])),
        }
    )
    path = tmp_path / "train-00000-of-00001.parquet"
    pq.write_table(table, path, row_group_size=700)
    return path


def _reference(data: np.ndarray, queries: np.ndarray, k: int) -> list[list[dict]]:
    return semantic_search(torch.from_numpy(queries), torch.from_numpy(data), top_k=k)


def test_exact_search_equals_semantic_search(tmp_path: Path) -> None:
    data, queries = clustered(3000, 64, 25, seed=3)
    data *= np.random.default_rng(0).uniform(0.2, 3, (len(data), 1)).astype(np.float32)
    data[7] = 0  # a zero vector scores 0, as semantic_search's normalisation makes it
    view = open_view(tmp_path / "view", [_vectors(tmp_path, data, missing=[11])])
    vec = view.vectors["embedding"]
    scanner = ExactScanner()
    for q, ref in zip(queries, _reference(data, queries, 10), strict=True):
        ids, scores = scanner.search(vec, unit(q), 10)
        assert ids.tolist() == [h["corpus_id"] for h in ref]
        assert np.allclose(scores, [h["score"] for h in ref], atol=1e-5)
    assert 11 not in scan(vec, unit(queries[0])[None], 3000)[0][0][:2999].tolist()[-1:]
    assert view.take([11], ["embedding"])[0]["embedding"] is None  # missing stays missing
    assert view.take([12], ["embedding"])[0]["embedding"] == pytest.approx(data[12].tolist())


@pytest.mark.parametrize(
    "type_", [pa.list_(pa.float64()), pa.list_(pa.float32(), 48)], ids=["list<double>", "fixed"]
)
def test_vectors_are_read_the_same_from_every_list_type(tmp_path: Path, type_) -> None:
    """Vectors without a missing row take the copy-free path: variable-length lists of
    doubles (as pandas writes them) and fixed-size float32 lists, over batches that start
    mid-row-group, give the same matrix and norms as the data."""
    data = np.random.default_rng(5).standard_normal((2500, 48)).astype(np.float32)
    table = pa.table({"id": np.arange(len(data)), "embedding": pa.array(data.tolist(), type_)})
    path = tmp_path / "train-00000-of-00001.parquet"
    pq.write_table(table, path, row_group_size=999)  # batches of 4096 span row groups
    vec = open_view(tmp_path / "view", [path]).vectors["embedding"]
    assert np.array_equal(np.asarray(vec.matrix), data)
    assert np.allclose(vec.scale, 1 / np.linalg.norm(data, axis=1), rtol=1e-6)


def test_odd_rows_are_found_whatever_their_size(tmp_path: Path) -> None:
    """units() flags the rows the approximate index and the first pass must not trust:
    non-finite values, or a norm (taken in float64) that may overflow a float32 product."""
    data = np.random.default_rng(8).standard_normal((6, 16)).astype(np.float32)
    data[1] *= 1e24  # sum of squares overflows float32, the norm (~4e24) is below 1e30
    data[2] *= 1e34  # norm ~4e34: above 1e30
    data[3, 0] = np.nan
    data[4, 5] = np.inf
    data[5] = 0
    vec = open_view(tmp_path / "view", [_vectors(tmp_path, data)]).vectors["embedding"]
    u, bad = vec.units(slice(0, 6))
    assert bad.tolist() == [False, False, True, True, True, False]
    assert np.isfinite(u).all() and not u[bad].any()
    assert np.allclose(u[0], data[0] / np.linalg.norm(data[0]), atol=1e-6)


def test_filtered_search_is_exact_over_the_kept_rows(tmp_path: Path) -> None:
    data, queries = clustered(2000, 32, 5, seed=4)
    view = open_view(tmp_path / "view", [_vectors(tmp_path, data)])
    kept = np.arange(0, 2000, 3)
    for q, ref in zip(queries, _reference(data[kept], queries, 7), strict=True):
        ids, _ = search_subset(view.vectors["embedding"], kept, unit(q), 7)
        assert ids.tolist() == [int(kept[h["corpus_id"]]) for h in ref]


def test_scores_of_scattered_rows_are_the_cosine_scores(tmp_path: Path) -> None:
    """What rescoring and filtered searches score by: read in place from the mapped matrix
    (and through a copy where a matrix is not one contiguous block)."""
    data = np.random.default_rng(6).standard_normal((900, 40)).astype(np.float32)
    data[5] = np.nan  # a row that must rank last
    view = open_view(tmp_path / "view", [_vectors(tmp_path, data, missing=[8])])
    vec = view.vectors["embedding"]
    q = unit(np.random.default_rng(7).standard_normal(40))
    rows = np.array([899, 3, 5, 8, 400, 3])  # any order, repeats
    expect = (data[rows] @ q) / np.linalg.norm(data[rows], axis=1)
    got = scores_of(vec, rows, q)
    assert np.allclose(got[[0, 1, 4, 5]], expect[[0, 1, 4, 5]], atol=1e-6)
    assert got[2] == -np.inf and got[3] == 0  # NaN row last; a missing vector scores 0
    wide = np.zeros((900, 48), np.float32)
    wide[:, :40] = np.asarray(vec.matrix)
    strided = dataclasses.replace(vec, matrix=wide[:, :40])  # rows 48 floats apart
    assert np.allclose(scores_of(strided, rows, q), got, atol=1e-6)  # -inf == -inf too
    assert scores_of(vec, np.array([], np.int64), q).shape == (0,)


def _in_a_pass(pool, scanner: ExactScanner, vec, q: np.ndarray):
    """A search for `q` (top 5) submitted to `pool`, returned once its pass has begun."""
    asked = pool.submit(scanner.search, vec, unit(q), 5)
    while not scanner._passes:
        time.sleep(0.001)
    return asked


def test_queries_arriving_together_share_one_scan(tmp_path: Path) -> None:
    """Fifteen queries that arrive while one is being scanned are all answered by one more
    scan (deterministic: the first scan waits until they have all arrived)."""
    from concurrent.futures import ThreadPoolExecutor

    data, queries = clustered(20_000, 64, 16, seed=5)
    view = open_view(tmp_path / "view", [_vectors(tmp_path, data)])
    vec = view.vectors["embedding"]

    class Held(ExactScanner):
        def _score_block(self, state, vec, block):
            while self.scans == 0 and len(state.waiting) < len(queries) - 1:
                time.sleep(0.001)  # the first scan: until everyone else is waiting
            super()._score_block(state, vec, block)

    scanner = Held()
    with ThreadPoolExecutor(16) as pool:
        first = _in_a_pass(pool, scanner, vec, queries[0])
        rest = [pool.submit(scanner.search, vec, unit(q), 5) for q in queries[1:]]
        found = [first.result(60)[0], *(f.result(60)[0] for f in rest)]
    truth = exact_top(data, queries, 5)
    assert [f.tolist() for f in found] == truth.tolist()
    assert scanner.scans == 2  # the first query's scan, then one for the fifteen


def test_queries_join_a_running_scan_and_leave_after_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A query arrives during every block the scan scores: each joins at the next block and
    is answered after exactly one pass of the matrix from there (not the rest of the current
    pass plus a pass of its own), and the first caller returns after its own pass, though
    others keep arriving."""
    from embedhub.search import exact

    monkeypatch.setattr(exact, "CHUNK", 500)  # 2,000 rows: a pass is 4 blocks
    data, queries = clustered(2000, 16, 7, seed=12)
    vec = open_view(tmp_path / "view", [_vectors(tmp_path, data)]).vectors["embedding"]
    truth = exact_top(data, queries, 3)
    scored: list[tuple[int, list[int]]] = []  # (scanning thread, row of each query in it)
    arrivals: list[threading.Thread] = []
    answers: dict[int, list[int]] = {}

    def asked(i: int) -> None:
        answers[i] = scanner.search(vec, unit(queries[i]), 3)[0].tolist()

    class Busy(ExactScanner):
        def _score_block(self, state, vec, block):
            rows = [queries.tolist().index(a.q.tolist()) for a in state.active]
            scored.append((threading.get_ident(), rows))
            if len(arrivals) < 6:  # someone arrives while this block is scored
                arrivals.append(threading.Thread(target=asked, args=(len(arrivals) + 1,)))
                arrivals[-1].start()
                while not state.waiting:
                    time.sleep(0.001)
            super()._score_block(state, vec, block)

    queries = np.stack([unit(q) for q in queries])
    scanner = Busy()
    asked(0)
    for t in arrivals:
        t.join(60)
    assert not any(t.is_alive() for t in arrivals)
    assert answers == {i: truth[i].tolist() for i in range(7)}
    for i in range(7):  # each query was in exactly one pass's worth of blocks
        assert sum(i in rows for _, rows in scored) == 4, i
    me = threading.get_ident()
    assert sum(thread == me for thread, _ in scored) == 4  # the first caller: its own pass
    assert len(scored) < 4 * 7  # shared: far fewer blocks than a pass per query


def test_a_released_pass_lets_its_queries_go_unanswered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """release(): the queries in a pass (and one joining after it) get None at the next
    block, not an answer after the rest of the pass; the next query scans as usual."""
    from concurrent.futures import ThreadPoolExecutor

    from embedhub.search import exact

    monkeypatch.setattr(exact, "CHUNK", 500)  # 3,000 rows: a pass is 6 blocks
    data, queries = clustered(3000, 16, 3, seed=13)
    vec = open_view(tmp_path / "view", [_vectors(tmp_path, data)]).vectors["embedding"]
    go = threading.Event()

    class Held(ExactScanner):
        def _score_block(self, state, vec, block):
            go.wait(60)  # every block, until the test has released the pass
            super()._score_block(state, vec, block)

    scanner = Held()
    with ThreadPoolExecutor(3) as pool:
        first = _in_a_pass(pool, scanner, vec, queries[0])
        second = pool.submit(scanner.search, vec, unit(queries[1]), 5)
        while not scanner._passes[id(vec.matrix)].waiting:
            time.sleep(0.001)
        scanner.release(vec)
        go.set()
        assert first.result(60) is None and second.result(60) is None
    assert scanner.scans < 1  # let go within the pass: not even one whole pass scored
    ids, _ = scanner.search(vec, unit(queries[2]), 5)
    assert ids.tolist() == exact_top(data, queries[2:], 5)[0].tolist()


def test_queries_in_a_pass_when_the_index_is_ready_are_answered_by_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A query whose exact pass is under way when the split's approximate index is
    published gets the index's answer, not the rest of the pass."""
    from concurrent.futures import ThreadPoolExecutor

    from embedhub.search import exact

    monkeypatch.setattr(exact, "CHUNK", 500)
    data, queries = clustered(3000, 32, 1, seed=14)
    view = open_view(tmp_path / "view", [_vectors(tmp_path, data)])
    indexes = Indexes(tmp_path / "idx", SearchSettings(approx_threshold=10**9))
    published = threading.Event()

    class Held(ExactScanner):
        def _score_block(self, state, vec, block):
            published.wait(60)  # the pass is stuck on its first block until then
            super()._score_block(state, vec, block)

    indexes.scanner = Held()
    with ThreadPoolExecutor(1) as pool:
        asked = pool.submit(indexes.nearest, view, "embedding", queries[0], 5)
        while not indexes.scanner._passes:
            time.sleep(0.001)
        indexes._load_or_build_approx(view, "embedding")  # builds, publishes, releases
        published.set()
        found = asked.result(60)
    assert found.method == "approximate"
    assert found.ids.tolist() == exact_top(data, queries, 5)[0].tolist()


def test_approximate_recall_against_exact(tmp_path: Path) -> None:
    """The recall the approximate index gives on embedding-like vectors (quality, not speed:
    a deterministic number, measured here on a small set; bench/search.py measures 1M). 384
    dimensions, as the bundled model gives: one bit per dimension needs real dimensions."""
    data, queries = clustered(20_000, 384, 200, seed=6)
    view = open_view(tmp_path / "view", [_vectors(tmp_path, data)])
    indexes = Indexes(tmp_path / "idx", SearchSettings())
    indexes._approx[(view.folder, "embedding")] = _built(view, tmp_path)
    found = [indexes.nearest(view, "embedding", q, 10) for q in queries]
    assert {r.method for r in found} == {"approximate"}
    truth = exact_top(data, queries, 10)
    got = recall(np.array([r.ids for r in found]), truth)
    assert got >= 0.95, f"recall@10 {got:.3f}"
    # Scores of what it returns are the exact ones (rescored from the float32 matrix).
    exact = scan(view.vectors["embedding"], unit(queries[0])[None], 10)[0]
    common = set(found[0].ids.tolist()) & set(exact[0].tolist())
    for i in common:
        assert found[0].scores[found[0].ids.tolist().index(i)] == pytest.approx(
            exact[1][exact[0].tolist().index(i)], abs=1e-6
        )


def _built(view, tmp_path: Path):
    path = tmp_path / "approx.faiss"
    vec = view.vectors["embedding"]
    approx.build(vec, path, approx.half_paths(path), threads=1, progress=lambda f: None)
    return approx.load(path, view.num_rows)


def test_float16_ranking_then_exact_scores(tmp_path: Path) -> None:
    """The candidates are ranked by their float16 unit vectors, and what is returned is
    rescored from the float32 file: each part's float16 index holds its rows' unit vectors
    (odd rows zero), in the part's order, and the returned scores are the exact ones, bit for
    bit what scores_of gives."""
    data, queries = clustered(3000, 64, 20, seed=13)
    data[7] = np.nan  # an odd row: zero in the float16 file, never returned above real rows
    view = open_view(tmp_path / "view", [_vectors(tmp_path, data)])
    vec = view.vectors["embedding"]
    index = _built(view, tmp_path)
    units, bad = vec.units(slice(0, len(data)))
    assert np.flatnonzero(bad).tolist() == [7]
    for rows, half in zip(index.rows, index.halves, strict=True):
        stored = half.reconstruct_n(0, half.ntotal)  # float16's 11 significant bits
        assert np.allclose(stored, units[rows], rtol=2**-10, atol=1e-6)
        assert not stored[rows == 7].any()
        added = approx._half_index(64)  # what faiss's own add() makes of the same rows
        added.add(units[rows])
        assert half.ntotal == added.ntotal
        assert np.array_equal(
            half.reconstruct_n(0, half.ntotal), added.reconstruct_n(0, added.ntotal)
        )
    for q in queries:
        q = unit(q)
        found, scores = index.nearest(vec, q, 10)
        assert 7 not in found.tolist()
        assert scores.tolist() == scores_of(vec, found, q).tolist()
        assert exact_scores(vec, found, q).tolist() == scores_of(vec, found, q).tolist()
        assert found.tolist() == exact_top(np.nan_to_num(data, nan=0), q[None], 10)[0].tolist()


def test_rows_of_reads_the_file_not_the_mapping(tmp_path: Path) -> None:
    data, _ = clustered(2000, 32, 1, seed=14)
    vec = open_view(tmp_path / "view", [_vectors(tmp_path, data)]).vectors["embedding"]
    ids = np.array([5, 1999, 0, 5, 700])
    assert np.array_equal(vec.rows_of(ids), data[ids])
    plain = Vectors("embedding", np.asarray(data), np.ones(len(data), np.float32))
    assert np.array_equal(plain.rows_of(ids), data[ids])  # not a file: from memory
    with pytest.raises(IndexError):
        vec.rows_of(np.array([2000]))
    # A slice of the mapping keeps its parent's file offset: not read by offset, but as mapped.
    part = Vectors("embedding", vec.matrix[100:], np.ones(len(data) - 100, np.float32))
    assert np.array_equal(part.rows_of(np.array([0, 5])), data[[100, 105]])


def _resident(path: Path) -> int:
    """Bytes of `path`'s mappings resident in this process (Linux smaps)."""
    total, current = 0, None
    for line in Path("/proc/self/smaps").read_text().splitlines():
        if line[:1] in "0123456789abcdef" and "-" in line.split(" ", 1)[0]:
            current = line.split()[-1] if len(line.split()) > 5 else None
        elif line.startswith("Rss:") and current == str(path):
            total += int(line.split()[1]) * 1024
    return total


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="reads Linux's smaps")
def test_a_split_served_by_its_index_drops_its_float32_matrix(tmp_path: Path) -> None:
    """Once the approximate index is published, the float32 matrix (read whole by the exact
    passes before it) leaves this process's RSS, and approximate queries don't bring it back
    (they read their few float32 rows with pread)."""
    data, queries = clustered(20_000, 384, 50, seed=15)
    view = open_view(tmp_path / "view", [_vectors(tmp_path, data)])
    indexes = Indexes(tmp_path / "idx", SearchSettings(approx_threshold=1000))
    matrix = view.folder / "vectors-0.npy"
    assert indexes.nearest(view, "embedding", queries[0], 10).method == "exact"
    assert _resident(matrix) > 0.9 * data.nbytes  # the exact pass read all of it
    assert indexes.wait_idle(300)
    found = [indexes.nearest(view, "embedding", q, 10) for q in queries]
    assert {r.method for r in found} == {"approximate"}
    assert _resident(matrix) < 0.05 * data.nbytes
    assert recall(np.array([r.ids for r in found]), exact_top(data, queries, 10)) >= 0.95
    # A filter reads the rows it keeps from the matrix: released again once answered.
    kept = np.arange(0, len(data), 3)
    filtered = indexes.nearest(view, "embedding", queries[0], 10, rows=kept)
    assert filtered.method == "filtered" and set(filtered.ids.tolist()) <= set(kept.tolist())
    assert _resident(matrix) < 0.05 * data.nbytes
    indexes.close()


def test_index_without_its_float16_file_is_built_again(tmp_path: Path) -> None:
    """The codes are published last and vouch for both files: an index whose float16 file is
    missing or damaged is not served, it is built again."""
    data, queries = clustered(3000, 32, 1, seed=16)
    view = open_view(tmp_path / "view", [_vectors(tmp_path, data)])
    final = view.folder / "approx-0.faiss"
    half = approx.half_paths(final)[1]
    for damage in (lambda: half.unlink(), lambda: _flip(half)):
        indexes = Indexes(tmp_path / "idx", SearchSettings(approx_threshold=1000))
        indexes.nearest(view, "embedding", queries[0], 5)
        assert indexes.wait_idle(300)
        indexes.close()
        damage()
        again = Indexes(tmp_path / "idx", SearchSettings(approx_threshold=1000))
        assert again.nearest(view, "embedding", queries[0], 5).method == "exact"
        assert again.wait_idle(300)
        assert again.nearest(view, "embedding", queries[0], 5).method == "approximate"
        assert verified(half) is not None and verified(final) is not None
        again.close()


def test_a_split_too_small_to_train_an_index_stays_exact(tmp_path: Path) -> None:
    """With the threshold at 1, a split of fewer rows than the quantizer has centroids is not
    handed to a build that can only fail (a traceback in the log, again every minute)."""
    data, queries = clustered(approx.MIN_ROWS - 1, 32, 1, seed=17)
    view = open_view(tmp_path / "view", [_vectors(tmp_path, data)])
    indexes = Indexes(tmp_path / "idx", SearchSettings(approx_threshold=1))
    indexes.prepare(view)
    assert indexes.nearest(view, "embedding", queries[0], 5).method == "exact"
    assert indexes.approx_state(view, "embedding") == "none"
    assert indexes.wait_idle(60)
    assert not indexes._builder._failed  # no build was tried
    assert indexes.nearest(view, "embedding", queries[0], 5).method == "exact"
    indexes.close()


def test_large_split_is_answered_exactly_while_its_index_builds(tmp_path: Path) -> None:
    data, queries = clustered(3000, 32, 3, seed=7)
    view = open_view(tmp_path / "view", [_vectors(tmp_path, data)])
    indexes = Indexes(tmp_path / "idx", SearchSettings(approx_threshold=1000))
    first = indexes.nearest(view, "embedding", queries[0], 5)
    assert first.method == "exact"
    assert indexes.wait_idle(300)
    later = indexes.nearest(view, "embedding", queries[0], 5)
    assert later.method == "approximate"
    assert later.ids.tolist() == first.ids.tolist()
    assert (view.folder / "approx-0.faiss").exists()
    indexes.close()


def _hnsw_file(data: np.ndarray, dest: Path) -> None:
    import faiss

    old = faiss.IndexHNSWFlat(data.shape[1], 8, faiss.METRIC_INNER_PRODUCT)
    old.add(data)
    faiss.write_index(old, str(dest))


def _consecutive_parts_file(data: np.ndarray, dest: Path) -> None:
    """The file the previous version wrote: parts of consecutive rows, no row numbers."""
    import faiss

    half = len(data) // 2
    parts = []
    for rows in (data[:half], data[half:]):
        part = faiss.IndexPQFastScan(data.shape[1], 8, 4, faiss.METRIC_INNER_PRODUCT)
        part.train(data)
        part.add(rows)
        parts.append(part)
    with open(dest, "wb") as f:
        np.savez(f, **{f"part{j}": faiss.serialize_index(p) for j, p in enumerate(parts)})


@pytest.mark.parametrize("write_old", [_hnsw_file, _consecutive_parts_file])
def test_index_of_an_older_kind_is_built_again(tmp_path: Path, write_old) -> None:
    """A complete index file of another kind (the HNSW graph, or the parts of consecutive
    rows, that earlier versions built, with a good sidecar) is neither served nor a lasting
    failure: the builder replaces it."""
    import faiss

    from embedhub.search.artefacts import publish

    data, queries = clustered(3000, 32, 1, seed=9)
    view = open_view(tmp_path / "view", [_vectors(tmp_path, data)])
    tmp = tmp_path / "old.tmp"
    write_old(data, tmp)
    final = view.folder / "approx-0.faiss"
    publish(tmp, final, {"column": "embedding", "rows": len(data)})
    with pytest.raises(ValueError):
        approx.load(final, len(data))
    indexes = Indexes(tmp_path / "idx", SearchSettings(approx_threshold=1000))
    assert indexes.nearest(view, "embedding", queries[0], 5).method == "exact"
    assert indexes.wait_idle(300)
    later = indexes.nearest(view, "embedding", queries[0], 5)
    assert later.method == "approximate"
    assert later.ids.tolist() == exact_top(data, queries, 5)[0].tolist()
    parts = approx.load(final, len(data)).parts
    assert len(parts) == approx.PARTS
    assert all(isinstance(p, faiss.IndexPQFastScan) for p in parts)
    indexes.close()


def test_approximate_parts_each_hold_rows_from_all_over_the_split(tmp_path: Path) -> None:
    """Every row is in exactly one part, and no part is a block of consecutive rows or a
    parity class: the data's order (sorted by topic, questions alternating with answers) must
    not put a query's neighbours all in one part, whose share of the candidates would then be
    too small for them."""
    data, _ = clustered(4000, 32, 1, seed=4)
    view = open_view(tmp_path / "view", [_vectors(tmp_path, data)])
    index = _built(view, tmp_path)
    assert len(index.rows) == approx.PARTS
    every = np.concatenate(index.rows)
    assert np.array_equal(np.sort(every), np.arange(len(data)))
    for rows in index.rows:
        assert np.array_equal(rows, np.sort(rows))
        assert 0.4 < len(rows) / len(data) * approx.PARTS < 1.6  # about an even share
        first_half = (rows < len(data) // 2).mean()
        even = (rows % 2 == 0).mean()
        assert 0.4 < first_half < 0.6 and 0.4 < even < 0.6


# --- crash safety ---------------------------------------------------------------------------
def test_damaged_or_half_written_artefacts_are_rebuilt(tmp_path: Path) -> None:
    data, queries = clustered(1500, 16, 1, seed=8)
    src = _vectors(tmp_path, data)
    folder = tmp_path / "view"
    good = open_view(folder, [src]).take([5], ["embedding"])
    matrix = folder / "vectors-0.npy"
    cases = {
        "truncated": lambda: os.truncate(matrix, matrix.stat().st_size - 100),
        "bit flip": lambda: _flip(matrix),
        "no sidecar (killed after the rename)": lambda: (folder / f"{ROWS}.json").unlink(),
        "sidecar of garbage": lambda: (folder / "norms-0.npy.json").write_text("{not json"),
    }
    for what, damage in cases.items():
        damage()
        assert (
            verified(matrix) is None
            or verified(folder / ROWS) is None
            or (verified(folder / "norms-0.npy") is None)
        ), what
        again = open_view(folder, [src])
        assert again.take([5], ["embedding"]) == good, what
        assert verified(matrix) is not None, what


def _flip(path: Path) -> None:
    with open(path, "r+b") as f:
        f.seek(path.stat().st_size // 2)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 0xFF]))


def test_leftovers_of_dead_builds_are_removed(tmp_path: Path) -> None:
    dead = tmp_path / f"vectors-0.npy{TMP_MARK}999999999-abcd"
    mine = tmp_path / f"vectors-1.npy{TMP_MARK}{os.getpid()}-abcd"
    dead.write_bytes(b"x")
    mine.write_bytes(b"x")
    assert remove_stale_temps(tmp_path, lambda pid: pid == os.getpid()) == 1
    assert not dead.exists() and mine.exists()


def test_unreadable_approximate_index_is_discarded(tmp_path: Path) -> None:
    from embedhub.search.artefacts import publish

    final = tmp_path / "approx-0.faiss"
    tmp = tmp_path / "x.tmp"
    tmp.write_bytes(b"not an index at all" * 10)
    publish(tmp, final, {})
    with pytest.raises(ValueError, match="not a faiss index"):
        approx.load(final, 10)


# --- full text ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "query",
    ['dog"', "dog OR", "NEAR(dog cat)", "text:dog", "dog*", "^dog", "AND", "(", "'; DROP --"],
)
def test_fulltext_queries_are_plain_words(tmp_path: Path, query: str) -> None:
    rows = pa.table({"text": ["The dog barks", "a cat", "OR AND NOT", "drop table"]})
    index = open_fulltext(tmp_path, rows)
    assert index is not None
    ids, total = index.search(query, 0, 10)  # never an FTS5 syntax error
    assert total == len(ids)


def test_fulltext_ranks_words_with_stemming(tmp_path: Path) -> None:
    rows = pa.table(
        {
            "text": ["The dog barks", "dogs everywhere", "a cat", None],
            "tags": [["pets"], None, ["dog", "cat"], ["x"]],
        }
    )
    index = open_fulltext(tmp_path, rows)
    assert index.search("dogs", 0, 10) == ([0, 1, 2], 3)  # dog ~ dogs (Porter), list column too
    assert index.search("dogs", 1, 1) == ([1], 3)
    assert match_expression("  !!! ") is None


# --- layout and card ------------------------------------------------------------------------
def test_layout_follows_datasets_rules() -> None:
    files = [
        "README.md",
        ".gitattributes",
        "data/train-00000-of-00002.parquet",
        "data/train-00001-of-00002.parquet",
        "data/test-00000-of-00001.parquet",
    ]
    found = layout(files, {})
    assert [(s.config, s.split, len(s.files)) for s in found] == [
        ("default", "train", 2),
        ("default", "test", 1),
    ]
    configs = {
        "configs": [
            {"config_name": "en", "data_files": [{"split": "dev", "path": "en/*.parquet"}]},
            {"config_name": "fr", "data_files": "fr/*.parquet", "default": True},
        ]
    }
    found = layout(["en/a.parquet", "fr/b.parquet", "fr/c.csv"], configs)
    assert [(s.config, s.split, s.files) for s in found] == [
        ("fr", "train", ("fr/b.parquet",)),
        ("en", "dev", ("en/a.parquet",)),
    ]


def test_card_block_round_trips_and_keeps_unknown_fields() -> None:
    readme = (
        "---\nembedhub:\n  model: org/m\n  dimension: 8\n  runtime: openvino\n"
        "  quality: {cosine_min: 0.999}\n  from_the_future: {x: 1}\n---\n# card\n"
    )
    meta = meta_from_card_data(card_data_of(readme))
    assert meta == EmbeddingMeta(
        model="org/m",
        dimension=8,
        runtime="openvino",
        quality={"cosine_min": 0.999},
        extra={"from_the_future": {"x": 1}},
    )
    assert EmbeddingMeta.from_dict(meta.to_dict()) == meta
    assert meta_from_card_data(card_data_of("# no header")) is None
    with pytest.raises(CardMetaError, match="dimension"):
        EmbeddingMeta.from_dict({"model": "m", "dimension": "384"})
    with pytest.raises(CardMetaError, match="model"):
        EmbeddingMeta.from_dict({"dimension": 3})


def test_split_key_names_the_data_not_the_commit(tmp_path: Path) -> None:
    a = SplitKey("dataset", "ns", "n", ("oid1", "oid2"))
    assert a.folder(tmp_path) == SplitKey("dataset", "ns", "n", ("oid1", "oid2")).folder(tmp_path)
    assert a.folder(tmp_path) != SplitKey("dataset", "ns", "n", ("oid2", "oid1")).folder(tmp_path)


def test_file_copies_are_links_or_complete_copies_and_expire(tmp_path: Path) -> None:
    import io

    from embedhub.hub.blobs import RepoFile
    from embedhub.search.artefacts import pid_alive
    from embedhub.search.files import FileCache

    cache = FileCache(tmp_path / "files")
    stored = tmp_path / "lfs-object"
    stored.write_bytes(b"parquet bytes")
    linked = cache.path(RepoFile("a", 13, "a" * 64, stored, lambda: open(stored, "rb")))
    assert linked.read_bytes() == b"parquet bytes"
    assert os.stat(linked).st_ino == os.stat(stored).st_ino  # a hard link, not a copy
    streamed = cache.path(RepoFile("b", 3, "b" * 64, None, lambda: io.BytesIO(b"xyz")))
    assert streamed.read_bytes() == b"xyz"
    with pytest.raises(OSError, match="expected 5 bytes"):
        cache.path(RepoFile("c", 5, "c" * 64, None, lambda: io.BytesIO(b"xyz")))
    assert not list((tmp_path / "files" / "cc").iterdir())  # no partial copy left
    assert cache.remove_unused(3600, pid_alive) == 0
    os.utime(f"{streamed}.used", (0, 0))
    assert cache.remove_unused(3600, pid_alive) == 1
    assert not streamed.exists() and linked.exists() and stored.exists()
