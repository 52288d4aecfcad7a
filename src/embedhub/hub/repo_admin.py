"""Moving and duplicating repos (huggingface_hub's `move_repo` and `duplicate_repo`, `hf repos
move` and `hf repos duplicate`), with the Hub's permissions: a move needs write access to both
namespaces, a duplicate read access to the source and write access to the destination.

Either way the repo keeps reading the objects its history needs: a moved repo's links to the
shared object store move with it, a duplicate gets a copy of them (hub/store.py)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from embedhub.db import TokenInfo
from embedhub.errors import EmbedhubError, Kind
from embedhub.hub.paths import RepoId, bad, repo_id
from embedhub.hub.paths import repo_type as parse_type
from embedhub.hub.store import Hub
from embedhub.hub.web import base_url, in_thread, json, json_object, token_of


def _target(value: Any, type_: str, field: str, default_namespace: str | None = None) -> RepoId:
    if not isinstance(value, str) or not value:
        raise bad(f"'{field}' (namespace/name) is required")
    namespace, _, name = value.rpartition("/")
    if not namespace and default_namespace is None:
        raise bad(f"'{field}' must be namespace/name, not {value!r}")
    return repo_id(type_, namespace or str(default_namespace), name)


def _signed_in(token: TokenInfo | None, what: str) -> TokenInfo:
    if token is None:
        raise EmbedhubError(Kind.UNAUTHORIZED, f"{what} needs a write token")
    return token


async def move_repo(hub: Hub, request: Request) -> Response:
    """`POST /api/repos/move` with {"fromRepo", "toRepo", "type"}."""
    token = token_of(hub, request)
    body = await json_object(request, hub.limits.json, "repos/move")
    token = _signed_in(token, "Moving a repo")
    type_ = parse_type(body.get("type"))
    source = _target(body.get("fromRepo"), type_, "fromRepo")
    dest = _target(body.get("toRepo"), type_, "toRepo")
    if source == dest:
        raise bad(f"{source.id} is already there")
    hub.writable(source, token)
    hub.check_write(dest.namespace, token)
    if not await in_thread(hub.move, source, dest):
        raise EmbedhubError(Kind.CONFLICT, f"A {type_} repo {dest.id} already exists")
    hub.metrics.repo_changes.labels("move").inc()
    return json({"url": dest.url(base_url(hub, request))})


async def duplicate_repo(hub: Hub, request: Request, source: RepoId) -> Response:
    """`POST /api/{T}/{id}/duplicate` with {"repository": "ns/name", "visibility"?}: a new
    repo with the source's branches, tags and files. Its visibility is the source's unless
    asked otherwise."""
    token = token_of(hub, request)
    row = hub.readable(source, token)
    body = await json_object(request, hub.limits.json, "duplicate")
    token = _signed_in(token, "Duplicating a repo")
    dest = _target(body.get("repository"), source.type, "repository", token.user)
    hub.check_write(dest.namespace, token)
    private = _private(body, default=row.private)
    url = dest.url(base_url(hub, request))
    if not await in_thread(lambda: hub.duplicate(source, dest, private=private)):
        # With the url, as for create: `duplicate_repo(exist_ok=True)` reads it.
        return json({"error": f"A {source.type} repo {dest.id} already exists", "url": url}, 409)
    hub.metrics.repo_changes.labels("duplicate").inc()
    return json({"url": url, "filesCopyPending": False})


def _private(body: dict[str, Any], default: bool) -> bool:
    visibility, private = body.get("visibility"), body.get("private")
    if visibility is not None:
        if visibility not in ("private", "public"):
            raise bad("'visibility' must be 'private' or 'public' (protected is for Spaces)")
        return visibility == "private"
    if private is not None:
        if not isinstance(private, bool):
            raise bad("'private' must be true or false")
        return private
    return default
