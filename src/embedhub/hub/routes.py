"""Route table. Starlette decodes `%2F` before matching, which would split a revision like
`refs%2Fconvert%2Fparquet`; so a few catch-all routes hand the raw path to the dispatchers
here, which split it into segments first and decode each one after."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from embedhub.errors import EmbedhubError, Kind
from embedhub.hub import api, files, githttp, lfs_routes
from embedhub.hub.paths import REPO_TYPES, RepoId, repo_id, split_raw
from embedhub.hub.store import Hub

Handler = Callable[[Request], Awaitable[Response]]
ALL = ["GET", "HEAD", "POST", "PUT", "DELETE"]


def no_route(request: Request) -> EmbedhubError:
    return EmbedhubError(Kind.NOT_FOUND, f"No route for {request.method} {request.url.path}")


def segments(request: Request) -> list[str]:
    raw = request.scope.get("raw_path") or request.url.path.encode()
    root = request.scope.get("root_path", "").encode()
    if root and raw.startswith(root):
        raw = raw[len(root) :]
    return split_raw(raw)


async def dispatch_api(hub: Hub, request: Request) -> Response:
    segs, method = segments(request)[1:], request.method
    if segs == ["whoami-v2"] and method == "GET":
        return await api.whoami(hub, request)
    if segs == ["repos", "create"] and method == "POST":
        return await api.create_repo(hub, request)
    if segs == ["repos", "delete"] and method == "DELETE":
        return await api.delete_repo(hub, request)
    if segs == ["validate-yaml"] and method == "POST":
        return await api.validate_yaml(hub, request)
    if len(segs) >= 3 and segs[0] in REPO_TYPES:
        rid = repo_id(REPO_TYPES[segs[0]], segs[1], segs[2])
        return await _repo_api(hub, request, rid, segs[3:])
    raise no_route(request)


async def _repo_api(hub: Hub, request: Request, rid: RepoId, tail: list[str]) -> Response:
    method, n = request.method, len(tail)
    verb = tail[0] if tail else ""
    if method in ("GET", "HEAD"):
        if n == 0:
            return await api.repo_info(hub, request, rid)
        if verb == "revision" and n == 2:
            return await api.repo_info(hub, request, rid, tail[1])
        if verb == "tree" and n >= 2:
            return await api.tree(hub, request, rid, tail[1], "/".join(tail[2:]))
        if verb == "refs" and n == 1:
            return await api.refs(hub, request, rid)
        if verb == "commits" and n == 2:
            return await api.list_commits(hub, request, rid, tail[1])
    if method == "POST" and n == 2:
        post = {"paths-info": api.paths_info, "preupload": api.preupload, "commit": api.commit}
        if verb in post:
            return await post[verb](hub, request, rid, tail[1])
    if method == "PUT" and tail == ["settings"]:
        return await api.settings(hub, request, rid)
    raise no_route(request)


async def dispatch_repo(hub: Hub, request: Request, type_: str, skip: int) -> Response:
    """`/{P}ns/name[.git]/...`: file downloads, git smart HTTP and the LFS API."""
    segs = segments(request)[skip:]
    if len(segs) < 3:
        raise no_route(request)
    ns, name, tail = segs[0], segs[1], segs[2:]
    dot_git = name.endswith(".git")
    rid = repo_id(type_, ns, name[:-4] if dot_git else name)
    method = request.method
    if tail[0] == "resolve" and len(tail) >= 3 and method in ("GET", "HEAD") and not dot_git:
        return await files.resolve(hub, request, rid, tail[1], "/".join(tail[2:]))
    action = "/".join(tail)
    if action == "info/refs" and method == "GET":
        return await githttp.handle(hub, request, rid, action)
    if action in githttp.SERVICES and method == "POST":
        return await githttp.handle(hub, request, rid, action)
    if tail[:2] == ["info", "lfs"]:
        return await _lfs(hub, request, rid, tail[2:])
    raise no_route(request)


async def _lfs(hub: Hub, request: Request, rid: RepoId, tail: list[str]) -> Response:
    method = request.method
    if tail == ["objects", "batch"] and method == "POST":
        return await lfs_routes.batch(hub, request, rid)
    if tail == ["verify"] and method == "POST":
        return await lfs_routes.verify(hub, request, rid)
    if len(tail) == 2 and tail[0] == "objects" and method == "PUT":
        return await lfs_routes.put_object(hub, request, rid, tail[1])
    if len(tail) == 2 and tail[0] == "objects" and method in ("GET", "HEAD"):
        return await lfs_routes.get_object(hub, request, rid, tail[1])
    raise no_route(request)


def add_routes(app: FastAPI, hub: Hub) -> None:
    def endpoint(fn: Callable[..., Awaitable[Response]], *args: object) -> Handler:
        async def handler(request: Request) -> Response:
            return await fn(hub, request, *args)

        return handler

    router = app.router
    router.add_route(
        "/api/{rest:path}", endpoint(dispatch_api), methods=ALL, include_in_schema=False
    )
    for prefix, type_ in (("datasets", "dataset"), ("spaces", "space")):
        router.add_route(
            f"/{prefix}/{{rest:path}}",
            endpoint(dispatch_repo, type_, 1),
            methods=ALL,
            include_in_schema=False,
        )
    # Model repos live at the root, so only their own URL shapes are claimed.
    for shape in (
        "/{ns}/{name}/resolve/{rest:path}",
        "/{ns}/{name}/info/{rest:path}",
        "/{ns}/{name}/git-upload-pack",
        "/{ns}/{name}/git-receive-pack",
    ):
        router.add_route(
            shape, endpoint(dispatch_repo, "model", 0), methods=ALL, include_in_schema=False
        )
