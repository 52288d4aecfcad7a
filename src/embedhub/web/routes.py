"""The web view's routes, at the Hub's URL layout, beside the hub's git, LFS and resolve
routes on the same paths.

Pages answer GET and HEAD only, so git's POSTs, LFS and the APIs never reach them. Model
repos live at the root (`/ns/name`), so a page route for a model gives way to every other
route: a path whose first segment another route owns (`/v1/...`, `/api/...`, `/docs`) is not
a model page. Web-only routes live under `/-/`, which can't be a namespace (names start with
a letter or digit). Revisions are split from the raw path, so `refs%2Fconvert%2Fparquet`
stays one segment as in the API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from embedhub.db import NameError_, check_name
from embedhub.errors import EmbedhubError
from embedhub.hub.paths import RepoId, bad, repo_id, split_raw
from embedhub.web import account, maptab, pages, tabs
from embedhub.web.context import HERE, Web

PageFn = Callable[..., Awaitable[Response]]
PREFIXES = {"dataset": "/datasets", "space": "/spaces", "model": ""}


class PageRoute(Route):
    """GET/HEAD only. A `model_shape` route (`/{ns}/{name}...`) also gives way to any other
    route that matches the path, fully or by method (`/v1/embeddings`, `/api/...`, `/docs`)."""

    def __init__(
        self,
        path: str,
        endpoint: Callable,
        *,
        model_shape: bool = False,
        reserved: frozenset[str] = frozenset(),
    ) -> None:
        """`reserved`: the names the server routes on (Database.reserved_names)."""
        super().__init__(path, endpoint, methods=["GET"], include_in_schema=False)
        self.model_shape = model_shape
        self.reserved = reserved

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            return Match.NONE, {}
        match, child = super().matches(scope)
        if match is Match.FULL and self.model_shape:
            namespace = child["path_params"]["ns"]
            if not _namespace_ok(namespace, self.reserved) or _claimed_elsewhere(scope):
                return Match.NONE, {}
        return match, child


def _namespace_ok(namespace: str, reserved: frozenset[str]) -> bool:
    """`/datasets/x`, `/v1/x`: a reserved or impossible namespace is no model's page, so such
    a path keeps the app's own "No route" answer."""
    try:
        check_name(namespace, "namespace", reserved)
    except NameError_:
        return False
    return True


def _claimed_elsewhere(scope: Scope) -> bool:
    for route in scope["app"].router.routes:
        if not isinstance(route, PageRoute) and route.matches(scope)[0] is not Match.NONE:
            return True
    return False


def raw_segments(request: Request) -> list[str]:
    raw = request.scope.get("raw_path") or request.url.path.encode()
    return split_raw(raw)


def page(web: Web, fn: PageFn, *args: Any) -> Callable[[Request], Awaitable[Response]]:
    """A page handler: the visitor looked up, and a failure shown as an HTML page with the
    API's status and error code."""

    async def handler(request: Request) -> Response:
        visitor = web.visitor(request)
        try:
            _no_control_characters(request)
            return await fn(web, request, visitor, *args)
        except EmbedhubError as err:
            return web.error_page(request, visitor, err)

    return handler


def _no_control_characters(request: Request) -> None:
    # As the hub's routes: no name, revision or path holds one (and Starlette's `$` would
    # match "main\n" as "main").
    path = request.scope["path"]
    if any(ord(c) < 32 or c == "\x7f" for c in path):
        raise bad(f"The URL path {path!r} contains control characters")


def data(web: Web, fn: PageFn, *args: Any) -> Callable[[Request], Awaitable[Response]]:
    """A JSON/binary endpoint for the pages' scripts: errors keep the API's JSON shape."""

    async def handler(request: Request) -> Response:
        return await fn(web, request, web.visitor(request), *args)

    return handler


def repo_pages(web: Web, type_: str) -> list[Route]:
    """The pages of one repo type. `skip` is how many raw segments precede `ns`."""
    prefix = PREFIXES[type_]
    skip = 1 if prefix else 0
    model = not prefix

    def rid_of(request: Request) -> tuple[RepoId, list[str]]:
        segs = raw_segments(request)[skip:]
        return repo_id(type_, segs[0], segs[1]), segs[2:]

    async def repo(web: Web, request: Request, visitor, *_: Any) -> Response:
        rid, _tail = rid_of(request)
        return await pages.repo_page(web, request, visitor, rid)

    async def tree(web: Web, request: Request, visitor, *_: Any) -> Response:
        rid, tail = rid_of(request)
        rev = tail[1] if len(tail) > 1 else "main"
        return await pages.tree_page(web, request, visitor, rid, rev, "/".join(tail[2:]))

    async def blob(web: Web, request: Request, visitor, *_: Any) -> Response:
        rid, tail = rid_of(request)
        rev = tail[1] if len(tail) > 1 else "main"
        return await pages.blob_page(web, request, visitor, rid, rev, "/".join(tail[2:]))

    async def commits(web: Web, request: Request, visitor, *_: Any) -> Response:
        rid, tail = rid_of(request)
        rev = tail[1] if len(tail) > 1 and tail[1] else "main"
        return await pages.commits_page(web, request, visitor, rid, rev)

    base = f"{prefix}/{{ns}}/{{name}}"
    reserved = web.db.reserved_names

    def shaped(path: str, fn: PageFn) -> Route:
        return PageRoute(path, page(web, fn), model_shape=model, reserved=reserved)

    routes: list[Route] = [
        shaped(base, repo),
        shaped(f"{base}/tree/{{rest:path}}", tree),
        shaped(f"{base}/blob/{{rest:path}}", blob),
        shaped(f"{base}/commits/{{rest:path}}", commits),
    ]
    if type_ == "dataset":
        routes += dataset_tabs(web, base, rid_of)
    return routes


def dataset_tabs(web: Web, base: str, rid_of: Callable) -> list[Route]:
    async def viewer(web: Web, request: Request, visitor, *_: Any) -> Response:
        rid, tail = rid_of(request)
        config, split = (tail[1], tail[2]) if len(tail) >= 3 else (None, None)
        return await tabs.viewer(web, request, visitor, rid, config, split)

    async def search(web: Web, request: Request, visitor, *_: Any) -> Response:
        return await tabs.search(web, request, visitor, rid_of(request)[0])

    async def map_(web: Web, request: Request, visitor, *_: Any) -> Response:
        return await maptab.map_page(web, request, visitor, rid_of(request)[0])

    return [
        PageRoute(f"{base}/viewer", page(web, viewer)),
        PageRoute(f"{base}/viewer/{{config}}/{{split}}", page(web, viewer)),
        PageRoute(f"{base}/search", page(web, search)),
        PageRoute(f"{base}/map", page(web, map_)),
    ]


def site_routes(web: Web) -> list[Route | Mount]:
    async def download(web: Web, request: Request, visitor, *_: Any) -> Response:
        return await account.download(web, request, visitor, raw_segments(request)[2:])

    return [
        PageRoute("/", page(web, pages.home)),
        PageRoute("/-/login", page(web, account.login_page)),
        Route("/-/login", page(web, account.login), methods=["POST"], include_in_schema=False),
        Route("/-/logout", page(web, account.logout), methods=["POST"], include_in_schema=False),
        PageRoute("/-/download/{rest:path}", page(web, download)),
        PageRoute("/-/map/{what}", data(web, _map_data)),
        PageRoute("/-/search", data(web, maptab.search_hits)),
        Mount("/-/static", StaticFiles(directory=HERE / "static"), name="web-static"),
    ]


async def _map_data(web: Web, request: Request, visitor, *_: Any) -> Response:
    return await maptab.map_data(web, request, visitor, request.path_params["what"])


def add_routes(app: FastAPI, web: Web) -> None:
    """Before the hub's routes: Starlette takes the first full match."""
    routes = site_routes(web)
    for type_ in ("dataset", "space", "model"):
        routes += repo_pages(web, type_)
    app.router.routes.extend(routes)
