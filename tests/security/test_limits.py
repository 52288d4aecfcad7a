"""Bounded requests and a full disk (issue 8: D4, D5, D11, D12), against one server started
with small hub limits whose data directory is a 32 MB tmpfs (a real filesystem that can be
filled in a moment; mounting one needs root, as in CI). Before it starts, the data directory
gets the leftovers a crashed server leaves, which its startup sweep must remove."""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from servers import start_server, stop_server

from .conftest import git
from .helpers import auth, batch, commit, create_repo, file_line, header, raw_request
from .helpers import token as make_token

JSON_LIMIT, PAYLOAD_LIMIT, OBJECT_LIMIT = 65536, 1_000_000, 2_000_000
FLAGS = (
    "--hub-json-limit",
    str(JSON_LIMIT),
    "--hub-payload-limit",
    str(PAYLOAD_LIMIT),
    "--hub-lfs-object-limit",
    str(OBJECT_LIMIT),
)
LEFTOVERS = [
    "lfs/tmp/obj-dead",
    "lfs/tmp/commit-dead/file-1",
    "hub/datasets/ghost/.new-dead/HEAD",
    "hub/datasets/ghost/.deleted-dead/HEAD",
    "hub/datasets/ghost/r.git/embedhub-blobs-dead/x",
    "hub/datasets/ghost/r.git/embedhub-index-dead/index",
    "hub/datasets/ghost/r.git/objects/tmp_objdir-incoming-dead/pack/x.pack",
    "hub/datasets/ghost/r.git/refs/heads/main.lock",
]


def mount_tmpfs(path: Path) -> bool:
    if os.geteuid() != 0:
        return False
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(path)], capture_output=True
    )
    return done.returncode == 0


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Iterator:
    data_dir = tmp_path_factory.mktemp("small-home")
    tmpfs = mount_tmpfs(data_dir)
    try:
        for name in LEFTOVERS:
            (data_dir / name).parent.mkdir(parents=True, exist_ok=True)
            (data_dir / name).write_bytes(b"x" * 1000)
            os.utime(data_dir / name, (1_000_000_000, 1_000_000_000))
        srv = start_server(data_dir, *FLAGS, log_dir=tmp_path_factory.mktemp("small-log"))
        srv.tmpfs = tmpfs
        yield srv
        stop_server(srv)
    finally:
        if tmpfs:  # also when the server failed to start
            subprocess.run(["umount", "-l", str(data_dir)], check=False)


def test_startup_sweep_removed_leftovers(small):
    """D11: what a crash left behind is gone once the server is up, and the log says so."""
    for name in LEFTOVERS:
        assert not (small.data_dir / name).exists(), name
    assert (small.data_dir / "hub/datasets/ghost/r.git").is_dir()  # only the leftovers go
    assert "startup sweep: removed 8 leftover(s)" in small.log.read_text()


# --- D4: every hub route family has a body limit -----------------------------------------
def json_routes(repo_id: str) -> list[tuple[str, str]]:
    lfs = f"/datasets/{repo_id}.git/info/lfs"
    return [
        ("POST", "/api/repos/create"),
        ("DELETE", "/api/repos/delete"),
        ("POST", "/api/validate-yaml"),
        ("PUT", f"/api/datasets/{repo_id}/settings"),
        ("POST", f"/api/datasets/{repo_id}/preupload/main"),
        ("POST", f"/api/datasets/{repo_id}/paths-info/main"),
        ("POST", f"{lfs}/objects/batch"),
        ("POST", f"{lfs}/verify"),
    ]


@pytest.fixture(scope="module")
def repo(small) -> tuple[str, str]:
    user = f"lim{uuid.uuid4().hex[:6]}"
    token = make_token(small, user)
    create_repo(small.url, token, f"{user}/r")
    return f"{user}/r", token


def test_json_bodies_over_the_limit(small, repo):
    repo_id, token = repo
    big = b'{"x": "' + b"a" * JSON_LIMIT + b'"}'
    for method, path in json_routes(repo_id):
        # Announced: refused before a byte of the body is read.
        status, body = raw_request(
            small.url,
            f"{method} {path} HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {token}\r\n"
            f"Content-Length: {10**12}\r\nConnection: close",
        )
        assert status == 413, (path, body)
        assert b"--hub-json-limit" in body and str(JSON_LIMIT).encode() in body
        # Chunked (no length announced): refused once the limit is passed.
        r = requests.request(
            method,
            small.url + path,
            data=iter([big[:40000], big[40000:]]),
            headers=auth(token),
            timeout=30,
        )
        assert r.status_code == 413, (path, r.text)


def test_commit_and_git_bodies_over_the_limit(small, repo, git_env, tmp_path):
    repo_id, token = repo
    status, body = raw_request(
        small.url,
        f"POST /api/datasets/{repo_id}/commit/main HTTP/1.1\r\n"
        f"Host: x\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Length: {PAYLOAD_LIMIT + 1}\r\nConnection: close",
    )
    assert status == 413 and b"--hub-payload-limit" in body
    for service in ("git-upload-pack", "git-receive-pack"):
        status, body = raw_request(
            small.url,
            f"POST /datasets/{repo_id}/{service} HTTP/1.1\r\n"
            f"Host: x\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Length: {PAYLOAD_LIMIT + 1}\r\nConnection: close",
        )
        assert status == 413 and b"--hub-payload-limit" in body, (service, body)
    # A real push past the limit (git sends it chunked): git itself refuses it.
    work = tmp_path / "w"
    url = f"{small.url}/datasets/{repo_id}".replace("://", f"://u:{token}@")
    git(git_env, tmp_path, "clone", "-q", url, str(work))
    (work / "noise.txt").write_bytes(os.urandom(PAYLOAD_LIMIT * 2))
    git(git_env, work, "add", "noise.txt")
    git(git_env, work, "commit", "-qm", "too big")
    refused = git(git_env, work, "push", check=False)
    assert refused.returncode != 0 and b"exceeds maximum allowed size" in refused.stderr
    assert (
        "noise.txt"
        not in requests.get(f"{small.url}/api/datasets/{repo_id}/tree/main", timeout=30).text
    )


def test_lfs_objects_are_bounded(small, repo):
    repo_id, token = repo
    r = batch(small.url, repo_id, token, "upload", [{"oid": "ab" * 32, "size": OBJECT_LIMIT + 1}])
    err = r.json()["objects"][0]["error"]
    assert err["code"] == 422 and "--hub-lfs-object-limit" in err["message"]
    data = os.urandom(1000)
    oid = hashlib.sha256(data).hexdigest()
    href = batch(small.url, repo_id, token, "upload", [{"oid": oid, "size": 1000}]).json()[
        "objects"
    ][0]["actions"]["upload"]["href"]
    # More bytes than announced: refused, announced or not.
    assert requests.put(href, data=data + b"x", timeout=30).status_code == 413
    assert requests.put(href, data=iter([data, b"x"]), timeout=30).status_code in (400, 413)
    assert requests.put(href, data=data, timeout=30).status_code == 200


def test_lfs_batch_object_count(server, uid):
    """D5: a batch is answered for at most 1000 objects (git-lfs asks for 100 at a time,
    huggingface_hub for 256); more is a 413 before any per-object work."""
    token = make_token(server, f"bat{uid}")
    create_repo(server.url, token, f"bat{uid}/r")
    objects = [{"oid": f"{i:064x}", "size": 1} for i in range(1001)]
    r = batch(server.url, f"bat{uid}/r", None, "download", objects)
    assert r.status_code == 413 and "at most 1000" in r.json()["error"]
    r = batch(server.url, f"bat{uid}/r", None, "download", objects[:1000])
    assert r.status_code == 200
    assert [o["error"]["code"] for o in r.json()["objects"]] == [404] * 1000


# --- D12: a full disk -----------------------------------------------------------------------
def fill(folder: Path, leave: int) -> Path:
    """Fill the filesystem of `folder`, then free `leave` bytes of it."""
    filler = folder / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * (1 << 20))
                f.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        size = f.seek(0, os.SEEK_END)
        try:
            f.truncate(max(size - leave, 0))
        except OSError:
            pass
    return filler


def test_full_disk_is_507_and_nothing_breaks(small, repo, git_env, tmp_path):
    if not small.tmpfs:
        pytest.skip("filling a real disk needs a tmpfs, and mounting one needs root")
    repo_id, token = repo
    before = requests.get(f"{small.url}/api/datasets/{repo_id}", timeout=30).json()["sha"]
    filler = fill(small.data_dir, leave=64 * 1024)
    try:
        r = commit(small.url, token, repo_id, [header(), file_line("f.txt", os.urandom(400_000))])
        assert r.status_code == 507, r.text
        assert r.headers["X-Error-Code"] == "InsufficientStorage"
        assert str(small.data_dir) in r.json()["error"] and "disk is full" in r.json()["error"]
        data = os.urandom(400_000)
        oid = hashlib.sha256(data).hexdigest()
        href = batch(small.url, repo_id, token, "upload", [{"oid": oid, "size": len(data)}]).json()[
            "objects"
        ][0]["actions"]["upload"]["href"]
        put = requests.put(href, data=data, timeout=30)
        assert put.status_code == 507, put.text
        r = requests.post(
            f"{small.url}/api/repos/create",
            headers=auth(token),
            timeout=30,
            json={"name": "new", "type": "dataset"},
        )
        assert r.status_code in (200, 507), r.text  # a repo is small: it may still fit
        assert (
            requests.get(f"{small.url}/api/datasets/{repo_id}", timeout=30).json()["sha"] == before
        )
    finally:
        filler.unlink()
    # Nothing half-written: no temp files, no partial object, the repo intact and writable.
    assert list((small.data_dir / "lfs" / "tmp").iterdir()) == []
    assert not (small.data_dir / "lfs" / "objects" / oid[:2] / oid[2:4] / oid).exists()
    ns, name = repo_id.split("/")
    bare = small.data_dir / "hub" / "datasets" / ns / f"{name}.git"
    fsck = subprocess.run(["git", f"--git-dir={bare}", "fsck", "--strict"], capture_output=True)
    assert fsck.returncode == 0, fsck.stderr
    r = commit(small.url, token, repo_id, [header(), file_line("after.txt", b"ok")])
    assert r.status_code == 200, r.text
    assert requests.put(href, data=data, timeout=30).status_code == 200
