"""Every error in the shape of the API the client speaks: HF `{"error"}`, OpenAI's nested
object, TEI's `{"error", "error_type"}`, Cohere's `{"message"}`. The one place where a failure
(the engine's, or the API's and hub's own) becomes an HTTP status, body and headers. Nothing a
client sends ends in a 500 with a traceback."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from embedhub.api.routing import FAILURE, Style, style_of, styles_by_segment
from embedhub.engine import EngineError, EngineErrorKind
from embedhub.errors import EmbedhubError, Kind

log = logging.getLogger("embedhub.api")


@dataclass(frozen=True)
class Wire:
    """How a kind of failure goes over the wire: its status, TEI `error_type`, OpenAI type,
    and TEI's own status for it where TEI differs (TEI answers every Validation with 413)."""

    status: int
    tei_type: str
    openai_type: str
    tei_status: int | None = None


_INVALID = "invalid_request_error"
# TEI's error types are its ErrorType enum as serde writes it: Unhealthy, Backend, Overloaded,
# Validation, Tokenizer, Empty. A failure TEI has no type for (auth, an unknown model, a body
# over the limit) is a Validation: the request was refused before any model work.
_V = "Validation"
WIRE: dict[Kind | EngineErrorKind, Wire] = {
    Kind.EMPTY: Wire(400, "Empty", _INVALID),
    Kind.BAD_REQUEST: Wire(400, _V, _INVALID),
    Kind.UNAUTHORIZED: Wire(401, _V, _INVALID),
    Kind.FORBIDDEN: Wire(403, _V, "permission_error"),
    Kind.NOT_FOUND: Wire(404, _V, _INVALID),
    Kind.CONFLICT: Wire(409, _V, _INVALID),
    Kind.PRECONDITION: Wire(412, _V, _INVALID),
    Kind.TOO_LARGE: Wire(413, _V, _INVALID),
    Kind.VALIDATION: Wire(422, _V, _INVALID),
    Kind.TOO_MANY_INPUTS: Wire(422, _V, _INVALID, tei_status=413),
    Kind.INSUFFICIENT_STORAGE: Wire(507, "Backend", "server_error"),
    EngineErrorKind.EMPTY: Wire(400, "Empty", _INVALID),
    EngineErrorKind.VALIDATION: Wire(422, _V, _INVALID, tei_status=413),
    EngineErrorKind.TOKENIZER: Wire(422, "Tokenizer", _INVALID),
    EngineErrorKind.UNSUPPORTED: Wire(424, "Backend", _INVALID),
    EngineErrorKind.BACKEND: Wire(424, "Backend", "server_error"),
    EngineErrorKind.OVERLOADED: Wire(429, "Overloaded", "rate_limit_error"),
    EngineErrorKind.UNHEALTHY: Wire(503, "Unhealthy", "server_error"),
}
# A failed request's cause, as TEI's te_request_failure `err` label names it.
TEI_FAILURES: dict[Kind | EngineErrorKind, str] = {
    Kind.TOO_MANY_INPUTS: "batch_size",
    EngineErrorKind.TOKENIZER: "tokenization",
    EngineErrorKind.UNSUPPORTED: "model_type",
    EngineErrorKind.BACKEND: "inference",
    EngineErrorKind.OVERLOADED: "overloaded",
    EngineErrorKind.UNHEALTHY: "unhealthy",
}
# Overloaded means "come back shortly": say when, so clients' retry logic backs off right.
_EXTRA_HEADERS: dict[Kind | EngineErrorKind, dict[str, str]] = {
    EngineErrorKind.OVERLOADED: {"Retry-After": "1"},
}
# Starlette's own HTTPExceptions (unknown route, wrong method, body over the limit).
_STATUS_KINDS = {400: Kind.BAD_REQUEST, 401: Kind.UNAUTHORIZED, 403: Kind.FORBIDDEN}
_STATUS_KINDS |= {404: Kind.NOT_FOUND, 413: Kind.TOO_LARGE}


@dataclass
class Problem:
    """One failure, ready to be written in any API's shape."""

    kind: Kind | EngineErrorKind
    message: str
    status: int = 0  # 0: the kind's own status
    code: str | None = None
    param: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, err: EmbedhubError | EngineError) -> Problem:
        headers = dict(err.headers) if isinstance(err, EmbedhubError) else {}
        code = err.code if isinstance(err, EmbedhubError) else None
        return cls(err.kind, err.message, code=code, param=err.param, headers=headers)


def error_response(style: Style, problem: Problem) -> Response:
    wire = WIRE[problem.kind]
    headers = {**_EXTRA_HEADERS.get(problem.kind, {}), **problem.headers}
    status = problem.status or wire.status
    if style is Style.TEI and not problem.status:
        status = wire.tei_status or wire.status
    body: dict
    if style is Style.OPENAI:
        body = {
            "error": {
                "message": problem.message,
                "type": wire.openai_type,
                "param": problem.param,
                "code": problem.code or problem.kind.name.lower(),
            }
        }
    elif style is Style.TEI:
        body = {"error": problem.message, "error_type": wire.tei_type}
    elif style is Style.COHERE:
        body = {"message": problem.message}
    else:
        body = {"error": problem.message}
        if problem.code:
            headers["X-Error-Code"] = problem.code
    return JSONResponse(body, status_code=status, headers=headers)


def _describe(errors: Iterable[dict]) -> str:
    parts = []
    for e in list(errors)[:5]:
        loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
        parts.append(f"{loc or 'body'}: {e.get('msg', 'invalid')}")
    return "; ".join(parts)


def install(app: FastAPI, routes: Iterable[BaseRoute]) -> None:
    """Answer every error in its route's shape; an unknown path in the shape of the API
    whose routes share its first segment (`/v1/nothing` in OpenAI's)."""
    by_segment = styles_by_segment(routes)

    def respond(request: Request, problem: Problem) -> Response:
        request.scope[FAILURE] = TEI_FAILURES.get(problem.kind, "validation")
        return error_response(style_of(request.scope, by_segment), problem)

    async def embedhub_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, EmbedhubError | EngineError)
        return respond(request, Problem.of(exc))

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = exc.errors()
        invalid = [e for e in errors if e.get("type") == "json_invalid"]
        if invalid:
            why = invalid[0].get("ctx", {}).get("error")
            message = "The request body is not valid JSON" + (f": {why}" if why else "")
            return respond(request, Problem(Kind.BAD_REQUEST, message))
        # TEI answers schema errors with 422; the HF and OpenAI APIs with 400.
        tei = style_of(request.scope, by_segment) is Style.TEI
        kind = Kind.VALIDATION if tei else Kind.BAD_REQUEST
        return respond(request, Problem(kind, f"Invalid request body: {_describe(errors)}"))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"No route for {request.method} {request.url.path}"
        elif exc.status_code == 400 and message == "There was an error parsing the body":
            message = "The request body is not valid JSON (it must be UTF-8 text)"
        kind = _STATUS_KINDS.get(exc.status_code, Kind.BAD_REQUEST)
        code = "payload_too_large" if exc.status_code == 413 else None
        problem = Problem(kind, message, exc.status_code, code, headers=dict(exc.headers or {}))
        return respond(request, problem)

    async def unexpected(request: Request, exc: Exception) -> Response:
        # A bug on our side: log the traceback, tell the client only that it happened.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        message = "Internal server error (logged on the server)"
        return respond(request, Problem(EngineErrorKind.BACKEND, message, status=500))

    app.add_exception_handler(EmbedhubError, embedhub_error)
    app.add_exception_handler(EngineError, embedhub_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
