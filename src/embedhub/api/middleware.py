"""Pure ASGI middleware (the app runs in the server's own task, with no wrapper task around
it): request ids, the total time, request metrics by route and the access log (access_log.py).
What an embedding route does to its own request (body limit, JSON bodies, cancelling when the
client leaves) is the route's business: see routing.ApiRoute."""

from __future__ import annotations

import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from embedhub.api.access_log import log_request
from embedhub.api.metrics import Metrics
from embedhub.api.routing import CLIENT_GONE, FAILURE, STARTED, TE_METHOD, ApiRoute

# nginx's code for "client closed the request": what /metrics counts such requests as.
CLIENT_GONE_STATUS = 499


class RequestMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        scope[STARTED] = start
        request_id = _header(scope, b"x-request-id") or uuid.uuid4().hex
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                headers.append(
                    (b"x-total-time", str(int((time.perf_counter() - start) * 1000)).encode())
                )
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            if scope.get(CLIENT_GONE):
                status = CLIENT_GONE_STATUS
            label = getattr(scope.get("route"), "path", None) or "unmatched"
            elapsed = time.perf_counter() - start
            self.metrics.requests.labels(label, str(status)).inc()
            self.metrics.request_seconds.labels(label).observe(elapsed)
            log_request(scope, status, elapsed, request_id)
            if isinstance(scope.get("route"), ApiRoute) and scope.get("method") == "POST":
                self._count_tei(scope, status, elapsed)

    def _count_tei(self, scope: Scope, status: int, seconds: float) -> None:
        """An inference request, as TEI counts it (te_request_*)."""
        tei = self.metrics.tei
        method = scope.get(TE_METHOD, "batch")
        tei.request_count.inc(method)
        if status < 400:
            tei.request_success.inc(method)
            tei.request_duration.observe(seconds)
        else:
            tei.request_failure.inc(scope.get(FAILURE, "validation"))


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None
