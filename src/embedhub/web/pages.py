"""The browsing pages: home, repo card, file tree, one file, history. Server-rendered, no
JavaScript needed. Each handler reads the repo in a thread and renders one template."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from embedhub.hub.paths import URL_PREFIX, RepoId, file_path, folder_path
from embedhub.web.context import Web, in_thread
from embedhub.web.repodata import Repo, entry_not_found, open_repo
from embedhub.web.sessions import Visitor

INLINE_LIMIT = 512 * 1024  # a text file past this is offered as a download, never inlined
COMMITS_PER_PAGE = 30
REPO_LIST_LIMIT = 200


def base_url(web: Web, request: Request) -> str:
    return (web.settings.public_url or str(request.base_url)).rstrip("/")


def repo_url(rid: RepoId) -> str:
    return f"/{URL_PREFIX[rid.type]}{rid.id}"


def download_url(repo: Repo, path: str) -> str:
    # Private files go through the web view's own download route, which adds the visitor's
    # rights; public ones link straight to the Hub's resolve URL.
    if repo.private:
        return f"/-/download/{repo.rid.type}/{repo.rid.id}/{repo.commit}/{path}"
    return f"{repo_url(repo.rid)}/resolve/{repo.rev}/{path}"


def repo_context(web: Web, request: Request, repo: Repo, tab: str) -> dict[str, Any]:
    return {
        "repo": repo,
        "rid": repo.rid,
        "url": repo_url(repo.rid),
        "tab": tab,
        "base": base_url(web, request),
    }


# --- home ------------------------------------------------------------------------------------
def visible_repos(web: Web, visitor: Visitor, query: str) -> list[dict[str, Any]]:
    rows = web.db.query(
        "SELECT type, namespace, name, private, created_at FROM repos ORDER BY created_at DESC"
    )
    mine = {visitor.user, *web.db.orgs_of(visitor.user)} if visitor.user else set()
    out = []
    for type_, ns, name, private, created in rows:
        if private and ns not in mine:
            continue
        if query and query.lower() not in f"{ns}/{name}".lower():
            continue
        rid = RepoId(type_, ns, name)
        out.append({"rid": rid, "url": repo_url(rid), "private": bool(private), "created": created})
        if len(out) >= REPO_LIST_LIMIT:
            break
    return out


async def home(web: Web, request: Request, visitor: Visitor) -> Response:
    query = request.query_params.get("q", "").strip()[:200]
    repos = await in_thread(visible_repos, web, visitor, query)
    models = [
        {
            "id": mid,
            "dims": engine.info.dimension,
            "max_tokens": engine.info.max_seq_length,
            "runtime": getattr(getattr(engine, "backend", None), "runtime", "?"),
            "precision": "float32",
        }
        for mid, engine in web.engines.items()
    ]
    return web.page(
        request,
        visitor,
        "home.html",
        repos=repos,
        models=models,
        query=query,
        base=base_url(web, request),
        default_model=next(iter(web.engines), ""),
    )


# --- repo pages ------------------------------------------------------------------------------
async def repo_page(web: Web, request: Request, visitor: Visitor, rid: RepoId) -> Response:
    def build() -> dict[str, Any]:
        repo = open_repo(web.hub, rid, visitor.token)
        return {
            "card": repo.card(),
            "entries": repo.entries(),
            "last": repo.git.log(repo.commit, limit=1)[0],
            "refs": repo.refs(),
            **repo_context(web, request, repo, "card"),
        }

    return web.page(request, visitor, "repo.html", **await in_thread(build))


async def tree_page(
    web: Web, request: Request, visitor: Visitor, rid: RepoId, rev: str, path: str
) -> Response:
    def build() -> dict[str, Any]:
        repo = open_repo(web.hub, rid, visitor.token, rev)
        folder = folder_path(path)
        if not repo.is_folder(folder):
            raise entry_not_found(rid, folder, rev)
        entries = sorted(repo.entries(folder), key=lambda e: (e.type != "tree", e.path))
        return {
            "folder": folder,
            "entries": entries,
            "crumbs": crumbs(folder),
            "downloads": {e.path: download_url(repo, e.path) for e in entries},
            **repo_context(web, request, repo, "files"),
        }

    return web.page(request, visitor, "tree.html", **await in_thread(build))


def crumbs(path: str) -> list[tuple[str, str]]:
    """(name, path up to it) for each folder of `path`."""
    parts = path.split("/") if path else []
    return [(part, "/".join(parts[: i + 1])) for i, part in enumerate(parts)]


async def blob_page(
    web: Web, request: Request, visitor: Visitor, rid: RepoId, rev: str, path: str
) -> Response:
    def build() -> dict[str, Any]:
        repo = open_repo(web.hub, rid, visitor.token, rev)
        name = file_path(path)
        entry = repo.entry(name)
        if entry is None or entry.type != "blob":
            raise entry_not_found(rid, name, rev)
        text, why = None, None
        if not repo.stored(entry):
            why = "Its large-file object was never uploaded to this server."
        elif entry.real_size > INLINE_LIMIT:
            why = f"It is too large to show here (over {INLINE_LIMIT // 1024} kB)."
        else:
            data = repo.head(entry, INLINE_LIMIT)
            try:
                text = None if b"\0" in data[:8192] else data.decode("utf-8")
            except UnicodeDecodeError:
                text = None
            if text is None:
                why = "It is a binary file."
        return {
            "entry": entry,
            "text": text,
            "why": why,
            "crumbs": crumbs(name),
            "download": download_url(repo, name),
            **repo_context(web, request, repo, "files"),
        }

    return web.page(request, visitor, "blob.html", **await in_thread(build))


async def commits_page(
    web: Web, request: Request, visitor: Visitor, rid: RepoId, rev: str
) -> Response:
    try:
        page = max(int(request.query_params.get("p", "0")), 0)
    except ValueError:
        page = 0

    def build() -> dict[str, Any]:
        repo = open_repo(web.hub, rid, visitor.token, rev)
        commits = repo.git.log(repo.commit, limit=COMMITS_PER_PAGE, skip=page * COMMITS_PER_PAGE)
        total = repo.git.count_commits(repo.commit)
        return {
            "commits": commits,
            "page": page,
            "more": (page + 1) * COMMITS_PER_PAGE < total,
            "total": total,
            "refs": repo.refs(),
            **repo_context(web, request, repo, "commits"),
        }

    return web.page(request, visitor, "commits.html", **await in_thread(build))
