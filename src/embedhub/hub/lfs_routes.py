"""The Git LFS batch API at `/{P}{ns}/{name}.git/info/lfs/...`, used by huggingface_hub (with
Xet off) and by git-lfs. Transfers go to signed URLs on this server: the client PUTs/GETs
them without its token, so the URL itself carries a short-lived HMAC signature."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, Response

from embedhub.errors import EmbedhubError, Kind
from embedhub.hub.lfs import OID_RE
from embedhub.hub.paths import URL_PREFIX, RepoId, bad
from embedhub.hub.store import Hub
from embedhub.hub.web import base_url, in_thread, json, json_object, token_of

LFS_JSON = "application/vnd.git-lfs+json"


def lfs_json(data: Any, status: int = 200) -> Response:
    return json(data, status, media_type=LFS_JSON)


def lfs_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return json({"message": message}, status, headers=headers, media_type=LFS_JSON)


def repo_base(hub: Hub, request: Request, rid: RepoId) -> str:
    return f"{base_url(hub, request)}/{URL_PREFIX[rid.type]}{rid.id}.git/info/lfs"


async def batch(hub: Hub, request: Request, rid: RepoId) -> Response:
    token = token_of(hub, request, basic=True)
    body = await json_object(request, "LFS batch")
    operation = body.get("operation")
    if operation == "upload":
        hub.writable(rid, token, basic=True)
    elif operation == "download":
        row = hub.row(rid)
        if token is None and (row is None or row.private):
            # Make git-lfs ask for credentials instead of giving up.
            raise _basic_challenge(rid)
        hub.readable(rid, token)
    else:
        raise bad("LFS batch: 'operation' must be 'upload' or 'download'")
    transfers = body.get("transfers") or ["basic"]
    if "basic" not in transfers:
        raise EmbedhubError(Kind.VALIDATION, "LFS batch: only the 'basic' transfer is supported")
    objects = body.get("objects")
    if not isinstance(objects, list):
        raise bad("LFS batch: 'objects' must be a list of {oid, size}")
    base = repo_base(hub, request, rid)
    answer = [_object(hub, rid, base, operation, obj) for obj in objects]
    return lfs_json({"transfer": "basic", "objects": answer, "hash_algo": "sha256"})


def _object(hub: Hub, rid: RepoId, base: str, operation: str, obj: Any) -> dict[str, Any]:
    oid = obj.get("oid") if isinstance(obj, dict) else None
    size = obj.get("size") if isinstance(obj, dict) else None
    if not isinstance(oid, str) or not OID_RE.match(oid) or not isinstance(size, int) or size < 0:
        return {
            "oid": str(oid),
            "size": size,
            "error": {
                "code": 422,
                "message": "oid must be 64 hex characters (sha256) and size a non-negative integer",
            },
        }
    out: dict[str, Any] = {"oid": oid, "size": size, "authenticated": True}
    stored = hub.lfs.size(oid)
    if operation == "upload":
        if stored == size:
            return out  # already here: no actions, the client skips the upload
        query = urlencode({"size": size, **hub.signer.sign("upload", rid.id, oid, size)})
        # git-lfs sends no credentials to action links, so verify is signed as well.
        check = urlencode(
            {"oid": oid, "size": size, **hub.signer.sign("verify", rid.id, oid, size)}
        )
        out["actions"] = {
            "upload": {"href": f"{base}/objects/{oid}?{query}", "expires_in": hub.signer.ttl},
            "verify": {"href": f"{base}/verify?{check}", "expires_in": hub.signer.ttl},
        }
        return out
    if stored is None or stored != size:
        out["error"] = {"code": 404, "message": f"Object {oid} ({size} bytes) does not exist"}
        return out
    query = urlencode({"size": size, **hub.signer.sign("download", rid.id, oid, size)})
    out["actions"] = {
        "download": {"href": f"{base}/objects/{oid}?{query}", "expires_in": hub.signer.ttl}
    }
    return out


def _signed(hub: Hub, request: Request, rid: RepoId, action: str, oid: str) -> int:
    q = request.query_params
    size = q.get("size", "")
    ok = (
        OID_RE.match(oid)
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
    size = _signed(hub, request, rid, "upload", oid)
    if hub.lfs.has(oid, size):
        async for _ in request.stream():
            pass
        return Response(status_code=200)
    writer = hub.lfs.writer(oid, size)
    try:
        async for chunk in request.stream():
            writer.write(chunk)
        await in_thread(writer.finish)
    except ValueError as exc:
        writer.abort()
        raise EmbedhubError(Kind.BAD_REQUEST, f"LFS upload of {oid} rejected: {exc}") from None
    except ClientDisconnect:
        writer.abort()
        raise EmbedhubError(Kind.BAD_REQUEST, "The client went away mid-upload") from None
    except BaseException:
        writer.abort()
        raise
    return Response(status_code=200)


async def get_object(hub: Hub, request: Request, rid: RepoId, oid: str) -> Response:
    size = _signed(hub, request, rid, "download", oid)
    if not hub.lfs.has(oid, size):
        raise EmbedhubError(Kind.NOT_FOUND, f"LFS object {oid} not found", code="EntryNotFound")
    return FileResponse(
        hub.lfs.path(oid), media_type="application/octet-stream", headers={"ETag": f'"{oid}"'}
    )


async def verify(hub: Hub, request: Request, rid: RepoId) -> Response:
    body = await json_object(request, "LFS verify")
    oid, size = body.get("oid"), body.get("size")
    if not isinstance(oid, str) or not OID_RE.match(oid) or not isinstance(size, int):
        raise bad("LFS verify: expected {oid, size}")
    if "sig" in request.query_params:
        if (
            request.query_params.get("oid") != oid
            or _signed(hub, request, rid, "verify", oid) != size
        ):
            raise bad("LFS verify: the body does not match the signed link")
    else:
        hub.writable(rid, token_of(hub, request, basic=True), basic=True)
    if not hub.lfs.has(oid, size):
        return lfs_error(404, f"Object {oid} ({size} bytes) was not received")
    return lfs_json({"oid": oid, "size": size})


def _basic_challenge(rid: RepoId) -> EmbedhubError:
    from embedhub.hub.store import need_token

    err = need_token(rid, basic=True)
    err.message = f"{rid.id}: authentication required"
    return err
