"""The request middleware around a bare ASGI app (no FastAPI error handling in between): a body
over the limit still gets a 413 in the route's API shape, with nothing of it handed on."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from embedhub.api.metrics import Metrics
from embedhub.api.middleware import RequestMiddleware


async def reads_the_body(scope, receive, send):  # type: ignore[no-untyped-def]
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"read"})


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/embed", {"error_type": "payload_limit"}),
        ("/v1/embeddings", {"error": {"code": "payload_too_large"}}),
        ("/pipeline/feature-extraction/m", {}),
    ],
)
def test_body_over_limit_outside_the_app_is_413_in_the_route_shape(path, expected):
    app = RequestMiddleware(reads_the_body, metrics=Metrics(), payload_limit=10)
    client = TestClient(app)  # no lifespan: the bare app has none
    r = client.post(path, content=b"x" * 11)
    assert r.status_code == 413
    body = r.json()
    message = body["error"]["message"] if "/v1/" in path else body["error"]
    assert "Payload too large: 11 bytes, the limit is 10 bytes" in message
    for key, value in expected.items():
        if isinstance(value, dict):
            assert body[key].items() >= value.items()
        else:
            assert body[key] == value
    assert client.post(path, content=b"x" * 10).text == "read"
