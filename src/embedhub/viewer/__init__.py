"""The Hub's dataset-viewer API (/datasets-server/...), semantic search over hosted embedding
datasets, and the Hub's Parquet listing, on the server's port. Built on the hub's storage and
permissions (embedhub.hub) and the search indexes (embedhub.search); neither imports this."""

from __future__ import annotations

from fastapi import APIRouter
from prometheus_client import CollectorRegistry
from starlette.requests import Request
from starlette.responses import Response

from embedhub.engine import Engine
from embedhub.hub.paths import RepoId
from embedhub.hub.store import Hub
from embedhub.search.artefacts import pid_alive
from embedhub.search.files import FileCache
from embedhub.search.indexes import Indexes, SearchSettings
from embedhub.search.metrics import SearchMetrics
from embedhub.search.snapshots import Snapshots
from embedhub.viewer import hub_parquet, routes
from embedhub.viewer.context import Viewer, viewer_of
from embedhub.viewer.semantic import semantic_search
from embedhub.viewer.warm import Warmer

FILE_TTL_S = 3600.0

__all__ = ["Warmer", "make_viewer", "routers"]


def make_viewer(
    hub: Hub,
    engines: dict[str, Engine],
    *,
    search: SearchSettings,
    registry: CollectorRegistry | None,
) -> Viewer:
    root = hub.settings.data_dir / "search"
    files = FileCache(root / "files")
    return Viewer(
        hub=hub,
        snapshots=Snapshots(hub, files),
        indexes=Indexes(
            root / "indexes",
            search,
            SearchMetrics(registry),
            repo_exists=lambda type_, ns, name: hub.row(RepoId(type_, ns, name)) is not None,
            # Copies are only read while a view is built or a page is read: an hour unused
            # and they go (a hard link would otherwise keep a deleted repo's bytes on disk).
            also_clean=lambda: files.remove_unused(FILE_TTL_S, pid_alive),
        ),
        engines=engines,
        inference_needs_token=hub.settings.inference_needs_token,
    )


def routers() -> list[APIRouter]:
    """The /datasets-server routes and the Hub's /api/datasets/NS/NAME/parquet. They serve the
    Viewer in `app.state.viewer` (made by make_viewer), so they can be listed without one."""
    router = routes.router()

    @router.get("/semantic-search", summary="Nearest rows of an embedding dataset to a text")
    async def semantic_get(request: Request) -> Response:
        return await semantic_search(viewer_of(request), request)

    @router.post("/semantic-search", summary="Nearest rows to a text or a vector")
    async def semantic_post(request: Request) -> Response:
        return await semantic_search(viewer_of(request), request)

    return [router, hub_parquet.router()]
