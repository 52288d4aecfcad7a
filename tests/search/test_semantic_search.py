"""Semantic search on a real embedding dataset: real English text embedded by `embedhub embed`
and pushed with `--push`, queried over HTTP, with the CLI, and with the Python snippet the
README gives; every answer compared with sentence-transformers' own semantic_search."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from sentence_transformers.util import semantic_search
from servers import EMBEDHUB, Server, start_server, stop_server

from tests.search.helpers import MODEL, viewer

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))
from corpus import real_texts

QUERIES = [
    "how do I define a function",
    "exceptions and error handling",
    "floating point numbers and rounding",
]


@pytest.fixture(scope="module")
def srv(tmp_path_factory) -> Iterator[Server]:
    s = start_server(tmp_path_factory.mktemp("semantic-home"))
    yield s
    stop_server(s)


@pytest.fixture(scope="module")
def pushed(srv: Server, tmp_path_factory) -> dict:
    """`embedhub embed docs.jsonl --push alice/paragraphs` of 200 real paragraphs."""
    work = tmp_path_factory.mktemp("docs")
    texts = real_texts(200)
    with open(work / "docs.jsonl", "w") as f:
        for i, text in enumerate(texts):
            f.write(json.dumps({"id": f"p{i}", "text": text}) + "\n")
    token = srv.token("alice")
    env = {**os.environ, "HF_HUB_OFFLINE": "0", "HF_HOME": str(work / "hf")}
    proc = subprocess.run(
        [
            *EMBEDHUB,
            "embed",
            str(work / "docs.jsonl"),
            "--id-column",
            "id",
            "--output",
            str(work / "out"),
            "--push",
            "alice/paragraphs",
            "--endpoint",
            srv.url,
            "--hub-token",
            token,
            "--quiet",
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    table = pq.read_table(work / "out" / "data")
    return {"token": token, "table": table, "work": work}


def _corpus(table) -> torch.Tensor:
    return torch.from_numpy(np.stack(table.column("embedding").to_numpy(zero_copy_only=False)))


def _same_ranking(got: list[tuple[int, float]], ref: list[dict]) -> None:
    """Same rows in the same order, except where two scores tie (the server embeds the query
    with its own runtime: scores agree to ~1e-6, so only true near-ties may swap)."""
    assert len(got) == len(ref)
    assert np.allclose([s for _, s in got], [h["score"] for h in ref], atol=1e-4)
    for (row, score), h in zip(got, ref, strict=True):
        if row != h["corpus_id"]:
            assert abs(score - h["score"]) < 1e-4, (got, ref)


def test_card_records_what_search_needs(srv: Server, pushed: dict) -> None:
    from embedhub.cardmeta import card_data_of, meta_from_card_data

    meta = meta_from_card_data(card_data_of((pushed["work"] / "out" / "README.md").read_text()))
    assert (meta.model, meta.dimension, meta.embedding_column) == (MODEL, 384, "embedding")
    assert (meta.normalized, meta.precision, meta.text, meta.id_column) == (
        True,
        "float32",
        "text",
        "id",
    )


def test_search_equals_semantic_search(srv: Server, pushed: dict, reference_model) -> None:
    corpus = _corpus(pushed["table"])
    for query in QUERIES:
        r = viewer(srv, "semantic-search", dataset="alice/paragraphs", query=query, k=10)
        assert r.status_code == 200, r.text
        body = r.json()
        assert [f["name"] for f in body["features"]] == ["id", "text"]
        got = [(x["row_idx"], x["score"]) for x in body["rows"]]
        q = reference_model.encode([query], convert_to_tensor=True)
        _same_ranking(got, semantic_search(q, corpus, top_k=10)[0])
        ids = pushed["table"].column("id").to_pylist()
        assert [x["row"]["id"] for x in body["rows"]] == [ids[i] for i, _ in got]


def test_the_readme_snippet_gives_the_same_rows(srv: Server, pushed: dict, tmp_path: Path) -> None:
    """README's "Python users" example, run as written (requests, then load_dataset +
    semantic_search locally), against this server."""
    script = textwrap.dedent(
        """
        import json, os, requests
        url = os.environ["HF_ENDPOINT"]
        query = "exceptions and error handling"

        hits = requests.get(f"{url}/datasets-server/semantic-search",
                            params={"dataset": "alice/paragraphs", "query": query, "k": 5}).json()
        served = [(row["row_idx"], row["row"]["id"], row["score"]) for row in hits["rows"]]

        from datasets import load_dataset
        from sentence_transformers import SentenceTransformer
        from sentence_transformers.util import semantic_search
        from embedhub.models import bundled_model_path
        ds = load_dataset("alice/paragraphs", split="train")
        corpus = ds.with_format("torch")["embedding"][:]  # (rows, 384) float32
        model = SentenceTransformer(str(bundled_model_path()))  # all-MiniLM-L6-v2
        found = semantic_search(model.encode(query, convert_to_tensor=True), corpus, top_k=5)[0]
        local = [(h["corpus_id"], ds[h["corpus_id"]]["id"], h["score"]) for h in found]
        print(json.dumps({"served": served, "local": local}))
        """
    )
    env = {
        **os.environ,
        "HF_ENDPOINT": srv.url,
        "HF_HUB_OFFLINE": "0",
        "HF_HOME": str(tmp_path / "hf"),
    }
    proc = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    _same_ranking(
        [(i, s) for i, _, s in out["served"]],
        [{"corpus_id": i, "score": s} for i, _, s in out["local"]],
    )


def test_cli_prints_a_table_that_fits_the_terminal(srv: Server, pushed: dict) -> None:
    env = {**os.environ, "COLUMNS": "70"}
    cmd = [*EMBEDHUB, "search", "alice/paragraphs", QUERIES[0], "-k", "3", "--url", srv.url]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.rstrip("\n").split("\n")
    assert lines[0].split() == ["score", "id", "text"]
    assert len(lines) == 4 and all(len(line) <= 70 for line in lines)
    as_json = subprocess.run([*cmd, "--json"], env=env, capture_output=True, text=True, timeout=300)
    rows = json.loads(as_json.stdout)["rows"]
    texts = pushed["table"].column("text").to_pylist()
    for line, row in zip(lines[1:], rows, strict=True):
        score, ident, text = line.split(maxsplit=2)
        assert (float(score), ident) == (round(row["score"], 3), row["row"]["id"])
        shown = text.rstrip("…")
        assert " ".join(texts[row["row_idx"]].split()).startswith(shown)
    missing = subprocess.run(
        [*EMBEDHUB, "search", "alice/none", "x", "--url", srv.url],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert missing.returncode == 1 and "404" in missing.stderr and "alice/none" in missing.stderr
