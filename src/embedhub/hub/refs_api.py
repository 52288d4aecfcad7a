"""Branches and tags through the API, and super-squash (huggingface_hub's `create_branch`,
`delete_branch`, `create_tag`, `delete_tag`, `super_squash_history`).

Names pass the same rule as refs a git push may write (paths.ref_problem, used by the push
check in prereceive.py). A branch and a tag never share a name: a revision `v1` would then
name two commits, and uploads (to the branch) and downloads (git prefers the tag) would
disagree. Every change holds the repo's write lock, like commits and pushes, and moves a ref
with a compare-and-swap."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from embedhub.errors import EmbedhubError, Kind
from embedhub.hub.api import resolve_rev, revision_not_found
from embedhub.hub.gitrepo import GitRepo
from embedhub.hub.paths import DEFAULT_BRANCH, RepoId, bad, ref_problem, revision
from embedhub.hub.store import Hub
from embedhub.hub.web import in_thread, json, json_body, token_of

KINDS = {"branch": "refs/heads/", "tag": "refs/tags/"}


def new_ref_name(name: str, kind: str) -> str:
    """A branch or tag name the API may create."""
    if name.startswith("refs/"):
        raise bad(f"Invalid {kind} name {name!r}: give its short name (dev, v1.0), not refs/...")
    problem = ref_problem(KINDS[kind] + name)
    if problem:
        raise bad(f"Invalid {kind} name {name!r}: {problem}")
    return name


async def _body(hub: Hub, request: Request, what: str) -> dict[str, Any]:
    data = await json_body(request, hub.limits.json)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise bad(f"{what}: the body must be a JSON object")
    return data


def _text(body: dict[str, Any], key: str, what: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or "\0" in value:
        raise bad(f"{what}: '{key}' must be a string without NUL characters")
    return value


def _check_free(repo: GitRepo, rid: RepoId, name: str, kind: str) -> None:
    for other, prefix in KINDS.items():
        if repo.ref_target(prefix + name) is not None:
            same = "already exists" if other == kind else f"is already a {other}'s name"
            raise EmbedhubError(Kind.CONFLICT, f"{name!r} {same} in {rid.id}")


def _existing(repo: GitRepo, rid: RepoId, name: str, kind: str) -> str:
    target = repo.ref_target(KINDS[kind] + revision(name))
    if target is None:
        raise EmbedhubError(
            Kind.NOT_FOUND, f"No {kind} {name!r} in {rid.id}", code="RevisionNotFound"
        )
    return target


# --- branches ------------------------------------------------------------------------------
async def create_branch(hub: Hub, request: Request, rid: RepoId, branch: str) -> Response:
    hub.writable(rid, token_of(hub, request))
    name = new_ref_name(branch, "branch")
    start = _text(await _body(hub, request, "branch"), "startingPoint", "branch")
    start = start or DEFAULT_BRANCH
    repo = hub.git(rid)

    def run() -> None:
        with repo.lock():
            sha = resolve_rev(repo, rid, start)
            _check_free(repo, rid, name, "branch")
            if not repo.set_ref(KINDS["branch"] + name, sha, None):
                raise EmbedhubError(Kind.CONFLICT, f"{name!r} already exists in {rid.id}")
        hub.touch(rid)

    await in_thread(run)
    hub.metrics.ref_changes.labels("create_branch").inc()
    return json({})


async def delete_branch(hub: Hub, request: Request, rid: RepoId, branch: str) -> Response:
    hub.writable(rid, token_of(hub, request))
    if branch == DEFAULT_BRANCH:
        raise EmbedhubError(
            Kind.FORBIDDEN,
            f"{DEFAULT_BRANCH!r} is the default branch of {rid.id}: it can't "
            "be deleted (delete the repo, or super-squash it)",
        )
    await in_thread(_delete, hub, rid, branch, "branch")
    hub.metrics.ref_changes.labels("delete_branch").inc()
    return json({})


def _delete(hub: Hub, rid: RepoId, name: str, kind: str) -> None:
    repo = hub.git(rid)
    with repo.lock():
        target = _existing(repo, rid, name, kind)
        if not repo.delete_ref(KINDS[kind] + name, target):
            raise EmbedhubError(Kind.CONFLICT, f"{kind} {name!r} moved meanwhile; retry")
    hub.touch(rid)


# --- tags ------------------------------------------------------------------------------------
async def create_tag(hub: Hub, request: Request, rid: RepoId, rev: str) -> Response:
    """`POST .../tag/{revision}` with {"tag", "message"?}: a message makes an annotated tag."""
    token = token_of(hub, request)
    hub.writable(rid, token)
    assert token is not None
    body = await _body(hub, request, "tag")
    tag = body.get("tag")
    if not isinstance(tag, str) or not tag:
        raise bad("tag: 'tag' (the new tag's name) is required")
    name = new_ref_name(tag, "tag")
    message = _text(body, "message", "tag")
    repo = hub.git(rid)

    def run() -> None:
        with repo.lock():
            sha = resolve_rev(repo, rid, rev)
            _check_free(repo, rid, name, "tag")
            target = repo.write_tag(sha, name, message, token.user) if message else sha
            if not repo.set_ref(KINDS["tag"] + name, target, None):
                raise EmbedhubError(Kind.CONFLICT, f"{name!r} already exists in {rid.id}")
        hub.touch(rid)

    await in_thread(run)
    hub.metrics.ref_changes.labels("create_tag").inc()
    return json({})


async def delete_tag(hub: Hub, request: Request, rid: RepoId, tag: str) -> Response:
    hub.writable(rid, token_of(hub, request))
    await in_thread(_delete, hub, rid, tag, "tag")
    hub.metrics.ref_changes.labels("delete_tag").inc()
    return json({})


# --- history -------------------------------------------------------------------------------
async def super_squash(hub: Hub, request: Request, rid: RepoId, branch: str) -> Response:
    """One commit with the branch's current files and no parent replaces its history. Other
    branches and tags keep theirs."""
    token = token_of(hub, request)
    hub.writable(rid, token)
    assert token is not None
    message = _text(await _body(hub, request, "super-squash"), "message", "super-squash")
    message = (message or "").strip() or f"Super-squash branch {branch!r}"
    repo = hub.git(rid)

    def run() -> str:
        with repo.lock():
            head = repo.resolve(KINDS["branch"] + revision(branch))
            if head is None:
                if repo.ref_target(KINDS["tag"] + branch) is not None:
                    raise bad(f"{branch!r} is a tag; only a branch's history can be squashed")
                raise revision_not_found(rid, branch)
            commit = repo.commit_tree(repo.tree_of(head), None, message, token.user)
            if not repo.update_ref(branch, commit, head):
                raise EmbedhubError(Kind.CONFLICT, f"Branch {branch!r} moved meanwhile; retry")
        hub.touch(rid)
        return commit

    sha = await in_thread(run)
    hub.metrics.commits.labels("squash").inc()
    return json({"commitOid": sha})
