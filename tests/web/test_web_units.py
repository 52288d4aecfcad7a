"""The web view's parts without a server: card rendering and sanitising, sessions in a real
SQLite database, dataset file discovery, cell folding, colour columns, projections."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from embedhub.db import Database
from embedhub.web import mapdata, projection
from embedhub.web.card import parse_card, split_front_matter
from embedhub.web.repodata import _by_name, _splits_of
from embedhub.web.sessions import Sessions, load_secret
from embedhub.web.tabs import cell


def test_card_header_is_a_table_and_body_is_sanitised() -> None:
    card = parse_card(
        "---\nlicense: mit\ntags: [a, b]\nconfigs:\n- config_name: default\n---\n"
        "# Title\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n"
        '<a href="javascript:alert(1)">x</a> [y](javascript:alert(2)) <b onmouseover=alert(3)>b</b>'
    )
    assert card.meta["license"] == "mit"
    rows = {key: (value, block) for key, value, block in card.rows()}
    assert rows["tags"] == ("a, b", False)
    assert rows["configs"][1] is True and "config_name: default" in rows["configs"][0]
    assert "<h1>Title</h1>" in card.html
    for bad in ("<script", "onerror", "onmouseover", 'href="javascript'):
        assert bad not in card.html, bad


def test_front_matter_edge_cases() -> None:
    assert split_front_matter("# no header\n---\n") == (None, "# no header\n---\n")
    assert split_front_matter("---\nunclosed: 1\n") == (None, "---\nunclosed: 1\n")
    assert parse_card("---\n[not, a, mapping]\n---\nbody").meta_error
    assert parse_card("---\nkey: [unclosed\n---\nbody").meta_error.startswith("The YAML")


def test_sessions_store_only_hashes_and_die_with_their_token(tmp_path) -> None:
    db = Database(tmp_path / "e.db")
    db.create_user("alice")
    token = db.create_token("alice", write=True)
    sessions = Sessions(db, load_secret(tmp_path / "secret"))
    assert sessions.create("eh_not_a_token") is None
    sid = sessions.create(token)
    visitor = sessions.visitor(sid)
    assert visitor.user == "alice" and visitor.raw_token == token
    raw = (tmp_path / "e.db").read_bytes() + (tmp_path / "e.db-wal").read_bytes()
    assert token.encode() not in raw and sid.encode() not in raw
    assert sessions.visitor(sid + "x").token is None
    # Another server secret opens nothing: the sealed token needs both the cookie and it.
    other = Sessions(db, b"\0" * 32)
    assert other.visitor(sid).token is None
    # CSRF tokens are bound to the cookie they were made for.
    assert sessions.csrf_ok(sid, sessions.csrf_token(sid))
    assert not sessions.csrf_ok(sid, sessions.csrf_token("another"))
    assert not sessions.csrf_ok(None, sessions.csrf_token(sid))
    sessions.end(sid)
    assert sessions.visitor(sid).token is None


def test_secret_is_created_once_private(tmp_path) -> None:
    first = load_secret(tmp_path / "s")
    assert load_secret(tmp_path / "s") == first and len(first) == 32
    assert (tmp_path / "s").stat().st_mode & 0o777 == 0o600


def test_data_files_by_card_configs_and_by_name() -> None:
    paths = ["data/train-0.parquet", "data/train-1.parquet", "data/test-0.parquet", "x.parquet"]
    spec = [{"split": "train", "path": "data/train-*"}, {"split": "test", "path": ["data/test*"]}]
    assert _splits_of(spec, paths) == {
        "train": ["data/train-0.parquet", "data/train-1.parquet"],
        "test": ["data/test-0.parquet"],
    }
    assert _splits_of("*.parquet", ["x.parquet"]) == {"train": ["x.parquet"]}
    assert _by_name(paths) == {
        "train": ["data/train-0.parquet", "data/train-1.parquet", "x.parquet"],
        "test": ["data/test-0.parquet"],
    }


def test_cells_fold_long_text_and_shorten_vectors() -> None:
    assert cell([0.123456, -1.5, 2.0, 3.0]) == {
        "kind": "vector",
        "text": "[0.123, -1.5, 2, …]",
        "dims": 4,
    }
    long = cell("x" * 1000)
    assert long["kind"] == "long" and len(long["short"]) == 300 and len(long["text"]) == 1000
    assert cell(None) == {"kind": "plain", "text": ""}


def test_columns_picked_and_coloured() -> None:
    schema = pa.schema(
        [
            ("id", pa.int64()),
            ("body", pa.string()),
            ("emb", pa.list_(pa.float32())),
            ("tags", pa.list_(pa.string())),
        ]
    )
    cols = mapdata.pick_columns(schema)
    assert (cols.embedding, cols.label, cols.colors) == ("emb", "body", ["id"])
    with pytest.raises(mapdata.NoEmbedding):
        mapdata.pick_columns(pa.schema([("text", pa.string())]))
    assert mapdata.color_column(["a", "b", "a"]) == {
        "kind": "category",
        "categories": ["a", "b"],
        "values": [0, 1, 0],
    }
    numbers = mapdata.color_column(list(range(100)))
    assert numbers["kind"] == "number" and numbers["values"][99] == 1.0
    assert mapdata.color_column([f"id{i}" for i in range(100)]) is None


def test_vectors_of_unequal_length_are_refused() -> None:
    table = pa.table({"e": pa.array([[1.0, 2.0], [1.0]], pa.list_(pa.float32()))})
    with pytest.raises(mapdata.NoEmbedding, match="different lengths"):
        mapdata.vectors(table, "e")


def test_projection_fills_the_unit_square() -> None:
    x = np.random.default_rng(0).normal(size=(200, 16)).astype(np.float32)
    xy = projection.to_unit_square(projection.pca(x))
    assert xy.shape == (200, 2) and xy.dtype == np.float32
    assert np.isclose(np.abs(xy).max(), 0.99)
    assert projection.to_unit_square(np.zeros((3, 2))).tolist() == [[0, 0]] * 3
    assert projection.pca(x[:1]).shape == (1, 2)


def _clusters(per: int, dims: int = 24, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, dims)) * 4
    labels = np.repeat(np.arange(3), per)
    return (centres[labels] + rng.normal(size=(3 * per, dims))).astype(np.float32), labels


def test_neighbours_are_self_first_then_the_nearest_by_cosine() -> None:
    x, _ = _clusters(700)
    ids, dists = projection.neighbours(x, 15)
    assert ids.shape == dists.shape == (2100, 15)
    assert (ids[:, 0] == np.arange(2100)).all() and (dists[:, 0] == 0).all()
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    exact = np.argsort(-(unit @ unit.T), axis=1)[:, :15]
    recall = np.mean([len(set(a) & set(b)) / 15 for a, b in zip(ids, exact, strict=True)])
    assert recall > 0.95
    cos = np.einsum("ij,ij->i", unit[ids[:, 3]], unit)
    assert np.allclose(dists[:, 3], 1 - cos, atol=1e-5)
    assert (np.diff(dists, axis=1) >= -1e-6).all()  # nearest first


def test_umap_with_faiss_neighbours_keeps_clusters_apart() -> None:
    # Past FAISS_NEIGHBOURS_FROM rows the neighbour graph is faiss's: the map must still put
    # each point among its own cluster.
    per = projection.FAISS_NEIGHBOURS_FROM // 3 + 100
    x, labels = _clusters(per, seed=1)
    xy = projection.umap_2d(x, lambda stage, fraction: None)
    assert xy.shape == (3 * per, 2) and np.isfinite(xy).all()
    sample = np.random.default_rng(0).choice(len(xy), 300, replace=False)
    d = ((xy[sample, None, :] - xy[None, :, :]) ** 2).sum(-1)
    d[np.arange(300), sample] = np.inf
    assert (labels[d.argmin(axis=1)] == labels[sample]).mean() > 0.95
