"""Routes carry their API: a small app built here, with one route of each API class, answers
a body over its limit with 413 in that route's shape (read from the route, not from its
path), counts it under the route in /metrics, and answers an unknown path in the shape of
the API whose routes share its first segment."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from fastapi import APIRouter, FastAPI, Request
from starlette.responses import PlainTextResponse, Response
from starlette.testclient import TestClient

from embedhub.api import errors
from embedhub.api.app import routes_of
from embedhub.api.metrics import Metrics
from embedhub.api.middleware import RequestMiddleware
from embedhub.api.routing import ApiRoute, HfRoute, OpenAIRoute, TeiRoute
from embedhub.config import Settings

# Paths unlike the real ones: the shape must come from the route class alone.
ROUTES: list[tuple[type[ApiRoute], str]] = [
    (TeiRoute, "/t/echo"),
    (OpenAIRoute, "/o/echo"),
    (HfRoute, "/h/echo"),
]


def make_app(limit: int) -> tuple[FastAPI, Metrics]:
    metrics = Metrics()
    app = FastAPI()
    app.state.ctx = SimpleNamespace(settings=Settings(payload_limit=limit))
    routers = []
    for route_class, path in ROUTES:
        router = APIRouter(route_class=route_class)

        @router.post(path)
        async def echo(request: Request) -> Response:
            return PlainTextResponse(f"read {len(await request.body())}")

        routers.append(router)
        app.include_router(router)
    errors.install(app, routes_of(routers))
    app.add_middleware(RequestMiddleware, metrics=metrics)
    return app, metrics


def message_of(route_class: type[ApiRoute], body: dict) -> str:
    if route_class is OpenAIRoute:
        assert body["error"]["code"] == "payload_too_large"
        return body["error"]["message"]
    if route_class is TeiRoute:
        assert body["error_type"] == "Validation"
    return body["error"]


@pytest.mark.parametrize(("route_class", "path"), ROUTES)
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_body_over_limit_is_413_in_the_route_shape(route_class, path, chunked):
    app, metrics = make_app(limit=10)
    client = TestClient(app)
    content = iter([b"x" * 6, b"x" * 5]) if chunked else b"x" * 11
    r = client.post(path, content=content)
    assert r.status_code == 413, r.text
    size = "more than 10 bytes" if chunked else "11 bytes"
    expected = f"Payload too large: {size}, the limit is 10 bytes (--payload-limit)"
    assert expected in message_of(route_class, r.json())
    assert r.headers["connection"] == "close"
    assert metrics.requests.labels(path, "413")._value.get() == 1
    assert client.post(path, content=b"x" * 10).text == "read 10"


def test_unknown_path_speaks_the_api_of_its_first_segment():
    client = TestClient(make_app(limit=10)[0])
    assert set(client.get("/o/nothing").json()["error"]) == {"message", "type", "param", "code"}
    assert client.get("/t/nothing").json()["error_type"] == "Validation"
    assert client.get("/elsewhere").json() == {"error": "No route for GET /elsewhere"}
