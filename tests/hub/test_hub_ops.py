"""What an operator sees: one access-log line per request (4xx included, never a token or a
signed link's credential) and /metrics labelled by route template, with the hub's counters."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import subprocess
import time

import requests

from .helpers import auth, commit, create_repo, file_line, header


def log_lines(server, needle: str, timeout: float = 10) -> list[str]:
    """The server's access-log lines holding `needle` (waiting a little for them)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [
            line
            for line in server.log.read_text(errors="replace").splitlines()
            if "embedhub.access" in line and needle in line
        ]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.2)


def test_access_log_never_holds_a_secret(server, account, uid):
    user, token, reader = account.user, account.token, account.reader
    bogus = f"eh_not-a-token-{uid}"
    repo = f"{user}/logged-{uid}"
    assert create_repo(server, token, repo, private=True).status_code == 200
    api = f"{server.url}/api/datasets/{repo}"
    rid = f"req-{uid}"
    r = requests.get(f"{api}/refs", headers={**auth(reader), "X-Request-ID": rid}, timeout=10)
    assert r.status_code == 200
    assert requests.get(f"{api}/refs", headers=auth(bogus), timeout=10).status_code == 401
    assert requests.get(f"{api}/refs", timeout=10).status_code == 404  # private: hidden
    # git sends the token as a Basic password, after a 401 challenge.
    url = f"http://git:{token}@{server.url.removeprefix('http://')}/datasets/{repo}"
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "ls-remote", url], env=env, check=True, capture_output=True)
    # A signed LFS upload link carries its credential in the query string.
    data = b"logged bytes" * 10
    oid = hashlib.sha256(data).hexdigest()
    batch = requests.post(
        f"{server.url}/datasets/{repo}.git/info/lfs/objects/batch",
        json={"operation": "upload", "objects": [{"oid": oid, "size": len(data)}]},
        headers={**auth(token), "Accept": "application/vnd.git-lfs+json"},
        timeout=10,
    ).json()
    href = batch["objects"][0]["actions"]["upload"]["href"]
    assert "sig=" in href and requests.put(href, data=data, timeout=10).status_code == 200
    # What could start a line of its own, or split the line's fields, is written escaped.
    requests.get(f"{server.url}/api/datasets/%0Aforged{uid}/x", timeout=10)
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(
            f"GET /api/datasets/a\\b{uid}/x HTTP/1.1\r\nHost: x\r\n"
            f"X-Request-ID: one two{uid}\r\nConnection: close\r\n\r\n".encode()
        )
        assert raw.recv(100).startswith(b"HTTP/1.1 400")

    [line] = log_lines(server, f"id={rid}")
    assert f"GET /api/datasets/{repo}/refs 200 " in line and f"user={user} " in line
    assert log_lines(server, f"GET /api/datasets/{repo}/refs 401 ")[0].count("user=-") == 1
    git_lines = log_lines(server, f"/datasets/{repo}/info/refs")
    assert any(" 401 " in g and "user=-" in g for g in git_lines)
    assert any(" 200 " in g and f"user={user}" in g for g in git_lines)
    assert log_lines(server, f"PUT /datasets/{repo}.git/info/lfs/objects/{oid} 200 ")
    assert log_lines(server, f"%0Aforged{uid}")
    assert log_lines(server, f"GET /api/datasets/a\\x5cb{uid}/x 400 ")[0].endswith(
        f"id=one\\x20two{uid}"
    )
    text = server.log.read_text(errors="replace")
    assert not [line for line in text.splitlines() if line.startswith(f"forged{uid}")]
    for secret in (token, reader, bogus, base64.b64encode(f"git:{token}".encode()).decode()):
        assert secret not in text
    assert "sig=" not in text and href.split("?", 1)[1] not in text


def test_metrics_label_hub_routes_by_template(server, account, uid):
    token = account.token
    repo = f"{account.user}/counted-{uid}"
    assert create_repo(server, token, repo).status_code == 200
    r = commit(server, token, repo, [header("one"), file_line("a.txt", b"a")])
    assert r.status_code == 200
    requests.get(f"{server.url}/api/datasets/{repo}/refs", timeout=10)
    requests.head(f"{server.url}/datasets/{repo}/resolve/main/a.txt", timeout=10)
    text = requests.get(f"{server.url}/metrics", timeout=10).text
    for template in (
        "/api/{repo_type:repotype}/{namespace}/{name}/refs",
        "/api/{repo_type:repotype}/{namespace}/{name}/commit/{revision:path}",
        "/{prefix:repoprefix}/{namespace}/{name}/resolve/{revision_and_path:path}",
        "/api/repos/create",
    ):
        assert f'embedhub_requests_total{{route="{template}",status="200"}}' in text, template
    counted = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in text.splitlines()
        if line.startswith("embedhub_hub_")
    }
    assert counted['embedhub_hub_commits_total{via="api"}'] >= 1
    assert counted['embedhub_hub_received_bytes_total{via="commit"}'] > 0
    assert counted['embedhub_hub_repo_changes_total{action="create"}'] >= 1
