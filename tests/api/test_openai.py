"""The OpenAI embeddings API through the official `openai` client (and raw HTTP where the
client hides the wire format)."""

from __future__ import annotations

import base64

import numpy as np
import openai
import pytest
import requests
from openai import OpenAI

from .helpers import DIM, LONG_TEXT, MAX_TOKENS, MODEL_ID, TEXTS, assert_close, auth

SHORT_ID = "all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def client(server, token) -> OpenAI:
    return OpenAI(base_url=f"{server.url}/v1", api_key=token, max_retries=0)


def _vectors(response) -> np.ndarray:
    assert [d.index for d in response.data] == list(range(len(response.data)))
    return np.asarray([d.embedding for d in response.data])


def _token_count(tokenizer, texts: list[str]) -> int:
    return sum(min(len(tokenizer(t)["input_ids"]), MAX_TOKENS) for t in texts)


@pytest.mark.parametrize("encoding_format", [None, "float"])
def test_embeddings_equal_reference(client, reference_model, tokenizer, encoding_format):
    texts = [*TEXTS, LONG_TEXT]
    kwargs = {} if encoding_format is None else {"encoding_format": encoding_format}
    response = client.embeddings.create(model=MODEL_ID, input=texts, **kwargs)
    assert response.object == "list"
    assert response.model == MODEL_ID
    got = _vectors(response)
    assert got.shape == (len(texts), DIM)
    assert_close(got, reference_model.encode(texts))
    expected_tokens = _token_count(tokenizer, texts)
    assert expected_tokens > MAX_TOKENS  # the long text is counted as truncated, at 256
    assert response.usage.prompt_tokens == expected_tokens
    assert response.usage.total_tokens == expected_tokens


def test_base64_on_the_wire_is_little_endian_float32(server, token, reference_model):
    r = requests.post(
        f"{server.url}/v1/embeddings",
        headers=auth(token),
        json={"model": SHORT_ID, "input": "Hi!", "encoding_format": "base64"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "list" and body["model"] == MODEL_ID
    (item,) = body["data"]
    assert item["object"] == "embedding" and item["index"] == 0
    vec = np.frombuffer(base64.b64decode(item["embedding"]), dtype="<f4")
    assert vec.shape == (DIM,)
    assert_close(vec, reference_model.encode("Hi!"))


def test_single_string_input(client, reference_model):
    response = client.embeddings.create(model=SHORT_ID, input="Hi!", encoding_format="float")
    assert len(response.data) == 1
    assert_close(response.data[0].embedding, reference_model.encode("Hi!"))


def test_dimensions(client, reference_model):
    response = client.embeddings.create(model=MODEL_ID, input=TEXTS, dimensions=128)
    got = _vectors(response)
    ref = reference_model.encode(TEXTS)[:, :128]
    assert got.shape == (len(TEXTS), 128)
    assert_close(got, ref / np.linalg.norm(ref, axis=1, keepdims=True))


def test_token_id_inputs(client, reference_model, tokenizer):
    texts = ["the quick brown fox", "hello world"]
    ids = [tokenizer(t)["input_ids"] for t in texts]
    many = client.embeddings.create(model=MODEL_ID, input=ids, encoding_format="float")
    assert_close(_vectors(many), reference_model.encode(texts))
    assert many.usage.prompt_tokens == sum(len(i) for i in ids)
    one = client.embeddings.create(model=MODEL_ID, input=ids[1], encoding_format="float")
    assert_close(_vectors(one), reference_model.encode(texts[1:]))


def test_models_list(client):
    models = client.models.list()
    assert [m.id for m in models.data] == [MODEL_ID]
    assert models.data[0].object == "model"


def test_unknown_model_is_not_found(client):
    with pytest.raises(openai.NotFoundError) as info:
        client.embeddings.create(model="text-embedding-3-small", input=["x"])
    assert info.value.status_code == 404
    error = info.value.body
    assert error["code"] == "model_not_found" and error["param"] == "model"
    assert MODEL_ID in error["message"] and "text-embedding-3-small" in error["message"]


def test_bad_token_is_authentication_error(server):
    client = OpenAI(base_url=f"{server.url}/v1", api_key="eh_not_a_real_token", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        client.embeddings.create(model=MODEL_ID, input=["x"])
    assert info.value.status_code == 401


def test_bad_dimensions_is_unprocessable(client):
    with pytest.raises(openai.UnprocessableEntityError) as info:
        client.embeddings.create(model=MODEL_ID, input=["x"], dimensions=DIM + 1)
    assert info.value.body["param"] == "dimensions"
    assert "between 1 and 384" in info.value.body["message"]
