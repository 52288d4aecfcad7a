"""Runtimes: openvino (the default), onnx and torch all give encode()'s vectors, and /info and
/v1/models say which one runs."""

import os
from pathlib import Path

import numpy as np
import pytest
import requests

TEXTS = [
    "First text",
    "Hi!",
    "A somewhat longer sentence about embeddings served on plain CPUs, with punctuation.",
    "word " * 300,  # past the 256-token limit: truncated like encode() does
    "  spaces around, tabs\tand\nnew lines  ",
    "Ünïcödé, 中文 and emoji 😀",
]
ROUTE = "/pipeline/feature-extraction/sentence-transformers/all-MiniLM-L6-v2"


def embed(server, texts, **params):
    r = requests.post(server.url + ROUTE, json={"inputs": texts, **params}, timeout=120)
    assert r.status_code == 200, r.text
    return np.asarray(r.json())


def test_default_runtime_is_openvino_fp32_and_matches_encode(server, reference_model):
    info = requests.get(f"{server.url}/info", timeout=10).json()
    assert (info["runtime"], info["precision"], info["quality"]) == ("openvino", "fp32", None)
    listed = requests.get(f"{server.url}/v1/models", timeout=10).json()["data"][0]
    assert (listed["runtime"], listed["precision"]) == ("openvino", "fp32")
    assert np.abs(embed(server, TEXTS) - reference_model.encode(TEXTS)).max() < 1e-5
    # Texts of many lengths in one request: batched and padded together, still exact.
    many = [" ".join(["token"] * n) for n in range(1, 300, 7)]
    assert np.abs(embed(server, many) - reference_model.encode(many)).max() < 1e-5
    # The converted graph is cached (tests/conftest.py points every server at one cache).
    cache = Path(os.environ["EMBEDHUB_ONNX_CACHE_DIR"])
    assert list(cache.glob("*/model.xml"))


@pytest.mark.parametrize("runtime", ["onnx", "torch"])
def test_other_runtimes_match_encode(make_server, reference_model, runtime):
    server = make_server("--runtime", runtime)
    info = requests.get(f"{server.url}/info", timeout=10).json()
    assert (info["runtime"], info["precision"]) == (runtime, "fp32")
    assert np.abs(embed(server, TEXTS) - reference_model.encode(TEXTS)).max() < 1e-5
