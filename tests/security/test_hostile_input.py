"""Hostile JSON, unicode and names on every hub route that reads a body or a name (issue 8:
D4, D8, D13): each is a precise 4xx, never a 5xx, and never leaves anything on disk."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest
import requests

from .helpers import LFS, auth, commit, create_repo, file_line, header, raw_request
from .helpers import token as make_token

DEEP = b"[" * 100_000 + b"]" * 100_000
BODIES = [
    b"",
    b"null",
    b"[]",
    b'"x"',
    b"1e999",
    b"-0",
    b"{",
    b"\xff\xfe",
    b"\x00",
    DEEP,
    b'{"\\ud800": 1}',
    b'{"name": "\\ud800"}',
    b'{"name": "x\\u0000y"}',
    b'{"name": 10000000000000000000000000000000000000000000000000000}',
    b'{"name": {"$gt": ""}, "organization": ["a"], "type": {"a": 1}}',
    b'{"files": [{"path": "\\udfff", "size": -1}], "paths": [null, 1, {}]}',
    b'{"operation": "download", "objects": [{"oid": "' + b"a" * 64 + b'\\n", "size": 1}]}',
    b'{"operation": "upload", "objects": "all", "transfers": 5}',
    b'{"oid": ["x"], "size": "1", "private": "yes", "visibility": 7, "content": 1}',
]


@pytest.fixture(scope="module")
def repo(server) -> tuple[str, str]:
    user = f"hos{uuid.uuid4().hex[:6]}"
    token = make_token(server, user)
    create_repo(server.url, token, f"{user}/r")
    return f"{user}/r", token


def routes(repo_id: str) -> list[tuple[str, str, dict[str, str]]]:
    lfs = f"/datasets/{repo_id}.git/info/lfs"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    return [
        ("POST", "/api/repos/create", {}),
        ("DELETE", "/api/repos/delete", {}),
        ("POST", "/api/validate-yaml", {}),
        ("PUT", f"/api/datasets/{repo_id}/settings", {}),
        ("POST", f"/api/datasets/{repo_id}/preupload/main", {}),
        ("POST", f"/api/datasets/{repo_id}/paths-info/main", {}),
        ("POST", f"/api/datasets/{repo_id}/paths-info/main", form),
        ("POST", f"/api/datasets/{repo_id}/commit/main", {"Content-Type": "application/x-ndjson"}),
        ("POST", f"{lfs}/objects/batch", LFS),
        ("POST", f"{lfs}/verify", LFS),
        ("POST", "/api/repos/move", {}),
        ("POST", f"/api/datasets/{repo_id}/duplicate", {}),
        # The first body that is no body at all makes the branch; the others find it there.
        ("POST", f"/api/datasets/{repo_id}/branch/hostile", {}),
        ("POST", f"/api/datasets/{repo_id}/tag/main", {}),
        ("POST", f"/api/datasets/{repo_id}/super-squash/no-such-branch", {}),
    ]


@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
def test_hostile_bodies_are_4xx(server, repo, body):
    """A 4xx with a message; 200 only where the body is fine for that route (validate-yaml
    takes any object, settings without a setting change nothing, a form paths-info without
    paths lists nothing, and an LFS batch answers bad objects one by one)."""
    repo_id, token = repo
    for method, path, headers in routes(repo_id):
        for who in (token, None):
            r = requests.request(
                method, server.url + path, data=body, timeout=30, headers={**headers, **auth(who)}
            )
            where = (method, path, who, body[:60], r.text[:300])
            if r.status_code == 200:
                answer = r.json()
                if path.endswith("/batch"):
                    assert all("error" in o for o in answer["objects"]), where
                else:
                    assert answer in ({"errors": [], "warnings": []}, [], {}), where
            else:
                assert 400 <= r.status_code < 500, where
                assert "error" in r.json() or "message" in r.json(), where


NAMES = [
    "x\n",
    "x\r",
    "x\x00",
    "x/y",
    "..",
    ".",
    "x.git",
    "-x",
    "x y",
    "\u00e9",
    "a" * 97,
    "x\u202e",
]


@pytest.mark.parametrize("name", NAMES, ids=[repr(n) for n in NAMES])
def test_bad_repo_names_are_400_and_nothing_on_disk(server, repo, name):
    """D13: `$` matched before a final newline, so "x\\n" was a valid name and was created."""
    _, token = repo
    ns = repo[0].split("/")[0]
    r = requests.post(
        f"{server.url}/api/repos/create",
        headers=auth(token),
        timeout=30,
        json={"name": name, "organization": ns, "type": "dataset"},
    )
    assert r.status_code == 400, r.text
    on_disk = sorted(p.name for p in (server.data_dir / "hub" / "datasets" / ns).iterdir())
    assert on_disk == ["r.git"]


@pytest.mark.parametrize(
    "rev", ["main\n", "main%0D", "main%09", "-n", "main..x", "HEAD@{1}", "a b", "main.lock", "%00"]
)
def test_bad_revisions_are_400(server, repo, rev):
    repo_id, _ = repo
    quoted = rev if "%" in rev else quote(rev, safe="")
    for url in (
        f"/api/datasets/{repo_id}/revision/{quoted}",
        f"/api/datasets/{repo_id}/tree/{quoted}",
        f"/datasets/{repo_id}/resolve/{quoted}/README.md",
    ):
        r = requests.get(server.url + url, timeout=30)
        # A newline inside the path matches no route at all (404); anywhere else: 400.
        assert r.status_code == (404 if "\n" in rev and "resolve" in url else 400), (url, r.text)


REF_NAMES = [
    "x\n",
    "x%0D",
    "x%09",
    "%00",
    "-n",
    "a..b",
    "HEAD",
    "HEAD@{1}",
    "a b",
    "x.lock",
    "refs/heads/x",
    ".hidden",
    "x//y",
    "x/",
    "a" * 300,
    "0" * 40,
    "\u00e9",
    "x\u202e",
]


@pytest.mark.parametrize("name", REF_NAMES, ids=[repr(n[:20]) for n in REF_NAMES])
def test_bad_branch_and_tag_names_are_4xx_and_create_nothing(server, repo, name):
    repo_id, token = repo
    quoted = name if "%" in name else quote(name, safe="")
    api = f"{server.url}/api/datasets/{repo_id}"
    before = requests.get(f"{api}/refs", timeout=30).json()
    answers = [
        requests.post(f"{api}/branch/{quoted}", headers=auth(token), timeout=30),
        requests.post(f"{api}/tag/main", json={"tag": name}, headers=auth(token), timeout=30),
        requests.delete(f"{api}/branch/{quoted}", headers=auth(token), timeout=30),
        requests.delete(f"{api}/tag/{quoted}", headers=auth(token), timeout=30),
        requests.post(f"{api}/super-squash/{quoted}", headers=auth(token), timeout=30),
    ]
    for r in answers:
        # A newline in the path matches no route (404); a name git could store but that
        # does not exist is a 404 on delete and squash; anything else: 400.
        assert r.status_code in (400, 404), (name, r.request.method, r.request.url, r.text)
    assert answers[0].status_code == 400 or "\n" in name
    assert answers[1].status_code == 400
    assert requests.get(f"{api}/refs", timeout=30).json() == before


@pytest.mark.parametrize("path", ["a.txt\n", "a\r.txt", "a\u0085b", "dir/\u2028x"])
def test_control_characters_in_paths(server, repo, path):
    """C0 controls (and DEL) are refused; other unicode, line separators included, is a name
    like any other and round-trips."""
    repo_id, token = repo
    r = commit(server.url, token, repo_id, [header(), file_line(path, b"body")])
    if any(ord(c) < 32 for c in path):
        assert r.status_code == 400 and "control" in r.json()["error"]
    else:
        assert r.status_code == 200, r.text
        got = requests.get(
            f"{server.url}/datasets/{repo_id}/resolve/main/{quote(path)}", timeout=30
        )
        assert got.content == b"body"


@pytest.mark.parametrize("name", ["api", "embeddings", "rerank"])
def test_route_names_are_fine_as_repo_names_not_as_namespaces(server, repo, name):
    """A repo's name is never a URL's first segment: `ns/embeddings` is a fine dataset (the
    server's routes made it a 400 once TEI's /embeddings existed). As a namespace it is not."""
    _, token = repo
    ns = repo[0].split("/")[0]
    body = {"name": name, "organization": ns, "type": "dataset"}
    r = requests.post(f"{server.url}/api/repos/create", headers=auth(token), timeout=30, json=body)
    assert r.status_code == 200, r.text
    body = {"name": "x", "organization": name, "type": "dataset"}
    r = requests.post(f"{server.url}/api/repos/create", headers=auth(token), timeout=30, json=body)
    assert r.status_code == 400 and "reserved" in r.text, r.text


def test_unicode_names_round_trip(server, repo):
    repo_id, token = repo
    path = "donn\u00e9es/\u65e5\u672c\u8a9e \U0001f600/\u05e9\u05dc\u05d5\u05dd.txt"
    r = commit(
        server.url,
        token,
        repo_id,
        [header("\u00e9t\u00e9 \U0001f600"), file_line(path, "\u00e9".encode())],
    )
    assert r.status_code == 200, r.text
    tree = requests.get(
        f"{server.url}/api/datasets/{repo_id}/tree/main?recursive=1", timeout=30
    ).json()
    assert path in [e["path"] for e in tree]
    got = requests.get(f"{server.url}/datasets/{repo_id}/resolve/main/{quote(path)}", timeout=30)
    assert got.content == "\u00e9".encode()
    log = requests.get(f"{server.url}/api/datasets/{repo_id}/commits/main", timeout=30).json()
    assert log[0]["title"] == "\u00e9t\u00e9 \U0001f600"


def test_raw_invalid_utf8_in_url_and_headers(server, repo):
    repo_id, token = repo
    status, _ = raw_request(
        server.url,
        f"GET /api/datasets/{repo_id}/tree/ma%FFin HTTP/1.1\r\nHost: x\r\nConnection: close",
    )
    assert status == 400
    status, _ = raw_request(
        server.url,
        f"GET /datasets/{repo_id}/resolve/main/%C3%28.txt HTTP/1.1\r\nHost: x\r\nConnection: close",
    )
    assert status in (400, 404)
    status, _ = raw_request(
        server.url,
        f"GET /api/datasets/{repo_id} HTTP/1.1\r\nHost: x\r\n"
        "Authorization: Bearer \xff\xfe\r\nConnection: close",
    )
    assert status == 401
