"""The Hugging Face Inference API: feature extraction and sentence similarity.

Newer clients send options at the body's root, older ones inside `parameters`; both count.
`POST /` and `POST /models/{id}` dispatch on the body's shape, because
`InferenceClient(base_url=...)` posts every task to the same URL."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict
from starlette.responses import Response

from embedhub.api.common import (
    as_texts,
    compare,
    context,
    json_response,
    options,
    require_inference_auth,
    timing_headers,
    use_cache_header,
)
from embedhub.api.fields import Texts
from embedhub.api.routing import HfRoute
from embedhub.api.schemas import FeatureExtraction, Similarities, ok
from embedhub.errors import EmbedhubError, Kind


class SimilarityInputs(BaseModel):
    source_sentence: str
    sentences: Texts


class Options(BaseModel):
    model_config = ConfigDict(extra="allow")
    use_cache: bool | None = None
    wait_for_model: bool | None = None


class Parameters(BaseModel):
    model_config = ConfigDict(extra="allow")
    normalize: bool | None = None
    truncate: bool | None = None
    truncation_direction: str | None = None
    prompt_name: str | None = None
    dimensions: int | None = None


class HFRequest(Parameters):
    inputs: str | list[Any] | SimilarityInputs
    options: Options | None = None
    parameters: Parameters | None = None
    encoding_format: str | None = None

    def setting(self, name: str) -> Any:
        value = getattr(self, name)
        if value is None and self.parameters is not None:
            value = getattr(self.parameters, name)
        return value


def router() -> APIRouter:
    r = APIRouter(
        tags=["Hugging Face Inference API"],
        dependencies=[Depends(require_inference_auth)],
        route_class=HfRoute,
    )

    embeds = ok(FeatureExtraction, "The vectors")
    compares = ok(Similarities, "A cosine per sentence")
    either = ok(FeatureExtraction | Similarities, "Vectors or cosines, by the body's shape")

    @r.post("/pipeline/feature-extraction/{model_id:path}", summary="Embed text", responses=embeds)
    async def feature_extraction(model_id: str, body: HFRequest, request: Request) -> Response:
        return await _feature_extraction(request, model_id, body)

    @r.post(
        "/pipeline/sentence-similarity/{model_id:path}",
        summary="Cosine similarities",
        responses=compares,
    )
    async def sentence_similarity(model_id: str, body: HFRequest, request: Request) -> Response:
        return await _similarity(request, model_id, body)

    @r.post(
        "/models/{model_id:path}",
        summary="Embed or compare, by the body's shape",
        responses=either,
    )
    async def model_task(model_id: str, body: HFRequest, request: Request) -> Response:
        return await _dispatch(request, model_id, body)

    @r.post(
        "/",
        summary="Embed or compare with the default model, by the body's shape",
        responses=either,
    )
    async def root_task(body: HFRequest, request: Request) -> Response:
        return await _dispatch(request, None, body)

    return r


async def _dispatch(request: Request, model_id: str | None, body: HFRequest) -> Response:
    if isinstance(body.inputs, SimilarityInputs):
        return await _similarity(request, model_id, body)
    return await _feature_extraction(request, model_id, body)


def _options(request: Request, body: HFRequest):
    use_cache = body.options.use_cache if body.options else None
    if body.encoding_format not in (None, "float"):
        raise EmbedhubError(
            Kind.VALIDATION,
            "encoding_format must be 'float' on this route (use /v1/embeddings for base64)",
            param="encoding_format",
        )
    values = {
        name: body.setting(name)
        for name in ("normalize", "truncate", "truncation_direction", "prompt_name", "dimensions")
    }
    return options(use_cache=use_cache_header(request, use_cache), **values)


async def _feature_extraction(request: Request, model_id: str | None, body: HFRequest) -> Response:
    ctx = context(request)
    engine = ctx.engine(model_id)
    if isinstance(body.inputs, SimilarityInputs):
        raise EmbedhubError(
            Kind.VALIDATION,
            "feature extraction takes `inputs` as a string or a "
            "list of strings; use the sentence-similarity route for pairs",
        )
    texts, single = as_texts(body.inputs, ctx.settings.max_client_batch_size)
    result = await engine.embed(texts, _options(request, body))
    vectors = result.vectors[0] if single else result.vectors
    return json_response(vectors, timing_headers(result))


async def _similarity(request: Request, model_id: str | None, body: HFRequest) -> Response:
    ctx = context(request)
    engine = ctx.engine(model_id)
    if not isinstance(body.inputs, SimilarityInputs):
        raise EmbedhubError(
            Kind.VALIDATION,
            'sentence similarity takes `inputs` as {"source_sentence": str, "sentences": [str]}',
        )
    pair = body.inputs
    opts = _options(request, body)
    return await compare(
        engine, pair.source_sentence, pair.sentences, opts, ctx.settings.max_client_batch_size
    )
