"""The Hub's own Parquet listing: `GET /api/datasets/NS/NAME/parquet[/CONFIG[/SPLIT]]` lists
URLs per config and split, and `.../parquet/CONFIG/SPLIT/N.parquet` redirects to the Nth file
(as huggingface.co does for its converted files; here the data files are the Parquet files)."""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from embedhub.errors import EmbedhubError, Kind
from embedhub.viewer.context import Viewer, no_data, viewer_of
from embedhub.viewer.meta import resolve_url
from embedhub.viewer.rows import json_response

BASE = "/api/datasets/{namespace}/{name}/parquet"


def router() -> APIRouter:
    """Each handler finds the Viewer in `app.state.viewer`, so the routes can be listed
    without one."""
    r = APIRouter(tags=["hub"])

    async def snapshot(namespace: str, name: str, request: Request):
        viewer = viewer_of(request)
        rid = viewer.readable(f"{namespace}/{name}", viewer.token(request))
        snap = await anyio.to_thread.run_sync(viewer.snapshots.get, rid, "main")
        if not snap.splits:
            raise no_data(snap)
        return snap

    def listing(snap, base: str, config: str | None, split: str | None) -> dict:
        out: dict[str, dict[str, list[str]]] = {}
        for s in snap.splits:
            if s.supported and config in (None, s.config) and split in (None, s.split):
                url = f"{base}/api/datasets/{snap.rid.id}/parquet/{s.config}/{s.split}"
                out.setdefault(s.config, {})[s.split] = [
                    f"{url}/{i}.parquet" for i in range(len(s.files))
                ]
        if config is not None and config not in out:
            snap.split(config, split or "")  # the precise 404
        return out

    @r.get(BASE, summary="Parquet file URLs per config and split")
    async def all_configs(namespace: str, name: str, request: Request) -> Response:
        viewer = viewer_of(request)
        snap = await snapshot(namespace, name, request)
        return json_response(listing(snap, _base(viewer, request), None, None))

    @r.get(BASE + "/{config}", summary="Parquet file URLs of one config")
    async def one_config(namespace: str, name: str, config: str, request: Request) -> Response:
        viewer = viewer_of(request)
        snap = await snapshot(namespace, name, request)
        return json_response(listing(snap, _base(viewer, request), config, None)[config])

    @r.get(BASE + "/{config}/{split}", summary="Parquet file URLs of one split")
    async def one_split(
        namespace: str, name: str, config: str, split: str, request: Request
    ) -> Response:
        viewer = viewer_of(request)
        snap = await snapshot(namespace, name, request)
        return json_response(listing(snap, _base(viewer, request), config, split)[config][split])

    @r.get(BASE + "/{config}/{split}/{number}.parquet", summary="Redirect to one Parquet file")
    async def one_file(
        namespace: str, name: str, config: str, split: str, number: str, request: Request
    ) -> Response:
        viewer = viewer_of(request)
        snap = await snapshot(namespace, name, request)
        layout = snap.split(config, split)
        if not number.isdigit() or int(number) >= len(layout.files):
            raise EmbedhubError(
                Kind.NOT_FOUND,
                f"No file {number}.parquet in {snap.rid.id} {config}/{split}: it has "
                f"{len(layout.files)} (0 to {len(layout.files) - 1})",
                code="EntryNotFound",
            )
        url = resolve_url(_base(viewer, request), snap, layout.files[int(number)])
        return RedirectResponse(url, status_code=302)

    return r


def _base(viewer: Viewer, request: Request) -> str:
    return (viewer.hub.settings.public_url or str(request.base_url)).rstrip("/")
