"""Small HTTP helpers the hub's route modules share."""

from __future__ import annotations

import fcntl
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import anyio.to_thread
import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from embedhub.auth import authenticate
from embedhub.db import TokenInfo
from embedhub.errors import EmbedhubError, Kind
from embedhub.hub.gitrepo import GitRepo
from embedhub.hub.store import REALM, Hub

T = TypeVar("T")


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


async def json_body(request: Request) -> Any:
    body = await request.body()
    try:
        return orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        raise EmbedhubError(Kind.BAD_REQUEST, "The request body is not valid JSON") from None


async def json_object(request: Request, what: str) -> dict:
    data = await json_body(request)
    if not isinstance(data, dict):
        raise EmbedhubError(Kind.BAD_REQUEST, f"{what}: the body must be a JSON object")
    return data


async def spool_body(request: Request, limit: int, folder: Path) -> BinaryIO:
    """The body in an unnamed temp file (rewound), with a 413 past `limit` bytes."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise too_large(int(length), limit)
    out = tempfile.TemporaryFile(dir=folder)
    seen = 0
    try:
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > limit:
                raise too_large(None, limit)
            out.write(chunk)
    except ClientDisconnect:
        out.close()
        raise EmbedhubError(
            Kind.BAD_REQUEST,
            "The client went away before the body was complete; nothing was changed",
        ) from None
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out


def too_large(length: int | None, limit: int) -> EmbedhubError:
    size = f"{length} bytes" if length is not None else f"more than {limit} bytes"
    return EmbedhubError(
        Kind.TOO_LARGE,
        f"Payload too large: {size}; the limit for one commit is {limit} bytes "
        "(EMBEDHUB_HUB_PAYLOAD_LIMIT); split the upload into several commits",
    )


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
