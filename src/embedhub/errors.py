"""One error type for every layer; each wire format maps `Kind` to its own status and body."""

from __future__ import annotations

import enum


class Kind(enum.Enum):
    # (HTTP status, TEI error_type, OpenAI error type)
    EMPTY = (400, "empty", "invalid_request_error")
    BAD_REQUEST = (400, "validation", "invalid_request_error")
    UNAUTHORIZED = (401, "unauthorized", "invalid_request_error")
    FORBIDDEN = (403, "forbidden", "permission_error")
    NOT_FOUND = (404, "not_found", "invalid_request_error")
    CONFLICT = (409, "conflict", "invalid_request_error")
    PRECONDITION = (412, "precondition_failed", "invalid_request_error")
    TOO_LARGE = (413, "payload_limit", "invalid_request_error")
    VALIDATION = (422, "validation", "invalid_request_error")
    BACKEND = (424, "backend", "server_error")
    OVERLOADED = (429, "overloaded", "rate_limit_error")
    UNHEALTHY = (503, "unhealthy", "server_error")
    INSUFFICIENT_STORAGE = (507, "storage", "server_error")

    @property
    def status(self) -> int:
        return self.value[0]

    @property
    def tei_type(self) -> str:
        return self.value[1]

    @property
    def openai_type(self) -> str:
        return self.value[2]


class EmbedhubError(Exception):
    """A failure a client can act on. `code` is a machine-readable detail (e.g. the Hub's
    X-Error-Code, or the OpenAI `code` field); `headers` go on the HTTP response as is."""

    def __init__(
        self,
        kind: Kind,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.code = code
        self.param = param
        self.headers = headers or {}


def too_large_message(length: int | None, limit: int, setting: str, advice: str) -> str:
    """The one wording of "payload too large": what came, the limit, the setting that sets it
    and what to do instead."""
    size = f"{length} bytes" if length is not None else f"more than {limit} bytes"
    return f"Payload too large: {size}, the limit is {limit} bytes ({setting}); {advice}"
