"""The embedding APIs and the HTTP server under hostile clients (issue 8: D2, D3, D10, D16):
token ids counted before they are decoded, strict JSON, header limits and read timeouts, and
what a server that wants tokens shows without one. Each is a precise 4xx (or a closed
connection), never a 5xx, and the server stays healthy."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator

import numpy as np
import psutil
import pytest
import requests
from servers import Server, start_server, stop_server  # tests/servers.py

from .helpers import auth

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
MB = 1024 * 1024


# Every route that embeds or tokenizes, with a body carrying `texts` (a list), and its error
# shape.
def _pair(texts: list[str]) -> dict:
    return {"inputs": {"source_sentence": texts[0], "sentences": texts}}


ROUTES = [
    ("/embed", lambda t: {"inputs": t}, "tei"),
    ("/similarity", _pair, "tei"),
    ("/tokenize", lambda t: {"inputs": t}, "tei"),
    ("/v1/embeddings", lambda t: {"input": t, "model": MODEL}, "openai"),
    (f"/pipeline/feature-extraction/{MODEL}", lambda t: {"inputs": t}, "hf"),
    (f"/pipeline/sentence-similarity/{MODEL}", _pair, "hf"),
    (f"/models/{MODEL}", lambda t: {"inputs": t}, "hf"),
]


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Tokens required, short read timeouts, small header and token limits."""
    srv = start_server(
        tmp_path_factory.mktemp("embedhub-guarded"),
        "--require-token",
        "--header-timeout",
        "1.5",
        "--body-timeout",
        "1.5",
        "--max-headers",
        "30",
        "--max-header-bytes",
        "8192",
        "--max-request-tokens",
        "2000",
    )
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def reader(guarded) -> dict[str, str]:
    return auth(guarded.token("reader", write=False))


def _message(r: requests.Response, style: str) -> str:
    body = r.json()
    return body["error"]["message"] if style == "openai" else body["error"]


def _rss(server) -> int:
    return psutil.Process(server.proc.pid).memory_info().rss


def _send(url: str, data: bytes, wait: float = 10.0) -> bytes:
    """Writes `data` on a new connection, then reads until the server closes it."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as sock:
        sock.sendall(data)
        got = b""
        while chunk := sock.recv(65536):
            got += chunk
    return got


# --- D2: token ids and tokens are counted before the work -------------------------------
def test_990k_token_ids_are_refused_before_decoding(guarded, reader):
    before = _rss(guarded)
    body = b'{"model": "%s", "input": [' % MODEL.encode() + b",".join([b"1"] * 990_000) + b"]}"
    assert len(body) < 2_000_000  # the default body limit lets it in: the count must stop it
    r = requests.post(f"{guarded.url}/v1/embeddings", data=body, headers=reader, timeout=60)
    assert r.status_code == 422, r.text
    assert "990000 token ids" in _message(r, "openai")
    assert "--max-request-tokens" in _message(r, "openai")
    assert _rss(guarded) - before < 300 * MB
    assert requests.get(f"{guarded.url}/health", timeout=5).status_code == 200


@pytest.mark.parametrize(("path", "body", "style"), ROUTES)
def test_too_many_tokens_in_text_is_4xx_on_every_route(guarded, reader, path, body, style):
    texts = [f"sentence number {i} " * 60 for i in range(12)]  # ~12 x 256 tokens > 2000
    r = requests.post(f"{guarded.url}{path}", json=body(texts), headers=reader, timeout=60)
    assert r.status_code == (413 if style == "tei" else 422), r.text  # TEI: Validation is 413
    assert "--max-request-tokens" in _message(r, style)


def test_a_long_text_is_cut_not_refused(guarded, reader, reference_model):
    """Truncation drops all but the start: 1.5 MB of text costs what its start costs."""
    text = " ".join(f"w{i}" for i in range(200_000))
    r = requests.post(f"{guarded.url}/embed", json={"inputs": text}, headers=reader, timeout=60)
    assert r.status_code == 200, r.text
    expected = reference_model.encode([text[:5000]], normalize_embeddings=True)[0]
    assert float(np.dot(r.json()[0], expected)) > 0.9999


# --- D3: strict JSON, and token ids embedded as sent ---------------------------------------
@pytest.mark.parametrize(("path", "body", "style"), ROUTES)
def test_lone_surrogate_is_400_and_the_connection_goes_on(guarded, reader, path, body, style):
    host = guarded.url.removeprefix("http://")
    bad = b'{"inputs": "\\ud800", "input": "\\ud800", "model": "%s"}' % MODEL.encode()
    good = json.dumps(body(["fine"])).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {reader['Authorization']}\r\n"
        "Content-Type: application/json\r\nContent-Length: {n}\r\n\r\n"
    )
    # Two pipelined requests on one connection: the bad one must not take the good one down.
    data = head.format(n=len(bad)).encode() + bad + head.format(n=len(good)).encode() + good
    data += b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    got = _send(guarded.url, data)
    statuses = [int(code) for code in re.findall(rb"HTTP/1\.1 (\d{3}) ", got)]
    assert statuses == [400, 200, 200], got[:600]
    assert b"not valid JSON" in got and b"surrogate" in got


def test_special_token_ids_are_kept(server, reference_model):
    """[[100]] is [UNK]'s id: it is embedded as [UNK], not dropped (it was a 400)."""
    url = f"{server.url}/v1/embeddings"
    r = requests.post(url, json={"input": [[100]], "model": MODEL}, timeout=30)
    assert r.status_code == 200, r.text
    expected = reference_model.encode(["[UNK]"], normalize_embeddings=True)[0]
    assert float(np.dot(r.json()["data"][0]["embedding"], expected)) > 0.9999
    # Ids framed by [CLS] ... [SEP], as /tokenize gives them, embed as the text does.
    ids = [
        t["id"] for t in requests.post(f"{server.url}/tokenize", json={"inputs": "a b"}).json()[0]
    ]
    assert ids[0] == 101 and ids[-1] == 102
    framed = requests.post(url, json={"input": [ids], "model": MODEL}, timeout=30).json()
    text = requests.post(url, json={"input": "a b", "model": MODEL}, timeout=30).json()
    assert np.allclose(framed["data"][0]["embedding"], text["data"][0]["embedding"], atol=1e-6)


# --- D10: header limits and read timeouts -----------------------------------------------
def test_oversized_and_too_many_headers_are_431(guarded):
    big = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n"
    assert _send(guarded.url, big).startswith(b"HTTP/1.1 431")
    many = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"X-H: 1\r\n" * 40 + b"\r\n"
    got = _send(guarded.url, many)
    assert got.startswith(b"HTTP/1.1 431") and b"--max-headers" in got
    # A header that never ends is refused once it passes the limit, not buffered for ever.
    endless = b"GET /health HTTP/1.1\r\nX-Endless: " + b"a" * 64 * 1024
    assert _send(guarded.url, endless).startswith(b"HTTP/1.1 431")


def test_slow_clients_are_timed_out(guarded):
    host, port = guarded.url.removeprefix("http://").split(":")
    conns = []
    for _ in range(50):  # slowloris: heads that never finish
        s = socket.create_connection((host, int(port)), timeout=10)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        conns.append(s)
    body = socket.create_connection((host, int(port)), timeout=10)  # a body that stops
    body.sendall(b'POST /embed HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"inputs"')
    assert requests.get(f"{guarded.url}/health", timeout=5).status_code == 200
    started = time.monotonic()
    answers = [s.recv(4096) for s in conns]
    assert all(a.startswith(b"HTTP/1.1 408") for a in answers), answers[0]
    assert body.recv(4096) == b""  # closed: the app saw its client go
    assert time.monotonic() - started < 9  # bounded by the 1.5 s timeouts, not held for good
    for s in [*conns, body]:
        s.close()
    assert requests.get(f"{guarded.url}/health", timeout=5).status_code == 200


# --- D16: what a server that wants tokens shows without one -----------------------------
METADATA = ["/info", "/metrics", "/docs", "/redoc", "/openapi.json"]


def test_metadata_needs_a_token_when_tokens_are_required(guarded, reader):
    assert requests.get(f"{guarded.url}/health", timeout=5).status_code == 200
    for path in METADATA:
        r = requests.get(f"{guarded.url}{path}", timeout=10)
        assert r.status_code == 401, (path, r.status_code)
        assert requests.get(f"{guarded.url}{path}", headers=reader, timeout=10).ok, path


def test_public_metadata_is_a_choice(make_server):
    srv = make_server("--require-token", "--public-metadata")
    for path in METADATA:
        assert requests.get(f"{srv.url}{path}", timeout=10).status_code == 200, path
    r = requests.post(f"{srv.url}/embed", json={"inputs": "x"}, timeout=10)
    assert r.status_code == 401
