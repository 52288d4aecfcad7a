"""The engine's one failure type, plain like TEI's `TextEmbeddingsError`: what went wrong, in
the engine's words. No HTTP status, header or wire-format name: `api/errors.py` maps each
kind to what the client sees."""

from __future__ import annotations

import enum


class EngineErrorKind(enum.Enum):
    EMPTY = "empty"  # nothing to embed
    VALIDATION = "validation"  # an input or option the model can't take
    TOKENIZER = "tokenizer"  # the tokenizer refused an input
    OVERLOADED = "overloaded"  # too many requests in flight; retry shortly
    UNSUPPORTED = "unsupported"  # the model can't do what was asked (a rerank of an embedder)
    BACKEND = "backend"  # the model failed
    UNHEALTHY = "unhealthy"  # a worker is not running


class EngineError(Exception):
    """`param`: the request field the failure is about, when there is one."""

    def __init__(self, kind: EngineErrorKind, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.param = param
