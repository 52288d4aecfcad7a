"""text-embeddings-inference's API, part two: the tasks of each model kind. /rerank and
/predict (cross-encoders), /embed_sparse (SPLADE models), /embed_all (token vectors of an
embedding model), and the two routes that pick the task from the served model: /invocations
(AWS SageMaker) and /vertex (Google Vertex AI). A route asked of a model that can't run it
answers 424 with TEI's message (engine/tasks.py)."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.responses import Response

from embedhub.api import tei_schema as s
from embedhub.api.common import (
    as_texts,
    check_batch_size,
    context,
    json_response,
    options,
    require_inference_auth,
)
from embedhub.api.routing import TeiRoute
from embedhub.api.schemas import TeiError, ok
from embedhub.api.tei import embed_content
from embedhub.api.tei_inputs import headers, mark, side, texts_of
from embedhub.engine import Engine
from embedhub.errors import EmbedhubError, Kind
from embedhub.types import CLASSIFIER, RERANKER, SPARSE, ScoreOptions

M = TypeVar("M", bound=BaseModel)
# The bodies these routes take may name a served model (`model`), which may not be served.
NAMES_A_MODEL: dict[int | str, dict[str, Any]] = {
    404: {"model": TeiError, "description": "The model asked for is not served here"}
}
_PREDICT_SHAPE = (
    "`inputs` must be a string, a pair of strings [string, string] or a batch of "
    "[string] and [string, string] lists"
)


def router() -> APIRouter:
    auth = [Depends(require_inference_auth)]
    r = APIRouter(tags=["text-embeddings-inference"], route_class=TeiRoute, dependencies=auth)

    @r.post(
        "/rerank",
        summary="Rank texts by relevance to a query (a reranker model)",
        responses=ok(s.RerankResponse),
    )
    async def rerank(body: s.RerankRequest, request: Request) -> Response:
        return json_response(*await _rerank(request, body))

    @r.post(
        "/predict",
        summary="Scores per label of texts or text pairs (a cross-encoder)",
        responses=ok(s.PredictResponse),
    )
    async def predict(body: s.PredictRequest, request: Request) -> Response:
        return json_response(*await _predict(request, body))

    @r.post(
        "/embed_sparse",
        summary="Sparse vectors: non-zero weights over the vocabulary (a SPLADE model)",
        responses=ok(s.EmbedSparseResponse),
    )
    async def embed_sparse(body: s.EmbedSparseRequest, request: Request) -> Response:
        return json_response(*await _embed_sparse(request, body))

    @r.post(
        "/embed_all",
        summary="Token vectors, not pooled (an embedding model)",
        responses=ok(s.EmbedAllResponse),
    )
    async def embed_all(body: s.EmbedAllRequest, request: Request) -> Response:
        return json_response(*await _embed_all(request, body))

    @r.post(
        "/invocations",
        summary="The served model's own task (AWS SageMaker): rerank, predict, embed_sparse "
        "or embed, with that route's body",
        responses={
            **ok(s.EmbedResponse | s.RerankResponse | s.PredictResponse | s.EmbedSparseResponse),
            **NAMES_A_MODEL,
        },
    )
    async def invocations(request: Request, body: Annotated[dict[str, Any], Body()]) -> Response:
        engine = context(request).default_engine
        return await _by_kind(request, engine, body)

    @r.post(
        "/vertex",
        summary="Google Vertex AI: each instance run as the served model's task",
        responses={**ok(s.VertexResponse), **NAMES_A_MODEL},
    )
    async def vertex(body: s.VertexRequest, request: Request) -> Response:
        ctx = context(request)
        engine = ctx.default_engine
        if not body.instances:
            raise EmbedhubError(Kind.EMPTY, "`instances` cannot be empty", param="instances")
        check_batch_size(len(body.instances), ctx.settings.max_client_batch_size, "instances")
        predictions = [await _vertex_one(request, engine, i) for i in body.instances]
        return json_response({"predictions": predictions})

    return r


async def _rerank(request: Request, body: s.RerankRequest) -> tuple[Any, dict[str, str]]:
    ctx = context(request)
    engine = ctx.engine(body.model)
    mark(request, False)
    if not body.texts:
        raise EmbedhubError(Kind.EMPTY, "`texts` cannot be empty", param="texts")
    if not body.query:
        raise EmbedhubError(Kind.EMPTY, "`query` cannot be empty", param="query")
    texts, _ = as_texts(body.texts, ctx.settings.max_client_batch_size, field="texts")
    result = await engine.rerank(body.query, texts, _score_options(body))
    order = sorted(range(len(texts)), key=lambda i: -float(result.values[i]))
    ranks: list[dict[str, Any]] = []
    for i in order:
        rank: dict[str, Any] = {"index": i, "score": float(result.values[i])}
        if body.return_text:
            rank["text"] = texts[i]
        ranks.append(rank)
    chars = len(body.query) * len(texts) + sum(map(len, texts))
    return ranks, headers(request, result, chars)


async def _predict(request: Request, body: s.PredictRequest) -> tuple[Any, dict[str, str]]:
    ctx = context(request)
    engine = ctx.engine(body.model)
    single, inputs = _predict_inputs(body.inputs)
    mark(request, single)
    limit = ctx.settings.max_client_batch_size
    flat = [t for item in inputs for t in (item if isinstance(item, tuple) else (item,))]
    check_batch_size(len(inputs), limit)
    as_texts(flat, len(flat))  # no empty text
    result = await engine.predict(inputs, _score_options(body))
    labels = engine.info.labels
    rows = [
        [
            {"score": float(row[j]), "label": labels[j]}
            for j in sorted(range(len(row)), key=lambda j: -float(row[j]))
        ]
        for row in result.values
    ]
    return (rows[0] if single else rows), headers(request, result, sum(map(len, flat)))


def _predict_inputs(raw: str | list[str] | list[list[str]]) -> tuple[bool, list[Any]]:
    """TEI's PredictInput: (one input was sent, the inputs as texts and (text, text) pairs)."""
    if isinstance(raw, str):
        return True, [raw]
    if not raw:
        raise EmbedhubError(Kind.EMPTY, "`inputs` cannot be empty", param="inputs")
    if all(isinstance(x, str) for x in raw):
        return True, [_sequence(raw)]
    return False, [_sequence(x) for x in raw]


def _sequence(parts: Any) -> str | tuple[str, str]:
    if isinstance(parts, list) and len(parts) in (1, 2):
        return parts[0] if len(parts) == 1 else (parts[0], parts[1])
    raise EmbedhubError(Kind.VALIDATION, _PREDICT_SHAPE, param="inputs")


async def _embed_sparse(request: Request, body: s.EmbedSparseRequest) -> tuple[Any, dict[str, str]]:
    engine, got, opts = await _embedding_inputs(request, body)
    result = await engine.embed_sparse(got.texts, opts)
    vectors = [
        [{"index": int(i), "value": float(v)} for i, v in zip(at, weights, strict=True)]
        for at, weights in result.values
    ]
    return vectors, headers(request, result, got.chars)


async def _embed_all(request: Request, body: s.EmbedAllRequest) -> tuple[Any, dict[str, str]]:
    engine, got, opts = await _embedding_inputs(request, body)
    result = await engine.embed_tokens(got.texts, opts)
    return result.values, headers(request, result, got.chars)


async def _embedding_inputs(request: Request, body: s.EmbedSparseRequest):
    ctx = context(request)
    engine = ctx.engine(body.model)
    got = await texts_of(request, engine, body.inputs)
    opts = options(
        truncate=body.truncate,
        truncation_direction=side(body.truncation_direction),
        prompt_name=body.prompt_name,
    )
    return engine, got, opts


def _score_options(body: s.RerankRequest | s.PredictRequest) -> ScoreOptions:
    return ScoreOptions(
        truncate=True if body.truncate is None else body.truncate,
        truncation_direction=side(body.truncation_direction),
        raw_scores=body.raw_scores,
    )


async def _by_kind(request: Request, engine: Engine, body: dict[str, Any]) -> Response:
    """The route TEI mounts at /invocations for the served model's kind."""
    kind = engine.info.kind
    if kind == RERANKER:
        return json_response(*await _rerank(request, _parse(s.RerankRequest, body)))
    if kind == CLASSIFIER:
        return json_response(*await _predict(request, _parse(s.PredictRequest, body)))
    if kind == SPARSE:
        return json_response(*await _embed_sparse(request, _parse(s.EmbedSparseRequest, body)))
    return json_response(*await embed_content(request, _parse(s.EmbedRequest, body)))


async def _vertex_one(request: Request, engine: Engine, instance: dict[str, Any]) -> Any:
    """One Vertex instance: a rerank when it has a rerank's shape (TEI's rule), else the
    served model's own task."""
    try:
        as_rerank = s.RerankRequest.model_validate(instance)
    except ValidationError:
        as_rerank = None
    if as_rerank is not None:
        return (await _rerank(request, as_rerank))[0]
    kind = engine.info.kind
    if kind in (RERANKER, CLASSIFIER):
        return (await _predict(request, _parse(s.PredictRequest, instance)))[0]
    if kind == SPARSE:
        return (await _embed_sparse(request, _parse(s.EmbedSparseRequest, instance)))[0]
    return (await embed_content(request, _parse(s.EmbedRequest, instance)))[0]


def _parse(model: type[M], body: Any) -> M:
    """`body` as `model`, or the same 4xx a route's own body gives."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
