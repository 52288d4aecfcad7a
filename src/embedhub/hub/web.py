"""Small HTTP helpers the hub's route modules share: JSON answers, bounded request bodies,
the caller's token, and the mapping of a full disk to a clear 507."""

from __future__ import annotations

import errno
import fcntl
import shutil
import sqlite3
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import anyio.to_thread
import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from embedhub.auth import authenticate
from embedhub.db import TokenInfo
from embedhub.errors import EmbedhubError, Kind
from embedhub.hub.gitrepo import GitError, GitRepo
from embedhub.hub.limits import BodyLimit
from embedhub.hub.store import REALM, Hub

T = TypeVar("T")
# JSON bodies bigger than this are parsed in a worker thread, not on the event loop.
PARSE_IN_THREAD = 64 * 1024


def json(
    data: Any,
    status: int = 200,
    headers: dict[str, str] | None = None,
    media_type: str = "application/json",
) -> Response:
    return Response(orjson.dumps(data), status_code=status, headers=headers, media_type=media_type)


def base_url(hub: Hub, request: Request) -> str:
    return (hub.settings.public_url or str(request.base_url)).rstrip("/")


def token_of(hub: Hub, request: Request, *, basic: bool = False) -> TokenInfo | None:
    """`basic`: git and git-lfs only retry with credentials after a Basic challenge."""
    try:
        return authenticate(hub.db, request)
    except EmbedhubError as exc:
        if basic:
            exc.headers = {"WWW-Authenticate": REALM}
        raise


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    # git and file work block; keep it off the event loop.
    return await anyio.to_thread.run_sync(fn, *args)


# --- bounded bodies ----------------------------------------------------------------------
async def limited_stream(request: Request, limit: BodyLimit) -> AsyncIterator[bytes]:
    """The body's chunks, with a 413 as soon as more than the limit has come."""
    limit.check_declared(request.headers.get("content-length"))
    seen = 0
    try:
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > limit.size:
                raise limit.refuse(None)
            yield chunk
    except ClientDisconnect:
        raise EmbedhubError(
            Kind.BAD_REQUEST,
            "The client went away before the body was complete; nothing was changed",
        ) from None


async def read_body(request: Request, limit: BodyLimit) -> bytes:
    return b"".join([chunk async for chunk in limited_stream(request, limit)])


async def json_body(request: Request, limit: BodyLimit) -> Any:
    body = await read_body(request, limit)
    if not body:
        return None
    try:
        if len(body) > PARSE_IN_THREAD:
            return await in_thread(orjson.loads, body)
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise EmbedhubError(Kind.BAD_REQUEST, "The request body is not valid JSON") from None


async def json_object(request: Request, limit: BodyLimit, what: str) -> dict:
    data = await json_body(request, limit)
    if not isinstance(data, dict):
        raise EmbedhubError(Kind.BAD_REQUEST, f"{what}: the body must be a JSON object")
    return data


async def spool_body(request: Request, limit: BodyLimit, folder: Path) -> BinaryIO:
    """The body in an unnamed temp file (rewound), with a 413 past the limit."""
    out = tempfile.TemporaryFile(dir=folder)
    try:
        async for chunk in limited_stream(request, limit):
            out.write(chunk)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out


# --- a full disk -------------------------------------------------------------------------
_FULL_WORDS = ("No space left on device", "Out of diskspace", "Disk quota exceeded", "disk is full")


def storage_error(exc: BaseException, data_dir: Path) -> EmbedhubError | None:
    """A typed 507 when `exc` comes from the data directory's disk being full, else None."""
    full = False
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        full = True
    elif isinstance(exc, GitError | sqlite3.OperationalError):
        # git reports ENOSPC in words that vary by command; a failing git with (almost) no
        # space left is taken for what it is.
        full = any(w in str(exc) for w in _FULL_WORDS) or _nearly_full(data_dir)
    if not full:
        return None
    return EmbedhubError(
        Kind.INSUFFICIENT_STORAGE,
        f"The server's disk is full: no space left in its data directory ({data_dir}). "
        "Nothing was changed; retry once space has been freed.",
        code="InsufficientStorage",
    )


def _nearly_full(path: Path) -> bool:
    try:
        return shutil.disk_usage(path).free < 1024 * 1024
    except OSError:
        return False


class RepoLock:
    """The repo's write lock (the same file GitRepo.lock locks), awaited off the event loop and
    released explicitly, so it can outlive the handler and cover a streamed response."""

    def __init__(self, repo: GitRepo) -> None:
        self.path = repo.lock_path
        self.file: BinaryIO | None = None

    async def acquire(self) -> None:
        self.file = open(self.path, "a+b")
        await in_thread(fcntl.flock, self.file, fcntl.LOCK_EX)

    def release(self) -> None:
        if self.file is not None:
            self.file.close()  # closing the descriptor releases the lock
            self.file = None
