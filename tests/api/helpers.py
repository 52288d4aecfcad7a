"""Shared helpers for the API tests: texts, comparisons, error-shape checks, metrics."""

from __future__ import annotations

import numpy as np
import requests
from prometheus_client.parser import text_string_to_metric_families

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
DIM = 384
MAX_TOKENS = 256
SERVED = MODEL_ID

TEXTS = [
    "First text",
    "Hi!",
    "The weather is lovely today, so we walked along the river.",
    "Embeddings map sentences to points in a vector space.",
]

# Over 256 tokens, with a different subject at each end: cutting from the left or the right
# gives clearly different vectors.
LONG_TEXT = "The cat sat on the warm mat and purred. " * 40 + (
    "Stock markets fell sharply after the central bank raised interest rates. " * 40
)


def assert_close(actual, expected, tol: float = 1e-5) -> None:
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    diff = float(np.abs(actual - expected).max())
    assert diff < tol, f"max abs diff {diff} >= {tol}"


def cosine(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def assert_error(r: requests.Response, status: int, style: str, *fragments: str) -> str:
    """The status, the body shape of `style` ("hf", "openai", "tei"), and the message naming
    every fragment. Returns the message."""
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert "Traceback" not in r.text
    if style == "openai":
        assert set(body) == {"error"}, body
        err = body["error"]
        assert set(err) == {"message", "type", "param", "code"}, err
        assert isinstance(err["type"], str) and err["type"]
        message = err["message"]
    elif style == "tei":
        assert set(body) == {"error", "error_type"}, body
        assert isinstance(body["error_type"], str) and body["error_type"]
        message = body["error"]
    else:
        assert set(body) == {"error"}, body
        message = body["error"]
    assert isinstance(message, str) and message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


def metric(url: str, name: str, **labels: str) -> float:
    """Sum of the samples called `name` whose labels include `labels` (0 when none)."""
    text = requests.get(f"{url}/metrics", timeout=10).text
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
