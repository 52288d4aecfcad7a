"""The OpenAI embeddings API: `POST /v1/embeddings`, `GET /v1/models`.

The official client asks for base64 (little-endian float32) unless told otherwise. Token-id
inputs are ids of the served model's own tokenizer."""

from __future__ import annotations

import base64
from typing import Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from starlette.responses import Response

from embedhub.api.common import (
    as_texts,
    context,
    json_response,
    options,
    require_inference_auth,
    texts_from_token_ids,
    timing_headers,
    use_cache_header,
)
from embedhub.api.fields import Texts, TokenIdBatches, TokenIds
from embedhub.api.routing import OpenAIRoute
from embedhub.api.schemas import OpenAIEmbeddings, OpenAIModels, ok
from embedhub.errors import EmbedhubError, Kind


class EmbeddingsRequest(BaseModel):
    input: str | Texts | TokenIds | TokenIdBatches
    # Optional, as TEI has it: clients that omit it get the default model.
    model: str | None = None
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None
    user: str | None = None


def router() -> APIRouter:
    r = APIRouter(
        prefix="/v1",
        tags=["OpenAI"],
        dependencies=[Depends(require_inference_auth)],
        route_class=OpenAIRoute,
    )

    @r.post(
        "/embeddings",
        summary="Create embeddings",
        responses=ok(OpenAIEmbeddings, "The embeddings"),
    )
    async def embeddings(body: EmbeddingsRequest, request: Request) -> Response:
        ctx = context(request)
        engine = ctx.engine(body.model)
        raw = body.input
        if isinstance(raw, list) and raw and not isinstance(raw[0], str):
            _refuse_foreign_ids(body.model, ctx.aliases)
            batches = [raw] if isinstance(raw[0], int) else raw
            raw = await texts_from_token_ids(
                engine, batches, ctx.settings.max_request_tokens, "input"
            )
        texts, _ = as_texts(raw, ctx.settings.max_client_batch_size, field="input")
        opts = options(dimensions=body.dimensions, use_cache=use_cache_header(request, None))
        result = await engine.embed(texts, opts)
        data = [
            {"object": "embedding", "index": i, "embedding": _encode(vec, body.encoding_format)}
            for i, vec in enumerate(result.vectors)
        ]
        tokens = sum(result.token_counts)
        content = {
            "object": "list",
            "data": data,
            "model": engine.info.model_id,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return json_response(content, timing_headers(result))

    @r.get(
        "/models",
        summary="The served models",
        responses=ok(OpenAIModels, "The served models"),
    )
    async def models(request: Request) -> Response:
        ctx = context(request)
        data = [
            {"id": mid, "object": "model", "created": 0, "owned_by": "embedhub"}
            | e.info.runtime_report()
            for mid, e in ctx.engines.items()
        ]
        # Aliases are listed too: clients that check a name against this list find it.
        data += [
            {"id": name, "object": "model", "created": 0, "owned_by": "embedhub"}
            | {"alias_of": ctx.engine(name).info.model_id}
            for name in ctx.aliases
        ]
        return json_response({"object": "list", "data": data})

    return r


def _encode(vec, encoding_format: str):
    if encoding_format == "base64":
        return base64.b64encode(vec.astype("<f4").tobytes()).decode()
    return vec


def _refuse_foreign_ids(model: str | None, aliases: dict[str, str]) -> None:
    """Token ids sent under an alias are the ids of the tokenizer the client thinks it talks
    to (langchain's OpenAIEmbeddings tokenizes with tiktoken for text-embedding-ada-002), not
    the served model's: decoded as ours they would make wrong vectors without a word."""
    if model in aliases:
        raise EmbedhubError(
            Kind.VALIDATION,
            f"`input` holds token ids, and `model` {model!r} is an alias: ids a client computed "
            "for that name are its own tokenizer's (e.g. tiktoken's), not the served model's. "
            "Send text instead (langchain: OpenAIEmbeddings(check_embedding_ctx_length=False)), "
            f"or ids of {aliases[model]}'s tokenizer under its own name",
            param="input",
        )
