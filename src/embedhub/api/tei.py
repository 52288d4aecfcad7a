"""text-embeddings-inference's API, part one: /embed, /similarity, /tokenize, /decode, /info,
/health, /ping, /metrics and /api-doc/openapi.json (the tasks of other model kinds are in
tei_tasks.py). Field for field as TEI's docs/openapi.json; errors in TEI's shape with TEI's
`error_type` values and statuses (api/errors.py)."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
from fastapi import APIRouter, Depends, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import JSONResponse, PlainTextResponse, Response

from embedhub import __version__
from embedhub.api import tei_schema as s
from embedhub.api.common import (
    check_batch_size,
    compare,
    context,
    json_response,
    off_loop,
    options,
    require_inference_auth,
    require_metadata_auth,
    use_cache_header,
)
from embedhub.api.routing import STARTED, TeiRoute
from embedhub.api.schemas import TeiError, ok
from embedhub.api.tei_inputs import headers, mark, side, texts_of
from embedhub.engine import Engine, EngineError, EngineErrorKind
from embedhub.errors import EmbedhubError, Kind
from embedhub.types import SPARSE, EmbedOptions

UNHEALTHY: dict[int | str, dict[str, Any]] = {
    200: {"description": "Every model's engine runs (an empty body)"},
    503: {"model": TeiError, "description": "A model's engine is not running"},
}


def router() -> APIRouter:
    auth = [Depends(require_inference_auth)]
    r = APIRouter(tags=["text-embeddings-inference"], route_class=TeiRoute)

    @r.post(
        "/embed",
        dependencies=auth,
        summary="Embed text: always a list of vectors",
        responses=ok(s.EmbedResponse),
    )
    async def embed(body: s.EmbedRequest, request: Request) -> Response:
        return json_response(*await embed_content(request, body))

    @r.post(
        "/similarity",
        dependencies=auth,
        summary="Cosine similarity of a sentence with each of several",
        responses=ok(s.SimilarityResponse),
    )
    async def similarity(body: s.SimilarityRequest, request: Request) -> Response:
        ctx = context(request)
        engine = ctx.engine(body.model)
        mark(request, False)
        p = body.parameters
        opts = options(
            truncate=p.truncate if p else body.truncate,
            truncation_direction=side(p.truncation_direction if p else body.truncation_direction),
            prompt_name=p.prompt_name if p else body.prompt_name,
            use_cache=use_cache_header(request, None),
        )
        pair = body.inputs
        limit = ctx.settings.max_client_batch_size
        started = request.scope.get(STARTED)
        return await compare(engine, pair.source_sentence, pair.sentences, opts, limit, started)

    @r.post(
        "/tokenize",
        dependencies=auth,
        summary="Tokens of each input, with byte offsets into it",
        responses=ok(s.TokenizeResponse),
    )
    async def tokenize(body: s.TokenizeRequest, request: Request) -> Response:
        ctx = context(request)
        engine = ctx.engine(body.model)
        inputs = [body.inputs] if isinstance(body.inputs, str) else body.inputs
        got = await texts_of(request, engine, inputs)
        texts = got.texts
        prompt = engine.prompt(body.prompt_name)
        rows = await off_loop(
            engine.tokenize,
            texts,
            body.prompt_name,
            body.add_special_tokens,
            size=sum(map(len, texts)),
        )
        return json_response([_tokens(prompt + t, row) for t, row in zip(texts, rows, strict=True)])

    @r.post(
        "/decode",
        dependencies=auth,
        summary="Token ids back to text",
        responses=ok(s.DecodeResponse),
    )
    async def decode(body: s.DecodeRequest, request: Request) -> Response:
        ctx = context(request)
        engine = ctx.engine(body.model)
        ids = body.ids
        single = bool(ids) and all(isinstance(i, int) for i in ids)
        batches = cast(list[list[int]], [ids] if single else ids)
        mark(request, single)
        if not batches or not all(batches):
            raise EmbedhubError(Kind.EMPTY, "`ids` cannot be empty", param="ids")
        check_batch_size(len(batches), ctx.settings.max_client_batch_size, "ids")
        size = sum(map(len, batches))
        decoded = await off_loop(engine.decode, batches, body.skip_special_tokens, size=size)
        return json_response(decoded)

    # What describes the server needs a token where inference does (--public-metadata).
    metadata = [Depends(require_metadata_auth)]

    @r.get("/info", dependencies=metadata, summary="Model and server limits", responses=ok(s.Info))
    async def info(request: Request) -> Response:
        return json_response(info_of(request))

    # response_class: the 200 answer has no body, so /openapi.json documents none.
    @r.get(
        "/health",
        summary="200 when every model's engine runs, else 503",
        responses=UNHEALTHY,
        response_class=Response,
    )
    async def health(request: Request) -> Response:
        return check_health(request)

    @r.get(
        "/ping",
        summary="Health, as AWS SageMaker asks it",
        responses=UNHEALTHY,
        response_class=Response,
    )
    async def ping(request: Request) -> Response:
        return check_health(request)

    @r.get(
        "/metrics",
        dependencies=metadata,
        summary="Prometheus metrics (embedhub_* and TEI's te_*)",
        response_class=PlainTextResponse,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    async def metrics(request: Request) -> Response:
        registry = context(request).metrics.registry
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @r.get("/api-doc/openapi.json", dependencies=metadata, include_in_schema=False)
    async def api_doc(request: Request) -> Response:
        return JSONResponse(request.app.openapi())  # where TEI serves its OpenAPI document

    return r


async def embed_content(request: Request, body: s.EmbedRequest) -> tuple[Any, dict[str, str]]:
    """/embed's answer: the vectors, and TEI's headers."""
    ctx = context(request)
    engine = ctx.engine(body.model)
    got = await texts_of(request, engine, body.inputs)
    opts = options(
        normalize=body.normalize,
        truncate=body.truncate,
        truncation_direction=side(body.truncation_direction),
        prompt_name=body.prompt_name,
        dimensions=body.dimensions,
        use_cache=use_cache_header(request, None),
    )
    if engine.info.kind == SPARSE:
        return await _sparse_as_dense(request, engine, got.texts, got.chars, opts)
    result = await engine.embed(got.texts, opts)
    return result.vectors, headers(request, result, got.chars)


async def _sparse_as_dense(
    request: Request, engine: Engine, texts: list[str], chars: int, opts: EmbedOptions
) -> tuple[Any, dict[str, str]]:
    """/embed on a SPLADE model: TEI gives the vocabulary-sized vector, unnormalised only."""
    if opts.normalize is not False:
        message = "`normalize` is not available for SPLADE models"
        raise EngineError(EngineErrorKind.UNSUPPORTED, message)
    result = await engine.embed_sparse(texts, opts)
    dense = np.zeros((len(texts), engine.info.dimension), np.float32)
    for row, (at, weights) in enumerate(result.values):
        dense[row, at] = weights
    return dense, headers(request, result, chars)


def _tokens(text: str, tokens: list) -> list[dict[str, Any]]:
    """TEI's tokens: a real token's text is its slice of the input and its span is in bytes;
    a special token has its vocabulary text and no span."""
    at = [0]
    for ch in text:
        at.append(at[-1] + len(ch.encode("utf-8", "surrogatepass")))
    return [
        {"id": t.id, "text": t.text, "special": True, "start": None, "stop": None}
        if t.special
        else {
            "id": t.id,
            "text": text[t.start : t.stop],
            "special": False,
            "start": at[t.start],
            "stop": at[t.stop],
        }
        for t in tokens
    ]


def info_of(request: Request) -> dict[str, Any]:
    ctx = context(request)
    engine = ctx.default_engine
    model = engine.info
    s = ctx.settings
    return {
        "model_id": model.model_id,
        "served_model_name": s.served_model_name or model.model_id,
        "model_sha": None,
        "model_dtype": "int8" if model.precision == "int8" else "float32",
        "model_type": _model_type(engine),
        "max_concurrent_requests": s.max_concurrent_requests,
        "max_input_length": model.max_seq_length,
        "max_batch_tokens": s.max_batch_tokens,
        "max_batch_requests": None,
        "max_client_batch_size": s.max_client_batch_size,
        "auto_truncate": True,
        "tokenization_workers": 1,
        "version": __version__,
        "sha": None,
        "docker_label": None,
        **model.runtime_report(),
        "embedding_dimension": model.dimension,
        "models": [
            {
                "model_id": e.info.model_id,
                "kind": e.info.kind,
                "dimension": e.info.dimension,
                "max_input_length": e.info.max_seq_length,
                "normalize": e.info.normalizes,
                "runtime": e.info.runtime,
            }
            for e in ctx.engines.values()
        ],
    }


def _model_type(engine: Engine) -> dict[str, Any]:
    """TEI's model_type: {"embedding": {"pooling"}}, or {"reranker" | "classifier":
    {"id2label", "label2id"}}."""
    model = engine.info
    if not model.scores:
        return {"embedding": {"pooling": model.pooling}}
    id2label = {str(i): label for i, label in enumerate(model.labels)}
    label2id = {label: i for i, label in enumerate(model.labels)}
    return {model.kind: {"id2label": id2label, "label2id": label2id}}


def check_health(request: Request) -> Response:
    sick = [mid for mid, e in context(request).engines.items() if not e.healthy]
    if sick:
        raise EngineError(EngineErrorKind.UNHEALTHY, f"engine not running for: {', '.join(sick)}")
    return Response(status_code=200)
