"""Cohere's embed API: `POST /v2/embed` (and `/v1/embed`, what the client's v1 `embed`
calls), so the official `cohere` client works unchanged with `base_url` pointed here.

What it adds to the other APIs: several output types per request (`embedding_types`: float,
int8, uint8, binary, ubinary, base64; the quantized ones as sentence-transformers'
`quantize_embeddings` makes them, see engine/quantized.py), `input_type` as the model's
prompts, `output_dimension` (Matryoshka: the first d components, re-normalised) and Cohere's
`truncate` (NONE/START/END). Errors are Cohere's `{"message"}`."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import numpy as np
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from starlette.responses import Response

from embedhub.api import cohere_schemas as cs
from embedhub.api.common import (
    ApiContext,
    as_texts,
    context,
    json_response,
    options,
    require_inference_auth,
    timing_headers,
    use_cache_header,
)
from embedhub.api.routing import CohereRoute
from embedhub.api.schemas import ok
from embedhub.engine import Engine, tasks
from embedhub.engine.quantized import NEEDS_RANGES, quantize
from embedhub.engine.tasks import Task
from embedhub.errors import EmbedhubError, Kind

EMBEDDING_TYPES = ("float", "int8", "uint8", "binary", "ubinary", "base64")
# Cohere's input types -> the prompt names a sentence-transformers model may have for them
# (config_sentence_transformers.json), first match wins: for queries and documents the names
# sentence-transformers' encode_query / encode_document look for, after Cohere's own names
# (which some models use, e.g. nomic-embed-text). A model with none of them gets no prompt.
PROMPT_NAMES = {
    "search_query": ("search_query", "query"),
    "search_document": ("search_document", "document", "passage", "corpus"),
    "classification": ("classification",),
    "clustering": ("clustering",),
}
# truncate -> (cut long inputs?, from which side)
TRUNCATE = {"NONE": (False, "right"), "END": (True, "right"), "START": (True, "left")}


class CohereEmbedRequest(BaseModel):
    texts: list[Any] | None = None
    images: list[Any] | None = None
    inputs: list[Any] | None = None
    model: str | None = None  # optional here: the default model
    input_type: str | None = None
    embedding_types: list[Any] | None = None
    output_dimension: int | None = None
    truncate: str | None = None
    max_tokens: int | None = None
    priority: int | None = None  # accepted; every request is served in arrival order


def cohere_router() -> APIRouter:
    """A router for routes in Cohere's shape (embed here, rerank in api/rerank.py): its tag,
    inference auth, and CohereRoute's error shape and body limit."""
    return APIRouter(
        tags=["Cohere"], dependencies=[Depends(require_inference_auth)], route_class=CohereRoute
    )


def router() -> APIRouter:
    r = cohere_router()

    @r.post(
        "/v2/embed",
        summary="Embed texts (Cohere v2: embeddings by type)",
        responses=ok(cs.CohereEmbedByType, "The embeddings of each type asked for"),
    )
    async def embed_v2(body: CohereEmbedRequest, request: Request) -> Response:
        return await embed(body, request, version="2")

    @r.post(
        "/v1/embed",
        summary="Embed texts (Cohere v1)",
        responses=ok(
            cs.CohereEmbedFloats | cs.CohereEmbedByType, "Floats, or by type when types are asked"
        ),
    )
    async def embed_v1(body: CohereEmbedRequest, request: Request) -> Response:
        return await embed(body, request, version="1")

    return r


async def embed(body: CohereEmbedRequest, request: Request, *, version: str) -> Response:
    ctx = context(request)
    engine = model_for(ctx, body.model, tasks.EMBED, "embed")
    if body.images or body.inputs:
        field = "images" if body.images else "inputs"
        raise _invalid(f"`{field}` can't be embedded here: this server embeds `texts` only")
    texts, _ = as_texts(body.texts or [], ctx.settings.max_client_batch_size, field="texts")
    types = embedding_types(body.embedding_types)
    prompt_name = prompt_for(body.input_type, engine.info.prompts)
    dims = output_dimension(body.output_dimension, engine.info.dimension)
    cut, side = truncation(body.truncate)
    given = texts
    if body.max_tokens is not None:
        texts = clip_tokens(engine, texts, body.max_tokens, side, cut, "max_tokens")
    if not cut:
        _refuse_long(engine, texts, prompt_name)
    ranges = None
    if set(types) & set(NEEDS_RANGES):  # refused before any input is embedded
        ranges = await ctx.calibrations.ranges(engine, dims or engine.info.dimension)
    opts = options(
        truncate=cut,
        truncation_direction=side,
        prompt_name=prompt_name,
        dimensions=dims,
        use_cache=use_cache_header(request, None),
    )
    result = await engine.embed(texts, opts)
    if version == "1" and body.embedding_types is None:  # v1's plain answer: floats
        answer = {"response_type": "embeddings_floats", "embeddings": result.vectors}
    else:
        by_type = {t: _as_type(result.vectors, t, ranges) for t in types}
        answer = {"response_type": "embeddings_by_type", "embeddings": by_type}
    meta = {
        "api_version": {"version": version},
        "billed_units": {"input_tokens": sum(result.token_counts)},
    }
    content = {"id": str(uuid.uuid4()), **answer, "texts": given, "meta": meta}
    return json_response(content, timing_headers(result))


def model_for(ctx: ApiContext, model: str | None, task: Task, verb: str) -> Engine:
    """The model a request names, or without a name the first served model that can run
    `task` (a server may serve an embedding model and a reranker side by side). A model of
    the wrong kind is the client's mistake: 400, naming the models that can."""
    if model is None:
        model = next((m for m, e in ctx.engines.items() if e.can(task)), None)
    engine = ctx.engine(model)
    if not engine.can(task):
        able = [m for m, e in ctx.engines.items() if e.can(task)]
        kind = engine.info.kind
        article = "an" if kind[0] in "aeiou" else "a"
        raise EmbedhubError(
            Kind.BAD_REQUEST,
            f"Model {engine.info.model_id!r} is {article} {kind} model and can't {verb}; "
            f"served models that can: {', '.join(able) or 'none'}",
            param="model",
        )
    return engine


def embedding_types(asked: list[Any] | None) -> list[str]:
    if asked is None:
        return ["float"]
    if not asked:
        raise _invalid("`embedding_types` is empty: ask for one or more of " + _TYPES)
    for t in asked:
        if t not in EMBEDDING_TYPES:
            raise _invalid(f"`embedding_types` has {t!r}, which is not one of {_TYPES}")
    return list(dict.fromkeys(asked))


_TYPES = ", ".join(EMBEDDING_TYPES)


def prompt_for(input_type: str | None, prompts: dict[str, str]) -> str | None:
    """The name of the model's prompt for Cohere's `input_type` (None: no prompt)."""
    if input_type is None:
        return None
    if input_type == "image":
        raise _invalid("`input_type` image needs images, and this server embeds texts only")
    if input_type not in PROMPT_NAMES:
        allowed = ", ".join(PROMPT_NAMES)
        raise _invalid(f"`input_type` {input_type!r} is not one of {allowed}")
    return next((name for name in PROMPT_NAMES[input_type] if name in prompts), None)


def output_dimension(asked: int | None, dimension: int) -> int | None:
    if asked is not None and not 1 <= asked <= dimension:
        raise _invalid(
            f"`output_dimension` must be between 1 and {dimension} (the model's dimension), "
            f"got {asked}"
        )
    return None if asked == dimension else asked


def truncation(asked: str | None) -> tuple[bool, str]:
    """Cohere's `truncate` (default END) as (cut long inputs?, side to keep from)."""
    found = TRUNCATE.get((asked or "END").upper())
    if found is None:
        raise _invalid(f"`truncate` must be one of NONE, START, END, got {asked!r}")
    return found


def clip_tokens(
    engine: Engine, texts: list[str], limit: int, side: str, cut: bool, field: str
) -> list[str]:
    """Each text cut to its first (`side` right) or last `limit` tokens, special tokens not
    counted: Cohere's per-request token limits below the model's own. With `cut` False a
    longer text is refused. Only texts of `limit` UTF-8 bytes or more are tokenized: every
    token covers at least one byte (a SentencePiece tokenizer's leading "▁" at most one
    none), so shorter ones can't be over."""
    if limit < 1:
        raise _invalid(f"`{field}` must be 1 or more, got {limit}")
    out = list(texts)
    long = [i for i, text in enumerate(texts) if len(text.encode("utf-8")) >= limit]
    for i, tokens in zip(long, engine.tokenize([texts[i] for i in long]), strict=True):
        words = [t for t in tokens if not t.special]
        if len(words) <= limit:
            continue
        if not cut:
            raise _invalid(
                f"input {i} has {len(words)} tokens, more than `{field}` {limit} "
                "(send truncate END or START to cut it)"
            )
        text = texts[i]
        out[i] = text[: words[limit - 1].stop] if side == "right" else text[words[-limit].start :]
    return out


def _refuse_long(engine: Engine, texts: list[str], prompt_name: str | None) -> None:
    """truncate NONE: an input over the model's limit is refused, in Cohere's words."""
    prompt = engine.prompt(prompt_name)
    limit = engine.info.max_seq_length
    for i, n in enumerate(engine.count_tokens([prompt + t for t in texts])):
        if n > limit:
            raise EmbedhubError(
                Kind.VALIDATION,
                f"input {i} is too long: {n} tokens, the model's limit is {limit} "
                "(send truncate END or START to cut it)",
                param="texts",
            )


def _as_type(vectors: np.ndarray, kind: str, ranges: np.ndarray | None) -> Any:
    if kind == "float":
        return vectors
    if kind == "base64":  # Cohere's: each vector's float32 bytes (little-endian), base64
        return [base64.b64encode(v.astype("<f4").tobytes()).decode() for v in vectors]
    return quantize(vectors, kind, ranges if kind in NEEDS_RANGES else None)


def _invalid(message: str) -> EmbedhubError:
    return EmbedhubError(Kind.VALIDATION, message)
