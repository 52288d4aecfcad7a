"""The failures of the request layers (the embedding API and the hub): what went wrong, as a
plain kind. `api/errors.py` maps each kind to a status and each API's body; the engine has its
own, smaller set (`engine/errors.py`)."""

from __future__ import annotations

import enum


class Kind(enum.Enum):
    EMPTY = "empty"  # a required list or string is empty
    BAD_REQUEST = "bad_request"  # malformed: not JSON, wrong shape, bad name
    VALIDATION = "validation"  # well-formed but not acceptable (a value out of range)
    TOO_MANY_INPUTS = "too_many_inputs"  # more inputs in one request than allowed
    UNAUTHORIZED = "unauthorized"  # no or unknown credentials
    FORBIDDEN = "forbidden"  # known caller, not allowed
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"  # the state changed under the request (e.g. a moved branch)
    PRECONDITION = "precondition"  # a stated expectation (parent commit) does not hold
    TOO_LARGE = "too_large"  # a body over its limit
    INSUFFICIENT_STORAGE = "insufficient_storage"  # the disk is full


class EmbedhubError(Exception):
    """A failure a client can act on. `code` is a machine-readable detail (e.g. the Hub's
    X-Error-Code, or the OpenAI `code` field); `param` the request field it is about;
    `headers` go on the HTTP response as is (the hub's auth challenges)."""

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
