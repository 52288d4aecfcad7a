"""A server started with --require-token, --max-client-batch-size 4 and --payload-limit 4096."""

from __future__ import annotations

import json

import pytest
import requests
from openai import OpenAI
from prometheus_client.parser import text_string_to_metric_families

from .helpers import MODEL_ID, assert_close, assert_error, auth

FE = f"/pipeline/feature-extraction/{MODEL_ID}"
ROUTES = [(FE, "hf"), ("/v1/embeddings", "openai"), ("/embed", "tei")]


def _body(path: str, texts) -> dict:
    if path.startswith("/v1/"):
        return {"model": MODEL_ID, "input": texts}
    return {"inputs": texts}


@pytest.mark.parametrize(("path", "style"), ROUTES)
def test_no_token_is_401_when_required(strict_server, path, style):
    r = requests.post(f"{strict_server.url}{path}", json=_body(path, ["x"]))
    assert_error(r, 401, style, "Authorization header is required")
    assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("path", "style"), ROUTES)
def test_read_token_is_enough(strict_server, reference_model, path, style):
    token = strict_server.token("reader", write=False)
    r = requests.post(f"{strict_server.url}{path}", headers=auth(token), json=_body(path, ["x"]))
    assert r.status_code == 200, r.text
    body = r.json()
    vectors = [d["embedding"] for d in body["data"]] if style == "openai" else body
    assert_close(vectors, reference_model.encode(["x"]))


def test_bad_token_is_401(strict_server):
    r = requests.post(f"{strict_server.url}/embed", headers=auth("eh_nope"), json={"inputs": "x"})
    assert_error(r, 401, "tei", "Invalid credentials")


def test_openai_client_with_token(strict_server, reference_model):
    token = strict_server.token("reader", write=False)
    client = OpenAI(base_url=f"{strict_server.url}/v1", api_key=token, max_retries=0)
    response = client.embeddings.create(model=MODEL_ID, input=["a", "b", "c", "d"])
    assert_close([d.embedding for d in response.data], reference_model.encode(["a", "b", "c", "d"]))


@pytest.mark.parametrize(("path", "style"), ROUTES)
def test_too_many_inputs(strict_server, path, style):
    token = strict_server.token("reader", write=False)
    r = requests.post(
        f"{strict_server.url}{path}",
        headers=auth(token),
        json=_body(path, ["a", "b", "c", "d", "e"]),
    )
    status = 413 if style == "tei" else 422  # TEI's "Batch size error" is a 413
    assert_error(r, status, style, "batch size 5", "maximum allowed batch size 4")
    if style == "tei":
        assert r.json()["error_type"] == "Validation"


def test_similarity_with_four_sentences_fits(strict_server):
    # The source sentence does not count against the limit.
    token = strict_server.token("reader", write=False)
    body = {"inputs": {"source_sentence": "s", "sentences": ["a", "b", "c", "d"]}}
    r = requests.post(f"{strict_server.url}/similarity", headers=auth(token), json=body)
    assert r.status_code == 200 and len(r.json()) == 4


@pytest.mark.parametrize(("path", "style"), [*ROUTES, ("/", "hf"), ("/tokenize", "tei")])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_over_payload_limit_is_413(strict_server, path, style, chunked):
    token = strict_server.token("reader", write=False)
    payload = json.dumps(_body(path, ["y" * 1500] * 3)).encode()
    assert len(payload) > 4096
    data = iter([payload[:1000], payload[1000:]]) if chunked else payload
    headers = {**auth(token), "Content-Type": "application/json"}
    r = requests.post(f"{strict_server.url}{path}", data=data, headers=headers)
    assert_error(r, 413, style, "Payload too large", "4096", "--payload-limit")
    # Counted under its route, whether refused before routing (Content-Length) or after.
    refused = [
        s.labels["route"]
        for f in text_string_to_metric_families(
            # /metrics needs a token where inference does (SECURITY.md)
            requests.get(f"{strict_server.url}/metrics", headers=auth(token)).text
        )
        for s in f.samples
        if s.name == "embedhub_requests_total" and s.labels["status"] == "413"
    ]
    assert refused and "unmatched" not in refused, refused
    if style == "openai":
        assert r.json()["error"]["code"] == "payload_too_large"
    if style == "tei":
        assert r.json()["error_type"] == "Validation"
    # Just under the limit is fine.
    small = json.dumps(_body(path, ["y" * 1000] * 3)).encode()
    assert len(small) < 4096
    assert requests.post(f"{strict_server.url}{path}", data=small, headers=headers).ok
