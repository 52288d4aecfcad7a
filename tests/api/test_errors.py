"""Bad input, in each API's status and body shape: never a 500, never a traceback."""

from __future__ import annotations

import json
import re

import pytest
import requests

from .helpers import LONG_TEXT, MODEL_ID, assert_error, auth

FE = f"/pipeline/feature-extraction/{MODEL_ID}"
SIM = f"/pipeline/sentence-similarity/{MODEL_ID}"
OAI = "/v1/embeddings"


def _oai(**body):
    return {"model": MODEL_ID, **body}


# (path, JSON body, status, style, fragments the message must contain)
CASES = [
    # unknown model: 404 naming the served models
    ("/pipeline/feature-extraction/acme/nope", {"inputs": "x"}, 404, "hf", ["acme/nope", MODEL_ID]),
    ("/models/acme/nope", {"inputs": "x"}, 404, "hf", ["acme/nope", MODEL_ID]),
    (OAI, {"model": "acme/nope", "input": "x"}, 404, "openai", ["acme/nope", MODEL_ID]),
    ("/embed", {"inputs": "x", "model": "acme/nope"}, 404, "tei", ["acme/nope", MODEL_ID]),
    # empty
    (FE, {"inputs": []}, 400, "hf", ["cannot be empty"]),
    (FE, {"inputs": [""]}, 400, "hf", ["empty string"]),
    (SIM, {"inputs": {"source_sentence": "a", "sentences": []}}, 400, "hf", ["`sentences`"]),
    (OAI, _oai(input=[]), 400, "openai", ["`input` cannot be empty"]),
    (OAI, _oai(input=[[]]), 400, "openai", ["empty list of token ids"]),
    ("/embed", {"inputs": []}, 400, "tei", ["cannot be empty"]),
    ("/similarity", {"inputs": {"source_sentence": "a", "sentences": []}}, 400, "tei", ["empty"]),
    ("/tokenize", {"inputs": []}, 400, "tei", ["cannot be empty"]),
    # not strings (nor token ids, on TEI): TEI answers 422 for everything; HF and OpenAI
    # answer schema errors 400, and HF's own element check (its schema takes any list) 422
    ("/embed", {"inputs": [1.5]}, 422, "tei", ["Invalid request body", "inputs"]),
    ("/embed", {"inputs": ["a", 2]}, 422, "tei", ["Invalid request body", "inputs"]),
    ("/embed", {"inputs": 5}, 422, "tei", ["Invalid request body", "inputs"]),
    ("/embed", {"inputs": [[]]}, 400, "tei", ["`inputs`[0] is an empty list of token ids"]),
    ("/embed", {"inputs": [99999999]}, 422, "tei", ["outside the model's vocabulary"]),
    (
        "/similarity",
        {"inputs": {"source_sentence": "a", "sentences": [1]}},
        422,
        "tei",
        ["sentences"],
    ),
    (FE, {"inputs": 5}, 400, "hf", ["Invalid request body", "inputs"]),
    (FE, {"inputs": None}, 400, "hf", ["Invalid request body"]),
    (FE, {}, 400, "hf", ["inputs: Field required"]),
    (FE, {"inputs": ["ok", 3]}, 422, "hf", ["`inputs`[1] must be a string, got int"]),
    (SIM, {"inputs": ["a"]}, 422, "hf", ["source_sentence"]),
    (OAI, _oai(input=[1.5]), 400, "openai", ["Invalid request body"]),
    (OAI, _oai(input=[True]), 400, "openai", ["Invalid request body"]),
    (OAI, _oai(input=[None]), 400, "openai", ["Invalid request body"]),
    (OAI, {"model": 3, "input": "x"}, 400, "openai", ["model: Input should be a valid string"]),
    (OAI, _oai(input="x", encoding_format="int8"), 400, "openai", ["encoding_format"]),
    (OAI, _oai(input=[99999999]), 422, "openai", ["outside the model's vocabulary"]),
    (OAI, _oai(input=[-1]), 422, "openai", ["outside the model's vocabulary"]),
    # bad dimensions: 422 naming the range (schema type errors: 400 outside TEI); TEI answers
    # its Validation errors 413
    (FE, {"inputs": "x", "dimensions": 0}, 422, "hf", ["between 1 and 384, got 0"]),
    (FE, {"inputs": "x", "parameters": {"dimensions": 385}}, 422, "hf", ["got 385"]),
    (FE, {"inputs": "x", "dimensions": "abc"}, 400, "hf", ["dimensions"]),
    (OAI, _oai(input="x", dimensions=-3), 422, "openai", ["between 1 and 384, got -3"]),
    ("/embed", {"inputs": "x", "dimensions": 1000}, 413, "tei", ["between 1 and 384"]),
    # other option errors
    (FE, {"inputs": "x", "truncation_direction": "up"}, 422, "hf", ["truncation_direction"]),
    (FE, {"inputs": "x", "prompt_name": "nope"}, 422, "hf", ["prompt_name 'nope'"]),
    (FE, {"inputs": "x", "encoding_format": "base64"}, 422, "hf", ["encoding_format"]),
    ("/tokenize", {"inputs": "x", "prompt_name": "nope"}, 413, "tei", ["nope"]),
    ("/decode", {"ids": [[101, -1]]}, 422, "tei", ["outside the model's vocabulary"]),
    ("/decode", {"ids": []}, 400, "tei", ["`ids` cannot be empty"]),
]


def _case_id(case) -> str:
    path, body, status = case[0], case[1], case[2]
    return f"{status}-{path.split('/')[1] or 'root'}-{json.dumps(body)[:40]}"


@pytest.mark.parametrize(
    ("path", "body", "status", "style", "fragments"), CASES, ids=[_case_id(c) for c in CASES]
)
def test_bad_input(server, token, path, body, status, style, fragments):
    r = requests.post(f"{server.url}{path}", headers=auth(token), json=body)
    message = assert_error(r, status, style, *fragments)
    if status == 404 and style == "openai":
        assert r.json()["error"]["code"] == "model_not_found"
    if style == "tei":  # TEI's ErrorType, as serde writes it
        expected = {400: "Empty", 404: "Validation", 413: "Validation", 422: "Validation"}[status]
        if "vocabulary" in message:
            expected = "Tokenizer"
        assert r.json()["error_type"] == expected


@pytest.mark.parametrize(
    ("path", "style", "body"),
    [
        (FE, "hf", {"inputs": LONG_TEXT, "truncate": False}),
        (FE, "hf", {"inputs": ["short", LONG_TEXT], "parameters": {"truncate": False}}),
        ("/embed", "tei", {"inputs": [LONG_TEXT], "truncate": False}),
    ],
)
def test_too_long_without_truncation(server, token, tokenizer, path, style, body):
    n = len(tokenizer(LONG_TEXT)["input_ids"])
    assert n > 256
    r = requests.post(f"{server.url}{path}", headers=auth(token), json=body)
    status = 413 if style == "tei" else 422  # TEI answers its Validation errors 413
    message = assert_error(r, status, style, "256", "tokens", "too long")
    # The count is exact, or a lower bound when only the text's start was tokenized (a text
    # far longer than the model reads is cut first: engine/cut.py).
    counted = int(re.search(r"(\d+) tokens", message).group(1))
    assert counted == n or (256 < counted < n and f"more than {counted}" in message)


@pytest.mark.parametrize(("path", "style"), [(FE, "hf"), (OAI, "openai"), ("/embed", "tei")])
@pytest.mark.parametrize("ctype", ["application/json", "application/x-www-form-urlencoded"])
def test_invalid_json(server, token, path, style, ctype):
    r = requests.post(
        f"{server.url}{path}",
        data=b'{"inputs": ["unterminated',
        headers={**auth(token), "Content-Type": ctype},
    )
    assert_error(r, 400, style, "not valid JSON")


@pytest.mark.parametrize(("path", "style"), [(FE, "hf"), (OAI, "openai"), ("/embed", "tei")])
def test_bad_token_is_401(server, path, style):
    r = requests.post(
        f"{server.url}{path}",
        headers=auth("eh_wrong"),
        json={"inputs": "x", "input": "x", "model": MODEL_ID},
    )
    assert_error(r, 401, style, "Invalid credentials")
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_unknown_route_is_404_json(server):
    r = requests.get(f"{server.url}/no/such/route")
    assert_error(r, 404, "hf", "No route for GET /no/such/route")
    r = requests.get(f"{server.url}/v1/nothing")
    assert_error(r, 404, "openai", "/v1/nothing")


def test_over_default_payload_limit_is_413(server, token):
    body = json.dumps({"inputs": ["x" * 1000] * 2100}).encode()  # > 2,000,000 bytes
    r = requests.post(f"{server.url}/embed", data=body, headers=auth(token))
    assert_error(r, 413, "tei", "2000000", "--payload-limit")
    assert server.alive()
