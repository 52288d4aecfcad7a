"""`--runtime onnx`: ONNX Runtime runs the transformer; vectors still equal encode()."""

import numpy as np
import requests

TEXTS = [
    "First text",
    "Hi!",
    "A somewhat longer sentence about embeddings served on plain CPUs, with punctuation.",
    "word " * 300,  # past the 256-token limit: truncated like encode() does
]


def test_onnx_runtime_matches_sentence_transformers(make_server, reference_model):
    server = make_server("--runtime", "onnx")
    url = f"{server.url}/pipeline/feature-extraction/sentence-transformers/all-MiniLM-L6-v2"
    got = np.asarray(requests.post(url, json={"inputs": TEXTS}, timeout=120).json())
    want = reference_model.encode(TEXTS)
    assert got.shape == (4, 384)
    assert np.abs(got - want).max() < 1e-5
    # The exported graph is cached in the data directory for the next start.
    assert list((server.data_dir / "onnx").glob("*/model.onnx"))
