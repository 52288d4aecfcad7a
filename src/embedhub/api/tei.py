"""text-embeddings-inference's API: /embed, /similarity, /tokenize, /info, /health, /metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from starlette.responses import Response

from embedhub import __version__
from embedhub.api.common import (
    as_texts,
    compare,
    context,
    json_response,
    off_loop,
    options,
    require_inference_auth,
    require_metadata_auth,
    timing_headers,
    use_cache_header,
)
from embedhub.api.hf_inference import SimilarityInputs
from embedhub.api.routing import TeiRoute
from embedhub.engine import EngineError, EngineErrorKind


class EmbedRequest(BaseModel):
    inputs: str | list[Any]
    model: str | None = None  # embedhub extra: pick one of several served models
    normalize: bool = True
    truncate: bool | None = None
    truncation_direction: str | None = None
    prompt_name: str | None = None
    dimensions: int | None = None


class SimilarityRequest(BaseModel):
    inputs: SimilarityInputs
    model: str | None = None
    truncate: bool | None = None
    truncation_direction: str | None = None
    prompt_name: str | None = None


class TokenizeRequest(BaseModel):
    inputs: str | list[Any]
    model: str | None = None
    add_special_tokens: bool = True
    prompt_name: str | None = None


def router() -> APIRouter:
    auth = [Depends(require_inference_auth)]
    r = APIRouter(tags=["text-embeddings-inference"], route_class=TeiRoute)

    @r.post("/embed", dependencies=auth, summary="Embed text (always a list of vectors)")
    async def embed(body: EmbedRequest, request: Request) -> Response:
        ctx = context(request)
        engine = ctx.engine(body.model)
        texts, _ = as_texts(body.inputs, ctx.settings.max_client_batch_size)
        opts = options(
            normalize=body.normalize,
            truncate=body.truncate,
            truncation_direction=body.truncation_direction,
            prompt_name=body.prompt_name,
            dimensions=body.dimensions,
            use_cache=use_cache_header(request, None),
        )
        result = await engine.embed(texts, opts)
        return json_response(result.vectors, timing_headers(result))

    @r.post("/similarity", dependencies=auth, summary="Cosine similarities")
    async def similarity(body: SimilarityRequest, request: Request) -> Response:
        ctx = context(request)
        engine = ctx.engine(body.model)
        pair = body.inputs
        opts = options(
            truncate=body.truncate,
            truncation_direction=body.truncation_direction,
            prompt_name=body.prompt_name,
            use_cache=use_cache_header(request, None),
        )
        return await compare(
            engine, pair.source_sentence, pair.sentences, opts, ctx.settings.max_client_batch_size
        )

    @r.post("/tokenize", dependencies=auth, summary="Tokens of each input")
    async def tokenize(body: TokenizeRequest, request: Request) -> Response:
        ctx = context(request)
        engine = ctx.engine(body.model)
        texts, _ = as_texts(body.inputs, ctx.settings.max_client_batch_size)
        keep_special = body.add_special_tokens
        size = sum(map(len, texts))
        tokenized = await off_loop(engine.tokenize, texts, body.prompt_name, size=size)
        out = [
            [
                {"id": t.id, "text": t.text, "special": t.special, "start": t.start, "stop": t.stop}
                for t in tokens
                if keep_special or not t.special
            ]
            for tokens in tokenized
        ]
        return json_response(out)

    @r.get(
        "/info",
        dependencies=[Depends(require_metadata_auth)],
        summary="Model and server limits",
    )
    async def info(request: Request) -> Response:
        ctx = context(request)
        engine = ctx.default_engine
        s = ctx.settings
        return json_response(
            {
                "model_id": engine.info.model_id,
                "model_sha": None,
                "model_dtype": "int8" if engine.info.precision == "int8" else "float32",
                "model_type": {"embedding": {"pooling": engine.info.pooling}},
                "max_concurrent_requests": s.max_concurrent_requests,
                "max_input_length": engine.info.max_seq_length,
                "max_batch_tokens": s.max_batch_tokens,
                "max_batch_requests": None,
                "max_client_batch_size": s.max_client_batch_size,
                "auto_truncate": True,
                "tokenization_workers": 1,
                "version": __version__,
                **engine.info.runtime_report(),
                "embedding_dimension": engine.info.dimension,
                "models": [
                    {
                        "model_id": e.info.model_id,
                        "dimension": e.info.dimension,
                        "max_input_length": e.info.max_seq_length,
                        "normalize": e.info.normalizes,
                    }
                    for e in ctx.engines.values()
                ],
            }
        )

    @r.get("/health", summary="200 when every model's engine runs, else 503")
    async def health(request: Request) -> Response:
        ctx = context(request)
        sick = [mid for mid, e in ctx.engines.items() if not e.healthy]
        if sick:
            raise EngineError(
                EngineErrorKind.UNHEALTHY, f"engine not running for: {', '.join(sick)}"
            )
        return Response(status_code=200)

    @r.get("/metrics", dependencies=[Depends(require_metadata_auth)], summary="Prometheus metrics")
    async def metrics(request: Request) -> Response:
        registry = context(request).metrics.registry
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return r
