"""Xet uploads under faults: two clients sending the same content at once, and a server killed
(SIGKILL) in the middle of a xorb or of a whole client upload, then the upload retried."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import textwrap
import time

import pytest
import requests

from embedhub.xet import hashes, upload

from .helpers import auth, create_repo

MB = 1024 * 1024

UPLOAD = """
    import hashlib, json, sys
    from huggingface_hub import HfApi, hf_hub_download
    token, repo, path = sys.argv[1:4]
    api = HfApi(token=token)
    api.create_repo(repo, repo_type="dataset", exist_ok=True)
    api.upload_file(path_or_fileobj=path, path_in_repo="blob.bin", repo_id=repo,
                    repo_type="dataset")
    got = hf_hub_download(repo, "blob.bin", repo_type="dataset", token=token)
    print(json.dumps(hashlib.sha256(open(got, "rb").read()).hexdigest()))
"""


def start_client(server, tmp_path, *args: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "HF_ENDPOINT": server.url,
        "HF_HOME": str(tmp_path / f"hf-{os.urandom(3).hex()}"),
        "HF_HUB_OFFLINE": "0",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "HF_HUB_DISABLE_XET": "0",
    }
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(UPLOAD), *args],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def finish(proc: subprocess.Popen) -> str:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-4000:]
    return json.loads(out.strip().splitlines()[-1])


def xorb_bytes(data_dir) -> int:
    return sum(p.stat().st_size for p in (data_dir / "xet" / "xorbs").rglob("*") if p.is_file())


def test_two_clients_same_content_at_once(server, tmp_path, uid):
    data = os.urandom(8 * MB)
    (tmp_path / "same.bin").write_bytes(data)
    before = xorb_bytes(server.data_dir)
    procs = [
        start_client(server, tmp_path, server.token(f"{who}{uid}"), f"{who}{uid}/twin",
                     str(tmp_path / "same.bin"))
        for who in ("ann", "ben")
    ]  # fmt: skip
    sha = hashlib.sha256(data).hexdigest()
    assert [finish(p) for p in procs] == [sha, sha]
    heads = [
        requests.head(f"{server.url}/datasets/{who}{uid}/twin/resolve/main/blob.bin", timeout=10)
        for who in ("ann", "ben")
    ]
    assert heads[0].headers["X-Xet-Hash"] == heads[1].headers["X-Xet-Hash"]
    assert xorb_bytes(server.data_dir) - before < 1.2 * len(data)  # stored once


def _send_half(url: str, path: str, token: str, body: bytes) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")  # fmt: skip
    sock.sendall(head.encode() + body[: len(body) // 2])
    return sock


def _fsck(srv, repo: str) -> None:
    ns, name = repo.split("/")
    bare = srv.data_dir / "hub" / "datasets" / ns / f"{name}.git"
    fsck = subprocess.run(["git", f"--git-dir={bare}", "fsck", "--strict"],
                          capture_output=True, text=True)  # fmt: skip
    assert fsck.returncode == 0, fsck.stderr


@pytest.mark.timeout(600)
def test_killed_during_xet_uploads_then_retried(make_server, tmp_path):
    srv = make_server()
    token = srv.token("crash")
    repo = "crash/data"
    assert create_repo(srv, token, repo).status_code == 200
    access = requests.get(f"{srv.url}/api/datasets/{repo}/xet-write-token/main",
                          headers=auth(token), timeout=10).json()  # fmt: skip
    data = os.urandom(24 * MB)
    (tmp_path / "blob.bin").write_bytes(data)

    # Killed while the real client uploads (wherever it is then), and while a xorb of
    # another file is half-way in.
    client = start_client(srv, tmp_path, token, repo, str(tmp_path / "blob.bin"))
    other = upload.prepare(os.urandom(4 * MB))
    name = hashes.to_hex(other.xorbs[0][0])
    sock = _send_half(srv.url, f"/api/xet/v1/xorbs/default/{name}", access["accessToken"],
                      other.xorbs[0][1])  # fmt: skip
    time.sleep(2.5)
    srv.proc.kill()
    srv.proc.wait()
    sock.close()
    client.communicate(timeout=300)
    srv = make_server(data_dir=srv.data_dir)

    # Nothing half-there: no temp file, the half xorb unknown, git intact, and the file either
    # absent or whole.
    assert not list((srv.data_dir / "xet" / "tmp").iterdir())
    access = requests.get(f"{srv.url}/api/datasets/{repo}/xet-write-token/main",
                          headers=auth(token), timeout=10).json()  # fmt: skip
    r = requests.post(f"{srv.url}/api/xet/v1/shards", data=other.shard(),
                      headers=auth(access["accessToken"]), timeout=30)  # fmt: skip
    assert r.status_code == 400 and "never uploaded" in r.json()["error"]
    _fsck(srv, repo)
    files = requests.get(f"{srv.url}/api/datasets/{repo}/tree/main", timeout=10).json()
    if any(f["path"] == "blob.bin" for f in files):  # it had committed before the kill
        got = requests.get(f"{srv.url}/datasets/{repo}/resolve/main/blob.bin", timeout=60)
        assert got.content == data

    # The retry completes, and every reader gets the whole file.
    sha = hashlib.sha256(data).hexdigest()
    assert finish(start_client(srv, tmp_path, token, repo, str(tmp_path / "blob.bin"))) == sha
    got = requests.get(f"{srv.url}/datasets/{repo}/resolve/main/blob.bin", timeout=60)
    assert got.content == data
    _fsck(srv, repo)
