"""Git smart HTTP (clone, fetch, push) through git's own CGI program, `git http-backend`.

We decide who may do what, then hand the request to the CGI with the standard environment and
stream the body both ways. Pushes hold the repo's write lock for their whole run, so they
serialise with commits made through the API."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from embedhub.db import TokenInfo
from embedhub.errors import EmbedhubError, Kind
from embedhub.hub.gitrepo import git_env
from embedhub.hub.limits import BodyLimit
from embedhub.hub.paths import RepoId, bad
from embedhub.hub.store import Hub
from embedhub.hub.web import RepoLock, in_thread, limited_stream, token_of

log = logging.getLogger("embedhub.hub.git")
SERVICES = ("git-upload-pack", "git-receive-pack")
CHUNK = 64 * 1024
PUSH_SLACK = 1024 * 1024


def _service(request: Request, action: str) -> str:
    if action == "info/refs":
        service = request.query_params.get("service", "")
        if service not in SERVICES:
            raise bad(
                "Only smart HTTP is supported: ask info/refs?service=git-upload-pack "
                "or git-receive-pack (git 1.6.6 or newer)"
            )
        return service
    return action


def _authorize(hub: Hub, request: Request, rid: RepoId, service: str) -> TokenInfo | None:
    token = token_of(hub, request, basic=True)
    if service == "git-receive-pack":
        hub.writable(rid, token, basic=True)
    else:
        hub.readable(rid, token, basic=True)
    return token


async def handle(hub: Hub, request: Request, rid: RepoId, action: str) -> Response:
    service = _service(request, action)
    token = _authorize(hub, request, rid, service)
    writer = service == "git-receive-pack" and token is not None and token.can_write
    env = _cgi_env(hub, request, rid, action, token, writer)
    if request.method == "POST":
        hub.limits.git.check_declared(request.headers.get("content-length"))
    pushing = request.method == "POST" and service == "git-receive-pack"
    if pushing:
        hub.install_hooks()  # cheap when in place; a push must never run unchecked
    lock = RepoLock(hub.git(rid)) if pushing else None
    if lock is not None:
        await lock.acquire()
    try:
        # git refuses a pack past receive.maxInputSize with its own message; the feeder's
        # cut-off stays behind that (the commands before the pack take a few kB).
        limit = hub.limits.git
        if pushing:
            limit = replace(limit, size=limit.size + PUSH_SLACK)
        pushed = (lambda size: _pushed(hub, rid, size)) if pushing else None
        return await _run(request, env, lock, limit, pushed)
    except BaseException:
        if lock is not None:
            lock.release()
        raise


def _cgi_env(
    hub: Hub, request: Request, rid: RepoId, action: str, token: TokenInfo | None, writer: bool
) -> dict[str, str]:
    config = {
        # Pushing is on only for writers; everyone else gets git's own "forbidden".
        "http.receivepack": "true" if writer else "false",
        # Every push passes the hub's check (prereceive.py) and git's own object checks
        # (`.`/`..`/`.git` in trees, malformed objects), and is bounded in size.
        "core.hooksPath": str(hub.hooks),
        "receive.fsckObjects": "true",
        "receive.maxInputSize": str(hub.limits.git.size),
    }
    env = git_env(
        GIT_PROJECT_ROOT=str(hub.root),
        GIT_HTTP_EXPORT_ALL="1",
        PATH_INFO=f"/{rid.type}s/{rid.namespace}/{rid.name}.git/{action}",
        REQUEST_METHOD=request.method,
        QUERY_STRING=request.url.query,
        CONTENT_TYPE=request.headers.get("content-type", ""),
        REMOTE_ADDR=request.client.host if request.client else "",
        GIT_CONFIG_COUNT=str(len(config)),
        **hub.hook_env(rid),
    )
    for i, (key, value) in enumerate(config.items()):
        env[f"GIT_CONFIG_KEY_{i}"], env[f"GIT_CONFIG_VALUE_{i}"] = key, value
    if token is not None:
        env["REMOTE_USER"] = token.user
    for header, var in (
        ("content-encoding", "HTTP_CONTENT_ENCODING"),
        ("git-protocol", "GIT_PROTOCOL"),
        ("content-length", "CONTENT_LENGTH"),
    ):
        if header in request.headers:
            env[var] = request.headers[header]
    return env


def _pushed(hub: Hub, rid: RepoId, size: int) -> None:
    hub.touch(rid)
    hub.metrics.received.labels("push").inc(size)


async def _run(
    request: Request,
    env: dict[str, str],
    lock: RepoLock | None,
    limit: BodyLimit,
    pushed: Callable[[int], None] | None = None,
) -> Response:
    """Start the CGI, read its headers, then stream its output; the lock (if any) is released
    when the output is done or the client is gone. `pushed(bytes)` is called after a push
    git accepted."""
    proc = await asyncio.create_subprocess_exec(
        "git",
        "http-backend",
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    feeder = asyncio.create_task(_feed(request, proc, limit))
    errors = asyncio.create_task(proc.stderr.read())  # drained as it comes: never blocks git
    try:
        status, headers = await _read_headers(proc)
    except BaseException:
        proc.kill()
        raise

    stdout = proc.stdout
    assert stdout is not None  # started with stdout=PIPE

    async def body() -> AsyncIterator[bytes]:
        while chunk := await stdout.read(CHUNK):
            yield chunk
        fed = await feeder
        code, err = await proc.wait(), await errors
        if pushed is not None and code == 0:
            await in_thread(pushed, fed)
        if code != 0 or err.strip():
            log.info("git http-backend %s: %s", env["PATH_INFO"], err.decode(errors="replace"))

    async def cleanup() -> None:
        if proc.returncode is None:  # the client went away: stop git (a push is quarantined)
            proc.kill()
            await proc.wait()
        if lock is not None:
            lock.release()

    media = headers.pop("content-type", None)
    return CGIResponse(body(), cleanup, status_code=status, headers=headers, media_type=media)


class CGIResponse(StreamingResponse):
    """StreamingResponse without its disconnect listener: that listener calls `receive()` while
    the response streams and would swallow request body chunks the CGI has not read yet (git
    then waits forever for them). Our feeder is the one reader of the request. `cleanup` runs
    however the response ends, even if it never started."""

    def __init__(
        self, content: AsyncIterator[bytes], cleanup: Callable[[], Awaitable[None]], **kwargs: Any
    ) -> None:
        super().__init__(content, **kwargs)
        self.cleanup = cleanup

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.stream_response(send)
        finally:
            await self.cleanup()


async def _feed(request: Request, proc: asyncio.subprocess.Process, limit: BodyLimit) -> int:
    """The request body into git; returns its size. Past the limit (a chunked body: an
    announced one was refused before git started) git's input just ends; git then fails the
    request, and a push past receive.maxInputSize is refused by git itself with its own
    message."""
    assert proc.stdin is not None
    fed = 0
    try:
        if request.method == "POST":
            async for chunk in limited_stream(request, limit):
                proc.stdin.write(chunk)
                fed += len(chunk)
                await proc.stdin.drain()
    except (EmbedhubError, BrokenPipeError, ConnectionResetError):
        pass
    finally:
        proc.stdin.close()
    return fed


async def _read_headers(proc: asyncio.subprocess.Process) -> tuple[int, dict[str, str]]:
    """CGI output starts with headers (`Status: 403 Forbidden` sets the status)."""
    assert proc.stdout is not None
    status, headers = 200, {}
    while True:
        line = (await proc.stdout.readline()).decode("latin-1").rstrip("\r\n")
        if not line:
            break
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.strip().split()[0])
        else:
            headers[name.strip().lower()] = value.strip()
    if status >= 400 and not headers:
        raise EmbedhubError(Kind.FORBIDDEN, "git refused the request")
    return status, headers
