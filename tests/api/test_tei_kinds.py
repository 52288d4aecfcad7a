"""TEI's routes for the models that are not embedding models: /rerank and /predict on
cross-encoders, /embed_sparse on a SPLADE model, each equal to sentence-transformers'
CrossEncoder / SparseEncoder on the same files; /info, /invocations and /vertex on a reranker;
bad input in TEI's shape; CORS."""

from __future__ import annotations

import json

import numpy as np
import pytest
import requests

from .conftest import CORS_ORIGIN
from .helpers import assert_close, assert_error, metric

QUERY = "what do cats eat"
DOCS = ["Cats eat fish and meat.", "The stock market fell.", "Kittens drink milk", "x y z"]


@pytest.fixture(scope="module")
def cross_encoders(tiny_models):
    from sentence_transformers import CrossEncoder

    return {
        name: CrossEncoder(str(tiny_models[name]), device="cpu", local_files_only=True)
        for name in ("reranker", "classifier")
    }


def post(server, path: str, body: dict) -> requests.Response:
    return requests.post(f"{server.url}{path}", json=body, timeout=60)


def test_info_describes_the_reranker(kinds_server):
    info = requests.get(f"{kinds_server.url}/info").json()
    assert info["model_id"] == "test/reranker"
    assert info["served_model_name"] == "my-reranker"
    assert info["model_type"] == {
        "reranker": {"id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0}}
    }
    assert info["runtime"] == "torch"  # asked for openvino (the default): torch runs these
    kinds = {m["model_id"]: (m["kind"], m["runtime"]) for m in info["models"]}
    assert kinds == {
        "test/reranker": ("reranker", "torch"),
        "test/classifier": ("classifier", "torch"),
        "test/sparse": ("sparse", "torch"),
    }


def test_rerank_equals_cross_encoder(kinds_server, cross_encoders):
    expected = cross_encoders["reranker"].predict([(QUERY, d) for d in DOCS])
    r = post(kinds_server, "/rerank", {"query": QUERY, "texts": DOCS, "return_text": True})
    assert r.status_code == 200, r.text
    ranks = r.json()
    assert [x["index"] for x in ranks] == sorted(range(len(DOCS)), key=lambda i: -expected[i])
    for x in ranks:
        assert abs(x["score"] - expected[x["index"]]) < 1e-6
        assert x["text"] == DOCS[x["index"]] and set(x) == {"index", "score", "text"}
    assert r.headers["x-compute-characters"] == str(len(QUERY) * len(DOCS) + sum(map(len, DOCS)))
    raw = post(kinds_server, "/rerank", {"query": QUERY, "texts": DOCS, "raw_scores": True})
    logits = cross_encoders["reranker"].predict(
        [(QUERY, d) for d in DOCS], activation_fn=lambda x: x
    )
    assert all(set(x) == {"index", "score"} for x in raw.json())
    assert_close([x["score"] for x in sorted(raw.json(), key=lambda x: x["index"])], logits)


def test_predict_texts_pairs_and_batches(kinds_server, cross_encoders):
    model = cross_encoders["classifier"]
    labels = ("negative", "neutral", "positive")

    def as_dict(predictions):
        assert [p["score"] for p in predictions] == sorted(
            (p["score"] for p in predictions), reverse=True
        )
        return [next(p["score"] for p in predictions if p["label"] == x) for x in labels]

    body = {"model": "test/classifier"}
    one = post(kinds_server, "/predict", {**body, "inputs": "I love it"}).json()
    assert_close(as_dict(one), model.predict("I love it", apply_softmax=True), 1e-6)
    pair = post(kinds_server, "/predict", {**body, "inputs": ["a premise", "a hypothesis"]})
    want = model.predict([("a premise", "a hypothesis"), ("x", "y")], apply_softmax=True)[0]
    assert_close(as_dict(pair.json()), want, 1e-6)
    batch = post(kinds_server, "/predict", {**body, "inputs": [["I love it"], ["x", "y"]]})
    got = [as_dict(row) for row in batch.json()]
    want_pair = model.predict([("x", "y"), ("a", "b")], apply_softmax=True)[0]
    assert_close(got, [model.predict("I love it", apply_softmax=True), want_pair], 1e-6)
    # A reranker predicts too: one sigmoid score for its one label.
    single = post(kinds_server, "/predict", {"inputs": [QUERY, DOCS[0]]}).json()
    assert single[0]["label"] == "LABEL_0"
    expected = cross_encoders["reranker"].predict([(QUERY, DOCS[0]), (QUERY, DOCS[1])])[0]
    assert abs(single[0]["score"] - expected) < 1e-6


def test_embed_sparse_equals_sparse_encoder(kinds_server, tiny_models):
    from sentence_transformers import SparseEncoder

    model = SparseEncoder(str(tiny_models["sparse"]), device="cpu", local_files_only=True)
    texts = ["hello world", "sparse vectors over the vocabulary"]
    expected = model.encode(texts).to_dense().numpy()
    body = {"inputs": texts, "model": "test/sparse"}
    r = post(kinds_server, "/embed_sparse", body)
    assert r.status_code == 200, r.text
    for got, row in zip(r.json(), expected, strict=True):
        assert [v["index"] for v in got] == np.flatnonzero(row).tolist()
        assert_close([v["value"] for v in got], row[np.flatnonzero(row)], 1e-6)
    dense = post(kinds_server, "/embed", {**body, "normalize": False})  # as TEI: unnormalised
    assert_close(dense.json(), expected, 1e-6)
    normalized = post(kinds_server, "/embed", body)
    assert_error(normalized, 424, "tei", "`normalize` is not available for SPLADE models")


CASES = [
    ("/rerank", {"query": QUERY, "texts": []}, 400, "Empty", "`texts` cannot be empty"),
    ("/rerank", {"query": QUERY, "texts": ["d"] * 10_000}, 413, "Validation", "batch size 10000"),
    ("/rerank", {"query": "", "texts": DOCS}, 400, "Empty", "`query` cannot be empty"),
    ("/rerank", {"query": QUERY, "texts": ["a", ""]}, 400, "Empty", "`texts`[1] is an empty"),
    ("/rerank", {"query": QUERY}, 422, "Validation", "texts: Field required"),
    (
        "/rerank",
        {"query": QUERY, "texts": DOCS, "model": "test/classifier"},
        424,
        "Backend",
        "model is not a re-ranker model",
    ),
    ("/embed", {"inputs": "x"}, 424, "Backend", "Model is not an embedding model"),
    ("/embed_all", {"inputs": "x"}, 424, "Backend", "Model is not an embedding model"),
    (
        "/embed_all",
        {"inputs": "x", "model": "test/sparse"},
        424,
        "Backend",
        "`embed_all` is not available for SPLADE models",
    ),
    ("/predict", {"inputs": ["a", "b", "c"]}, 422, "Validation", "a pair of strings"),
    ("/predict", {"inputs": []}, 400, "Empty", "`inputs` cannot be empty"),
    ("/predict", {"inputs": "x", "truncation_direction": "up"}, 422, "Validation", "truncation"),
    ("/decode", {"ids": [5, 40000]}, 422, "Tokenizer", "outside the model's vocabulary"),
    ("/rerank", {"query": QUERY, "texts": DOCS, "model": "nope"}, 404, "Validation", "nope"),
]


@pytest.mark.parametrize(("path", "body", "status", "error_type", "fragment"), CASES)
def test_bad_input_is_a_precise_4xx(kinds_server, path, body, status, error_type, fragment):
    r = post(kinds_server, path, body)
    assert_error(r, status, "tei", fragment)
    assert r.json()["error_type"] == error_type


def test_a_body_that_is_not_utf8_is_400(kinds_server):
    data = b'{"query": "\xff\xfe", "texts": ["a"]}'
    r = requests.post(f"{kinds_server.url}/rerank", data=data)
    assert_error(r, 400, "tei", "not valid JSON")


def test_refusals_are_counted_as_tei_counts_them(kinds_server):
    assert post(kinds_server, "/embed", {"inputs": "x"}).status_code == 424
    assert metric(kinds_server.url, "te_request_failure", err="model_type") >= 1


def test_invocations_and_vertex_run_the_models_task(kinds_server, cross_encoders):
    expected = cross_encoders["reranker"].predict([(QUERY, d) for d in DOCS])
    r = post(kinds_server, "/invocations", {"query": QUERY, "texts": DOCS})
    assert r.status_code == 200, r.text
    assert_close([x["score"] for x in sorted(r.json(), key=lambda x: x["index"])], expected, 1e-6)
    body = {"instances": [{"query": QUERY, "texts": DOCS[:2]}, {"inputs": [QUERY, DOCS[0]]}]}
    ranked, predicted = post(kinds_server, "/vertex", body).json()["predictions"]
    assert sorted(x["index"] for x in ranked) == [0, 1]
    assert predicted[0]["label"] == "LABEL_0"
    assert abs(predicted[0]["score"] - expected[0]) < 1e-6
    r = post(kinds_server, "/invocations", {"inputs": "not a rerank"})
    assert_error(r, 422, "tei", "query")


def test_cors_when_an_origin_is_allowed(kinds_server, server):
    preflight = {
        "Origin": CORS_ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, authorization",
    }
    r = requests.options(f"{kinds_server.url}/rerank", headers=preflight)
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == CORS_ORIGIN
    assert "POST" in r.headers["access-control-allow-methods"]
    assert "authorization" in r.headers["access-control-allow-headers"].lower()
    body = json.dumps({"query": QUERY, "texts": DOCS[:1]})
    r = requests.post(f"{kinds_server.url}/rerank", data=body, headers={"Origin": CORS_ORIGIN})
    assert r.headers["access-control-allow-origin"] == CORS_ORIGIN
    assert "x-compute-time" in r.headers["access-control-expose-headers"]
    other = {**preflight, "Origin": "https://evil.example"}
    r = requests.options(f"{kinds_server.url}/rerank", headers=other)
    assert r.status_code == 400 and "access-control-allow-origin" not in r.headers
    # Off by default: no CORS headers, and OPTIONS is not a method of the route.
    r = requests.options(f"{server.url}/embed", headers=preflight)
    assert r.status_code == 405 and "access-control-allow-origin" not in r.headers
