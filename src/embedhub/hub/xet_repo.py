"""Where the hub's repos meet the Xet store (hub-docs `docs/xet/auth.md`; the resolve headers
huggingface_hub reads in `utils/_xet.py`).

- `xet-read-token` / `xet-write-token`: a short-lived signed token for one repo, with the
  caller's rights, and the CAS URL (in the JSON body and in the `X-Xet-*` headers);
- the Xet file behind a git LFS pointer: one registered in the Xet store with that sha256 and
  size, if the repo may read that sha256 (the hub's object links, as for LFS objects), so
  knowing a sha256 never gives access to another repo's file;
- resolve: the `X-Xet-Hash` and refresh-route headers that make `hf_xet` download natively,
  and, for every other client, the file itself, reconstructed as a stream (Range supported)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from embedhub.db import TokenInfo
from embedhub.hub.api import resolve_rev
from embedhub.hub.lfs import Pointer
from embedhub.hub.paths import RepoId, repo_id
from embedhub.hub.store import Hub
from embedhub.hub.web import base_url, in_thread, json, token_of
from embedhub.hub.xet_service import CAS_PREFIX, repo_key
from embedhub.xet import hashes
from embedhub.xet.index import FileRecord
from embedhub.xet.tokens import Grant

STREAM_PIECE = 1024 * 1024  # bytes handed to the server per write when streaming a file


def repo_of(key: str) -> RepoId:
    type_, namespace, name = key.split("/")
    return repo_id(type_, namespace, name)


# --- tokens ----------------------------------------------------------------------------------
async def token(hub: Hub, request: Request, rid: RepoId, kind: str, rev: str) -> Response:
    """`GET /api/{T}/{id}/xet-{read|write}-token/{rev}`."""
    caller = token_of(hub, request)
    scope = "write" if kind == "xet-write-token" else "read"
    if scope == "write":
        hub.writable(rid, caller)
    else:
        hub.readable(rid, caller)
    if rev != "None":  # huggingface_hub sends "None" when it commits to a new pull request
        await in_thread(resolve_rev, hub.git(rid), rid, rev)
    user, role = (caller.user, caller.role) if caller else (None, None)
    access, exp = hub.xet.signer.issue(repo_key(rid), scope, user, role)
    cas = base_url(hub, request) + CAS_PREFIX
    headers = {
        "X-Xet-Cas-Url": cas,
        "X-Xet-Access-Token": access,
        "X-Xet-Token-Expiration": str(exp),
    }
    return json({"accessToken": access, "exp": exp, "casUrl": cas}, headers=headers)


def recheck(hub: Hub, grant: Grant) -> RepoId:
    """The token's repo, if its holder still has the rights the token grants (the repo may be
    gone, made private, or the user removed from the org since it was issued)."""
    rid = repo_of(grant.repo)
    caller = TokenInfo(grant.user, "xet", grant.role or "read") if grant.user else None
    if grant.scope == "write":
        hub.writable(rid, caller)
    else:
        hub.readable(rid, caller)
    return rid


def resolve_headers(
    hub: Hub, request: Request, rid: RepoId, commit: str, record: FileRecord
) -> dict[str, str]:
    """What makes huggingface_hub download through hf_xet: the file's Xet hash and where to
    get a read token for it (as a header and as a `rel="xet-auth"` link)."""
    refresh = f"{base_url(hub, request)}/api/{rid.type}s/{rid.id}/xet-read-token/{commit}"
    return {
        "X-Xet-Hash": hashes.to_hex(record.hash),
        "X-Xet-Refresh-Route": refresh,
        "Link": f'<{refresh}>; rel="xet-auth"',
    }


def _pieces(parts: Iterable[bytes], hub: Hub) -> Iterator[bytes]:
    """Chunks joined into ~1 MiB pieces: each piece costs a thread hop in the server."""
    buf: list[bytes] = []
    held = 0
    for part in parts:
        buf.append(part)
        held += len(part)
        if held >= STREAM_PIECE:
            hub.xet.metrics.served.inc(held)
            yield b"".join(buf)
            buf, held = [], 0
    if buf:
        hub.xet.metrics.served.inc(held)
        yield b"".join(buf)


def stream(
    hub: Hub,
    request: Request,
    record: FileRecord,
    headers: dict[str, str],
    span: tuple[int, int] | None,
) -> Response:
    """The file's bytes, or bytes span=(first, last) of it, reconstructed chunk by chunk."""
    size = record.size
    first, last = span or (0, size - 1)
    status = 206 if span else 200
    headers = {**headers, "Content-Length": str(max(last - first + 1, 0))}
    if span:
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    if request.method == "HEAD" or size == 0:
        return Response(None, status, headers=headers, media_type="application/octet-stream")
    body = _pieces(hub.xet.store.read(record, first, last), hub)
    return StreamingResponse(
        body, status_code=status, headers=headers, media_type="application/octet-stream"
    )


def pointer_file(hub: Hub, rid: RepoId, pointer: Pointer) -> FileRecord | None:
    """The Xet file behind a git LFS pointer of `rid`, if `rid` may read it."""
    if not hub.object_visible(rid, pointer.oid):
        return None
    return hub.xet.file_for(pointer.oid, pointer.size)
