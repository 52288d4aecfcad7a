"""The dataset-viewer API against a real server: every response compared field by field with
the shapes the Hub documents (https://huggingface.co/docs/dataset-viewer), its error codes,
permissions, bad input, and the Hub's Parquet listing. One server for the module."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pytest
import requests
from servers import Server, start_server, stop_server

from tests.search.helpers import (
    auth,
    card,
    dataset_files,
    host,
    parquet_bytes,
    semantic,
    table,
    viewer,
)

# The documented examples' shapes: key -> type of its value (nested where it matters).
FEATURE = {"feature_idx": int, "name": str, "type": dict}
ROW = {"row_idx": int, "row": dict, "truncated_cells": list}
PAGE = {
    "features": list,
    "rows": list,
    "num_rows_total": int,
    "num_rows_per_page": int,
    "partial": bool,
}
FIRST_ROWS = {
    "dataset": str,
    "config": str,
    "split": str,
    "features": list,
    "rows": list,
    "truncated": bool,
}
IS_VALID = {"viewer": bool, "preview": bool, "search": bool, "filter": bool, "statistics": bool}
SPLITS = {"splits": list, "pending": list, "failed": list}
SPLIT = {"dataset": str, "config": str, "split": str}
PARQUET = {"parquet_files": list, "pending": list, "failed": list, "partial": bool}
PARQUET_FILE = {
    "dataset": str,
    "config": str,
    "split": str,
    "url": str,
    "filename": str,
    "size": int,
}
SIZE_DATASET = {
    "dataset": str,
    "num_bytes_original_files": int,
    "num_bytes_parquet_files": int,
    "num_bytes_memory": int,
    "num_rows": int,
}
SIZE_CONFIG = {**SIZE_DATASET, "config": str, "num_columns": int}
SIZE_SPLIT = {
    "dataset": str,
    "config": str,
    "split": str,
    "num_bytes_parquet_files": int,
    "num_bytes_memory": int,
    "num_rows": int,
    "num_columns": int,
}
INFO = {
    "description": str,
    "citation": str,
    "homepage": str,
    "license": str,
    "features": dict,
    "builder_name": str,
    "dataset_name": str,
    "config_name": str,
    "version": dict,
    "splits": dict,
    "download_size": int,
    "dataset_size": int,
}
INFO_SPLIT = {"name": str, "num_bytes": int, "num_examples": int, "dataset_name": type(None)}


def shaped(value: dict, shape: dict) -> None:
    assert set(value) == set(shape), f"{sorted(value)} != {sorted(shape)}"
    for key, kind in shape.items():
        assert isinstance(value[key], kind), f"{key}: {type(value[key]).__name__}"


N = 300


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Iterator[Server]:
    s = start_server(
        tmp_path_factory.mktemp("viewer-home"),
        "--search-approx-threshold",
        "250",
        "--search-index-grace",
        "0",
    )
    yield s
    stop_server(s)


@pytest.fixture(scope="module")
def data(srv: Server) -> dict:
    """alice/vecs: 300 rows in 2 shards (row groups of 64), with the card's embedhub block."""
    t = table(N)
    token = srv.token("alice")
    commit = host(srv, token, "alice/vecs", dataset_files(t, shards=2))
    return {"table": t, "token": token, "commit": commit}


def _ok(r: requests.Response) -> dict:
    assert r.status_code == 200, r.text
    return r.json()


def _error(r: requests.Response, status: int, code: str, says: str = "") -> str:
    assert r.status_code == status, r.text
    assert r.headers.get("X-Error-Code") == code, r.headers
    body = r.json()
    assert set(body) == {"error"}
    assert says in body["error"], body["error"]
    return body["error"]


# --- the documented shapes ------------------------------------------------------------------
def test_the_server_reads_parquet_with_arrow_on_glibc(srv: Server, data: dict) -> None:
    """`embedhub serve` chose Arrow's allocator before pyarrow loaded (memory.arrow_on_glibc);
    serve() says so in its log when it came too late."""
    assert _ok(requests.get(f"{srv.url}/datasets-server/is-valid?dataset=alice/vecs"))
    assert "keeps its allocator" not in srv.log.read_text()


def test_is_valid_and_splits(srv: Server, data: dict) -> None:
    r = viewer(srv, "is-valid", dataset="alice/vecs")
    shaped(_ok(r), IS_VALID)
    assert r.json() == {
        "viewer": True,
        "preview": True,
        "search": True,
        "filter": True,
        "statistics": False,
    }
    assert r.headers["X-Revision"] == data["commit"]
    body = _ok(viewer(srv, "splits", dataset="alice/vecs"))
    shaped(body, SPLITS)
    assert body["splits"] == [{"dataset": "alice/vecs", "config": "default", "split": "train"}]
    shaped(body["splits"][0], SPLIT)


def test_rows_pages_across_files_and_row_groups(srv: Server, data: dict) -> None:
    t = data["table"]
    body = _ok(
        viewer(
            srv,
            "rows",
            dataset="alice/vecs",
            config="default",
            split="train",
            offset=140,
            length=20,
        )
    )  # rows 140-159 cross the two shards
    shaped(body, PAGE)
    assert (body["num_rows_total"], body["num_rows_per_page"], body["partial"]) == (N, 100, False)
    for f in body["features"]:
        shaped(f, FEATURE)
    assert [f["name"] for f in body["features"]] == ["id", "text", "stars", "embedding"]
    assert body["features"][3]["type"] == {
        "feature": {"dtype": "float32", "_type": "Value"},
        "length": 384,
        "_type": "List",
    }
    assert [r["row_idx"] for r in body["rows"]] == list(range(140, 160))
    for item in body["rows"]:
        shaped(item, ROW)
        i = item["row_idx"]
        assert item["row"]["text"] == t.column("text")[i].as_py()
        assert item["row"]["embedding"] == t.column("embedding")[i].as_py()
    past = _ok(
        viewer(
            srv,
            "rows",
            dataset="alice/vecs",
            config="default",
            split="train",
            offset=10**15,
            length=5,
        )
    )
    assert past["rows"] == [] and past["num_rows_total"] == N


def test_first_rows(srv: Server, data: dict) -> None:
    body = _ok(viewer(srv, "first-rows", dataset="alice/vecs", config="default", split="train"))
    shaped(body, FIRST_ROWS)
    assert (body["dataset"], body["config"], body["split"]) == ("alice/vecs", "default", "train")
    assert [r["row_idx"] for r in body["rows"]] == list(range(100))
    assert body["truncated"] is False


def test_search_and_filter(srv: Server, data: dict) -> None:
    body = _ok(
        viewer(
            srv,
            "search",
            dataset="alice/vecs",
            config="default",
            split="train",
            query="odds",
            offset=0,
            length=3,
        )
    )  # "odd" after stemming
    shaped(body, PAGE)
    assert [r["row_idx"] for r in body["rows"]] == [1, 3, 5]  # ordered by row, as the Hub
    assert body["num_rows_total"] == N // 2
    body = _ok(
        viewer(
            srv,
            "filter",
            dataset="alice/vecs",
            config="default",
            split="train",
            where="stars>=4 AND (text LIKE '%odd' OR id<3)",
            offset=1,
            length=2,
        )
    )
    shaped(body, PAGE)
    t = data["table"]
    expect = [
        i
        for i in range(N)
        if t["stars"][i].as_py() >= 4 and (t["text"][i].as_py().endswith("odd") or i < 3)
    ]
    assert body["num_rows_total"] == len(expect)
    assert [r["row_idx"] for r in body["rows"]] == expect[1:3]


def test_parquet_size_info(srv: Server, data: dict) -> None:
    body = _ok(viewer(srv, "parquet", dataset="alice/vecs"))
    shaped(body, PARQUET)
    files = body["parquet_files"]
    assert [f["filename"] for f in files] == [
        "train-00000-of-00002.parquet",
        "train-00001-of-00002.parquet",
    ]
    for f in files:
        shaped(f, PARQUET_FILE)
        got = requests.get(f["url"], headers=auth(data["token"]), timeout=60)
        assert got.status_code == 200 and len(got.content) == f["size"]
    size = _ok(viewer(srv, "size", dataset="alice/vecs"))
    assert set(size) == {"size", "pending", "failed", "partial"}
    shaped(size["size"]["dataset"], SIZE_DATASET)
    shaped(size["size"]["configs"][0], SIZE_CONFIG)
    shaped(size["size"]["splits"][0], SIZE_SPLIT)
    assert size["size"]["dataset"]["num_rows"] == N
    info = _ok(viewer(srv, "info", dataset="alice/vecs", config="default"))
    assert set(info) == {"dataset_info", "partial"}
    shaped(info["dataset_info"], INFO)
    shaped(info["dataset_info"]["splits"]["train"], INFO_SPLIT)
    assert info["dataset_info"]["splits"]["train"]["num_examples"] == N
    assert info["dataset_info"]["license"] == "mit"
    every = _ok(viewer(srv, "info", dataset="alice/vecs"))
    assert every["dataset_info"]["default"] == info["dataset_info"]


def test_hub_parquet_listing(srv: Server, data: dict) -> None:
    r = requests.get(f"{srv.url}/api/datasets/alice/vecs/parquet", timeout=60)
    listing = _ok(r)
    base = f"{srv.url}/api/datasets/alice/vecs/parquet/default/train"
    assert listing == {"default": {"train": [f"{base}/0.parquet", f"{base}/1.parquet"]}}
    assert _ok(requests.get(base, timeout=60)) == [f"{base}/0.parquet", f"{base}/1.parquet"]
    got = requests.get(f"{base}/1.parquet", timeout=60)
    assert got.status_code == 200
    assert got.content == parquet_bytes(data["table"].slice(150, 150), 64)
    assert requests.get(f"{base}/2.parquet", timeout=60).status_code == 404


# --- bad input ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("route", "params", "status", "code", "says"),
    [
        (
            "rows",
            {"config": "default", "split": "train"},
            422,
            "MissingRequiredParameter",
            "'dataset'",
        ),
        (
            "rows",
            {"dataset": "alice/vecs", "split": "train"},
            422,
            "MissingRequiredParameter",
            "'config'",
        ),
        (
            "rows",
            {"dataset": "alice/vecs", "config": "default", "split": "train", "length": 101},
            422,
            "InvalidParameter",
            "greater than 100",
        ),
        (
            "rows",
            {"dataset": "alice/vecs", "config": "default", "split": "train", "offset": -1},
            422,
            "InvalidParameter",
            "positive",
        ),
        (
            "rows",
            {"dataset": "alice/vecs", "config": "default", "split": "train", "offset": "9" * 40},
            422,
            "InvalidParameter",
            "greater than",
        ),
        (
            "rows",
            {"dataset": "alice/vecs", "config": "default", "split": "train", "length": "x"},
            422,
            "InvalidParameter",
            "integer",
        ),
        (
            "rows",
            {"dataset": "alice/vecs", "config": "nope", "split": "train"},
            404,
            "ResponseNotFound",
            "No config 'nope'",
        ),
        (
            "rows",
            {"dataset": "alice/vecs", "config": "default", "split": "test"},
            404,
            "ResponseNotFound",
            "No split 'test'",
        ),
        ("splits", {"dataset": "alice/vecs", "revision": "v9"}, 404, "RevisionNotFound", "v9"),
        ("splits", {"dataset": "alice/vecs", "revision": "--upload-pack=x"}, 400, "", ""),
        ("splits", {"dataset": "nobody/nothing"}, 404, "RepoNotFound", "not found"),
        ("splits", {"dataset": "../etc"}, 422, "InvalidParameter", "is not valid"),
        ("splits", {"dataset": "just-a-name"}, 422, "InvalidParameter", "NAMESPACE/NAME"),
        (
            "search",
            {"dataset": "alice/vecs", "config": "default", "split": "train"},
            422,
            "MissingRequiredParameter",
            "'query'",
        ),
        (
            "filter",
            {
                "dataset": "alice/vecs",
                "config": "default",
                "split": "train",
                "where": "stars=1; DROP TABLE data",
            },
            422,
            "InvalidParameter",
            "invalid symbols",
        ),
        (
            "filter",
            {
                "dataset": "alice/vecs",
                "config": "default",
                "split": "train",
                "where": "stars=(SELECT 1)",
            },
            422,
            "InvalidParameter",
            "subquery",
        ),
        (
            "filter",
            {
                "dataset": "alice/vecs",
                "config": "default",
                "split": "train",
                "where": "read_text('/etc/passwd')='x'",
            },
            422,
            "InvalidParameter",
            "function",
        ),
        (
            "filter",
            {
                "dataset": "alice/vecs",
                "config": "default",
                "split": "train",
                "where": "embedding = 1",
            },
            422,
            "InvalidParameter",
            "no column",
        ),
    ],
)
def test_bad_requests(srv: Server, data: dict, route, params, status, code, says) -> None:
    r = viewer(srv, route, **params)
    if code:
        _error(r, status, code, says)
    else:
        assert r.status_code == status, r.text


def test_search_injection_is_just_text(srv: Server, data: dict) -> None:
    for query in ['odd" OR 1=1 --', "NEAR(odd even)", "text:odd", "'; DROP TABLE fts; --", "*"]:
        r = viewer(
            srv, "search", dataset="alice/vecs", config="default", split="train", query=query
        )
        assert r.status_code == 200, r.text
    assert (
        _ok(
            viewer(
                srv, "search", dataset="alice/vecs", config="default", split="train", query="even"
            )
        )["num_rows_total"]
        == N // 2
    )  # the index is intact


def test_a_model_repo_is_not_a_dataset(srv: Server, data: dict) -> None:
    r = requests.post(
        f"{srv.url}/api/repos/create",
        headers=auth(data["token"]),
        json={"name": "a-model", "organization": "alice"},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    _error(
        viewer(srv, "splits", dataset="alice/a-model"),
        404,
        "DatasetNotFoundError",
        "is a model repository",
    )


def test_private_dataset_is_404_to_others(srv: Server, data: dict) -> None:
    owner = srv.token("bob")
    host(srv, owner, "bob/secret", dataset_files(table(20, seed=3)), private=True)
    other = srv.token("carol")
    for token in (None, other):
        for route in ("splits", "is-valid", "parquet"):
            _error(viewer(srv, route, token, dataset="bob/secret"), 404, "RepoNotFound")
        _error(semantic(srv, token, dataset="bob/secret", vector=[0.0] * 384), 404, "RepoNotFound")
        assert (
            requests.get(
                f"{srv.url}/api/datasets/bob/secret/parquet", headers=auth(token), timeout=30
            ).status_code
            == 404
        )
    assert _ok(viewer(srv, "splits", owner, dataset="bob/secret"))["splits"]
    assert _ok(semantic(srv, owner, dataset="bob/secret", vector=[0.1] * 384, k=3))["rows"]


# --- semantic search: errors ----------------------------------------------------------------
def test_semantic_search_bad_input(srv: Server, data: dict) -> None:
    ds = {"dataset": "alice/vecs"}
    _error(semantic(srv, **ds, vector=[0.1] * 383), 422, "InvalidParameter", "383 numbers")
    _error(semantic(srv, **ds, vector=["a"] * 384), 422, "InvalidParameter", "list of numbers")
    _error(semantic(srv, **ds, vector=[0.1] * 384, k=0), 422, "InvalidParameter", "'k'")
    _error(semantic(srv, **ds, vector=[0.1] * 384, k=101), 422, "InvalidParameter", "100")
    _error(semantic(srv, **ds), 422, "MissingRequiredParameter", "exactly one")
    _error(
        semantic(srv, **ds, query="x", vector=[0.1] * 384), 422, "InvalidParameter", "exactly one"
    )
    _error(
        semantic(srv, **ds, vector=[0.1] * 384, column="text"),
        422,
        "InvalidParameter",
        "not an embedding column",
    )
    _error(
        semantic(srv, **ds, vector=[0.1] * 384, where="nope=1"),
        422,
        "InvalidParameter",
        "no column 'nope'",
    )
    _error(
        semantic(srv, **ds, vector=[0.1] * 384, colour="red"),
        422,
        "InvalidParameter",
        "Unknown field",
    )
    r = requests.post(f"{srv.url}/datasets-server/semantic-search", data=b"{", timeout=30)
    assert r.status_code == 400
    r = requests.post(
        f"{srv.url}/datasets-server/semantic-search", data=b"x" * (2 << 20), timeout=30
    )
    assert r.status_code == 413


def test_model_not_served_and_no_embedding_column(srv: Server, data: dict) -> None:
    token = data["token"]
    host(
        srv,
        token,
        "alice/other-model",
        dataset_files(table(10, seed=4), readme=card(model="BAAI/bge-small-en-v1.5")),
    )
    message = _error(
        semantic(srv, dataset="alice/other-model", query="hello"), 422, "ModelNotServed"
    )
    assert "BAAI/bge-small-en-v1.5" in message and "--model BAAI/bge-small-en-v1.5" in message
    # A raw vector needs no model.
    assert _ok(semantic(srv, dataset="alice/other-model", vector=[1.0] * 384, k=2))["rows"]
    plain = pa.table({"id": [1, 2], "text": ["a", "b"]})
    host(srv, token, "alice/plain", dataset_files(plain, readme=card(model=None)))
    _error(semantic(srv, dataset="alice/plain", vector=[1.0]), 422, "NoEmbeddingColumn")
    _error(semantic(srv, dataset="alice/plain", query="a"), 422, "ModelUnknown")


# --- semantic search: answers ---------------------------------------------------------------
def test_vector_search_equals_semantic_search(srv: Server, data: dict) -> None:
    import torch
    from sentence_transformers.util import semantic_search

    vectors = np.stack(data["table"].column("embedding").to_numpy(zero_copy_only=False))
    q = np.random.default_rng(9).standard_normal(384).astype(np.float32)
    r = semantic(srv, dataset="alice/vecs", vector=q.tolist(), k=15, embedding=True)
    body = _ok(r)
    shaped(body, PAGE)
    ref = semantic_search(
        torch.from_numpy(q[None]), torch.from_numpy(vectors.astype(np.float32)), top_k=15
    )[0]
    assert [x["row_idx"] for x in body["rows"]] == [h["corpus_id"] for h in ref]
    assert np.allclose([x["score"] for x in body["rows"]], [h["score"] for h in ref], atol=1e-5)
    first = body["rows"][0]
    assert set(first) == {*ROW, "score"}
    assert first["row"]["embedding"] == vectors[first["row_idx"]].tolist()
    assert (
        "embedding"
        not in _ok(semantic(srv, dataset="alice/vecs", vector=q.tolist()))["rows"][0]["row"]
    )  # the vectors only when asked
    kept = _ok(semantic(srv, dataset="alice/vecs", vector=q.tolist(), k=5, where="stars = 2"))
    assert kept["num_rows_total"] == N // 5
    assert {x["row"]["stars"] for x in kept["rows"]} == {2}


def test_index_builds_in_background_and_shows_in_metrics(srv: Server, data: dict) -> None:
    """300 rows is past this server's threshold (250): the first answer is exact, the index
    builds meanwhile (visible in /metrics), later answers come from it, equal for the top."""
    from tests.search.helpers import metric

    q = np.random.default_rng(10).standard_normal(384).astype(np.float32).tolist()
    first = semantic(srv, dataset="alice/vecs", vector=q, k=5)
    assert first.headers["X-Search-Method"] in ("exact", "approximate")
    for _ in range(600):
        r = semantic(srv, dataset="alice/vecs", vector=q, k=5)
        if r.headers["X-Search-Method"] == "approximate":
            break
        threading.Event().wait(0.2)
    assert r.headers["X-Search-Method"] == "approximate"
    assert [x["row_idx"] for x in r.json()["rows"]] == [x["row_idx"] for x in first.json()["rows"]]
    assert metric(srv, 'embedhub_search_index_builds_total{result="ok"}') >= 1
    assert metric(srv, "embedhub_search_index_build_duration_seconds_count") >= 1
    assert metric(srv, 'embedhub_search_queries_total{method="approximate"}') >= 1


def test_push_during_queries_answers_from_one_commit(srv: Server, data: dict) -> None:
    """Queries run while the data is replaced: each answer's rows all come from the commit its
    X-Revision names (old rows say "old", new rows "new"), and the old index is removed."""
    token = data["token"]
    old = host(srv, token, "alice/moving", dataset_files(table(120, seed=5, prefix="old")))
    q = [0.05] * 384
    assert _ok(semantic(srv, dataset="alice/moving", vector=q, k=50))
    answers: list[requests.Response] = []
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            answers.append(semantic(srv, dataset="alice/moving", vector=q, k=50))

    workers = [threading.Thread(target=ask) for _ in range(3)]
    for w in workers:
        w.start()
    new = host(srv, token, "alice/moving", dataset_files(table(130, seed=6, prefix="new")))
    while not any(a.headers.get("X-Revision") == new for a in answers):
        threading.Event().wait(0.1)
    stop.set()
    for w in workers:
        w.join()
    seen = set()
    for a in answers:
        body = _ok(a)
        words = {x["row"]["text"].split()[0] for x in body["rows"]}
        expect = "old" if a.headers["X-Revision"] == old else "new"
        assert words == {expect}, (a.headers["X-Revision"], words)
        seen.add(expect)
    assert seen == {"new"} or seen == {"old", "new"}
    # The superseded index is removed (grace 0 here) by the cleanup pass the push triggered.
    root = srv.data_dir / "search" / "indexes" / "datasets" / "alice" / "moving"
    for _ in range(300):
        if len(list(root.iterdir())) == 1:
            break
        threading.Event().wait(0.1)
    assert len(list(root.iterdir())) == 1


def test_a_push_is_seen_by_the_very_next_query(srv: Server, data: dict) -> None:
    """Ref names are resolved from a cache (no git process per query): a commit to the same
    branch must still be answered from at the next query, never a stale commit."""
    token = data["token"]
    q = np.random.default_rng(31).standard_normal(384).astype(np.float32)

    def top(t: pa.Table) -> list[int]:
        vectors = np.stack(t.column("embedding").to_numpy(zero_copy_only=False))
        scores = (vectors @ q) / np.linalg.norm(vectors, axis=1)
        return np.lexsort((np.arange(len(scores)), -scores))[:5].tolist()

    for seed, rows in ((21, 90), (22, 110), (23, 100)):
        t = table(rows, seed=seed, prefix=f"v{seed}")
        commit = host(srv, token, "alice/pushed", dataset_files(t))
        for _ in range(2):  # the first query after the push, and a cached one
            r = semantic(srv, dataset="alice/pushed", vector=q.tolist(), k=5)
            assert r.headers["X-Revision"] == commit
            body = _ok(r)
            assert [x["row_idx"] for x in body["rows"]] == top(t)
            assert {x["row"]["text"].split()[0] for x in body["rows"]} == {f"v{seed}"}


def test_a_dataset_uploaded_through_xet_is_read_and_searched(srv: Server, data: dict, tmp_path):
    """The default client (huggingface_hub with hf_xet) stores files through Xet: the viewer
    reads them through the hub's one file function, reassembled from chunks."""
    import json
    import os
    import subprocess
    import sys
    import textwrap

    folder = tmp_path / "ds"
    (folder / "data").mkdir(parents=True)
    t = table(40, seed=21, prefix="xet")
    for path, content in dataset_files(t).items():
        (folder / path).write_bytes(content)
    script = textwrap.dedent(f"""
        import json
        from huggingface_hub import HfApi
        api = HfApi(token={data["token"]!r})
        api.create_repo("alice/xet-vecs", repo_type="dataset", exist_ok=True)
        api.upload_folder(folder_path={str(folder)!r}, repo_id="alice/xet-vecs",
                          repo_type="dataset")
        print(json.dumps(api.list_repo_files("alice/xet-vecs", repo_type="dataset")))
    """)
    env = {
        **os.environ,
        "HF_ENDPOINT": srv.url,
        "HF_HUB_OFFLINE": "0",
        "HF_HUB_DISABLE_XET": "0",
        "HF_HOME": str(tmp_path / "hf"),
    }
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "data/train-00000-of-00001.parquet" in json.loads(proc.stdout.strip().splitlines()[-1])
    head = requests.head(
        f"{srv.url}/datasets/alice/xet-vecs/resolve/main/data/train-00000-of-00001.parquet",
        headers=auth(data["token"]),
        timeout=60,
    )
    assert "X-Xet-Hash" in head.headers  # stored through Xet
    oid = head.headers["ETag"].strip('"')
    assert not list((srv.data_dir / "lfs").rglob(oid))  # and not in the LFS store
    rows = _ok(
        viewer(
            srv,
            "rows",
            dataset="alice/xet-vecs",
            config="default",
            split="train",
            offset=5,
            length=2,
        )
    )
    assert [r["row"]["text"] for r in rows["rows"]] == ["xet 5 odd", "xet 6 even"]
    q = t.column("embedding")[7].as_py()
    hits = _ok(semantic(srv, dataset="alice/xet-vecs", vector=q, k=1))
    assert hits["rows"][0]["row_idx"] == 7
