"""A commit killed mid-way (the server gets SIGKILL) leaves the branch as it was, or holds the
whole commit; never a part of it. Runs its own servers, since it kills them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time

import pytest
import requests

from .helpers import auth, commit, create_repo, file_line, header

MB = 1024 * 1024
FILES = {f"part/{i:02d}.txt": os.urandom(MB) for i in range(24)}
FILES["huge.txt"] = os.urandom(20 * MB)  # over the LFS threshold: goes to the object store


def body() -> bytes:
    lines = [header("big commit")] + [file_line(p, c) for p, c in FILES.items()]
    return b"\n".join(json.dumps(line).encode() for line in lines)


def send_raw(url: str, path: str, token: str, payload: bytes, upto: int) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/x-ndjson\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    sock.sendall(head.encode() + payload[:upto])
    return sock


def head_of(srv, repo_id: str) -> str:
    return requests.get(f"{srv.url}/api/datasets/{repo_id}", timeout=10).json()["sha"]


def check_whole_or_nothing(srv, repo_id: str, before: str) -> bool:
    """True when the commit landed (then every file is there, byte for byte)."""
    bare = srv.data_dir / "hub" / "datasets" / repo_id.split("/")[0] / "data.git"
    fsck = subprocess.run(
        ["git", f"--git-dir={bare}", "fsck", "--connectivity-only"], capture_output=True, text=True
    )
    assert fsck.returncode == 0, fsck.stderr
    now = head_of(srv, repo_id)
    if now == before:
        return False
    url = f"{srv.url}/datasets/{repo_id}/resolve/{now}"
    for path in ("part/00.txt", "part/23.txt", "huge.txt"):
        assert requests.get(f"{url}/{path}", timeout=30).content == FILES[path]
    return True


@pytest.mark.timeout(300)
def test_killed_commit_leaves_branch_whole(make_server, monkeypatch):
    monkeypatch.setenv("EMBEDHUB_HUB_PAYLOAD_LIMIT", str(64 * MB))
    srv = make_server()
    token = srv.token("crasher")
    repo_id = "crasher/data"
    assert create_repo(srv, token, repo_id).status_code == 200
    before = head_of(srv, repo_id)
    payload = body()
    path = f"/api/datasets/{repo_id}/commit/main"

    # 1. Killed while the body is still arriving.
    sock = send_raw(srv.url, path, token, payload, len(payload) // 2)
    time.sleep(0.5)
    srv.proc.kill()
    srv.proc.wait()
    sock.close()
    srv = make_server(data_dir=srv.data_dir)
    assert not check_whole_or_nothing(srv, repo_id, before)

    # 2. Killed once the whole body is in, while the server decodes, hashes and commits.
    sock = send_raw(srv.url, path, token, payload, len(payload))
    time.sleep(0.4)
    srv.proc.kill()
    srv.proc.wait()
    sock.close()
    srv = make_server(data_dir=srv.data_dir)
    landed = check_whole_or_nothing(srv, repo_id, before)

    # The repo is still writable (no lock or temp file left blocking it).
    r = commit(srv, token, repo_id, [header("after crash"), file_line("ok.txt", b"ok")])
    assert r.status_code == 200, r.text
    assert (head_of(srv, repo_id) == r.json()["commitOid"]) and landed in (True, False)

    # Past the limit while streaming (no Content-Length announced): 413, nothing changed.
    def chunks():
        for _ in range(66):
            yield b"x" * MB

    current = head_of(srv, repo_id)
    try:
        over = requests.post(
            f"{srv.url}{path}",
            data=chunks(),
            timeout=60,
            headers={**auth(token), "Content-Type": "application/x-ndjson"},
        )
        assert over.status_code == 413
    except requests.ConnectionError:
        pass  # the server may close the connection while the client is still sending
    assert head_of(srv, repo_id) == current
