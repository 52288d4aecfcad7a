"""The Xet CAS API under `/api/xet` (hub-docs `docs/xet/api.md`), as hf_xet 1.x calls it:

    POST /v1/xorbs/{prefix}/{hash}       a xorb, checked (format and hash) before it is stored
    POST /v1/shards                      files to register; every xorb named must be stored
    GET  /v1/reconstructions/{file}      terms + signed URLs of xorb byte ranges (Range: ok)
    GET  /v1/chunks/{prefix}/{hash}      global dedup: a shard of xorbs holding that chunk
    GET  /v1/fetch/{xorb}?r=&e=&s=       a signed byte range of a xorb (no token: the URL is it)

Requests carry a Xet access token from the hub's `xet-*-token` routes. hf_xet first tries the
newer `/v1/xorb-grants` and `/v2/...` routes and falls back to these on the 404 it gets.
Errors are 4xx with a message; the client acts on the status alone (401/403 refresh or stop,
404 means "not there", 416 "past the end")."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from embedhub.errors import EmbedhubError, Kind
from embedhub.hub import xet_repo
from embedhub.hub.files import Unsatisfiable, byte_range
from embedhub.hub.limits import BodyLimit
from embedhub.hub.store import Hub
from embedhub.hub.web import base_url, in_thread, json, limited_stream
from embedhub.xet import hashes, shard
from embedhub.xet.errors import XetError
from embedhub.xet.reader import Slice
from embedhub.xet.tokens import Grant, TokenError
from embedhub.xet.xorb import MAX_XORB_BYTES

log = logging.getLogger("embedhub.xet")
PREFIX = xet_repo.CAS_PREFIX
# Both limits are the protocol's: a xorb's chunks are at most 64 MiB (its footer adds ~40
# bytes a chunk), and a client splits its files into shards of at most 64 MiB.
XORB_LIMIT = BodyLimit(
    MAX_XORB_BYTES + 1024 * 1024, "the Xet protocol's 64 MiB xorb", "send smaller xorbs"
)
SHARD_LIMIT = BodyLimit(
    64 * 1024 * 1024, "the Xet protocol's 64 MiB shard", "split the files into several shards"
)


def _bad(message: str) -> EmbedhubError:
    return EmbedhubError(Kind.BAD_REQUEST, message)


def _hash(text: str, what: str) -> bytes:
    try:
        return hashes.from_hex(text)
    except ValueError:
        raise _bad(f"{what} {text!r} is not a hash: expected 64 lowercase hex digits") from None


def grant_of(hub: Hub, request: Request, scope: str) -> Grant:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise EmbedhubError(
            Kind.UNAUTHORIZED,
            "The Xet CAS needs a Xet access token (Authorization: Bearer ...) from the hub's "
            "/api/{type}s/{repo}/xet-read-token or xet-write-token route",
        )
    try:
        grant = hub.xet.signer.check(value.strip())
    except TokenError as exc:
        raise EmbedhubError(Kind.UNAUTHORIZED, str(exc)) from None
    if scope == "write" and grant.scope != "write":
        raise EmbedhubError(
            Kind.FORBIDDEN,
            f"This Xet token only reads {grant.repo}; uploads need one from xet-write-token",
        )
    xet_repo.recheck(hub, grant)
    return grant


def hub_of(request: Request) -> Hub:
    return request.app.state.hub


async def _receive(request: Request, limit: BodyLimit, sink: Callable[[bytes], object]) -> int:
    seen = 0
    async for part in limited_stream(request, limit):
        seen += len(part)
        sink(part)
    return seen


async def upload_xorb(request: Request, prefix: str, xorb: str) -> Response:
    hub = hub_of(request)
    grant_of(hub, request, "write")
    expected = _hash(xorb, "xorb hash")
    store, counted = hub.xet.store, hub.xet.metrics.received
    if store.has_xorb(expected):
        counted.inc(await _receive(request, XORB_LIMIT, lambda _: None))
        return json({"was_inserted": False})
    f, tmp = store.temp_file()
    try:
        with f:
            counted.inc(await _receive(request, XORB_LIMIT, f.write))
        # add_xorb fsyncs in its worker thread: on the event loop, waiting for the disk
        # stalled every other upload (measured ~0.1 s per 64 MiB xorb, at times over 1 s).
        inserted = await in_thread(store.add_xorb, tmp, expected)
    except XetError as exc:
        log.warning("xorb %s refused: %s", xorb, exc)
        raise _bad(f"xorb {xorb} refused: {exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return json({"was_inserted": inserted})


async def upload_shard(request: Request) -> Response:
    hub = hub_of(request)
    grant = grant_of(hub, request, "write")
    parts: list[bytes] = []
    hub.xet.metrics.received.inc(await _receive(request, SHARD_LIMIT, parts.append))
    try:
        parsed = await in_thread(shard.parse, b"".join(parts))
        done = await in_thread(hub.xet.store.register, parsed)
    except XetError as exc:
        log.warning("shard for %s refused: %s", grant.repo, exc)
        raise _bad(f"shard refused, no file registered: {exc}") from None
    # Readable through the uploading repo from now on (and committable there as lfsFile).
    rid = xet_repo.repo_of(grant.repo)
    await in_thread(hub.link_objects, rid, sorted({r.sha256 for r in done.files}))
    hub.xet.metrics.deduplicated.inc(done.deduplicated)
    return json({"result": 1})


async def reconstruction(request: Request, file_id: str) -> Response:
    hub = hub_of(request)
    grant = grant_of(hub, request, "read")
    record = await in_thread(hub.xet.store.file, _hash(file_id, "file hash"))
    rid = xet_repo.repo_of(grant.repo)
    if record is None or not await in_thread(hub.object_visible, rid, record.sha256):
        raise EmbedhubError(Kind.NOT_FOUND, f"No Xet file {file_id} in {grant.repo}")
    try:
        wanted = byte_range(request, record.size)
    except Unsatisfiable:
        return json({"error": f"Range starts past the end of the {record.size}-byte file"}, 416)
    first, last = wanted or (0, record.size - 1)
    if record.size == 0:
        return json({"offset_into_first_range": 0, "terms": [], "fetch_info": {}})
    slices, offset = await in_thread(hub.xet.store.plan, record, first, last)
    terms = [
        {
            "hash": hashes.to_hex(s.xorb.hash),
            "unpacked_length": s.unpacked,
            "range": {"start": s.start, "end": s.end},
        }
        for s in slices
    ]
    fetch = _fetch_info(hub, base_url(hub, request), slices)
    return json({"offset_into_first_range": offset, "terms": terms, "fetch_info": fetch})


def _fetch_info(hub: Hub, base: str, slices: list[Slice]) -> dict[str, list[dict]]:
    """Per xorb, one signed URL for each run of chunks the terms need (overlapping and
    adjacent ranges merged, so a chunk used twice is downloaded once)."""
    by_xorb: dict[bytes, list[Slice]] = {}
    for s in slices:
        by_xorb.setdefault(s.xorb.hash, []).append(s)
    out: dict[str, list[dict]] = {}
    for h, group in by_xorb.items():
        name, runs = hashes.to_hex(h), list[Slice]()
        for s in sorted(group, key=lambda s: s.start):
            if runs and s.start <= runs[-1].end:
                runs[-1] = Slice(s.xorb, runs[-1].start, max(runs[-1].end, s.end))
            else:
                runs.append(s)
        out[name] = []
        for run in runs:
            first, last = run.byte_range
            query = urlencode(hub.xet.signer.sign_fetch(name, first, last))
            out[name].append(
                {
                    "range": {"start": run.start, "end": run.end},
                    "url": f"{base}{PREFIX}/v1/fetch/{name}?{query}",
                    "url_range": {"start": first, "end": last},
                }
            )
    return out


async def dedup(request: Request, prefix: str, chunk: str) -> Response:
    hub = hub_of(request)
    grant_of(hub, request, "read")
    chunk_hash = _hash(chunk, "chunk hash")
    # A fresh key per answer: the keyed hashes in it match only chunks the asker holds.
    answer = await in_thread(hub.xet.store.dedup_answer, chunk_hash, os.urandom(32))
    if answer is None:
        raise EmbedhubError(Kind.NOT_FOUND, "No stored xorb is known to hold this chunk")
    return Response(answer, media_type="application/octet-stream")


async def fetch(request: Request, xorb: str) -> Response:
    hub, name = hub_of(request), xorb
    q = request.query_params
    try:
        signed = (q.get("r", ""), q.get("e", ""), q.get("s", ""))
        first, last = hub.xet.signer.check_fetch(name, *signed)
    except TokenError as exc:
        raise EmbedhubError(Kind.FORBIDDEN, str(exc)) from None
    path = hub.xet.store.xorb_path(_hash(name, "xorb hash"))
    if not path.exists():
        raise EmbedhubError(Kind.NOT_FOUND, f"No xorb {name} here")
    try:
        wanted = byte_range(request, last + 1)
    except Unsatisfiable:
        wanted = None
    if wanted is None or wanted[0] < first:
        raise EmbedhubError(
            Kind.FORBIDDEN,
            f"Send Range: bytes={first}-{last} (or a part of it): this URL reads only that range",
        )
    start, end = wanted
    headers = {"Content-Range": f"bytes {start}-{end}/*", "Content-Length": str(end - start + 1)}
    hub.xet.metrics.served.inc(end - start + 1)
    return StreamingResponse(
        _file_range(str(path), start, end), 206, headers, media_type="application/octet-stream"
    )


def _file_range(path: str, start: int, end: int, piece: int = 1024 * 1024):
    with open(path, "rb") as f:
        f.seek(start)
        left = end - start + 1
        while left > 0:
            data = f.read(min(piece, left))
            if not data:
                return
            left -= len(data)
            yield data


GET = ["GET", "HEAD"]
# Declared with the hub's other routes (hub/routes.py adds these to its table).
ROUTES: list[tuple[str, Callable[..., Coroutine[Any, Any, Response]], list[str]]] = [
    (PREFIX + "/v1/xorbs/{prefix}/{xorb}", upload_xorb, ["POST"]),
    (PREFIX + "/v1/shards", upload_shard, ["POST"]),
    (PREFIX + "/v1/reconstructions/{file_id}", reconstruction, GET),
    (PREFIX + "/v1/chunks/{prefix}/{chunk}", dedup, GET),
    (PREFIX + "/v1/fetch/{xorb}", fetch, GET),
]
