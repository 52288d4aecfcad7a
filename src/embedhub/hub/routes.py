"""The hub's routes, each declared once with its path template (so `grep` finds it, /docs
lists it and /metrics labels it).

Starlette matches routes on the decoded path, where a revision like `refs%2Fconvert%2Fparquet`
has become three segments. A revision that ends the path is whole anyway; where a file path
follows it (tree, resolve) the handler splits the raw path itself (`rev_and_path`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response

from embedhub.errors import EmbedhubError, Kind
from embedhub.hub import (
    api,
    files,
    githttp,
    lfs_routes,
    listing,
    refs_api,
    repo_admin,
    tree,
    xet_cas,
    xet_repo,
)
from embedhub.hub.gitrepo import GitError
from embedhub.hub.paths import REPO_TYPES, RepoId, bad, repo_id, split_raw
from embedhub.hub.store import Hub
from embedhub.hub.web import storage_error

GET = ["GET", "HEAD"]


class _Choice(Convertor[str]):
    def __init__(self, *choices: str) -> None:
        # Starlette reads the pattern from the instance; each choice set has its own.
        self.regex = "|".join(choices)  # type: ignore[misc]

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class HubRoute(APIRoute):
    """A hub route: a full disk anywhere below it answers a typed 507 naming the data
    directory, not a bare 500."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            # Starlette matches with `$`, which also matches before a final newline: a
            # revision "main\n" would be served as "main". No hub name, revision or path may
            # hold a control character, so such a URL is refused here, whole.
            # (scope["path"]: request.url drops tabs and newlines, as urllib.parse does.)
            path = request.scope["path"]
            if any(ord(c) < 32 or c == "\x7f" for c in path):
                raise bad(f"The URL path {path!r} contains control characters")
            try:
                return await handler(request)
            except (OSError, GitError, sqlite3.OperationalError) as exc:
                err = storage_error(exc, hub_of(request).settings.data_dir)
                if err is None:
                    raise
                raise err from exc

        return run


def hub_of(request: Request) -> Hub:
    return request.app.state.hub


def rid_of(repo_type: str, namespace: str, name: str) -> RepoId:
    """`repo_type` as in URLs: models, datasets, spaces."""
    return repo_id(REPO_TYPES[repo_type], namespace, name)


def rev_and_path(request: Request, skip: int) -> tuple[str, str]:
    """The revision (one raw segment, decoded) and the file path after the first `skip`
    segments of the raw path."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    root = request.scope.get("root_path", "").encode()
    if root and raw.startswith(root):
        raw = raw[len(root) :]
    segments = split_raw(raw)[skip:]
    return segments[0], "/".join(segments[1:])


# --- /api: accounts and repos ------------------------------------------------------------
async def whoami(request: Request) -> Response:
    return await api.whoami(hub_of(request), request)


async def create_repo(request: Request) -> Response:
    return await api.create_repo(hub_of(request), request)


async def delete_repo(request: Request) -> Response:
    return await api.delete_repo(hub_of(request), request)


async def validate_yaml(request: Request) -> Response:
    return await api.validate_yaml(hub_of(request), request)


async def move_repo(request: Request) -> Response:
    return await repo_admin.move_repo(hub_of(request), request)


async def list_repos(request: Request, repo_type: str) -> Response:
    return await listing.list_repos(hub_of(request), request, repo_type)


async def my_repositories(request: Request) -> Response:
    return await listing.settings_repositories(hub_of(request), request)


async def org_repositories(request: Request, namespace: str) -> Response:
    return await listing.settings_repositories(hub_of(request), request, namespace)


REPO = "/api/{repo_type:repotype}/{namespace}/{name}"


async def repo_info(request: Request, repo_type: str, namespace: str, name: str) -> Response:
    return await api.repo_info(hub_of(request), request, rid_of(repo_type, namespace, name))


async def repo_info_at(
    request: Request, repo_type: str, namespace: str, name: str, revision: str
) -> Response:
    rid = rid_of(repo_type, namespace, name)
    return await api.repo_info(hub_of(request), request, rid, revision)


async def repo_tree(request: Request, repo_type: str, namespace: str, name: str) -> Response:
    rev, path = rev_and_path(request, skip=5)
    rid = rid_of(repo_type, namespace, name)
    return await tree.tree(hub_of(request), request, rid, rev, path)


async def refs(request: Request, repo_type: str, namespace: str, name: str) -> Response:
    return await api.refs(hub_of(request), request, rid_of(repo_type, namespace, name))


async def commits(
    request: Request, repo_type: str, namespace: str, name: str, revision: str
) -> Response:
    rid = rid_of(repo_type, namespace, name)
    return await api.list_commits(hub_of(request), request, rid, revision)


async def paths_info(
    request: Request, repo_type: str, namespace: str, name: str, revision: str
) -> Response:
    rid = rid_of(repo_type, namespace, name)
    return await tree.paths_info(hub_of(request), request, rid, revision)


async def preupload(
    request: Request, repo_type: str, namespace: str, name: str, revision: str
) -> Response:
    rid = rid_of(repo_type, namespace, name)
    return await api.preupload(hub_of(request), request, rid, revision)


async def commit(
    request: Request, repo_type: str, namespace: str, name: str, revision: str
) -> Response:
    rid = rid_of(repo_type, namespace, name)
    return await api.commit(hub_of(request), request, rid, revision)


async def xet_read_token(
    request: Request, repo_type: str, namespace: str, name: str, revision: str
) -> Response:
    rid = rid_of(repo_type, namespace, name)
    return await xet_repo.token(hub_of(request), request, rid, "xet-read-token", revision)


async def xet_write_token(
    request: Request, repo_type: str, namespace: str, name: str, revision: str
) -> Response:
    rid = rid_of(repo_type, namespace, name)
    return await xet_repo.token(hub_of(request), request, rid, "xet-write-token", revision)


async def settings(request: Request, repo_type: str, namespace: str, name: str) -> Response:
    return await api.settings(hub_of(request), request, rid_of(repo_type, namespace, name))


async def duplicate(request: Request, repo_type: str, namespace: str, name: str) -> Response:
    rid = rid_of(repo_type, namespace, name)
    return await repo_admin.duplicate_repo(hub_of(request), request, rid)


async def create_branch(
    request: Request, repo_type: str, namespace: str, name: str, branch: str
) -> Response:
    rid = rid_of(repo_type, namespace, name)
    return await refs_api.create_branch(hub_of(request), request, rid, branch)


async def delete_branch(
    request: Request, repo_type: str, namespace: str, name: str, branch: str
) -> Response:
    rid = rid_of(repo_type, namespace, name)
    return await refs_api.delete_branch(hub_of(request), request, rid, branch)


async def create_tag(
    request: Request, repo_type: str, namespace: str, name: str, revision: str
) -> Response:
    rid = rid_of(repo_type, namespace, name)
    return await refs_api.create_tag(hub_of(request), request, rid, revision)


async def delete_tag(
    request: Request, repo_type: str, namespace: str, name: str, tag: str
) -> Response:
    rid = rid_of(repo_type, namespace, name)
    return await refs_api.delete_tag(hub_of(request), request, rid, tag)


async def super_squash(
    request: Request, repo_type: str, namespace: str, name: str, branch: str
) -> Response:
    rid = rid_of(repo_type, namespace, name)
    return await refs_api.super_squash(hub_of(request), request, rid, branch)


# --- files, git and LFS: /datasets/NS/NAME/..., /spaces/NS/NAME/..., /NS/NAME/... (models) --
def repo_of(request: Request) -> RepoId:
    """The repo of a file, git or LFS URL (the name may end in `.git`, as git remotes do)."""
    p = request.path_params
    name = p["name"].removesuffix(".git")
    return rid_of(p.get("prefix", "models"), p["namespace"], name)


async def resolve(request: Request, namespace: str, name: str) -> Response:
    if name.endswith(".git"):
        raise EmbedhubError(Kind.NOT_FOUND, f"No route for GET {request.url.path}")
    skip = 4 if "prefix" in request.path_params else 3  # /datasets/NS/NAME/resolve or /NS/...
    rev, path = rev_and_path(request, skip=skip)
    return await files.resolve(hub_of(request), request, repo_of(request), rev, path)


async def info_refs(request: Request, namespace: str, name: str) -> Response:
    return await githttp.handle(hub_of(request), request, repo_of(request), "info/refs")


async def upload_pack(request: Request, namespace: str, name: str) -> Response:
    return await githttp.handle(hub_of(request), request, repo_of(request), "git-upload-pack")


async def receive_pack(request: Request, namespace: str, name: str) -> Response:
    return await githttp.handle(hub_of(request), request, repo_of(request), "git-receive-pack")


async def lfs_batch(request: Request, namespace: str, name: str) -> Response:
    return await lfs_routes.batch(hub_of(request), request, repo_of(request))


async def lfs_verify(request: Request, namespace: str, name: str) -> Response:
    return await lfs_routes.verify(hub_of(request), request, repo_of(request))


async def lfs_put(request: Request, namespace: str, name: str, oid: str) -> Response:
    return await lfs_routes.put_object(hub_of(request), request, repo_of(request), oid)


async def lfs_get(request: Request, namespace: str, name: str, oid: str) -> Response:
    return await lfs_routes.get_object(hub_of(request), request, repo_of(request), oid)


# --- the table -----------------------------------------------------------------------------
Endpoint = Callable[..., Coroutine[Any, Any, Response]]
ROUTES: list[tuple[str, Endpoint, list[str]]] = [
    ("/api/whoami-v2", whoami, GET),
    ("/api/repos/create", create_repo, ["POST"]),
    ("/api/repos/delete", delete_repo, ["DELETE"]),
    ("/api/validate-yaml", validate_yaml, ["POST"]),
    ("/api/repos/move", move_repo, ["POST"]),
    ("/api/{repo_type:repotype}", list_repos, GET),
    ("/api/settings/repositories", my_repositories, GET),
    ("/api/organizations/{namespace}/settings/repositories", org_repositories, GET),
    (REPO, repo_info, GET),
    (REPO + "/revision/{revision:path}", repo_info_at, GET),
    (REPO + "/tree/{revision_and_path:path}", repo_tree, GET),
    (REPO + "/refs", refs, GET),
    (REPO + "/commits/{revision:path}", commits, GET),
    (REPO + "/paths-info/{revision:path}", paths_info, ["POST"]),
    (REPO + "/preupload/{revision:path}", preupload, ["POST"]),
    (REPO + "/commit/{revision:path}", commit, ["POST"]),
    (REPO + "/settings", settings, ["PUT"]),
    (REPO + "/xet-read-token/{revision:path}", xet_read_token, GET),
    (REPO + "/xet-write-token/{revision:path}", xet_write_token, GET),
    (REPO + "/duplicate", duplicate, ["POST"]),
    (REPO + "/branch/{branch:path}", create_branch, ["POST"]),
    (REPO + "/branch/{branch:path}", delete_branch, ["DELETE"]),
    (REPO + "/tag/{revision:path}", create_tag, ["POST"]),
    (REPO + "/tag/{tag:path}", delete_tag, ["DELETE"]),
    (REPO + "/super-squash/{branch:path}", super_squash, ["POST"]),
    *xet_cas.ROUTES,
]
# Under each repo URL: /datasets/NS/NAME and /spaces/NS/NAME, then models at the root, which
# claim only their own URL shapes.
REPO_URLS = ("/{prefix:repoprefix}/{namespace}/{name}", "/{namespace}/{name}")
REPO_ROUTES: list[tuple[str, Endpoint, list[str]]] = [
    ("/resolve/{revision_and_path:path}", resolve, GET),
    ("/info/refs", info_refs, ["GET"]),
    ("/git-upload-pack", upload_pack, ["POST"]),
    ("/git-receive-pack", receive_pack, ["POST"]),
    ("/info/lfs/objects/batch", lfs_batch, ["POST"]),
    ("/info/lfs/verify", lfs_verify, ["POST"]),
    ("/info/lfs/objects/{oid}", lfs_put, ["PUT"]),
    ("/info/lfs/objects/{oid}", lfs_get, GET),
]


def router() -> APIRouter:
    register_url_convertor("repotype", _Choice(*REPO_TYPES))
    register_url_convertor("repoprefix", _Choice("datasets", "spaces"))
    r = APIRouter(route_class=HubRoute, tags=["hub"])
    table = ROUTES + [(url + path, fn, m) for url in REPO_URLS for path, fn, m in REPO_ROUTES]
    for path, endpoint, methods in table:
        r.add_api_route(path, endpoint, methods=methods, response_class=Response)
    return r
