"""Runtimes: onnx (the default) and torch both give encode()'s vectors."""

import os
from pathlib import Path

import numpy as np
import requests

TEXTS = [
    "First text",
    "Hi!",
    "A somewhat longer sentence about embeddings served on plain CPUs, with punctuation.",
    "word " * 300,  # past the 256-token limit: truncated like encode() does
]
ROUTE = "/pipeline/feature-extraction/sentence-transformers/all-MiniLM-L6-v2"


def test_default_runtime_is_onnx_and_matches_sentence_transformers(server, reference_model):
    assert requests.get(f"{server.url}/info", timeout=10).json()["runtime"] == "onnx"
    got = np.asarray(requests.post(server.url + ROUTE, json={"inputs": TEXTS}, timeout=120).json())
    assert got.shape == (4, 384)
    assert np.abs(got - reference_model.encode(TEXTS)).max() < 1e-5
    # The exported graph is cached (tests/conftest.py points every server at one cache).
    cache = Path(os.environ["EMBEDHUB_ONNX_CACHE_DIR"])
    assert list(cache.glob("*/model.onnx"))


def test_torch_runtime_matches_sentence_transformers(make_server, reference_model):
    server = make_server("--runtime", "torch")
    assert requests.get(f"{server.url}/info", timeout=10).json()["runtime"] == "torch"
    got = np.asarray(requests.post(server.url + ROUTE, json={"inputs": TEXTS}, timeout=120).json())
    assert np.abs(got - reference_model.encode(TEXTS)).max() < 1e-5
