"""Routes that know their own API. Each embedding route's class says which API it belongs to
(the error shape its clients expect) and which body limit guards it; the error handlers and
the body reading below take both from the matched route, never from lists of paths. A new
route joins its API by being declared on that API's router.

What an embedding route does around its handler (see `ApiRoute.handle`):
- refuses a body over its limit, at once when Content-Length says so (nothing of it is read),
  else when the bytes read pass it (chunked). The refusal is raised inside the route, so it
  is answered in the route's shape and /metrics counts it under the route;
- takes the body as JSON whatever the client labels it (`curl -d` says form-urlencoded, and
  the HF Inference API has always accepted that), and strict JSON at that: orjson refuses what
  Python's json module lets through (a lone surrogate such as "\ud800", NaN, Infinity), so no
  text that isn't Unicode ever reaches a tokenizer and the client gets a 400 that says why;
- cancels itself when its client disconnects before the answer starts: a client that timed
  out would otherwise still have its inputs embedded, and under overload (when clients time
  out) that is work that delays everyone else."""

from __future__ import annotations

import asyncio
import enum
import re
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, ClassVar, TypeVar

import orjson
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import Message, Receive, Scope, Send

from embedhub.api import schemas
from embedhub.config import flag_of
from embedhub.errors import too_large_message

F = TypeVar("F", bound=Callable[..., Any])
# Set in the scope when a route gave up because its client went away (see ApiRoute.handle).
CLIENT_GONE = "embedhub.client_gone"
# Set by the middleware: when the request arrived (time.perf_counter), for x-compute-time.
STARTED = "embedhub.started"
# Set by an inference route: "single" or "batch" (TEI's te_request_count `method` label).
TE_METHOD = "embedhub.te_method"
# Set by the error handlers: why the request failed, as TEI's te_request_failure `err` label.
FAILURE = "embedhub.failure"


class Style(enum.Enum):
    """The error shape of an API: HF `{"error"}`, OpenAI's nested object, TEI's
    `{"error", "error_type"}`, Cohere's `{"message"}`."""

    HF = "hf"
    OPENAI = "openai"
    TEI = "tei"
    COHERE = "cohere"


class ApiRoute(APIRoute):
    """An embedding-API route. Subclasses name their API; routers declare them with
    `APIRouter(route_class=...)`. /openapi.json lists every status the route can answer,
    with its API's error body (`documented_errors`)."""

    style: ClassVar[Style] = Style.HF
    # The Settings field that limits this route's request body (None: no limit here).
    body_limit: ClassVar[str | None] = "payload_limit"

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        self.responses = {**documented_errors(self), **self.responses}

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(_StrictJsonRequest(request.scope, request.receive))

        return strict

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().handle(scope, receive, send)
            return
        guard = _CancelOnDisconnect(receive)
        receive = guard.receive
        if self.body_limit is not None:
            limit = int(getattr(scope["app"].state.ctx.settings, self.body_limit))
            flag = flag_of(self.body_limit)
            receive = _limited(receive, limit, flag, _header(scope, b"content-length"))

        async def send_marking(message: Message) -> None:
            if message["type"] == "http.response.start":
                guard.responded = True
            await send(message)

        try:
            await super().handle(_as_json(scope), receive, send_marking)
        except asyncio.CancelledError:
            if not guard.fired:
                raise  # the server is shutting down, not ours to swallow
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            scope[CLIENT_GONE] = True
        finally:
            guard.close()


class HfRoute(ApiRoute):
    style = Style.HF


class OpenAIRoute(ApiRoute):
    style = Style.OPENAI


class TeiRoute(ApiRoute):
    style = Style.TEI


class CohereRoute(ApiRoute):
    style = Style.COHERE


ERROR_BODIES: dict[Style, type[BaseModel]] = {
    Style.HF: schemas.HfError,
    Style.OPENAI: schemas.OpenAIError,
    Style.TEI: schemas.TeiError,
    Style.COHERE: schemas.CohereError,
}
# What each status means on an embedding route (any API).
_MEANINGS = {
    400: "The body is not JSON, or an input is empty",
    401: "No token where one is required, or an unknown token",
    404: "The model asked for is not served here",
    413: "The body is over the payload limit; on TEI routes also too many or too long "
    "inputs (TEI's Validation)",
    422: "A field has the wrong type or value, or the tokenizer refused an input",
    424: "The model can't do this (e.g. a rerank of an embedding model), or it failed",
    429: "Too many requests in flight: retry after Retry-After seconds",
}


def raises(*statuses: int) -> Callable[[F], F]:
    """Declare the statuses a dependency may answer with, for /openapi.json."""

    def mark(dependency: F) -> F:
        setattr(dependency, "statuses", statuses)  # noqa: B010 (mypy: no attribute otherwise)
        return dependency

    return mark


def documented_errors(route: ApiRoute) -> dict[int | str, dict[str, Any]]:
    """The error answers of `route`: its dependencies' (auth: 401); for a route with a body,
    a bad body (400, 413, 422), an unknown model when it names one (404), and what the
    engine answers (424, 429)."""
    statuses: set[int] = set()
    stack = list(route.dependant.dependencies)
    while stack:
        dependency = stack.pop()
        statuses.update(getattr(dependency.call, "statuses", ()))
        stack.extend(dependency.dependencies)
    if route.body_field is not None:
        statuses |= {400, 413, 422, 424, 429}
        if _names_a_model(route):
            statuses.add(404)
    body = ERROR_BODIES[route.style]
    return {s: {"model": body, "description": _MEANINGS[s]} for s in sorted(statuses)}


def _names_a_model(route: APIRoute) -> bool:
    if "model_id" in route.param_convertors:
        return True
    info = getattr(route.body_field, "field_info", None)
    return "model" in getattr(getattr(info, "annotation", None), "model_fields", {})


def first_segment(path: str) -> str | None:
    """`/v1/embeddings` -> `v1`; None for `/` and for a path that starts with a parameter."""
    segment = path.lstrip("/").split("/", 1)[0]
    return segment.lower() if segment and "{" not in segment else None


def first_names(route: BaseRoute) -> set[str]:
    """The first path segments a route answers literally: its first segment, or the few
    words a parameter there may be (`/{prefix:repoprefix}/...`: datasets, spaces). None for
    a parameter that takes any name (`/{namespace}/...`)."""
    path = getattr(route, "path", "")
    if (literal := first_segment(path)) is not None:
        return {literal}
    param = re.fullmatch(r"/\{(\w+)(?::\w+)?\}(?:/.*)?", path)
    convertors = getattr(route, "param_convertors", {})
    regex = getattr(convertors.get(param.group(1)) if param else None, "regex", "")
    if re.fullmatch(r"[\w.-]+(\|[\w.-]+)*", regex):
        return set(regex.lower().split("|"))
    return set()


def styles_by_segment(routes: Iterable[BaseRoute]) -> dict[str, Style]:
    """First path segment -> the API of the routes under it: what an unknown path under
    `/v1/` is answered in."""
    found: dict[str, Style] = {}
    for route in routes:
        segment = first_segment(getattr(route, "path", ""))
        if segment is not None and isinstance(route, ApiRoute):
            found.setdefault(segment, route.style)
    return found


def style_of(scope: Scope, by_segment: dict[str, Style]) -> Style:
    route = scope.get("route")
    if isinstance(route, ApiRoute):
        return route.style
    segment = first_segment(scope.get("path", ""))
    return by_segment.get(segment or "", Style.HF)


class TooLarge(StarletteHTTPException):
    """Raised from `receive` when a body is over the limit. FastAPI re-raises HTTPExceptions
    from body reading (any other exception becomes a 400 "error parsing the body"), so the
    app's handler answers 413 in the route's shape. The connection closes: the unread rest
    of the body must not be taken for the next request."""

    def __init__(self, limit: int, flag: str, length: int | None = None) -> None:
        advice = "send fewer or shorter inputs per request"
        message = too_large_message(length, limit, flag, advice)
        super().__init__(413, message, headers={"Connection": "close"})


def _limited(receive: Receive, limit: int, flag: str, content_length: str | None) -> Receive:
    seen = 0
    declared = int(content_length) if content_length and content_length.isdigit() else None

    async def wrapped() -> Message:
        nonlocal seen
        if declared is not None and declared > limit:
            raise TooLarge(limit, flag, declared)
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > limit:
            raise TooLarge(limit, flag)
        return message

    return wrapped


class _CancelOnDisconnect:
    """Cancels the request's task when its client disconnects before the response starts.
    Once the body has been read, the server's next `receive()` message is `http.disconnect`,
    so one watcher task waits for it."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._task = asyncio.current_task()
        self._watcher: asyncio.Task | None = None
        self.responded = False
        self.fired = False

    async def receive(self) -> Message:
        message = await self._receive()
        if (
            self._watcher is None
            and message["type"] == "http.request"
            and not message.get("more_body", False)
        ):
            self._watcher = asyncio.get_running_loop().create_task(self._watch())
        return message

    async def _watch(self) -> None:
        message = await self._receive()
        if message["type"] == "http.disconnect" and not self.responded and self._task:
            self.fired = True
            self._task.cancel()

    def close(self) -> None:
        if self._watcher is not None and not self._watcher.done():
            self._watcher.cancel()


class _StrictJsonRequest(Request):
    """Parses the body with orjson. Its JSONDecodeError is json's, so FastAPI answers it
    as it does any body that isn't JSON (a `json_invalid` validation error)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = orjson.loads(await self.body())
        return self._json


def _as_json(scope: Scope) -> Scope:
    """The scope with its body labelled JSON. Changed in place: the middleware reads what the
    route notes in this same scope (its TEI method, why it failed)."""
    ctype = _header(scope, b"content-type") or ""
    if "json" in ctype:
        return scope
    headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
    headers.append((b"content-type", b"application/json"))
    scope["headers"] = headers
    return scope


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None
