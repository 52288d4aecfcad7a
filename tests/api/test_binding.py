"""Bound to anything but loopback, inference needs a token; the API documents itself."""

import re

import requests

ROUTE = "/pipeline/feature-extraction/sentence-transformers/all-MiniLM-L6-v2"


def test_non_loopback_bind_requires_a_token(make_server):
    # 0.0.0.0 listens on every interface; the test still only talks to 127.0.0.1.
    server = make_server("--host", "0.0.0.0")
    anonymous = requests.post(server.url + ROUTE, json={"inputs": "hi"}, timeout=30)
    assert anonymous.status_code == 401
    assert "Authorization header is required" in anonymous.json()["error"]
    token = server.token("remote-user", write=False)
    ok = requests.post(
        server.url + ROUTE,
        json={"inputs": "hi"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert ok.status_code == 200 and len(ok.json()) == 384
    assert requests.get(f"{server.url}/health", timeout=10).status_code == 200


def test_openapi_docs_list_every_embedding_route(server):
    docs = requests.get(f"{server.url}/docs", timeout=10)
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    # Every asset the page loads is served by the server itself (no CDN: offline servers too).
    assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert assets and all(a.startswith("/docs/assets/") for a in assets), assets
    for asset in assets:
        got = requests.get(f"{server.url}{asset}", timeout=10)
        assert got.status_code == 200 and len(got.content) > 500, asset
    missing = requests.get(f"{server.url}/docs/assets/docs.py", timeout=10)
    assert missing.status_code == 404 and "No docs asset" in missing.text
    outside = requests.get(f"{server.url}/docs/assets/..%2F..%2Fconfig.py", timeout=10)
    assert outside.status_code == 404
    redoc = requests.get(f"{server.url}/redoc", timeout=10)
    assert redoc.status_code == 200 and redoc.url.endswith("/docs")
    paths = requests.get(f"{server.url}/openapi.json", timeout=10).json()["paths"]
    for path in (
        "/pipeline/feature-extraction/{model_id}",
        "/pipeline/sentence-similarity/{model_id}",
        "/models/{model_id}",
        "/",
        "/v1/embeddings",
        "/v1/models",
        "/embed",
        "/similarity",
        "/tokenize",
        "/info",
        "/health",
        "/metrics",
    ):
        assert path in paths, f"{path} missing from OpenAPI: {sorted(paths)}"
