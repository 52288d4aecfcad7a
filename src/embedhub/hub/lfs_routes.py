"""The Git LFS batch API at `/{P}{ns}/{name}.git/info/lfs/...`, used by huggingface_hub (with
Xet off) and by git-lfs. Transfers go to signed URLs on this server: the client PUTs/GETs
them without its token, so the URL itself carries a short-lived HMAC signature. An object
uploaded through Xet counts as stored, and git-lfs downloads it reconstructed."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from embedhub.errors import EmbedhubError, Kind
from embedhub.hub import xet_repo
from embedhub.hub.lfs import OID_RE
from embedhub.hub.limits import LFS_BATCH_MAX_OBJECTS, BodyLimit
from embedhub.hub.paths import URL_PREFIX, RepoId, bad
from embedhub.hub.store import Hub
from embedhub.hub.web import base_url, in_thread, json, json_object, limited_stream, token_of

LFS_JSON = "application/vnd.git-lfs+json"


def lfs_json(data: Any, status: int = 200) -> Response:
    return json(data, status, media_type=LFS_JSON)


def lfs_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return json({"message": message}, status, headers=headers, media_type=LFS_JSON)


def repo_base(hub: Hub, request: Request, rid: RepoId) -> str:
    return f"{base_url(hub, request)}/{URL_PREFIX[rid.type]}{rid.id}.git/info/lfs"


async def batch(hub: Hub, request: Request, rid: RepoId) -> Response:
    token = token_of(hub, request, basic=True)
    body = await json_object(request, hub.limits.json, "LFS batch")
    operation = body.get("operation")
    if operation == "upload":
        hub.writable(rid, token, basic=True)
    elif operation == "download":
        hub.readable(rid, token, basic=True)
    else:
        raise bad("LFS batch: 'operation' must be 'upload' or 'download'")
    transfers = body.get("transfers") or ["basic"]
    if not isinstance(transfers, list) or "basic" not in transfers:
        raise EmbedhubError(Kind.VALIDATION, "LFS batch: only the 'basic' transfer is supported")
    objects = body.get("objects")
    if not isinstance(objects, list):
        raise bad("LFS batch: 'objects' must be a list of {oid, size}")
    if len(objects) > LFS_BATCH_MAX_OBJECTS:
        raise EmbedhubError(
            Kind.TOO_LARGE,
            f"LFS batch: {len(objects)} objects in one request; at most "
            f"{LFS_BATCH_MAX_OBJECTS} are answered at once: split the batch",
            code="PayloadTooLarge",
        )
    base = repo_base(hub, request, rid)
    answer = await in_thread(_answer, hub, rid, base, operation, objects)
    return lfs_json({"transfer": "basic", "objects": answer, "hash_algo": "sha256"})


def _answer(hub: Hub, rid: RepoId, base: str, operation: str, objects: list) -> list[dict]:
    """Per object: a link, or an error. Only this repo's objects count as present: an object
    another repo holds gets an upload link like any missing one (the upload then proves the
    client has the bytes), and a download of it is a 404, so no answer reveals another repo's
    content."""
    wanted = [_oid_size(obj) for obj in objects]
    visible = hub.visible_objects(rid, sorted({oid for oid, _ in wanted if oid}))
    out = []
    for obj, (oid, size) in zip(objects, wanted, strict=True):
        if oid is None or size is None:
            out.append(
                _error(
                    obj,
                    422,
                    "oid must be 64 hex characters (sha256) and size a non-negative integer",
                )
            )
        elif operation == "upload":
            out.append(_upload(hub, rid, base, oid, size, here=oid in visible))
        elif oid in visible and _stored(hub, oid, size):
            query = urlencode({"size": size, **hub.signer.sign("download", rid.id, oid, size)})
            href = f"{base}/objects/{oid}?{query}"
            out.append(_found(oid, size, {"download": _action(hub, href)}))
        else:
            out.append(_error(obj, 404, f"Object {oid} ({size} bytes) does not exist"))
    return out


def _upload(hub: Hub, rid: RepoId, base: str, oid: str, size: int, *, here: bool) -> dict:
    if size > hub.limits.lfs_object:
        return _error(
            {"oid": oid, "size": size},
            422,
            f"Object {oid} has {size} bytes; the limit is {hub.limits.lfs_object} bytes "
            "(--hub-lfs-object-limit, EMBEDHUB_HUB_LFS_OBJECT_LIMIT)",
        )
    if here and _stored(hub, oid, size):
        return _found(oid, size, None)  # no actions: the client skips the upload
    query = urlencode({"size": size, **hub.signer.sign("upload", rid.id, oid, size)})
    # git-lfs sends no credentials to action links, so verify is signed as well.
    check = urlencode({"oid": oid, "size": size, **hub.signer.sign("verify", rid.id, oid, size)})
    return _found(
        oid,
        size,
        {
            "upload": _action(hub, f"{base}/objects/{oid}?{query}"),
            "verify": _action(hub, f"{base}/verify?{check}"),
        },
    )


def _oid_size(obj: Any) -> tuple[str | None, int | None]:
    oid = obj.get("oid") if isinstance(obj, dict) else None
    size = obj.get("size") if isinstance(obj, dict) else None
    good_oid = isinstance(oid, str) and OID_RE.fullmatch(oid)
    good_size = isinstance(size, int) and not isinstance(size, bool) and size >= 0
    return (oid if good_oid else None), (size if good_size else None)


def _found(oid: str, size: int, actions: dict | None) -> dict[str, Any]:
    out: dict[str, Any] = {"oid": oid, "size": size, "authenticated": True}
    if actions:
        out["actions"] = actions
    return out


def _action(hub: Hub, href: str) -> dict[str, Any]:
    return {"href": href, "expires_in": hub.signer.ttl}


def _error(obj: Any, code: int, message: str) -> dict[str, Any]:
    oid = obj.get("oid") if isinstance(obj, dict) else None
    size = obj.get("size") if isinstance(obj, dict) else None
    return {
        "oid": oid if isinstance(oid, str) else str(oid),
        "size": size if isinstance(size, int) else None,
        "error": {"code": code, "message": message},
    }


def _signed(hub: Hub, request: Request, rid: RepoId, action: str, oid: str) -> int:
    q = request.query_params
    size = q.get("size", "")
    ok = (
        OID_RE.fullmatch(oid)
        and size.isdigit()
        and hub.signer.check(action, rid.id, oid, int(size), q.get("exp", ""), q.get("sig", ""))
    )
    if not ok:
        raise EmbedhubError(
            Kind.FORBIDDEN,
            f"This LFS {action} link is invalid or expired; ask the batch API for a new one",
        )
    return int(size)


async def put_object(hub: Hub, request: Request, rid: RepoId, oid: str) -> Response:
    """The bytes of one object, to a signed link. They are hashed whether or not the store
    has the object already: matching bytes are what link it to this repo."""
    size = _signed(hub, request, rid, "upload", oid)
    limit = BodyLimit(size, "the size announced to the batch API", "send exactly that")
    writer = await in_thread(hub.lfs.writer, oid, size)
    try:
        async for chunk in limited_stream(request, limit):
            writer.write(chunk)
        await in_thread(writer.finish)
    except ValueError as exc:
        raise EmbedhubError(Kind.BAD_REQUEST, f"LFS upload of {oid} rejected: {exc}") from None
    finally:
        writer.abort()
    await in_thread(hub.link_object, rid, oid)
    hub.metrics.received.labels("lfs").inc(size)
    return Response(status_code=200)


def _stored(hub: Hub, oid: str, size: int) -> bool:
    """In the LFS store or, uploaded through Xet, in the Xet store (git-lfs then downloads it
    reconstructed, from get_object)."""
    return hub.lfs.has(oid, size) or hub.xet.has(oid, size)


async def get_object(hub: Hub, request: Request, rid: RepoId, oid: str) -> Response:
    size = _signed(hub, request, rid, "download", oid)
    if not await in_thread(hub.object_visible, rid, oid):
        raise EmbedhubError(Kind.NOT_FOUND, f"LFS object {oid} not found", code="EntryNotFound")
    if not hub.lfs.has(oid, size):
        xet_file = await in_thread(hub.xet.file_for, oid, size)
        if xet_file is None:
            raise EmbedhubError(Kind.NOT_FOUND, f"LFS object {oid} not found", code="EntryNotFound")
        return xet_repo.stream(hub, request, xet_file, {"ETag": f'"{oid}"'}, None)
    return FileResponse(
        hub.lfs.path(oid), media_type="application/octet-stream", headers={"ETag": f'"{oid}"'}
    )


async def verify(hub: Hub, request: Request, rid: RepoId) -> Response:
    body = await json_object(request, hub.limits.json, "LFS verify")
    oid, size = body.get("oid"), body.get("size")
    if not isinstance(oid, str) or not OID_RE.fullmatch(oid) or not isinstance(size, int):
        raise bad("LFS verify: expected {oid, size}")
    if "sig" in request.query_params:
        if (
            request.query_params.get("oid") != oid
            or _signed(hub, request, rid, "verify", oid) != size
        ):
            raise bad("LFS verify: the body does not match the signed link")
    else:
        hub.writable(rid, token_of(hub, request, basic=True), basic=True)
    here = await in_thread(hub.object_visible, rid, oid)
    if not (here and hub.lfs.has(oid, size)):
        return lfs_error(404, f"Object {oid} ({size} bytes) was not received")
    return lfs_json({"oid": oid, "size": size})
