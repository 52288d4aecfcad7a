"""What every TEI route does with its request before and after the engine: TEI's `Input` (one
text or token-id list, or a list of them) to texts, TEI's response headers, the request's
`method` for TEI's metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request

from embedhub.api.common import (
    as_texts,
    check_batch_size,
    context,
    texts_from_token_ids,
    timing_headers,
)
from embedhub.api.routing import STARTED, TE_METHOD
from embedhub.engine import Engine
from embedhub.errors import EmbedhubError, Kind
from embedhub.types import EmbedResult, TaskResult


@dataclass
class Texts:
    texts: list[str]
    single: bool  # one input was sent (not a list of them)
    chars: int  # TEI's x-compute-characters: characters of texts, one per token id


async def texts_of(request: Request, engine: Engine, inputs: Any) -> Texts:
    """TEI's Input: a text, a list of token ids, or a list of texts and token-id lists.
    Token ids are the model's own; they are decoded to text and embedded as text (what TEI
    does with them too), counted against the request's token limit first (see
    `texts_from_token_ids`). The limits are the app's settings."""
    settings = context(request).settings
    max_inputs, max_tokens = settings.max_client_batch_size, settings.max_request_tokens
    single = isinstance(inputs, str) or (bool(inputs) and all(isinstance(x, int) for x in inputs))
    items = [inputs] if single else inputs
    mark(request, single)
    if not items:
        raise EmbedhubError(Kind.EMPTY, "`inputs` cannot be empty", param="inputs")
    check_batch_size(len(items), max_inputs)
    ids_at = [i for i, item in enumerate(items) if isinstance(item, list)]
    for i in ids_at:
        if not items[i]:
            raise EmbedhubError(
                Kind.EMPTY, f"`inputs`[{i}] is an empty list of token ids", param="inputs"
            )
    texts = list(items)
    if ids_at:
        decoded = await texts_from_token_ids(
            engine, [items[i] for i in ids_at], max_tokens, "inputs"
        )
        for i, text in zip(ids_at, decoded, strict=True):
            texts[i] = text
    checked, _ = as_texts(texts, max_inputs)
    return Texts(checked, single, sum(len(item) for item in items))


def mark(request: Request, single: bool) -> None:
    """Note for TEI's metrics whether the request carried one input or a list."""
    request.scope[TE_METHOD] = "single" if single else "batch"


def headers(request: Request, result: EmbedResult | TaskResult, chars: int) -> dict[str, str]:
    """TEI's x-compute-* and timing headers (x-total-time comes from the middleware)."""
    return timing_headers(result, chars=chars, started=request.scope.get(STARTED))


def side(direction: str | None) -> str:
    """TEI writes "Left" / "Right"; embedhub's options take "left" / "right"."""
    return (direction or "right").lower()
