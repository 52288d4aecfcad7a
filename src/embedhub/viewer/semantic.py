"""/datasets-server/semantic-search: the nearest rows of a hosted dataset's embedding column
to a text (embedded here, with the model and prompt the dataset's card names) or to a raw
vector. Answered in the shape of the dataset viewer's /search, with a `score` per row.

GET ?dataset=NS/NAME&query=TEXT[&k=10][&config=][&split=][&revision=][&where=][&column=]
[&embedding=true], or POST the same fields as a JSON object, where `vector` may replace
`query`."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import numpy as np
import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from embedhub.cardmeta import EmbeddingMeta
from embedhub.engine import Engine
from embedhub.errors import EmbedhubError, Kind
from embedhub.hub.paths import RepoId
from embedhub.search.snapshots import Snapshot
from embedhub.search.views import View
from embedhub.search.where import WhereError, compile_where, matching_rows
from embedhub.types import EmbedOptions
from embedhub.viewer.context import DEFAULT_REVISION, Viewer
from embedhub.viewer.params import DEFAULT_K, MAX_K, MAX_ROWS, flag, integer, invalid, missing
from embedhub.viewer.rows import features_list, features_of, json_response

MAX_BODY = 1 << 20  # a POST carries at most a query and one vector
MAX_QUERY_CHARS = 10_000
FIELDS = (
    "dataset",
    "config",
    "split",
    "revision",
    "query",
    "vector",
    "k",
    "where",
    "column",
    "embedding",
)


@dataclass
class Ask:
    dataset: str
    config: str | None
    split: str | None
    revision: str
    query: str | None
    vector: list[float] | None
    k: int
    where: str | None
    column: str | None
    embedding: bool


@dataclass
class Target:
    """What a query searches: one split of a dataset at one commit, and its vector column."""

    snap: Snapshot
    view: View
    column: str
    dim: int
    engine: Engine | None  # for a text query


async def semantic_search(viewer: Viewer, request: Request) -> Response:
    ask = await _ask(request)
    token = viewer.token(request)
    rid = viewer.readable(ask.dataset, token)
    if ask.query is not None and token is None and viewer.inference_needs_token:
        raise EmbedhubError(
            Kind.UNAUTHORIZED,
            "Embedding the query needs a token on this server (Authorization: Bearer TOKEN), "
            "or send a `vector` instead of a `query`",
            headers={"WWW-Authenticate": 'Bearer realm="embedhub"'},
        )
    vector = _vector_of(ask.vector) if ask.vector is not None else None
    # One hand-off to a worker thread per query, which finds what to search (cached after the
    # first query: no git), embeds a text query (waiting there for the engine's thread) and
    # searches. Each hand-off costs two thread wake-ups, a few hundred microseconds on a small
    # VM: a good part of a fast query, when it took three. The price: a text query holds its
    # worker thread while the engine embeds it (milliseconds, as a scan holds it).
    return await anyio.to_thread.run_sync(_search, viewer, rid, ask, vector)


def _search(viewer: Viewer, rid: RepoId, ask: Ask, vector: np.ndarray | None) -> Response:
    """Call from a worker thread."""
    target = _target(viewer, rid, ask)
    if vector is None:
        assert target.engine is not None and target.snap.meta is not None
        q = _embed(target.engine, ask.query or "", target.snap.meta, target.dim, target.column)
    elif len(vector) != target.dim:
        raise invalid(
            f"'vector' has {len(vector)} numbers; column {target.column!r} holds "
            f"{target.dim}-dimensional vectors"
        )
    else:
        q = vector
    return _answer(viewer, target, ask, q)


def _target(viewer: Viewer, rid: RepoId, ask: Ask) -> Target:
    """Call from a worker thread: the commit may need git, the view a build."""
    snap = viewer.snapshots.get(rid, ask.revision)
    split = viewer.split(snap, ask.config, ask.split)
    if snap.meta is None and snap.meta_error:
        raise EmbedhubError(
            Kind.VALIDATION,
            f"{rid.id}: the dataset card's search metadata is unusable: {snap.meta_error}",
            code="CardError",
        )
    engine = _engine(viewer, snap.meta, rid.id) if ask.query is not None else None
    view = viewer.open_view(snap, split, ask.revision)
    column = _column(view, ask.column, snap.meta, rid.id)
    return Target(snap, view, column, view.vectors[column].dim, engine)


def _answer(viewer: Viewer, target: Target, ask: Ask, q: np.ndarray) -> Response:
    """Call from a worker thread: the scan, the rows and the JSON, in one go."""
    view, column = target.view, target.column
    rows = _filtered(view, ask.where)
    result = viewer.indexes.nearest(view, column, q, ask.k, rows)
    ids = [int(i) for i in result.ids]
    extra = [column] if ask.embedding else []
    shown = [name for name in view.schema.names if name in extra or (name not in view.vectors)]
    table = view.take(ids, [c for c in view.vectors if c in shown]) if ids else []
    items = [
        {"row_idx": i, "row": row, "truncated_cells": [], "score": float(s)}
        for i, row, s in zip(ids, table, result.scores, strict=True)
    ]
    body = {
        "features": _features(view, tuple(shown)),
        "rows": items,
        "num_rows_total": result.searched,
        "num_rows_per_page": ask.k,
        "partial": False,
    }
    headers = {"X-Revision": target.snap.commit, "X-Search-Method": result.method}
    return json_response(body, headers)


# --- the request ----------------------------------------------------------------------------
async def _ask(request: Request) -> Ask:
    if request.method == "POST":
        data = await _json_body(request)
    else:
        data = dict(request.query_params)
    unknown = sorted(set(data) - set(FIELDS))
    if unknown and request.method == "POST":
        raise invalid(f"Unknown field(s) {', '.join(unknown)}; known: {', '.join(FIELDS)}")
    dataset = _text(data.get("dataset"), "dataset")
    if dataset is None:
        raise missing("dataset")
    query, vector = _text(data.get("query"), "query"), data.get("vector")
    if (query is None) == (vector is None):
        raise EmbedhubError(
            Kind.VALIDATION,
            "Send exactly one of 'query' (a text to embed) and 'vector' (POST only)",
            code="MissingRequiredParameter" if query is None else "InvalidParameter",
        )
    if query is not None and len(query) > MAX_QUERY_CHARS:
        raise invalid(f"Parameter 'query' is longer than {MAX_QUERY_CHARS} characters")
    return Ask(
        dataset=dataset,
        config=_text(data.get("config"), "config"),
        split=_text(data.get("split"), "split"),
        revision=_text(data.get("revision"), "revision") or DEFAULT_REVISION,
        query=query,
        vector=vector,
        k=integer(data.get("k"), "k", DEFAULT_K, 1, MAX_K),
        where=_text(data.get("where"), "where"),
        column=_text(data.get("column"), "column"),
        embedding=flag(data.get("embedding"), "embedding"),
    )


def _text(value: Any, name: str) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise invalid(f"Parameter '{name}' must be a string")
    return value


async def _json_body(request: Request) -> dict[str, Any]:
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY:
        raise _too_large()
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                raise _too_large()
    except ClientDisconnect:
        raise EmbedhubError(Kind.BAD_REQUEST, "The client went away mid-body") from None
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        raise EmbedhubError(Kind.BAD_REQUEST, "The request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise EmbedhubError(Kind.BAD_REQUEST, "The body must be a JSON object")
    return data


def _too_large() -> EmbedhubError:
    return EmbedhubError(
        Kind.TOO_LARGE, f"Payload too large: a semantic search body is at most {MAX_BODY} bytes"
    )


# --- what to search with --------------------------------------------------------------------
def _engine(viewer: Viewer, meta: EmbeddingMeta | None, dataset: str) -> Engine:
    if meta is None:
        raise EmbedhubError(
            Kind.VALIDATION,
            f"{dataset}'s card does not say which model made its vectors (no `embedhub:` "
            "block, as `embedhub embed` writes), so a text query can't be embedded the same "
            "way: send a `vector` instead",
            code="ModelUnknown",
        )
    engine = viewer.engines.get(meta.model)
    if engine is None:
        served = ", ".join(viewer.engines) or "none"
        raise EmbedhubError(
            Kind.VALIDATION,
            f"{dataset} was embedded with {meta.model}, which this server does not serve "
            f"(serving: {served}); restart it with `--model {meta.model}` added, or send a "
            "`vector` instead of a `query`",
            code="ModelNotServed",
        )
    return engine


def _column(view: View, asked: str | None, meta: EmbeddingMeta | None, dataset: str) -> str:
    names = list(view.vectors)
    if asked is not None:
        if asked not in names:
            raise invalid(
                f"Parameter 'column': {asked!r} is not an embedding column of {dataset}; "
                f"embedding columns: {', '.join(names) or 'none'}"
            )
        return asked
    if meta is not None and meta.embedding_column in names:
        return meta.embedding_column
    if len(names) == 1:
        return names[0]
    if not names:
        raise EmbedhubError(
            Kind.VALIDATION,
            f"{dataset} has no embedding column (a column of float vectors, all of one length)",
            code="NoEmbeddingColumn",
        )
    raise invalid(f"{dataset} has several embedding columns ({', '.join(names)}): pass column=")


def _vector_of(vector: object) -> np.ndarray:
    """The JSON list as float32, or a 400 (its length is checked against the column's)."""
    # map(type) runs in C: a 1,024-number vector checks in microseconds (bools are ints to
    # isinstance, and a JSON `true` is no coordinate).
    if not isinstance(vector, list) or not set(map(type, vector)) <= {int, float}:
        raise invalid("'vector' must be a list of numbers")
    q = np.asarray(vector, np.float32)
    if not np.isfinite(q).all():
        raise invalid("'vector' must hold finite numbers")
    return q


def _embed(engine: Engine, text: str, meta: EmbeddingMeta, dim: int, column: str) -> np.ndarray:
    """Call from a worker thread (it waits for the engine's)."""
    if engine.info.dimension != dim:
        raise EmbedhubError(
            Kind.VALIDATION,
            f"{meta.model} gives {engine.info.dimension}-dimensional vectors but column "
            f"{column!r} holds {dim}-dimensional ones",
            code="DimensionMismatch",
        )
    options = EmbedOptions(prompt_name=meta.query_prompt_name or meta.prompt_name)
    return engine.embed_blocking([text], options).vectors[0]


# A split's features in the viewer's shape, per shown columns: `datasets` builds them from the
# Arrow schema in a good part of a millisecond, and they never change for an opened split.
_FEATURES: weakref.WeakKeyDictionary[View, dict[tuple[str, ...], list]] = (
    weakref.WeakKeyDictionary()
)


def _features(view: View, shown: tuple[str, ...]) -> list[dict[str, Any]]:
    per_view = _FEATURES.setdefault(view, {})
    found = per_view.get(shown)
    if found is None:
        found = per_view[shown] = features_list(features_of(view.schema, list(shown)))
    return found


def _filtered(view: View, where: str | None) -> np.ndarray | None:
    if where is None:
        return None
    try:
        return matching_rows(view.rows, compile_where(where, view.rows.schema))
    except WhereError as exc:
        raise invalid(str(exc)) from None


__all__ = ["semantic_search", "MAX_ROWS"]
