"""text-embeddings-inference's routes: /embed, /similarity, /tokenize, /info, /health,
/metrics."""

from __future__ import annotations

import numpy as np
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from .helpers import DIM, MAX_TOKENS, MODEL_ID, TEXTS, assert_close, auth, cosine, metric


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
    texts = ["Hello world!", "Tokenizers split words into pieces."]
    r = requests.post(f"{server.url}/tokenize", headers=auth(token), json={"inputs": texts})
    assert r.status_code == 200, r.text
    rows = r.json()
    assert len(rows) == 2
    for text, tokens in zip(texts, rows, strict=True):
        assert [t["id"] for t in tokens] == tokenizer(text)["input_ids"]
        assert [t["special"] for t in tokens] == [True] + [False] * (len(tokens) - 2) + [True]
        for t in tokens[1:-1]:
            assert t["text"] == tokenizer.convert_ids_to_tokens(t["id"])
            assert t["text"].lstrip("#") in text[t["start"] : t["stop"]].lower()
    r = requests.post(
        f"{server.url}/tokenize",
        headers=auth(token),
        json={"inputs": texts[0], "add_special_tokens": False},
    )
    (tokens,) = r.json()
    assert [t["id"] for t in tokens] == tokenizer(texts[0], add_special_tokens=False)["input_ids"]


def test_info(server):
    r = requests.get(f"{server.url}/info")
    assert r.status_code == 200
    info = r.json()
    assert info["model_id"] == MODEL_ID
    assert info["max_input_length"] == MAX_TOKENS
    assert info["max_batch_tokens"] == 8192
    assert info["max_client_batch_size"] == 2048
    assert info["max_concurrent_requests"] == 512
    assert info["embedding_dimension"] == DIM
    assert info["model_type"] == {"embedding": {"pooling": "mean"}}
    assert info["models"] == [
        {"model_id": MODEL_ID, "dimension": DIM, "max_input_length": MAX_TOKENS, "normalize": True}
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


@pytest.mark.parametrize("path", ["/info", "/health", "/metrics"])
def test_info_routes_need_no_token(server, path):
    assert requests.get(f"{server.url}{path}").status_code == 200
