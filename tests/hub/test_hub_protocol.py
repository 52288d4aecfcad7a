"""The hub's HTTP contract checked directly: typed errors, revisions with `%2F`, ranges, bad
input, parentCommit and concurrent commits."""

from __future__ import annotations

import hashlib
import http.client
import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from .helpers import auth, commit, create_repo, file_line, header


def make_repo(server, user: str) -> tuple[str, str]:
    """A dataset repo with a small file and a big (LFS) file; returns (repo_id, token)."""
    token = server.token(user)
    repo_id = f"{user}/data"
    assert create_repo(server, token, repo_id).status_code == 200
    r = commit(
        server,
        token,
        repo_id,
        [
            header("add files"),
            file_line("dir/hello.txt", b"hello world"),
            file_line("data/x.parquet", b"PAR1" + bytes(range(256)) * 40 + b"PAR1"),
        ],
    )
    assert r.status_code == 200, r.text
    return repo_id, token


@pytest.fixture(scope="module")
def repo(server):
    """Shared by the tests that don't change it (most only send requests that must fail)."""
    return make_repo(server, f"prs{uuid.uuid4().hex[:8]}")


@pytest.fixture
def fresh_repo(server, uid):
    return make_repo(server, f"prf{uid}")


def test_typed_not_found_errors(server, repo):
    repo_id, _ = repo
    base = f"{server.url}/api/datasets"
    r = requests.get(f"{base}/nobody/nothing", timeout=10)
    assert (r.status_code, r.headers["X-Error-Code"]) == (404, "RepoNotFound")
    assert "error" in r.json()
    r = requests.get(f"{base}/{repo_id}/revision/no-such-branch", timeout=10)
    assert (r.status_code, r.headers["X-Error-Code"]) == (404, "RevisionNotFound")
    r = requests.head(f"{server.url}/datasets/{repo_id}/resolve/main/missing.txt", timeout=10)
    assert (r.status_code, r.headers["X-Error-Code"]) == (404, "EntryNotFound")
    assert len(r.headers["X-Repo-Commit"]) == 40
    r = requests.get(f"{base}/{repo_id}/tree/main/no-dir", timeout=10)
    assert (r.status_code, r.headers["X-Error-Code"]) == (404, "EntryNotFound")
    r = requests.delete(
        f"{server.url}/api/repos/delete",
        headers=auth(repo[1]),
        timeout=10,
        json={"name": "missing", "organization": repo_id.split("/")[0], "type": "dataset"},
    )
    assert (r.status_code, r.headers["X-Error-Code"]) == (404, "RepoNotFound")


def test_encoded_revision_is_one_segment(server, repo):
    repo_id, _ = repo
    base = f"{server.url}/api/datasets/{repo_id}"
    sha = requests.get(base, timeout=10).json()["sha"]
    r = requests.get(f"{base}/revision/refs%2Fheads%2Fmain", timeout=10)
    assert r.status_code == 200 and r.json()["sha"] == sha
    tree = requests.get(f"{base}/tree/refs%2Fheads%2Fmain/dir", timeout=10).json()
    assert [e["path"] for e in tree] == ["dir/hello.txt"]
    r = requests.get(
        f"{server.url}/datasets/{repo_id}/resolve/refs%2Fheads%2Fmain/dir/hello.txt", timeout=10
    )
    assert r.content == b"hello world" and r.headers["X-Repo-Commit"] == sha
    r = requests.get(f"{base}/revision/{sha}", timeout=10)
    assert r.json()["sha"] == sha
    r = requests.post(
        f"{base}/paths-info/{sha}",
        data={"paths": ["dir", "dir/hello.txt", "nope"], "expand": "false"},
        timeout=10,
    )
    assert [(e["type"], e["path"]) for e in r.json()] == [
        ("directory", "dir"),
        ("file", "dir/hello.txt"),
    ]


def test_resolve_headers_and_ranges(server, repo):
    repo_id, _ = repo
    url = f"{server.url}/datasets/{repo_id}/resolve/main"
    content = b"PAR1" + bytes(range(256)) * 40 + b"PAR1"
    for path, body in (("dir/hello.txt", b"hello world"), ("data/x.parquet", content)):
        head = requests.head(f"{url}/{path}", headers={"Accept-Encoding": "identity"}, timeout=10)
        assert head.status_code == 200
        assert int(head.headers["Content-Length"]) == len(body)
        assert head.headers["Accept-Ranges"] == "bytes" and "/" not in head.headers["ETag"]
        part = requests.get(f"{url}/{path}", headers={"Range": "bytes=2-5"}, timeout=10)
        assert part.status_code == 206 and part.content == body[2:6]
        assert part.headers["Content-Range"] == f"bytes 2-5/{len(body)}"
        tail = requests.get(f"{url}/{path}", headers={"Range": "bytes=-4"}, timeout=10)
        assert tail.status_code == 206 and tail.content == body[-4:]
        bad = requests.get(
            f"{url}/{path}", headers={"Range": f"bytes={len(body) + 5}-"}, timeout=10
        )
        assert bad.status_code == 416
    lfs_etag = requests.head(f"{url}/data/x.parquet", timeout=10).headers["ETag"]
    assert lfs_etag.strip('"') == hashlib.sha256(content).hexdigest()


@pytest.mark.parametrize(
    "path",
    [
        "../escape.txt",
        "/abs.txt",
        ".git/config",
        "a//b.txt",
        "a/./b.txt",
        "nul\u0000.txt",
        "dir/.git/hooks/x",
        "trail/",
    ],
)
def test_bad_paths_are_400(server, repo, path):
    repo_id, token = repo
    r = commit(server, token, repo_id, [header(), file_line(path, b"x")])
    assert r.status_code == 400, r.text
    assert "path" in r.json()["error"]


def test_bad_path_in_url_is_400(server, repo):
    repo_id, _ = repo
    for url in (
        f"/datasets/{repo_id}/resolve/main/a/%2E%2E/b",
        f"/api/datasets/{repo_id}/tree/main/..%2Fx",
        f"/datasets/{repo_id}/resolve/main/.git/config",
        f"/api/datasets/{repo_id}/tree/bad..rev",
    ):
        r = requests.get(server.url + url, timeout=10)
        assert r.status_code == 400, (url, r.text)


@pytest.mark.parametrize(
    "body, needle",
    [
        (b"not json at all\n", "not valid JSON"),
        (b'{"key": "header", "value": {"summary": "x"}}\n{"key": "bogus", "value": {}}', "unknown"),
        (
            b'{"key": "file", "value": {"path": "a.txt", "content": "!!!", "encoding": "base64"}}',
            "base64",
        ),
        (
            b'{"key": "file", "value": {"path": "a.txt", "content": "eA==", "encoding": "base64"}}',
            "summary",
        ),
        (
            b'{"key": "header", "value": {"summary": "x"}}\n{"key": "lfsFile", "value": {"path": '
            b'"a.bin", "algo": "sha256", "oid": "' + b"ab" * 32 + b'", "size": 3}}',
            "never uploaded",
        ),
        (
            b'{"key": "header", "value": {"summary": "x"}}\n{"key": "deletedFile", "value": '
            b'{"path": "nope.txt"}}',
            "no such file",
        ),
        (b'{"key": "header", "value": {"summary": "x"}}\n[1, 2]', "expected"),
    ],
)
def test_bad_commit_bodies_are_4xx(server, repo, body, needle):
    repo_id, token = repo
    r = requests.post(
        f"{server.url}/api/datasets/{repo_id}/commit/main",
        data=body,
        headers={**auth(token), "Content-Type": "application/x-ndjson"},
        timeout=10,
    )
    assert 400 <= r.status_code < 500, r.text
    assert needle in r.json()["error"]


def test_bad_json_bodies_are_400(server, repo):
    repo_id, token = repo
    for url, method in (
        ("/api/repos/create", "post"),
        ("/api/repos/delete", "delete"),
        (f"/api/datasets/{repo_id}/preupload/main", "post"),
        (f"/api/datasets/{repo_id}/settings", "put"),
    ):
        r = requests.request(
            method, server.url + url, data=b"{nope", headers=auth(token), timeout=10
        )
        assert r.status_code == 400, (url, r.text)
    r = requests.post(
        f"{server.url}/api/datasets/{repo_id}/preupload/main",
        json={"files": "x"},
        headers=auth(token),
        timeout=10,
    )
    assert r.status_code == 400 and "files" in r.json()["error"]
    r = requests.post(
        f"{server.url}/api/repos/create",
        json={"name": "bad name!"},
        headers=auth(token),
        timeout=10,
    )
    assert r.status_code == 400


def test_payload_limit_header_is_413(server, repo):
    """A body announced over the limit is refused before it is read."""
    repo_id, token = repo
    host, port = server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.putrequest("POST", f"/api/datasets/{repo_id}/commit/main")
    conn.putheader("Authorization", f"Bearer {token}")
    conn.putheader("Content-Type", "application/x-ndjson")
    conn.putheader("Content-Length", str(10**12))
    conn.endheaders()
    conn.send(b"{}")
    response = conn.getresponse()
    assert response.status == 413
    assert "limit" in json.loads(response.read())["error"]
    conn.close()


def test_parent_commit_mismatch_is_412(server, fresh_repo):
    repo_id, token = fresh_repo
    sha = requests.get(f"{server.url}/api/datasets/{repo_id}", timeout=10).json()["sha"]
    ok = commit(server, token, repo_id, [header(parentCommit=sha), file_line("a.txt", b"1")])
    assert ok.status_code == 200
    stale = commit(server, token, repo_id, [header(parentCommit=sha), file_line("b.txt", b"2")])
    assert stale.status_code == 412
    now = requests.get(f"{server.url}/api/datasets/{repo_id}", timeout=10).json()
    assert now["sha"] == ok.json()["commitOid"]


def test_concurrent_commits_serialise(server, fresh_repo):
    repo_id, token = fresh_repo
    lines = [[header(f"c{i}"), file_line(f"many/{i}.txt", str(i).encode())] for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda ls: commit(server, token, repo_id, ls), lines))
    assert [r.status_code for r in results] == [200] * 8
    tree = requests.get(f"{server.url}/api/datasets/{repo_id}/tree/main/many", timeout=10)
    assert sorted(e["path"] for e in tree.json()) == sorted(f"many/{i}.txt" for i in range(8))
    commits = requests.get(f"{server.url}/api/datasets/{repo_id}/commits/main", timeout=10)
    assert len(commits.json()) == 8 + 2  # nothing lost: every commit is in the history


def test_delete_folder_and_file_dir_conflict(server, fresh_repo):
    repo_id, token = fresh_repo
    clash = commit(server, token, repo_id, [header(), file_line("dir", b"file where a dir is")])
    assert clash.status_code == 409
    gone = commit(
        server, token, repo_id, [header(), {"key": "deletedFolder", "value": {"path": "dir/"}}]
    )
    assert gone.status_code == 200
    files = requests.get(
        f"{server.url}/api/datasets/{repo_id}/tree/main?recursive=1", timeout=10
    ).json()
    assert not any(e["path"].startswith("dir") for e in files)


def test_validate_yaml_and_refs_shape(server, repo):
    repo_id, token = repo
    r = requests.post(
        f"{server.url}/api/validate-yaml",
        json={"content": "a: 1", "repoType": "dataset"},
        headers=auth(token),
        timeout=10,
    )
    assert r.json() == {"errors": [], "warnings": []}
    refs = requests.get(
        f"{server.url}/api/datasets/{repo_id}/refs?include_prs=1", timeout=10
    ).json()
    assert set(refs) == {"branches", "converts", "tags", "pullRequests"}
    assert json.dumps(refs["branches"][0]["name"]) == '"main"'


def test_big_git_blob_streams_with_ranges(server, fresh_repo):
    """A file kept in git (not LFS) bigger than what is read in one go comes from a pipe,
    with the same headers and ranges as any other (issue 8, D6)."""
    import os

    repo_id, token = fresh_repo
    data = os.urandom(3 * 1024 * 1024 + 7)
    r = commit(server, token, repo_id, [header(), file_line("big.txt", data)])
    assert r.status_code == 200, r.text
    url = f"{server.url}/datasets/{repo_id}/resolve/main/big.txt"
    head = requests.head(url, headers={"Accept-Encoding": "identity"}, timeout=30)
    assert int(head.headers["Content-Length"]) == len(data)
    assert "X-Linked-Size" not in head.headers
    assert requests.get(url, timeout=30).content == data
    part = requests.get(url, headers={"Range": "bytes=2000000-2000009"}, timeout=30)
    assert part.status_code == 206 and part.content == data[2000000:2000010]
    assert part.headers["Content-Range"] == f"bytes 2000000-2000009/{len(data)}"
    tail = requests.get(url, headers={"Range": "bytes=-5"}, timeout=30)
    assert tail.content == data[-5:]
    past = requests.get(url, headers={"Range": f"bytes={len(data)}-"}, timeout=30)
    assert past.status_code == 416
