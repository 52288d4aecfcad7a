"""`/api/...`: the Hub's JSON API (docs/hub-protocol.md says what each client reads)."""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from embedhub.errors import EmbedhubError, Kind
from embedhub.hub import commit as commits
from embedhub.hub.commitbody import parse_body
from embedhub.hub.gitrepo import GitRepo
from embedhub.hub.lfs import is_lfs_path, lfs_rules
from embedhub.hub.pages import next_link, page_size
from embedhub.hub.paths import (
    DEFAULT_BRANCH,
    URL_PREFIX,
    RepoId,
    bad,
    file_path,
    flag,
    repo_id,
    revision,
)
from embedhub.hub.paths import repo_type as parse_type
from embedhub.hub.refcache import RefCache
from embedhub.hub.store import Hub, not_found
from embedhub.hub.web import (
    base_url,
    in_thread,
    json,
    json_object,
    spool_body,
    token_of,
)

COMMITS_PAGE = 1000  # commits per page (the Hub's most; its clients follow the Link header)


def revision_not_found(rid: RepoId, rev: str) -> EmbedhubError:
    return EmbedhubError(
        Kind.NOT_FOUND, f"Revision {rev!r} not found in {rid.id}", code="RevisionNotFound"
    )


# One per process: its keys carry each repository's path.
_REFS = RefCache()


def resolve_rev(repo: GitRepo, rid: RepoId, rev: str) -> str:
    """The commit `rev` names in `repo`: git's answer, kept while the ref files it came from
    are unchanged (hub/refcache.py), so a request naming a branch runs no git process."""
    sha = _REFS.resolve(repo, revision(rev))
    if sha is None:
        raise revision_not_found(rid, rev)
    return sha


def iso(ts: float | str) -> str:
    if isinstance(ts, str):
        return datetime.fromisoformat(ts).astimezone(UTC).isoformat().replace("+00:00", ".000Z")
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- account and repo lifecycle ------------------------------------------------------------
async def whoami(hub: Hub, request: Request) -> Response:
    token = token_of(hub, request)
    if token is None:
        raise EmbedhubError(Kind.UNAUTHORIZED, "whoami needs a token (Authorization: Bearer T)")
    orgs = [{"name": org, "type": "org"} for org in hub.db.orgs_of(token.user)]
    return json(
        {
            "type": "user",
            "name": token.user,
            "fullname": token.user,
            "orgs": orgs,
            "auth": {
                "type": "access_token",
                "accessToken": {"displayName": token.name, "role": token.role},
            },
        }
    )


def _repo_from_body(body: dict, token_user: str | None, reserved: frozenset[str]) -> RepoId:
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise bad("'name' (the repo's name) is required")
    namespace = body.get("organization") or token_user
    if "/" in name and not body.get("organization"):
        namespace, name = name.split("/", 1)
    if not isinstance(namespace, str):
        raise bad("'organization' must be a string")
    return repo_id(parse_type(body.get("type")), namespace, name, reserved)


async def create_repo(hub: Hub, request: Request) -> Response:
    token = token_of(hub, request)
    body = await json_object(request, hub.limits.json, "repos/create")
    if token is None:
        raise EmbedhubError(Kind.UNAUTHORIZED, "Creating a repo needs a write token")
    rid = _repo_from_body(body, token.user, hub.db.reserved_names)
    private = body.get("private") is True or body.get("visibility") == "private"
    url = rid.url(base_url(hub, request))
    # 409 carries the url: huggingface_hub's create_repo(exist_ok=True) reads it.
    exists = json({"error": f"You already created this {rid.type} repo", "url": url}, 409)
    if hub.row(rid) is not None and hub.is_member(token, rid.namespace):
        return exists
    hub.check_write(rid.namespace, token)
    created = await in_thread(lambda: hub.create(rid, private=private, author=token.user))
    if not created:
        return exists
    hub.metrics.repo_changes.labels("create").inc()
    return json({"url": url, "name": rid.id, "id": rid.id})


async def delete_repo(hub: Hub, request: Request) -> Response:
    token = token_of(hub, request)
    body = await json_object(request, hub.limits.json, "repos/delete")
    rid = _repo_from_body(body, token.user if token else None, hub.db.reserved_names)
    hub.writable(rid, token)
    await in_thread(hub.delete, rid)
    hub.metrics.repo_changes.labels("delete").inc()
    return json({})


async def settings(hub: Hub, request: Request, rid: RepoId) -> Response:
    body = await json_object(request, hub.limits.json, "settings")
    hub.writable(rid, token_of(hub, request))
    private = body.get("private")
    if body.get("visibility") is not None:
        if body["visibility"] not in ("private", "public"):
            raise bad("'visibility' must be 'private' or 'public'")
        private = body["visibility"] == "private"
    if private is not None:
        if not isinstance(private, bool):
            raise bad("'private' must be true or false")
        hub.db.set_repo_private(rid.type, rid.namespace, rid.name, private)
    return json({})


async def validate_yaml(hub: Hub, request: Request) -> Response:
    await json_object(request, hub.limits.json, "validate-yaml")
    return json({"errors": [], "warnings": []})


# --- reading -------------------------------------------------------------------------------
async def repo_info(hub: Hub, request: Request, rid: RepoId, rev: str = DEFAULT_BRANCH) -> Response:
    row = hub.readable(rid, token_of(hub, request))
    repo = hub.git(rid)

    def build() -> dict[str, Any]:
        sha = resolve_rev(repo, rid, rev)
        entries = [e for e in repo.ls_tree(sha, recursive=True) if e.type == "blob"]
        last = repo.log(sha, limit=1)[0]
        siblings = []
        for e in entries:
            s: dict[str, Any] = {"rfilename": e.path, "size": e.real_size}
            if e.lfs:
                s["lfs"] = {"sha256": e.lfs.oid, "size": e.lfs.size, "pointerSize": e.size}
            siblings.append(s)
        return {
            "_id": rid.id,
            "id": rid.id,
            "author": rid.namespace,
            "sha": sha,
            "private": row.private,
            "disabled": False,
            "gated": False,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "lastModified": iso(last.date),
            "xetEnabled": True,
            "createdAt": iso(row.created_at),
            "siblings": siblings,
        }

    return json(await in_thread(build))


async def refs(hub: Hub, request: Request, rid: RepoId) -> Response:
    hub.readable(rid, token_of(hub, request))
    repo = hub.git(rid)
    found = await in_thread(repo.refs, "refs/")

    def of(prefix: str) -> list[dict[str, str]]:
        return [
            {"name": ref[len(prefix) :], "ref": ref, "targetCommit": sha}
            for ref, sha in found
            if ref.startswith(prefix)
        ]

    out: dict[str, Any] = {
        "branches": of("refs/heads/"),
        "converts": of("refs/convert/"),
        "tags": of("refs/tags/"),
    }
    if request.query_params.get("include_prs"):
        out["pullRequests"] = of("refs/pr/")
    return json(out)


async def list_commits(hub: Hub, request: Request, rid: RepoId, rev: str) -> Response:
    hub.readable(rid, token_of(hub, request))
    repo = hub.git(rid)
    limit = page_size(request, COMMITS_PAGE, COMMITS_PAGE)
    p = request.query_params.get("p", "0")
    if not p.isdigit():
        raise bad(f"'p' (the page) must be a non-negative integer, not {p!r}")
    page = int(p)

    def build() -> tuple[list[dict[str, Any]], int]:
        sha = resolve_rev(repo, rid, rev)
        items = [
            {
                "id": c.id,
                "title": c.title,
                "message": c.message,
                "date": iso(c.date),
                "authors": [{"user": c.author}],
            }
            for c in repo.log(sha, limit=limit, skip=page * limit)
        ]
        return items, repo.count_commits(sha)

    items, total = await in_thread(build)
    headers = {"X-Total-Count": str(total)}
    if (page + 1) * limit < total:
        headers.update(next_link(hub, request, p=str(page + 1), limit=str(limit)))
    return json(items, headers=headers)


# --- writing -------------------------------------------------------------------------------
async def preupload(hub: Hub, request: Request, rid: RepoId, rev: str) -> Response:
    hub.writable(rid, token_of(hub, request))
    body = await json_object(request, hub.limits.json, "preupload")
    files = body.get("files")
    if not isinstance(files, list) or not all(isinstance(f, dict) for f in files):
        raise bad("preupload: 'files' must be a list of {path, sample, size} objects")
    wanted = [(file_path(f.get("path"), "preupload path"), f.get("size")) for f in files]
    for path, size in wanted:
        if not isinstance(size, int) or size < 0:
            raise bad(f"preupload: size of {path!r} must be a non-negative integer")
    repo = hub.git(rid)

    def build() -> list[dict[str, Any]]:
        sha = resolve_rev(repo, rid, rev)
        # One tree lookup for the files asked about and the LFS rules beside them.
        known = {e.path: e for e in repo.entries(sha, [*(p for p, _ in wanted), ".gitattributes"])}
        attrs = known.get(".gitattributes")
        text = b""
        if attrs is not None and attrs.size <= 1 << 20:
            text = repo.read_blobs([attrs.sha]).get(attrs.sha, b"")
        rules = lfs_rules(text.decode(errors="replace"))
        out = []
        for path, size in wanted:
            # "lfs": huggingface_hub with hf_xet then uploads the file through Xet, other
            # clients through the LFS batch API; either way before the commit.
            lfs = size >= hub.settings.lfs_threshold or is_lfs_path(rules, path)
            item: dict[str, Any] = {
                "path": path,
                "shouldIgnore": False,
                "uploadMode": "lfs" if lfs and size else "regular",
            }
            if path in known and known[path].type == "blob":
                e = known[path]
                item["oid"] = e.lfs.oid if e.lfs else e.sha
            out.append(item)
        return out

    return json({"files": await in_thread(build), "commitOid": None})


async def commit(hub: Hub, request: Request, rid: RepoId, rev: str) -> Response:
    token = token_of(hub, request)
    hub.writable(rid, token)
    assert token is not None
    branch = revision(rev)
    if flag(request.query_params.get("create_pr")):
        raise bad("Pull requests are not supported by this hub; commit to a branch")
    staging = Path(tempfile.mkdtemp(dir=hub.lfs.tmp, prefix="commit-"))
    try:
        body = await spool_body(request, hub.limits.commit, staging)
        with body:
            hub.metrics.received.labels("commit").inc(os.fstat(body.fileno()).st_size)
            req = await in_thread(parse_body, body, staging)
        repo = hub.git(rid)
        objects = commits.Objects(
            hub.lfs,
            visible=lambda oid: hub.object_visible(rid, oid),
            link=lambda oids: hub.link_objects(rid, oids),
            xet_size=hub.xet.size_of,
        )

        def run() -> str:
            with repo.lock():
                if not repo.path.exists():  # moved or deleted while this waited for the lock
                    raise not_found(rid)
                threshold = hub.settings.lfs_threshold
                sha = commits.apply(repo, objects, branch, req, token.user, threshold)
            hub.touch(rid)
            return sha

        sha = await in_thread(run)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    hub.metrics.commits.labels("api").inc()
    url = f"{base_url(hub, request)}/{URL_PREFIX[rid.type]}{rid.id}/commit/{sha}"
    return json({"success": True, "commitOid": sha, "commitUrl": url, "hookOutput": ""})
