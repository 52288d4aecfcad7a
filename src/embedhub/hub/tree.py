"""Listing a revision's files: `GET .../tree/{rev}[/{path}]` (paginated like the Hub) and
`POST .../paths-info/{rev}`. A file stored through Xet (and readable through this repo) has
its `xetHash`, as on resolve; with `expand`, each entry also says which commit last changed
it (`lastCommit`), the details huggingface_hub shows as `RepoFile.last_commit`."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import orjson
from starlette.requests import Request
from starlette.responses import Response

from embedhub.errors import EmbedhubError, Kind
from embedhub.hub.api import iso, resolve_rev
from embedhub.hub.gitrepo import Entry, GitRepo
from embedhub.hub.history import last_commits
from embedhub.hub.pages import cursor_of, encode_cursor, next_link, page_size
from embedhub.hub.paths import RepoId, bad, flag, folder_path
from embedhub.hub.store import Hub
from embedhub.hub.web import in_thread, json, read_body, token_of
from embedhub.xet import hashes

# Entries per page, as on the Hub: expanding costs a history walk, so its pages are smaller.
PAGE, PAGE_EXPANDED = 1000, 50


def entry_json(e: Entry) -> dict[str, Any]:
    if e.type == "tree":
        return {"type": "directory", "oid": e.sha, "path": e.path}
    out: dict[str, Any] = {"type": "file", "oid": e.sha, "size": e.real_size, "path": e.path}
    if e.lfs:
        out["lfs"] = {"oid": e.lfs.oid, "size": e.lfs.size, "pointerSize": e.size}
    return out


def listed(
    hub: Hub, rid: RepoId, repo: GitRepo, commit: str, entries: list[Entry], expand: bool
) -> list[dict[str, Any]]:
    """The entries as the clients read them: with `xetHash` where the repo may read the
    file's Xet copy, and (`expand`) the commit that last changed each."""
    items = [entry_json(e) for e in entries]
    pointers = [e.lfs for e in entries if e.lfs]
    visible = hub.visible_objects(rid, sorted({p.oid for p in pointers})) if pointers else set()
    for e, item in zip(entries, items, strict=True):
        if e.lfs and e.lfs.oid in visible:
            record = hub.xet.file_for(e.lfs.oid, e.lfs.size)
            if record is not None:
                item["xetHash"] = hashes.to_hex(record.hash)
    if expand:
        last = last_commits(repo, commit, [e.path for e in entries])
        metas = repo.commits(sorted(set(last.values())))
        for e, item in zip(entries, items, strict=True):
            meta = metas.get(last.get(e.path, ""))
            if meta is not None:
                item["lastCommit"] = {"id": meta.id, "title": meta.title, "date": iso(meta.date)}
    return items


async def tree(hub: Hub, request: Request, rid: RepoId, rev: str, path: str) -> Response:
    hub.readable(rid, token_of(hub, request))
    folder = folder_path(path)
    recursive = flag(request.query_params.get("recursive"))
    expand = flag(request.query_params.get("expand"))
    size = page_size(request, PAGE_EXPANDED if expand else PAGE, PAGE)
    start = cursor_of(request) or 0
    if not isinstance(start, int) or start < 0:
        raise bad("Invalid 'cursor': use the URL of the Link header as it is")
    repo = hub.git(rid)

    def build() -> tuple[list[dict[str, Any]], bool]:
        sha = resolve_rev(repo, rid, rev)
        if repo.object_type(sha, folder) != "tree":
            raise EmbedhubError(
                Kind.NOT_FOUND, f"No folder {folder!r} at {rev!r} in {rid.id}", code="EntryNotFound"
            )
        entries = repo.ls_tree(sha, folder, recursive=recursive, pointers=False)
        page = repo.with_pointers(entries[start : start + size])
        return listed(hub, rid, repo, sha, page, expand), start + size < len(entries)

    items, more = await in_thread(build)
    headers = next_link(hub, request, cursor=encode_cursor(start + size)) if more else None
    return json(items, headers=headers)


async def paths_info(hub: Hub, request: Request, rid: RepoId, rev: str) -> Response:
    hub.readable(rid, token_of(hub, request))
    paths, expand = await _paths_from_body(hub, request)
    repo = hub.git(rid)

    def build() -> list[dict[str, Any]]:
        sha = resolve_rev(repo, rid, rev)
        return listed(hub, rid, repo, sha, repo.entries(sha, paths), expand)

    return json(await in_thread(build))


async def _paths_from_body(hub: Hub, request: Request) -> tuple[list[str], bool]:
    """The paths asked about and whether to expand them, from a form (what huggingface_hub
    sends: `paths=a&paths=b&expand=True`) or a JSON body."""
    raw = await read_body(request, hub.limits.json)
    if "json" in request.headers.get("content-type", ""):
        try:
            data = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            raise bad("The request body is not valid JSON") from None
        values = data.get("paths", []) if isinstance(data, dict) else None
        expand = flag(data.get("expand")) if isinstance(data, dict) else False
    else:
        form = parse_qs(raw.decode(errors="replace"))
        values, expand = form.get("paths", []), flag(form.get("expand", [""])[-1])
    if not isinstance(values, list) or not all(isinstance(p, str) for p in values):
        raise bad("paths-info: 'paths' must be a list of paths")
    return [folder_path(p, "paths-info path") for p in values if p not in ("", "/")], expand
