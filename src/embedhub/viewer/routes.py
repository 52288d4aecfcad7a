"""The Hub's dataset-viewer API under /datasets-server: same paths, parameters and response
fields as https://datasets-server.huggingface.co, so code written for it works by changing
the base URL. Read from the dataset's own Parquet files at one resolved commit (the
X-Revision header names it)."""

from __future__ import annotations

import anyio.to_thread
import pyarrow.parquet as pq
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from embedhub.errors import EmbedhubError, Kind
from embedhub.search.fulltext import text_columns
from embedhub.search.where import WhereError, compile_where, matching_rows
from embedhub.viewer import meta
from embedhub.viewer.context import Viewer, no_data, viewer_of
from embedhub.viewer.params import MAX_ROWS, invalid, offset_length, optional, required
from embedhub.viewer.rows import (
    features_list,
    features_of,
    first_rows_items,
    json_response,
    num_rows,
    read_page,
    row_items,
)

PREFIX = "/datasets-server"


def router() -> APIRouter:
    """Each handler finds the Viewer in `app.state.viewer`, so the routes can be listed
    without one."""
    r = APIRouter(prefix=PREFIX, tags=["dataset viewer"])

    @r.get("/is-valid", summary="Which viewer features work for a dataset")
    async def is_valid(request: Request) -> Response:
        viewer = viewer_of(request)
        snap = await viewer.snapshot(request)

        def check() -> dict[str, bool]:
            ok = [s for s in snap.splits if s.supported]
            if not ok:
                return dict.fromkeys(("viewer", "preview", "search", "filter", "statistics"), False)
            schema = pq.read_schema(viewer.paths(snap, ok[0])[0])
            return {
                "viewer": True,
                "preview": True,
                "search": bool(text_columns(schema)),
                "filter": True,
                "statistics": False,  # /statistics is not served here
            }

        return _ok(await anyio.to_thread.run_sync(check), snap.commit)

    @r.get("/splits", summary="The dataset's configs and splits")
    async def splits(request: Request) -> Response:
        viewer = viewer_of(request)
        snap = await viewer.snapshot(request)
        config = optional(request, "config")
        if not snap.splits:
            raise no_data(snap)
        found = [s for s in snap.splits if config is None or s.config == config]
        if not found:
            snap.split(config or "", "")  # raises the precise 404 naming the configs
        items = [{"dataset": snap.rid.id, "config": s.config, "split": s.split} for s in found]
        return _ok({"splits": items, "pending": [], "failed": []}, snap.commit)

    @r.get("/first-rows", summary="The first rows of a split (up to 100, at most ~1 MB)")
    async def first_rows(request: Request) -> Response:
        viewer = viewer_of(request)
        snap = await viewer.snapshot(request)
        split = viewer.split(snap, required(request, "config"), required(request, "split"))

        def build() -> dict:
            paths = viewer.paths(snap, split)
            schema = pq.read_schema(paths[0])
            table = read_page(paths, 0, MAX_ROWS)
            items, truncated = first_rows_items(table.to_pylist() if table else [])
            return {
                "dataset": snap.rid.id,
                "config": split.config,
                "split": split.split,
                "features": features_list(features_of(schema)),
                "rows": items,
                "truncated": truncated,
            }

        return _ok(await anyio.to_thread.run_sync(build), snap.commit)

    @r.get("/rows", summary="A page of rows (offset, length <= 100)")
    async def rows(request: Request) -> Response:
        viewer = viewer_of(request)
        snap = await viewer.snapshot(request)
        split = viewer.split(snap, required(request, "config"), required(request, "split"))
        offset, length = offset_length(request)

        def build() -> dict:
            paths = viewer.paths(snap, split)
            table = read_page(paths, offset, length) if length else None
            page = table.to_pylist() if table is not None else []
            return _page(
                features_of(pq.read_schema(paths[0])),
                row_items(page, list(range(offset, offset + len(page)))),
                num_rows(paths),
            )

        return _ok(await anyio.to_thread.run_sync(build), snap.commit)

    @r.get("/search", summary="Full-text search (BM25, Porter stemmer) over text columns")
    async def search(request: Request) -> Response:
        viewer = viewer_of(request)
        snap = await viewer.snapshot(request)
        split = viewer.split(snap, required(request, "config"), required(request, "split"))
        query = required(request, "query")
        offset, length = offset_length(request)
        view = await viewer.view(snap, split, optional(request, "revision") or "main")

        def build() -> dict:
            index = viewer.indexes.fulltext(view)
            if index is None:
                raise EmbedhubError(
                    Kind.VALIDATION,
                    f"{snap.rid.id} ({split.split}) has no text column to search",
                    code="FeaturesError",
                )
            ids, total = index.search(query, offset, length)
            return _page(_all_features(view), row_items(_take(view, ids), ids), total)

        return _ok(await anyio.to_thread.run_sync(build), snap.commit)

    @r.get("/filter", summary="Rows matching a `where` condition")
    async def filter_rows(request: Request) -> Response:
        viewer = viewer_of(request)
        snap = await viewer.snapshot(request)
        split = viewer.split(snap, required(request, "config"), required(request, "split"))
        where_text = required(request, "where")
        offset, length = offset_length(request)
        view = await viewer.view(snap, split, optional(request, "revision") or "main")

        def build() -> dict:
            try:
                matches = matching_rows(view.rows, compile_where(where_text, view.rows.schema))
            except WhereError as exc:
                raise invalid(str(exc)) from None
            ids = [int(i) for i in matches[offset : offset + length]]
            return _page(_all_features(view), row_items(_take(view, ids), ids), len(matches))

        return _ok(await anyio.to_thread.run_sync(build), snap.commit)

    @r.get("/parquet", summary="The dataset's Parquet files")
    async def parquet(request: Request) -> Response:
        viewer = viewer_of(request)
        snap = await viewer.snapshot(request)
        files = await anyio.to_thread.run_sync(
            meta.parquet_files, viewer, snap, optional(request, "config"), _base(viewer, request)
        )
        return _ok(
            {"parquet_files": files, "pending": [], "failed": [], "partial": False}, snap.commit
        )

    @r.get("/size", summary="Rows and bytes per dataset, config and split")
    async def size(request: Request) -> Response:
        viewer = viewer_of(request)
        snap = await viewer.snapshot(request)
        sizes = await anyio.to_thread.run_sync(
            meta.sizes, viewer, snap, optional(request, "config")
        )
        return _ok({"size": sizes, "pending": [], "failed": [], "partial": False}, snap.commit)

    @r.get("/info", summary="DatasetInfo of a config (or of every config)")
    async def info(request: Request) -> Response:
        viewer = viewer_of(request)
        snap = await viewer.snapshot(request)
        config = optional(request, "config")
        infos = await anyio.to_thread.run_sync(meta.infos, viewer, snap, config)
        body: dict = {"dataset_info": infos[config] if config else infos, "partial": False}
        if not config:
            body = {**body, "pending": [], "failed": []}
        return _ok(body, snap.commit)

    return r


def _page(features, items: list[dict], total: int) -> dict:
    return {
        "features": features_list(features),
        "rows": items,
        "num_rows_total": total,
        "num_rows_per_page": MAX_ROWS,
        "partial": False,
    }


def _all_features(view):
    return features_of(view.schema)


def _take(view, ids: list[int]) -> list[dict]:
    return view.take(ids, list(view.vectors)) if ids else []


def _ok(content: dict, commit: str) -> Response:
    return json_response(content, headers={"X-Revision": commit})


def _base(viewer: Viewer, request: Request) -> str:
    return (viewer.hub.settings.public_url or str(request.base_url)).rstrip("/")
