"""text-embeddings-inference's routes on an embedding model, field by field: /embed (texts and
token ids), /similarity, /tokenize, /decode, /embed_all, /info, /health, /ping, /metrics, the
OpenAI alias and the SageMaker / Vertex routes; the tasks an embedding model can't run."""

from __future__ import annotations

import numpy as np
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from .helpers import (
    DIM,
    LONG_TEXT,
    MAX_TOKENS,
    MODEL_ID,
    TEXTS,
    assert_close,
    assert_error,
    auth,
    cosine,
    metric,
)


def test_embed_one_string_is_two_dimensional(server, token, reference_model):
    r = requests.post(f"{server.url}/embed", headers=auth(token), json={"inputs": "Hi!"})
    assert r.status_code == 200, r.text
    got = r.json()
    assert len(got) == 1 and len(got[0]) == DIM
    assert_close(got, reference_model.encode(["Hi!"]))


def test_embed_list(server, token, reference_model):
    r = requests.post(f"{server.url}/embed", headers=auth(token), json={"inputs": TEXTS})
    assert r.status_code == 200, r.text
    assert_close(r.json(), reference_model.encode(TEXTS))


def test_embed_without_normalize(server, token, reference_model):
    body = {"inputs": TEXTS, "normalize": False}
    r = requests.post(f"{server.url}/embed", headers=auth(token), json=body)
    raw = np.asarray(r.json())
    norms = np.linalg.norm(raw, axis=1)
    assert np.all(np.abs(norms - 1.0) > 0.1)
    assert_close(raw / norms[:, None], reference_model.encode(TEXTS))


def test_embed_dimensions(server, token, reference_model):
    r = requests.post(
        f"{server.url}/embed", headers=auth(token), json={"inputs": TEXTS, "dimensions": 32}
    )
    ref = reference_model.encode(TEXTS)[:, :32]
    assert_close(r.json(), ref / np.linalg.norm(ref, axis=1, keepdims=True))


def test_similarity(server, token, reference_model):
    body = {"inputs": {"source_sentence": TEXTS[0], "sentences": TEXTS[1:]}}
    r = requests.post(f"{server.url}/similarity", headers=auth(token), json=body)
    assert r.status_code == 200, r.text
    ref = reference_model.encode(TEXTS)
    assert_close(r.json(), [cosine(ref[0], v) for v in ref[1:]])


def test_tokenize(server, token, tokenizer):
    """TEI's tokens: a real token's text is its slice of the input, its span in bytes; a
    special token has its vocabulary text and a null span."""
    texts = ["Hello world!", "Tokenizers split héllo wörlds into pieces."]
    r = requests.post(f"{server.url}/tokenize", headers=auth(token), json={"inputs": texts})
    assert r.status_code == 200, r.text
    rows = r.json()
    assert len(rows) == 2
    for text, tokens in zip(texts, rows, strict=True):
        encoded = tokenizer(text, return_offsets_mapping=True)
        assert [t["id"] for t in tokens] == encoded["input_ids"]
        assert [t["special"] for t in tokens] == [True] + [False] * (len(tokens) - 2) + [True]
        for t in (tokens[0], tokens[-1]):
            assert (t["start"], t["stop"]) == (None, None)
            assert t["text"] == tokenizer.convert_ids_to_tokens(t["id"])
        data = text.encode()
        for t, (start, stop) in zip(tokens[1:-1], encoded["offset_mapping"][1:-1], strict=True):
            assert t["text"] == text[start:stop]
            assert data[t["start"] : t["stop"]].decode() == t["text"]
    hello = next(t for t in rows[1] if t["text"] == "héllo")
    assert hello["stop"] - hello["start"] == 6  # bytes: é is two
    r = requests.post(
        f"{server.url}/tokenize",
        headers=auth(token),
        json={"inputs": texts[0], "add_special_tokens": False},
    )
    (tokens,) = r.json()
    assert [t["id"] for t in tokens] == tokenizer(texts[0], add_special_tokens=False)["input_ids"]


def test_decode_inverts_tokenize(server, token, tokenizer):
    ids = tokenizer(["Hello world!", "a second text"])["input_ids"]
    r = requests.post(f"{server.url}/decode", headers=auth(token), json={"ids": ids})
    assert r.json() == ["hello world!", "a second text"]
    body = {"ids": ids[0], "skip_special_tokens": False}
    r = requests.post(f"{server.url}/decode", headers=auth(token), json=body)
    assert r.json() == ["[CLS] hello world! [SEP]"]


def test_embed_token_ids(server, token, tokenizer, reference_model):
    ids = tokenizer(TEXTS[:2])["input_ids"]
    body = {"inputs": [ids[0], TEXTS[1]]}  # token ids and text, in one batch
    r = requests.post(f"{server.url}/embed", headers=auth(token), json=body)
    assert r.status_code == 200, r.text
    assert_close(r.json(), reference_model.encode(TEXTS[:2]))
    r = requests.post(f"{server.url}/embed", headers=auth(token), json={"inputs": ids[1]})
    assert_close(r.json(), reference_model.encode(TEXTS[1:2]))
    assert r.headers["x-compute-characters"] == str(len(ids[1]))  # TEI counts ids as chars


def test_embed_headers_are_teis(server, token):
    r = requests.post(f"{server.url}/embed", headers=auth(token), json={"inputs": TEXTS})
    h = r.headers
    assert h["x-compute-type"] == "cpu"
    assert h["x-compute-characters"] == str(sum(map(len, TEXTS)))
    for name in ("x-compute-time", "x-compute-tokens", "x-total-time", "x-tokenization-time"):
        assert int(h[name]) >= 0, name
    assert int(h["x-queue-time"]) >= 0 and int(h["x-inference-time"]) >= 0


def test_similarity_honours_parameters(server, token, reference_model):
    source, other = LONG_TEXT, "Stock markets fell sharply after the central bank raised rates."
    base = {"inputs": {"source_sentence": source, "sentences": [other]}}
    got = {}
    for direction in ("Right", "left"):
        body = {**base, "parameters": {"truncation_direction": direction}}
        r = requests.post(f"{server.url}/similarity", headers=auth(token), json=body)
        assert r.status_code == 200, r.text
        got[direction.lower()] = r.json()[0]
    reference_model.tokenizer.truncation_side = "left"
    try:
        left = reference_model.encode([source, other])
    finally:
        reference_model.tokenizer.truncation_side = "right"
    right = reference_model.encode([source, other])
    assert abs(got["left"] - cosine(*left)) < 1e-5 and abs(got["right"] - cosine(*right)) < 1e-5
    assert got["left"] - got["right"] > 0.1  # the left cut keeps the stock-market half
    body = {**base, "parameters": {"truncate": False}}
    r = requests.post(f"{server.url}/similarity", headers=auth(token), json=body)
    assert_error(r, 413, "tei", "too long")
    body = {**base, "parameters": {"prompt_name": "nope"}}
    r = requests.post(f"{server.url}/similarity", headers=auth(token), json=body)
    assert_error(r, 413, "tei", "prompt_name 'nope'")


def test_embed_all_equals_token_embeddings(server, token, reference_model):
    texts = ["Hello world!", "a"]
    r = requests.post(f"{server.url}/embed_all", headers=auth(token), json={"inputs": texts})
    assert r.status_code == 200, r.text
    expected = reference_model.encode(texts, output_value="token_embeddings")
    for got, want in zip(r.json(), expected, strict=True):
        assert_close(got, want.numpy())


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/rerank", {"query": "q", "texts": ["a"]}, "model is not a re-ranker model"),
        ("/predict", {"inputs": "a"}, "Model is not a classifier model"),
        ("/embed_sparse", {"inputs": "a"}, "Model is not an embedding model with SPLADE"),
    ],
)
def test_a_task_an_embedding_model_cannot_run_is_424(server, token, path, body, message):
    r = requests.post(f"{server.url}{path}", headers=auth(token), json=body)
    assert_error(r, 424, "tei", message)
    assert r.json()["error_type"] == "Backend"


def test_openai_alias_and_sagemaker_routes(server, token, reference_model):
    body = {"input": TEXTS[:2], "model": MODEL_ID, "encoding_format": "float"}
    r = requests.post(f"{server.url}/embeddings", headers=auth(token), json=body)
    assert r.status_code == 200, r.text
    assert_close([d["embedding"] for d in r.json()["data"]], reference_model.encode(TEXTS[:2]))
    r = requests.post(f"{server.url}/invocations", headers=auth(token), json={"inputs": "Hi!"})
    assert_close(r.json(), reference_model.encode(["Hi!"]))
    body = {"instances": [{"inputs": "Hi!"}, {"inputs": ["Hi!", "First text"]}]}
    r = requests.post(f"{server.url}/vertex", headers=auth(token), json=body)
    first, second = r.json()["predictions"]
    assert_close(first, reference_model.encode(["Hi!"]))
    assert_close(second, reference_model.encode(["Hi!", "First text"]))
    assert requests.get(f"{server.url}/ping").status_code == 200
    doc = requests.get(f"{server.url}/api-doc/openapi.json").json()
    assert doc == requests.get(f"{server.url}/openapi.json").json()


def test_info(server):
    r = requests.get(f"{server.url}/info")
    assert r.status_code == 200
    info = r.json()
    assert info["model_id"] == info["served_model_name"] == MODEL_ID
    assert info["max_input_length"] == MAX_TOKENS
    assert info["max_batch_tokens"] == 8192
    assert info["max_client_batch_size"] == 2048
    assert info["max_concurrent_requests"] == 512
    assert info["embedding_dimension"] == DIM
    assert info["model_type"] == {"embedding": {"pooling": "mean"}}
    assert info["model_dtype"] == "float32" and info["auto_truncate"] is True
    for field in ("model_sha", "max_batch_requests", "sha", "docker_label"):
        assert info[field] is None
    assert info["models"] == [
        {
            "model_id": MODEL_ID,
            "kind": "embedding",
            "dimension": DIM,
            "max_input_length": MAX_TOKENS,
            "normalize": True,
            "runtime": info["runtime"],
        }
    ]


def test_health(server):
    r = requests.get(f"{server.url}/health")
    assert r.status_code == 200
    assert r.content == b""


def test_metrics(server, token):
    # One known request of each kind first, so every series below has a sample.
    ok = requests.post(f"{server.url}/embed", headers=auth(token), json={"inputs": ["metrics"]})
    assert ok.status_code == 200
    bad = requests.post(f"{server.url}/embed", headers=auth(token), json={"inputs": []})
    assert bad.status_code == 400
    r = requests.get(f"{server.url}/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(r.text)}

    requests_total = {
        (s.labels["route"], s.labels["status"]): s.value
        for s in families["embedhub_requests"].samples
        if s.name == "embedhub_requests_total"
    }
    assert requests_total[("/embed", "200")] >= 1
    assert requests_total[("/embed", "400")] >= 1
    assert families["embedhub_queue_size"].type == "gauge"
    assert [s.labels for s in families["embedhub_queue_size"].samples] == [{"model": MODEL_ID}]
    for name in (
        "embedhub_batch_size",
        "embedhub_batch_tokens",
        "embedhub_queue_duration_seconds",
        "embedhub_inference_duration_seconds",
        "embedhub_request_duration_seconds",
    ):
        family = families[name]
        assert family.type == "histogram", name
        counts = [s.value for s in family.samples if s.name == f"{name}_count"]
        assert counts and sum(counts) >= 1, f"{name} has no observations"
    assert metric(server.url, "embedhub_batch_size_count", model=MODEL_ID) >= 1


def test_teis_metric_names_are_there(server, token):
    ok = requests.post(f"{server.url}/embed", headers=auth(token), json={"inputs": "te metrics"})
    assert ok.status_code == 200
    bad = requests.post(f"{server.url}/embed", headers=auth(token), json={"inputs": ["a"] * 3000})
    assert bad.status_code == 413
    text = requests.get(f"{server.url}/metrics").text
    # TEI's exporter writes counters without `_total`: the exact sample names TEI queries use.
    assert 'te_request_count{method="single"}' in text
    assert 'te_request_failure{err="batch_size"}' in text
    assert metric(server.url, "te_request_success", method="single") >= 1
    for name in ("te_request_duration", "te_request_inference_duration", "te_batch_next_size"):
        assert metric(server.url, f"{name}_count") >= 1, name
    assert metric(server.url, "te_request_input_length_count") >= 1
    assert "te_queue_size{" in text


@pytest.mark.parametrize("path", ["/info", "/health", "/ping", "/metrics"])
def test_info_routes_need_no_token(server, path):
    assert requests.get(f"{server.url}{path}").status_code == 200
