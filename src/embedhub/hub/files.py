"""`/{P}{ns}/{name}/resolve/{rev}/{path}`: file downloads, HEAD included, with the headers
the clients build their cache from (X-Repo-Commit, ETag, Content-Length) and byte ranges
(streaming readers fetch Parquet footers by Range)."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from embedhub.errors import EmbedhubError, Kind
from embedhub.hub.api import resolve_rev
from embedhub.hub.gitrepo import Entry
from embedhub.hub.paths import RepoId, file_path
from embedhub.hub.store import Hub
from embedhub.hub.web import in_thread, token_of

_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


async def resolve(hub: Hub, request: Request, rid: RepoId, rev: str, path: str) -> Response:
    hub.readable(rid, token_of(hub, request))
    path = file_path(path)
    repo = hub.git(rid)

    def find() -> tuple[str, Entry | None]:
        sha = resolve_rev(repo, rid, rev)
        found = [e for e in repo.entries(sha, [path]) if e.type == "blob"]
        return sha, (found[0] if found else None)

    commit, entry = await in_thread(find)
    if entry is None:
        raise EmbedhubError(
            Kind.NOT_FOUND,
            f"{path!r} not found at {rev!r} in {rid.id}",
            code="EntryNotFound",
            headers={"X-Repo-Commit": commit},
        )
    etag = entry.lfs.oid if entry.lfs else entry.sha
    headers = {
        "X-Repo-Commit": commit,
        "ETag": f'"{etag}"',
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, max-age=0, must-revalidate",
        "Content-Disposition": f"inline; filename*=UTF-8''{_quote_name(path)}",
    }
    if entry.lfs:
        if not hub.lfs.has(entry.lfs.oid, entry.lfs.size):
            raise EmbedhubError(
                Kind.NOT_FOUND,
                f"The LFS object of {path!r} ({entry.lfs.oid}) was never uploaded to this "
                "server (pushed as a pointer only); push it with `git lfs push --all`",
                code="EntryNotFound",
                headers={"X-Repo-Commit": commit},
            )
        headers["X-Linked-Size"] = str(entry.lfs.size)
        headers["X-Linked-Etag"] = f'"{etag}"'
        return FileResponse(
            hub.lfs.path(entry.lfs.oid), headers=headers, media_type="application/octet-stream"
        )
    data = (await in_thread(repo.read_blobs, [entry.sha]))[entry.sha]
    return bytes_response(request, data, headers)


def bytes_response(request: Request, data: bytes, headers: dict[str, str]) -> Response:
    """One byte range, as the clients ask for; several ranges get the whole body."""
    spec = request.headers.get("range", "").replace(" ", "")
    m = _RANGE_RE.match(spec)
    if not spec or not m or not (m.group(1) or m.group(2)):
        return Response(data, headers=headers, media_type="application/octet-stream")
    size = len(data)
    if m.group(1):
        start = int(m.group(1))
        end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
    else:
        start, end = max(size - int(m.group(2)), 0), size - 1
    if start >= size or start > end:
        headers = {**headers, "Content-Range": f"bytes */{size}"}
        return Response(b"", status_code=416, headers=headers)
    headers = {**headers, "Content-Range": f"bytes {start}-{end}/{size}"}
    return Response(
        data[start : end + 1],
        status_code=206,
        headers=headers,
        media_type="application/octet-stream",
    )


def _quote_name(path: str) -> str:
    from urllib.parse import quote

    return quote(path.rsplit("/", 1)[-1], safe="")
