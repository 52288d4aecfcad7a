"""Rerank as Cohere and Jina serve it: `POST /v1/rerank` and `/v2/rerank` (query, documents as
strings or `{"text"}` objects, top_n, return_documents, max_tokens_per_doc), answered in
Cohere's shape, so the `cohere` client's `rerank` (and LangChain's and LlamaIndex's Cohere
rerankers, which call it) work with `base_url` pointed here. The scores are a cross-encoder's
(a model served with `--model`), in [0, 1] as Cohere's are: CrossEncoder.predict's sigmoid."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.responses import Response

from embedhub.api import cohere_schemas as cs
from embedhub.api.cohere import clip_tokens, cohere_router, model_for
from embedhub.api.common import as_texts, context, json_response
from embedhub.api.fields import Texts
from embedhub.api.schemas import ok
from embedhub.engine import Engine, tasks
from embedhub.errors import EmbedhubError, Kind
from embedhub.types import ScoreOptions

# Cohere's default cut of each document, in tokens (the model's own limit applies after it).
MAX_TOKENS_PER_DOC = 4096


class CohereRerankRequest(BaseModel):
    model: str | None = None  # optional here: the default model
    query: Any = None
    documents: list[Any] | None = None
    top_n: int | None = None
    return_documents: bool = False
    max_tokens_per_doc: int | None = None
    rank_fields: Texts | None = None  # v1: the fields of object documents to rank on
    max_chunks_per_doc: int | None = None  # v1: accepted; documents are cut, never chunked
    priority: int | None = None  # accepted; every request is served in arrival order


def router() -> APIRouter:
    r = cohere_router()

    @r.post(
        "/v2/rerank",
        summary="Rerank documents by relevance to a query (Cohere v2, Jina)",
        responses=ok(cs.CohereRerank, "The documents' indexes and scores, most relevant first"),
    )
    async def rerank_v2(body: CohereRerankRequest, request: Request) -> Response:
        return await rerank(body, request, version="2")

    @r.post(
        "/v1/rerank",
        summary="Rerank documents by relevance to a query (Cohere v1, Jina)",
        responses=ok(cs.CohereRerank, "The documents' indexes and scores, most relevant first"),
    )
    async def rerank_v1(body: CohereRerankRequest, request: Request) -> Response:
        return await rerank(body, request, version="1")

    return r


async def rerank(body: CohereRerankRequest, request: Request, *, version: str) -> Response:
    ctx = context(request)
    engine = model_for(ctx, body.model, tasks.RERANK, "rerank")
    if not isinstance(body.query, str) or not body.query.strip():
        raise EmbedhubError(Kind.EMPTY, "`query` must be a non-empty string", param="query")
    originals = body.documents or []
    texts = document_texts(originals, body.rank_fields)
    texts, _ = as_texts(texts, ctx.settings.max_client_batch_size, field="documents")
    if body.top_n is not None and body.top_n < 1:
        raise _invalid(f"`top_n` must be 1 or more, got {body.top_n}")
    limit = MAX_TOKENS_PER_DOC if body.max_tokens_per_doc is None else body.max_tokens_per_doc
    if limit < 1:
        raise _invalid(f"`max_tokens_per_doc` must be 1 or more, got {limit}")
    texts = clip_tokens(engine, texts, limit, "right", True, "max_tokens_per_doc")
    scores = await relevance(engine, body.query, texts)
    order = np.argsort(-scores, kind="stable")[: body.top_n]
    results = []
    for i in order.tolist():
        result: dict[str, Any] = {"index": i, "relevance_score": float(scores[i])}
        if body.return_documents:
            doc = originals[i]
            result["document"] = {"text": doc} if isinstance(doc, str) else doc
        results.append(result)
    meta = {"api_version": {"version": version}, "billed_units": {"search_units": 1}}
    return json_response({"id": str(uuid.uuid4()), "results": results, "meta": meta})


def document_texts(documents: list[Any], rank_fields: list[str] | None) -> list[Any]:
    """The text each document is ranked on: a string as is; an object's `text`, or with
    v1's `rank_fields` those fields as `field: value` lines (as Cohere formats them)."""
    fields = rank_fields or ["text"]
    out: list[Any] = []
    for i, doc in enumerate(documents):
        if isinstance(doc, str):
            out.append(doc)
            continue
        if not isinstance(doc, dict):
            raise _invalid(f"`documents`[{i}] must be a string or an object with a `text` string")
        missing = [f for f in fields if not isinstance(doc.get(f), str)]
        if missing:
            raise _invalid(f"`documents`[{i}] has no string field {missing[0]!r}")
        if rank_fields:
            out.append("\n".join(f"{f}: {doc[f]}" for f in fields))
        else:
            out.append(doc["text"])
    return out


async def relevance(engine: Engine, query: str, texts: list[str]) -> np.ndarray:
    """Each text's relevance to `query`, in [0, 1]: CrossEncoder.predict's sigmoid, computed
    by the engine's cross-encoder task."""
    result = await engine.rerank(query, texts, ScoreOptions(truncate=True))
    return np.asarray(result.values, np.float32)


def _invalid(message: str) -> EmbedhubError:
    return EmbedhubError(Kind.VALIDATION, message)
