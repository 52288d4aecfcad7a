"""Cohere's embed API through the official `cohere` client (v2 and v1), on the shared server's
default runtime: every embedding type equal to sentence-transformers' `quantize_embeddings`
with the shipped calibration ranges, output_dimension, truncate, input_type; and bad input
answered in Cohere's `{"message"}` shape."""

from __future__ import annotations

import base64
import json

import cohere
import numpy as np
import pytest
import requests
from sentence_transformers.util.quantization import quantize_embeddings

from embedhub.backends.calibration import ranges_file

from .conftest import PROMPTS
from .helpers import DIM, LONG_TEXT, MAX_TOKENS, MODEL_ID, TEXTS, assert_close, auth

ALL_TYPES = ["float", "int8", "uint8", "binary", "ubinary", "base64"]


@pytest.fixture(scope="module")
def co(server, token) -> cohere.ClientV2:
    return cohere.ClientV2(api_key=token, base_url=server.url)


@pytest.fixture(scope="module")
def ranges() -> dict[int, np.ndarray]:
    """The shipped ranges, read from the file as a person would."""
    found = json.loads(ranges_file(MODEL_ID).read_text())
    return {int(d): np.asarray(r, np.float32) for d, r in found["ranges"].items()}


def quantized(floats, precision: str, ranges=None) -> np.ndarray:
    return quantize_embeddings(np.asarray(floats, np.float32), precision, ranges=ranges)


def test_every_embedding_type_equals_quantize_embeddings(co, reference_model, tokenizer, ranges):
    texts = [*TEXTS, LONG_TEXT]
    r = co.embed(
        model=MODEL_ID, input_type="search_document", texts=texts, embedding_types=ALL_TYPES
    )
    e = r.embeddings
    floats = np.asarray(e.float_, np.float32)
    reference = reference_model.encode(texts)
    assert_close(floats, reference)
    # Each type is what sentence-transformers makes of the float vectors sent with it.
    assert np.array_equal(e.int8, quantized(floats, "int8", ranges[DIM]))
    assert np.array_equal(e.uint8, quantized(floats, "uint8", ranges[DIM]))
    assert np.array_equal(e.binary, quantized(floats, "binary"))
    assert np.array_equal(e.ubinary, quantized(floats, "ubinary"))
    assert np.asarray(e.binary).shape == (len(texts), DIM // 8)
    sent = np.stack([np.frombuffer(base64.b64decode(b), "<f4") for b in e.base64])
    assert np.array_equal(sent, floats)
    # ... and of the reference vectors too, but where a value sits within float error of a
    # bucket's edge (one step apart at most, rarely).
    ref_int8 = quantized(reference, "int8", ranges[DIM]).astype(int)
    assert np.abs(np.asarray(e.int8) - ref_int8).max() <= 1
    assert np.mean(np.asarray(e.int8) == ref_int8) > 0.999
    assert r.texts == texts and r.id
    assert r.meta.api_version.version == "2"
    counts = [min(len(tokenizer(t)["input_ids"]), MAX_TOKENS) for t in texts]
    assert r.meta.billed_units.input_tokens == sum(counts)


def test_output_dimension_is_matryoshka_and_quantized_with_its_ranges(co, reference_model, ranges):
    r = co.embed(
        model=MODEL_ID,
        input_type="search_query",
        texts=TEXTS,
        embedding_types=["float", "uint8", "ubinary"],
        output_dimension=128,
    )
    floats = np.asarray(r.embeddings.float_, np.float32)
    expected = reference_model.encode(TEXTS, truncate_dim=128, normalize_embeddings=True)
    assert_close(floats, expected)
    assert np.array_equal(r.embeddings.uint8, quantized(floats, "uint8", ranges[128]))
    assert np.asarray(r.embeddings.ubinary).shape == (len(TEXTS), 16)


def test_v1_client_embed(server, token, reference_model, ranges):
    co1 = cohere.Client(api_key=token, base_url=server.url)
    plain = co1.embed(texts=TEXTS, model=MODEL_ID, input_type="classification")
    assert plain.response_type == "embeddings_floats"
    assert_close(plain.embeddings, reference_model.encode(TEXTS))
    assert plain.meta.api_version.version == "1"
    typed = co1.embed(texts=TEXTS, model=MODEL_ID, embedding_types=["int8", "float"])
    assert typed.response_type == "embeddings_by_type"
    floats = np.asarray(typed.embeddings.float_, np.float32)
    assert np.array_equal(typed.embeddings.int8, quantized(floats, "int8", ranges[DIM]))


def test_truncate_start_end_and_none(co, reference_model):
    def embed(truncate: str) -> np.ndarray:
        r = co.embed(
            model=MODEL_ID, input_type="search_document", texts=[LONG_TEXT], truncate=truncate
        )
        return np.asarray(r.embeddings.float_)

    assert_close(embed("END"), reference_model.encode([LONG_TEXT]))
    tok = reference_model.tokenizer
    tok.truncation_side = "left"
    try:
        kept_end = reference_model.encode([LONG_TEXT])
    finally:
        tok.truncation_side = "right"
    assert_close(embed("START"), kept_end)
    with pytest.raises(cohere.UnprocessableEntityError) as info:
        embed("NONE")
    assert "is too long" in info.value.body["message"]
    assert f"the model's limit is {MAX_TOKENS}" in info.value.body["message"]


def test_max_tokens_cuts_from_the_side_truncate_names(co, reference_model):
    text = "the quick brown fox jumps"  # one token per word
    for truncate, kept in [("END", "the quick brown"), ("START", "brown fox jumps")]:
        r = co.embed(
            model=MODEL_ID, input_type="clustering", texts=[text], max_tokens=3, truncate=truncate
        )
        assert_close(r.embeddings.float_, reference_model.encode([kept]))
        assert r.texts == [text]


def test_input_type_picks_the_models_prompt(variants_server, reference_model):
    token = variants_server.token("cohere-prompts", write=False)
    co = cohere.ClientV2(api_key=token, base_url=variants_server.url)

    def embed(input_type: str) -> np.ndarray:
        r = co.embed(model="prompted", input_type=input_type, texts=TEXTS)
        return np.asarray(r.embeddings.float_)

    assert_close(embed("search_query"), reference_model.encode(TEXTS, prompt=PROMPTS["query"]))
    assert_close(
        embed("search_document"), reference_model.encode(TEXTS, prompt=PROMPTS["document"])
    )
    assert_close(embed("clustering"), reference_model.encode(TEXTS, prompt="cluster: "))
    assert_close(embed("classification"), reference_model.encode(TEXTS))  # none named so


def test_int8_needs_ranges_of_the_served_weights(variants_server):
    token = variants_server.token("cohere-ranges", write=False)
    co = cohere.ClientV2(api_key=token, base_url=variants_server.url)
    with pytest.raises(cohere.UnprocessableEntityError) as info:
        co.embed(model="prompted", input_type="search_query", texts=["x"], embedding_types=["int8"])
    message = info.value.body["message"]
    assert "none ship for prompted" in message and MODEL_ID in message
    # Ranges are filed under the bundled model's id; these weights pool otherwise.
    with pytest.raises(cohere.UnprocessableEntityError) as info:
        co.embed(model=MODEL_ID, input_type="search_query", texts=["x"], embedding_types=["uint8"])
    assert "computed from other weights" in info.value.body["message"]
    # Binary needs no ranges.
    r = co.embed(
        model="prompted", input_type="search_query", texts=["x"], embedding_types=["binary"]
    )
    assert np.asarray(r.embeddings.binary).shape == (1, DIM // 8)


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"texts": ["x"], "embedding_types": ["int4"]}, 422, "'int4', which is not one of float"),
        ({"texts": ["x"], "embedding_types": []}, 422, "`embedding_types` is empty"),
        ({"texts": []}, 400, "`texts` cannot be empty"),
        ({}, 400, "`texts` cannot be empty"),
        ({"texts": ["x", ""]}, 400, "`texts`[1] is an empty string"),
        ({"texts": ["x"], "output_dimension": DIM + 1}, 422, "between 1 and 384"),
        ({"texts": ["x"], "output_dimension": 0}, 422, "between 1 and 384"),
        ({"texts": ["x"], "output_dimension": 100, "embedding_types": ["int8"]}, 422, "not 100"),
        ({"texts": ["x"], "truncate": "MIDDLE"}, 422, "NONE, START, END"),
        ({"texts": ["x"], "input_type": "image"}, 422, "texts only"),
        ({"texts": ["x"], "input_type": "search"}, 422, "'search' is not one of search_query"),
        ({"images": ["data:image/png;base64,AA=="]}, 422, "`images` can't be embedded"),
        ({"texts": ["x"], "max_tokens": 0}, 422, "`max_tokens` must be 1 or more"),
        ({"texts": "x"}, 400, "texts"),
        (
            {"texts": ["x"], "model": "embed-english-v3.0"},
            404,
            "'embed-english-v3.0' is not served",
        ),
    ],
)
def test_bad_input_is_a_precise_4xx_in_cohere_shape(server, token, body, status, fragment):
    r = requests.post(f"{server.url}/v2/embed", headers=auth(token), json=body)
    assert r.status_code == status, r.text
    assert set(r.json()) == {"message"}, r.text
    assert fragment in r.json()["message"]


def test_errors_reach_the_client_as_its_own_exceptions(server):
    bad = cohere.ClientV2(api_key="eh_not_a_real_token", base_url=server.url)
    with pytest.raises(cohere.UnauthorizedError) as info:
        bad.embed(model=MODEL_ID, input_type="search_query", texts=["x"])
    assert set(info.value.body) == {"message"}
    r = requests.post(f"{server.url}/v2/embed", data=b"{not json")
    assert r.status_code == 400 and set(r.json()) == {"message"}
    r = requests.get(f"{server.url}/v2/nothing")
    assert r.status_code == 404 and "No route for GET /v2/nothing" in r.json()["message"]
