"""The Hugging Face Inference API: the reference workflow with `requests`, every route and
option form, the cache switches, and `huggingface_hub.InferenceClient`."""

from __future__ import annotations

import json

import numpy as np
import pytest
import requests
from huggingface_hub import InferenceClient
from sentence_transformers import SentenceTransformer

from .helpers import DIM, LONG_TEXT, MODEL_ID, TEXTS, assert_close, auth, cosine, metric

FE = f"/pipeline/feature-extraction/{MODEL_ID}"


def test_reference_workflow_snippet(server, token, reference_model):
    base, hf_token, texts = server.url, token, TEXTS
    # Exactly the user's snippet.
    api_url = f"{base}/pipeline/feature-extraction/sentence-transformers/all-MiniLM-L6-v2"
    headers = {"Authorization": f"Bearer {hf_token}"}
    output = requests.post(api_url, headers=headers, json={"inputs": texts}).json()
    embeddings = np.asarray(output)

    assert embeddings.shape == (len(texts), DIM)
    assert_close(embeddings, reference_model.encode(texts))


def test_single_string_gives_one_vector(server, token, reference_model):
    r = requests.post(f"{server.url}{FE}", headers=auth(token), json={"inputs": "Hi!"})
    assert r.status_code == 200
    vec = r.json()
    assert isinstance(vec, list) and len(vec) == DIM and isinstance(vec[0], float)
    assert_close(vec, reference_model.encode("Hi!"))


def test_long_input_is_truncated_by_default(server, token, reference_model):
    r = requests.post(f"{server.url}{FE}", headers=auth(token), json={"inputs": [LONG_TEXT]})
    assert r.status_code == 200
    assert_close(r.json(), reference_model.encode([LONG_TEXT]))


@pytest.mark.parametrize("model_id", [MODEL_ID, "all-MiniLM-L6-v2"])
def test_models_route_feature_extraction(server, token, reference_model, model_id):
    r = requests.post(
        f"{server.url}/models/{model_id}", headers=auth(token), json={"inputs": TEXTS}
    )
    assert r.status_code == 200, r.text
    assert_close(r.json(), reference_model.encode(TEXTS))


def _similarity_body():
    return {"inputs": {"source_sentence": TEXTS[2], "sentences": [TEXTS[0], TEXTS[3], TEXTS[2]]}}


def _expected_similarity(reference_model) -> list[float]:
    ref = reference_model.encode([TEXTS[2], TEXTS[0], TEXTS[3], TEXTS[2]])
    return [cosine(ref[0], v) for v in ref[1:]]


@pytest.mark.parametrize(
    "path", [f"/pipeline/sentence-similarity/{MODEL_ID}", f"/models/{MODEL_ID}", "/"]
)
def test_sentence_similarity(server, token, reference_model, path):
    r = requests.post(f"{server.url}{path}", headers=auth(token), json=_similarity_body())
    assert r.status_code == 200, r.text
    scores = r.json()
    assert isinstance(scores, list) and len(scores) == 3
    assert_close(scores, _expected_similarity(reference_model))
    assert scores[2] == pytest.approx(1.0, abs=1e-5)  # a sentence with itself


def test_root_dispatches_feature_extraction(server, token, reference_model):
    r = requests.post(f"{server.url}/", headers=auth(token), json={"inputs": TEXTS})
    assert r.status_code == 200, r.text
    assert_close(r.json(), reference_model.encode(TEXTS))
    r = requests.post(f"{server.url}/", headers=auth(token), json={"inputs": "First text"})
    assert_close(r.json(), reference_model.encode("First text"))


def test_curl_form_urlencoded_body(server, token, reference_model):
    # `curl -d '{...}'` labels a JSON body application/x-www-form-urlencoded.
    r = requests.post(
        f"{server.url}{FE}",
        data=json.dumps({"inputs": TEXTS}),
        headers={**auth(token), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200, r.text
    assert_close(r.json(), reference_model.encode(TEXTS))


def _with_option(style: str, **opts) -> dict:
    body: dict = {"inputs": TEXTS}
    if style == "root":
        body.update(opts)
    else:
        body["parameters"] = opts
    return body


@pytest.fixture(scope="module")
def raw_model(reference_model):
    """The reference model without its final Normalize module."""
    modules = list(reference_model)
    assert type(modules[-1]).__name__ == "Normalize"
    return SentenceTransformer(modules=modules[:-1], device="cpu")


@pytest.mark.parametrize("style", ["root", "parameters"])
def test_normalize_false_gives_raw_vectors(server, token, reference_model, raw_model, style):
    r = requests.post(
        f"{server.url}{FE}", headers=auth(token), json=_with_option(style, normalize=False)
    )
    assert r.status_code == 200, r.text
    raw = np.asarray(r.json())
    norms = np.linalg.norm(raw, axis=1)
    assert np.all(np.abs(norms - 1.0) > 0.1), norms  # really not unit length
    assert_close(raw, raw_model.encode(TEXTS), tol=1e-4)
    assert_close(raw / norms[:, None], reference_model.encode(TEXTS))


@pytest.mark.parametrize("style", ["root", "parameters"])
def test_dimensions_cut_and_renormalise(server, token, reference_model, style):
    r = requests.post(
        f"{server.url}{FE}", headers=auth(token), json=_with_option(style, dimensions=128)
    )
    assert r.status_code == 200, r.text
    got = np.asarray(r.json())
    ref = reference_model.encode(TEXTS)[:, :128]
    assert got.shape == (len(TEXTS), 128)
    assert_close(got, ref / np.linalg.norm(ref, axis=1, keepdims=True))


@pytest.mark.parametrize("style", ["root", "parameters"])
def test_truncation_direction(server, token, reference_model, style):
    def post(direction: str) -> np.ndarray:
        body = {"inputs": [LONG_TEXT]}
        if style == "root":
            body["truncation_direction"] = direction
        else:
            body["parameters"] = {"truncation_direction": direction}
        r = requests.post(f"{server.url}{FE}", headers=auth(token), json=body)
        assert r.status_code == 200, r.text
        return np.asarray(r.json())

    right, left = post("right"), post("left")
    assert cosine(left[0], right[0]) < 0.9  # different halves of the text
    assert_close(right, reference_model.encode([LONG_TEXT]))
    tok = reference_model.tokenizer
    tok.truncation_side = "left"
    try:
        expected_left = reference_model.encode([LONG_TEXT])
    finally:
        tok.truncation_side = "right"
    assert_close(left, expected_left)


def _hits(server) -> float:
    return metric(server.url, "embedhub_cache_hits_total", model=MODEL_ID)


def test_cache_hits_and_bypass(server, token, reference_model):
    texts = ["cache probe one, unseen before", "cache probe two, also unseen"]
    url = f"{server.url}{FE}"
    before = _hits(server)
    first = requests.post(url, headers=auth(token), json={"inputs": texts})
    assert first.status_code == 200 and first.headers["x-cache-hits"] == "0"
    assert _hits(server) == before

    again = requests.post(url, headers=auth(token), json={"inputs": texts})
    assert again.headers["x-cache-hits"] == "2"
    assert _hits(server) == before + 2
    assert again.json() == first.json()
    assert_close(again.json(), reference_model.encode(texts))

    body_off = {"inputs": texts, "options": {"use_cache": False, "wait_for_model": True}}
    off = requests.post(url, headers=auth(token), json=body_off)
    assert off.status_code == 200 and off.headers["x-cache-hits"] == "0"
    header_off = requests.post(
        url, headers={**auth(token), "x-use-cache": "0"}, json={"inputs": texts}
    )
    assert header_off.status_code == 200 and header_off.headers["x-cache-hits"] == "0"
    assert _hits(server) == before + 2
    assert_close(off.json(), reference_model.encode(texts))
    assert_close(header_off.json(), reference_model.encode(texts))


def test_timing_and_request_id_headers(server, token):
    r = requests.post(
        f"{server.url}{FE}",
        headers={**auth(token), "x-request-id": "abc-123"},
        json={"inputs": "x"},
    )
    assert r.status_code == 200
    assert r.headers["x-request-id"] == "abc-123"
    for name in ("x-queue-time", "x-inference-time", "x-tokenization-time", "x-total-time"):
        assert int(r.headers[name]) >= 0
    assert r.headers["x-compute-tokens"] == "3"  # [CLS] x [SEP]
    assert len(requests.get(f"{server.url}/health").headers["x-request-id"]) == 32


@pytest.mark.usefixtures("hf_client_online")
def test_inference_client_feature_extraction(server, token, reference_model):
    client = InferenceClient(base_url=server.url, api_key=token)
    got = client.feature_extraction(TEXTS)
    assert got.shape == (len(TEXTS), DIM) and got.dtype == np.float32
    assert_close(got, reference_model.encode(TEXTS))
    one = client.feature_extraction("Hi!")
    assert_close(np.asarray(one).reshape(-1), reference_model.encode("Hi!"))
    cut = client.feature_extraction(TEXTS, dimensions=64, normalize=True)
    ref = reference_model.encode(TEXTS)[:, :64]
    assert_close(cut, ref / np.linalg.norm(ref, axis=1, keepdims=True))


@pytest.mark.usefixtures("hf_client_online")
def test_inference_client_sentence_similarity(server, token, reference_model):
    client = InferenceClient(base_url=server.url, api_key=token)
    scores = client.sentence_similarity(TEXTS[2], [TEXTS[0], TEXTS[3], TEXTS[2]])
    assert_close(scores, _expected_similarity(reference_model))


@pytest.mark.usefixtures("hf_client_online")
def test_inference_client_with_model_url(server, token, reference_model):
    client = InferenceClient(model=f"{server.url}/models/{MODEL_ID}", token=token)
    assert_close(client.feature_extraction(TEXTS), reference_model.encode(TEXTS))
