"""Every error in the shape of the API the client speaks: HF `{"error"}`, OpenAI's nested
object, TEI's `{"error", "error_type"}`. Nothing a client sends ends in a 500 with a traceback."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from embedhub.errors import EmbedhubError, Kind

log = logging.getLogger("embedhub.api")

TEI_PATHS = frozenset({"/embed", "/similarity", "/tokenize", "/info", "/health", "/metrics"})
_HTTP_KINDS = {
    400: Kind.BAD_REQUEST,
    401: Kind.UNAUTHORIZED,
    403: Kind.FORBIDDEN,
    404: Kind.NOT_FOUND,
    413: Kind.TOO_LARGE,
    429: Kind.OVERLOADED,
}


def style_of(path: str) -> str:
    if path.startswith("/v1/"):
        return "openai"
    if path in TEI_PATHS:
        return "tei"
    return "hf"


def error_response(path: str, err: EmbedhubError, status: int | None = None) -> Response:
    status = status or err.kind.status
    style = style_of(path)
    headers = dict(err.headers)
    if style == "openai":
        body: dict = {
            "error": {
                "message": err.message,
                "type": err.kind.openai_type,
                "param": err.param,
                "code": err.code or err.kind.name.lower(),
            }
        }
    elif style == "tei":
        body = {"error": err.message, "error_type": err.kind.tei_type}
    else:
        body = {"error": err.message}
        if err.code:
            headers["X-Error-Code"] = err.code
    return JSONResponse(body, status_code=status, headers=headers)


def _describe(errors: list[dict]) -> str:
    parts = []
    for e in errors[:5]:
        loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
        parts.append(f"{loc or 'body'}: {e.get('msg', 'invalid')}")
    return "; ".join(parts)


async def _embedhub_error(request: Request, exc: EmbedhubError) -> Response:
    return error_response(request.url.path, exc)


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        err = EmbedhubError(Kind.BAD_REQUEST, "The request body is not valid JSON")
        return error_response(request.url.path, err)
    message = f"Invalid request body: {_describe(errors)}"
    # TEI answers schema errors with 422; the HF and OpenAI APIs with 400.
    kind = Kind.VALIDATION if style_of(request.url.path) == "tei" else Kind.BAD_REQUEST
    return error_response(request.url.path, EmbedhubError(kind, message))


async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    kind = _HTTP_KINDS.get(exc.status_code, Kind.BAD_REQUEST)
    message = str(exc.detail)
    if exc.status_code == 404 and message == "Not Found":
        message = f"No route for {request.method} {request.url.path}"
    # 413 here is the middleware refusing a body over --payload-limit (see middleware._limited).
    code = "payload_too_large" if exc.status_code == 413 else None
    err = EmbedhubError(kind, message, code=code, headers=dict(exc.headers or {}))
    return error_response(request.url.path, err, status=exc.status_code)


async def _unexpected(request: Request, exc: Exception) -> Response:
    # A bug on our side: log the traceback, tell the client only that it happened.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    err = EmbedhubError(Kind.BACKEND, "Internal server error (logged on the server)")
    return error_response(request.url.path, err, status=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(EmbedhubError, _embedhub_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)
