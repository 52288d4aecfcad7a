"""The map tab and the data its script loads: the projection's state (polled while it
computes), the points as raw float32, the hover labels, the colour columns, and search hits
to highlight. Every data URL names the commit, so what it answers never changes and the
browser may keep it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from embedhub.errors import EmbedhubError, Kind
from embedhub.hub.paths import REPO_TYPES, RepoId, repo_id, revision
from embedhub.web import mapdata, mapjob, tabs
from embedhub.web.context import Web, in_thread
from embedhub.web.pages import repo_context
from embedhub.web.repodata import Repo, data_files, open_repo
from embedhub.web.sessions import Visitor

FILES = {"pca": mapjob.PCA, "umap": mapjob.UMAP, "labels": mapjob.LABELS, "colors": mapjob.COLORS}
IMMUTABLE = "private, max-age=31536000, immutable"


@dataclass
class Target:
    """One split of one dataset at one commit, and where its projection lives."""

    repo: Repo
    config: str
    split: str
    files: list[str]
    folder: Path
    splits: dict[str, dict[str, list[str]]]


def find_target(
    web: Web, rid: RepoId, visitor: Visitor, rev: str, config: str | None, split: str | None
) -> Target:
    repo = open_repo(web.hub, rid, visitor.token, rev)
    card = repo.card()
    splits = data_files(repo, card.meta if card else None)
    if not splits:
        raise mapdata.NoEmbedding("This dataset has no Parquet data files, so there is no map.")
    config = config if config in splits else next(iter(splits))
    split = split if split in splits[config] else next(iter(splits[config]))
    files = splits[config][split]
    folder = web.maps.folder(rid, repo.commit, config, split)
    return Target(repo, config, split, files, folder, splits)


def start(web: Web, t: Target) -> None:
    mapdata.pick_columns(mapdata.schema_of(t.repo, t.files[0]))  # no embedding: say so now
    web.maps.ensure(t.folder, t.repo.rid, t.repo.commit, t.files)


async def map_page(web: Web, request: Request, visitor: Visitor, rid: RepoId) -> Response:
    q = request.query_params

    def build() -> dict[str, Any]:
        repo = open_repo(web.hub, rid, visitor.token)
        ctx = repo_context(web, request, repo, "map")
        try:
            t = find_target(web, rid, visitor, repo.commit, q.get("config"), q.get("split"))
            start(web, t)
        except mapdata.NoEmbedding as exc:
            return {**ctx, "missing": str(exc)}
        return {**ctx, "config": t.config, "split": t.split, "splits": t.splits}

    return web.page(request, visitor, "map.html", **await in_thread(build))


def _target_from_query(web: Web, request: Request, visitor: Visitor) -> Target:
    q = request.query_params
    type_, _, repo = (q.get("repo") or "").partition(":")
    ns, _, name = repo.partition("/")
    if type_ not in REPO_TYPES.values():
        raise EmbedhubError(Kind.BAD_REQUEST, "'repo' must look like dataset:ns/name")
    rid = repo_id(type_, ns, name)
    commit = revision(q.get("commit", ""))
    return find_target(web, rid, visitor, commit, q.get("config"), q.get("split"))


async def map_data(web: Web, request: Request, visitor: Visitor, what: str) -> Response:
    def build() -> Response:
        t = _target_from_query(web, request, visitor)
        if what == "state":
            state = web.maps.state(t.folder)
            if state["status"] == "running" and not web.maps.running(t.folder):
                start(web, t)  # its job died (or the server restarted): compute it again
            return Response(orjson.dumps(state), media_type="application/json")
        found = web.maps.file(t.folder, FILES[what])
        if found is None:
            raise EmbedhubError(Kind.NOT_FOUND, f"The map's {what} are not computed yet")
        headers = {"Cache-Control": IMMUTABLE}
        if found.suffix == ".gz":
            headers["Content-Encoding"] = "gzip"
            return FileResponse(found, headers=headers, media_type="application/json")
        return FileResponse(found, headers=headers, media_type="application/octet-stream")

    if what not in FILES and what != "state":
        raise EmbedhubError(Kind.NOT_FOUND, f"No map file {what!r}")
    try:
        return await in_thread(build)
    except mapdata.NoEmbedding as exc:
        raise EmbedhubError(Kind.NOT_FOUND, str(exc)) from None


async def search_hits(web: Web, request: Request, visitor: Visitor) -> Response:
    """The semantic search's hits as row indices and scores, for the map to highlight."""
    q = request.query_params
    ns, _, name = (q.get("repo") or "").partition("/")
    rid = repo_id("dataset", ns, name)
    await in_thread(web.hub.readable, rid, visitor.token)
    query = q.get("q", "").strip()
    if not query:
        raise EmbedhubError(Kind.BAD_REQUEST, "'q' (the search text) is empty")
    try:
        body = await tabs.semantic_search(
            web, request, visitor, rid, q.get("config", "default"), q.get("split", "train"), query
        )
    except tabs.ApiUnavailable as exc:
        raise EmbedhubError(Kind.BAD_REQUEST, exc.message) from None
    hits = [{"row_idx": r["row_idx"], "score": r.get("score")} for r in body.get("rows", [])]
    return Response(orjson.dumps({"hits": hits}), media_type="application/json")
