"""A dataset's viewer and search tabs. Both read through the server's own dataset-viewer API
(`/datasets-server/rows`, `/splits`, `/semantic-search`), called in-process with the
visitor's rights, so the pages show exactly what the API answers and share its permission
checks; only the response shapes documented for that API are relied on."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from embedhub.errors import EmbedhubError, Kind
from embedhub.hub.paths import RepoId
from embedhub.web.context import Web, in_thread
from embedhub.web.pages import repo_context
from embedhub.web.repodata import open_repo
from embedhub.web.sessions import Visitor

ROWS_PER_PAGE = 20
FOLD_CHARS = 300
VECTOR_PREVIEW = 3
SEARCH_K = 10


class ApiUnavailable(Exception):
    """The dataset-viewer API answered with an error; the tab shows its message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def call(web: Web, request: Request, visitor: Visitor, path: str, **params: Any) -> Any:
    response = await web.internal(request, visitor, f"/datasets-server/{path}", params)
    if not response.headers.get("content-type", "").startswith("application/json"):
        raise ApiUnavailable("This server has no dataset-viewer API (/datasets-server).")
    body = response.json()
    if response.status_code == 404 and "No route" in str(body):
        raise ApiUnavailable("This server has no dataset-viewer API (/datasets-server).")
    if response.status_code >= 400:
        message = body.get("error") if isinstance(body, dict) else None
        status = response.status_code
        raise ApiUnavailable(str(message or f"The dataset-viewer API answered {status}"))
    return body


def cell(value: Any) -> dict[str, Any]:
    """How one cell is shown: vectors compact, long text folded (a <details>, no script)."""
    if isinstance(value, list) and value and all(isinstance(v, int | float) for v in value):
        head = ", ".join(f"{v:.3g}" for v in value[:VECTOR_PREVIEW])
        return {"kind": "vector", "text": f"[{head}, …]", "dims": len(value)}
    text = "" if value is None else value if isinstance(value, str) else str(value)
    if len(text) > FOLD_CHARS:
        return {"kind": "long", "short": text[:FOLD_CHARS], "text": text}
    return {"kind": "plain", "text": text}


async def _repo_tab(web: Web, request: Request, visitor: Visitor, rid: RepoId, tab: str) -> dict:
    def build() -> dict[str, Any]:
        repo = open_repo(web.hub, rid, visitor.token)
        return repo_context(web, request, repo, tab)

    return await in_thread(build)


async def _splits(web: Web, request: Request, visitor: Visitor, rid: RepoId) -> list[dict]:
    body = await call(web, request, visitor, "splits", dataset=rid.id)
    return [s for s in body.get("splits", []) if isinstance(s, dict)]


def _pick(splits: list[dict], config: str | None, split: str | None) -> tuple[str, str]:
    if not splits:
        raise ApiUnavailable("This dataset has no splits the dataset viewer can read.")
    for s in splits:
        if (config in (None, s["config"])) and (split in (None, s["split"])):
            return s["config"], s["split"]
    raise EmbedhubError(Kind.NOT_FOUND, f"No split {split!r} in config {config!r}")


def _int(request: Request, name: str, default: int) -> int:
    try:
        return max(int(request.query_params.get(name, default)), 0)
    except ValueError:
        raise EmbedhubError(Kind.BAD_REQUEST, f"{name!r} must be a whole number") from None


async def viewer(
    web: Web,
    request: Request,
    visitor: Visitor,
    rid: RepoId,
    config: str | None = None,
    split: str | None = None,
) -> Response:
    ctx = await _repo_tab(web, request, visitor, rid, "viewer")
    row = request.query_params.get("row")
    offset = _int(request, "offset", 0)
    if row is not None:
        picked = _int(request, "row", 0)
        offset = picked - picked % ROWS_PER_PAGE
    try:
        splits = await _splits(web, request, visitor, rid)
        config, split = _pick(splits, config, split)
        body = await call(
            web,
            request,
            visitor,
            "rows",
            dataset=rid.id,
            config=config,
            split=split,
            offset=offset,
            length=ROWS_PER_PAGE,
        )
    except ApiUnavailable as exc:
        return web.page(request, visitor, "viewer.html", unavailable=exc.message, **ctx)
    features = [f["name"] for f in body.get("features", [])]
    rows = [
        {"idx": r["row_idx"], "cells": [cell(r["row"].get(name)) for name in features]}
        for r in body.get("rows", [])
    ]
    total = int(body.get("num_rows_total", offset + len(rows)))
    return web.page(
        request,
        visitor,
        "viewer.html",
        splits=splits,
        config=config,
        split=split,
        features=features,
        rows=rows,
        offset=offset,
        total=total,
        per_page=ROWS_PER_PAGE,
        picked=int(row) if row and row.isdigit() else None,
        **ctx,
    )


async def search(web: Web, request: Request, visitor: Visitor, rid: RepoId) -> Response:
    ctx = await _repo_tab(web, request, visitor, rid, "search")
    query = request.query_params.get("q", "").strip()
    values: dict[str, Any] = {"query": query, "results": None, "features": []}
    try:
        splits = await _splits(web, request, visitor, rid)
        config, split = _pick(
            splits, request.query_params.get("config"), request.query_params.get("split")
        )
        values.update(splits=splits, config=config, split=split)
        if query:
            body = await semantic_search(web, request, visitor, rid, config, split, query)
            values["features"] = [f["name"] for f in body.get("features", [])]
            values["results"] = [
                {
                    "idx": r["row_idx"],
                    "score": r.get("score"),
                    "cells": [cell(r["row"].get(n)) for n in values["features"]],
                }
                for r in body.get("rows", [])
            ]
    except ApiUnavailable as exc:
        values["unavailable"] = exc.message
    return web.page(request, visitor, "search.html", **values, **ctx)


async def semantic_search(
    web: Web, request: Request, visitor: Visitor, rid: RepoId, config: str, split: str, query: str
) -> dict:
    return await call(
        web,
        request,
        visitor,
        "semantic-search",
        dataset=rid.id,
        config=config,
        split=split,
        query=query[:2000],
        k=SEARCH_K,
    )
