"""Pure ASGI middleware (the app runs in the server's own task, with no wrapper task around
it): request ids, request metrics, the body-size limit for embedding requests, and cancelling
an embedding request whose client has gone away (one small watcher task per such request)."""

from __future__ import annotations

import asyncio
import time
import uuid

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from embedhub import errors
from embedhub.api.errors import http_error
from embedhub.api.metrics import Metrics

# nginx's code for "client closed the request": what /metrics counts such requests as.
CLIENT_GONE = 499
# Embedding requests are small; the hub's uploads have their own limit.
LIMITED_PREFIXES = ("/pipeline/", "/models/", "/v1/", "/embed", "/similarity", "/tokenize")


def is_limited(method: str, path: str) -> bool:
    return method == "POST" and (path == "/" or path.startswith(LIMITED_PREFIXES))


class RequestMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics, payload_limit: int) -> None:
        self.app = app
        self.metrics = metrics
        self.payload_limit = payload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = _header(scope, b"x-request-id") or uuid.uuid4().hex
        status = 500
        guard: _CancelOnDisconnect | None = None

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if guard is not None:
                    guard.responded = True
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                headers.append(
                    (b"x-total-time", str(int((time.perf_counter() - start) * 1000)).encode())
                )
                message = {**message, "headers": headers}
            await send(message)

        try:
            if is_limited(scope["method"], scope["path"]):
                guard = _CancelOnDisconnect(receive)
                receive = self._limited(guard.receive, _header(scope, b"content-length"))
                scope = _as_json(scope)
            await self.app(scope, receive, send_wrapper)
        except _TooLarge as exc:  # raised outside the app's own error handling
            await (await http_error(Request(scope), exc))(scope, receive, send_wrapper)
        except asyncio.CancelledError:
            if guard is None or not guard.fired:
                raise  # the server is shutting down, not ours to swallow
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
            status = CLIENT_GONE
        finally:
            if guard is not None:
                guard.close()
            route = scope.get("route")
            label = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(label, str(status)).inc()
            self.metrics.request_seconds.labels(label).observe(time.perf_counter() - start)

    def _limited(self, receive: Receive, content_length: str | None) -> Receive:
        """`receive`, refusing a body over the limit: at once when Content-Length says so
        (nothing of it is read), else when the bytes read pass it (chunked). Refused from
        inside the app, so it is routed: the answer has the route's shape and /metrics
        counts it under the route."""
        seen = 0
        declared = int(content_length) if content_length and content_length.isdigit() else None

        async def wrapped() -> Message:
            nonlocal seen
            if declared is not None and declared > self.payload_limit:
                raise _TooLarge(self.payload_limit, declared)
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.payload_limit:
                raise _TooLarge(self.payload_limit)
            return message

        return wrapped


class _CancelOnDisconnect:
    """Cancels the request's task when its client disconnects before the response starts.

    Why: a client that timed out and went away would otherwise still have its inputs embedded,
    and under overload (when clients time out) that is work that delays everyone else. Once the
    body has been read, the server's next `receive()` message is `http.disconnect`, so one
    watcher task waits for it."""

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


def too_large_message(length: int | None, limit: int) -> str:
    return errors.too_large_message(
        length, limit, "--payload-limit", "send fewer or shorter inputs per request"
    )


def _as_json(scope: Scope) -> Scope:
    """Embedding bodies are JSON whatever the client says: `curl -d '{...}'` labels them
    form-urlencoded, and the HF Inference API has always accepted that."""
    ctype = _header(scope, b"content-type") or ""
    if "json" in ctype:
        return scope
    headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
    headers.append((b"content-type", b"application/json"))
    return {**scope, "headers": headers}


class _TooLarge(StarletteHTTPException):
    """Raised from `receive` when a body is over the limit. FastAPI re-raises HTTPExceptions
    from body reading (any other exception becomes a 400 "error parsing the body"), so the
    app's handler answers 413 in the route's shape. The connection closes: the unread rest
    of the body must not be taken for the next request."""

    def __init__(self, limit: int, length: int | None = None) -> None:
        super().__init__(413, too_large_message(length, limit), headers={"Connection": "close"})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None
