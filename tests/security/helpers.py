"""Raw HTTP against the hub, as an attacker sends it: requests with exactly the body and
headers given, LFS uploads done by hand."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
from typing import Any

import requests

from embedhub.db import Database

LFS = {"Accept": "application/vnd.git-lfs+json", "Content-Type": "application/vnd.git-lfs+json"}


def auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def token(server, user: str, *, write: bool = True, orgs: tuple[str, ...] = ()) -> str:
    """A token for `user` (created if new, and added to `orgs`), written to the server's
    database as `embedhub token create` and `embedhub org create` do, minus an interpreter
    start each (the CLI itself is tested in tests/hub)."""
    db = Database(server.data_dir / "embedhub.db")
    db.create_user(user, exist_ok=True)
    for org in orgs:
        db.create_org(org, [user])
    return db.create_token(user, write=write, name="security-tests")


def create_repo(
    url: str, token: str, repo_id: str, *, private: bool = False, type_: str = "dataset"
) -> None:
    ns, name = repo_id.split("/")
    body = {"name": name, "organization": ns, "type": type_, "private": private}
    r = requests.post(f"{url}/api/repos/create", json=body, headers=auth(token), timeout=30)
    assert r.status_code == 200, r.text


def commit(
    url: str, token: str | None, repo_id: str, lines: list[dict], *, type_: str = "datasets"
) -> requests.Response:
    body = "\n".join(json.dumps(line) for line in lines).encode()
    headers = {**auth(token), "Content-Type": "application/x-ndjson"}
    return requests.post(
        f"{url}/api/{type_}/{repo_id}/commit/main", data=body, headers=headers, timeout=60
    )


def header(summary: str = "test commit") -> dict:
    return {"key": "header", "value": {"summary": summary}}


def file_line(path: str, content: bytes) -> dict:
    value = {"path": path, "content": base64.b64encode(content).decode(), "encoding": "base64"}
    return {"key": "file", "value": value}


def lfs_line(path: str, oid: str, size: int) -> dict:
    return {"key": "lfsFile", "value": {"path": path, "algo": "sha256", "oid": oid, "size": size}}


def batch(
    url: str,
    repo_id: str,
    token: str | None,
    operation: str,
    objects: list[dict[str, Any]],
    prefix: str = "datasets/",
) -> requests.Response:
    body = {
        "operation": operation,
        "transfers": ["basic"],
        "objects": objects,
        "hash_algo": "sha256",
    }
    return requests.post(
        f"{url}/{prefix}{repo_id}.git/info/lfs/objects/batch",
        json=body,
        headers={**LFS, **auth(token)},
        timeout=30,
    )


def upload_lfs(url: str, repo_id: str, token: str, data: bytes) -> str:
    """Upload `data` to the repo's LFS store as git-lfs does; returns its oid."""
    oid = hashlib.sha256(data).hexdigest()
    r = batch(url, repo_id, token, "upload", [{"oid": oid, "size": len(data)}])
    assert r.status_code == 200, r.text
    actions = r.json()["objects"][0].get("actions")
    if actions:
        assert requests.put(actions["upload"]["href"], data=data, timeout=30).status_code == 200
        check = requests.post(
            actions["verify"]["href"], json={"oid": oid, "size": len(data)}, headers=LFS, timeout=30
        )
        assert check.status_code == 200, check.text
    return oid


def raw_request(url: str, head: str, body: bytes = b"") -> tuple[int, bytes]:
    """One HTTP/1.1 request written by hand (headers exactly as given); (status, body)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head.encode("latin-1") + b"\r\n\r\n" + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
            if b"\r\n\r\n" in data and _complete(data):
                break
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1]


def _complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False
