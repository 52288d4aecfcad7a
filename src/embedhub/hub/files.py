"""`/{P}{ns}/{name}/resolve/{rev}/{path}`: file downloads, HEAD included, with the headers
the clients build their cache from (X-Repo-Commit, ETag, Content-Length) and byte ranges
(streaming readers fetch Parquet footers by Range). Files are streamed, never read whole:
LFS objects from the store, git blobs from `git cat-file blob`, Xet files reconstructed chunk
by chunk. A Xet file also gets the Xet headers, with which hf_xet downloads it itself."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse

from embedhub.errors import EmbedhubError, Kind
from embedhub.hub import xet_repo
from embedhub.hub.api import resolve_rev
from embedhub.hub.gitrepo import Entry, GitRepo, git_env
from embedhub.hub.paths import RepoId, file_path
from embedhub.hub.store import Hub
from embedhub.hub.web import in_thread, token_of
from embedhub.xet.index import FileRecord

_RANGE_RE = re.compile(r"bytes=(\d*)-(\d*)")
# Blobs up to this size are read in one go; bigger ones are streamed from git.
SMALL_BLOB = 1024 * 1024
CHUNK = 64 * 1024


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
        oid = entry.lfs.oid
        xet_file = await in_thread(xet_repo.pointer_file, hub, rid, entry.lfs)
        if xet_file is not None:
            headers["X-Linked-Size"] = str(entry.lfs.size)
            headers["X-Linked-Etag"] = f'"{etag}"'
            headers.update(xet_repo.resolve_headers(hub, request, rid, commit, xet_file))
            if not hub.lfs.has(oid, entry.lfs.size):
                return xet_file_response(hub, request, xet_file, headers)
        visible = hub.lfs.has(oid, entry.lfs.size) and await in_thread(hub.object_visible, rid, oid)
        if not visible:
            raise EmbedhubError(
                Kind.NOT_FOUND,
                f"The LFS object of {path!r} ({oid}) was never uploaded to this repo (pushed "
                "as a pointer only); push it with `git lfs push --all`",
                code="EntryNotFound",
                headers={"X-Repo-Commit": commit},
            )
        headers["X-Linked-Size"] = str(entry.lfs.size)
        headers["X-Linked-Etag"] = f'"{etag}"'
        return FileResponse(hub.lfs.path(oid), headers=headers, media_type=OCTET)
    if entry.size <= SMALL_BLOB:
        data = (await in_thread(repo.read_blobs, [entry.sha]))[entry.sha]
        return bytes_response(request, data, headers)
    return blob_response(request, repo, entry, headers)


OCTET = "application/octet-stream"


def xet_file_response(
    hub: Hub, request: Request, record: FileRecord, headers: dict[str, str]
) -> Response:
    """A file stored through Xet, for clients that don't speak Xet: reconstructed as a stream."""
    try:
        span = byte_range(request, record.size)
    except Unsatisfiable as exc:
        return exc.response(headers)
    return xet_repo.stream(hub, request, record, headers, span)


def byte_range(request: Request, size: int) -> tuple[int, int] | None:
    """The one byte range asked for, as (first, last); None for the whole file (several
    ranges get the whole file too). Raises Unsatisfiable when it lies past the end."""
    spec = request.headers.get("range", "").replace(" ", "")
    m = _RANGE_RE.fullmatch(spec)
    if not spec or not m or not (m.group(1) or m.group(2)):
        return None
    if m.group(1):
        start = int(m.group(1))
        end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
    else:
        start, end = max(size - int(m.group(2)), 0), size - 1
    if start >= size or start > end:
        raise Unsatisfiable(size)
    return start, end


class Unsatisfiable(Exception):
    def __init__(self, size: int) -> None:
        self.size = size

    def response(self, headers: dict[str, str]) -> Response:
        headers = {**headers, "Content-Range": f"bytes */{self.size}"}
        return Response(b"", status_code=416, headers=headers)


def bytes_response(request: Request, data: bytes, headers: dict[str, str]) -> Response:
    try:
        span = byte_range(request, len(data))
    except Unsatisfiable as exc:
        return exc.response(headers)
    if span is None:
        return Response(data, headers=headers, media_type=OCTET)
    start, end = span
    headers = {**headers, "Content-Range": f"bytes {start}-{end}/{len(data)}"}
    return Response(data[start : end + 1], status_code=206, headers=headers, media_type=OCTET)


def blob_response(
    request: Request, repo: GitRepo, entry: Entry, headers: dict[str, str]
) -> Response:
    """A big git blob piped from `git cat-file blob` (a range: the bytes before it are read
    and dropped; git blobs have no random access)."""
    try:
        span = byte_range(request, entry.size)
    except Unsatisfiable as exc:
        return exc.response(headers)
    start, end = span or (0, entry.size - 1)
    headers = {**headers, "Content-Length": str(end - start + 1)}
    status = 200
    if span is not None:
        status, headers["Content-Range"] = 206, f"bytes {start}-{end}/{entry.size}"
    if request.method == "HEAD":
        return Response(None, status_code=status, headers=headers, media_type=OCTET)
    body = _blob_bytes(repo, entry.sha, start, end - start + 1)
    return StreamingResponse(body, status_code=status, headers=headers, media_type=OCTET)


async def _blob_bytes(repo: GitRepo, sha: str, skip: int, length: int) -> AsyncIterator[bytes]:
    proc = await asyncio.create_subprocess_exec(
        "git",
        f"--git-dir={repo.path}",
        "cat-file",
        "blob",
        sha,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=git_env(),
    )
    assert proc.stdout is not None
    try:
        while skip > 0 and (chunk := await proc.stdout.read(min(CHUNK, skip))):
            skip -= len(chunk)
        while length > 0 and (chunk := await proc.stdout.read(min(CHUNK, length))):
            length -= len(chunk)
            yield chunk
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


def _quote_name(path: str) -> str:
    from urllib.parse import quote

    return quote(path.rsplit("/", 1)[-1], safe="")
