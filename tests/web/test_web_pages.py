"""The web view over plain HTTP against a real server: pages beside git/resolve on the same
paths, the API's 400/404 rules, sanitised READMEs, files not inlined, sign-in with CSRF and
no token leaks, private repos, and the map's cached projection surviving a killed job."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import orjson
import pytest
import requests

from .helpers import (
    auth,
    commit_files,
    create_repo,
    csrf_of,
    parquet_bytes,
    random_rows,
    sign_in,
)

EVIL_README = b"""---
license: mit
tags: [embeddings, test]
pretty_name: Evil card
---
# Card title

<script>window.pwned = 1</script>
<img src="x" onerror="window.pwned = 2">
<a href="javascript:window.pwned = 3">click</a>
[md link](javascript:alert(1))
<iframe src="https://example.com"></iframe>
<div onclick="alert(1)" style="background:url(javascript:alert(1))">styled</div>

**bold words**
"""


@pytest.fixture(scope="module")
def alice(web_server) -> str:
    return web_server.token("alice")


@pytest.fixture(scope="module")
def public_repo(web_server, alice) -> tuple[str, str]:
    repo = f"alice/pub-{uuid.uuid4().hex[:6]}"
    create_repo(web_server, alice, repo)
    big_text = b"line of text\n" * 50_000  # 650 kB: past the inline limit
    sha = commit_files(
        web_server,
        alice,
        repo,
        {
            "README.md": EVIL_README,
            "data/train-00000-of-00001.parquet": parquet_bytes(random_rows(60)),
            "notes/big.txt": big_text,
            "notes/blob.bin": bytes(range(256)) * 4,
            "notes/small.txt": b"hello <b>not bold</b>\n",
        },
    )
    return repo, sha


def get(server, path: str, **kw) -> requests.Response:
    return requests.get(f"{server.url}{path}", timeout=60, **kw)


def test_repo_page_renders_card_sanitised(web_server, public_repo) -> None:
    repo, _ = public_repo
    r = get(web_server, f"/datasets/{repo}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    html = r.text
    assert "<h1>Card title</h1>" in html and "<strong>bold words</strong>" in html
    # The YAML header as a table.
    assert "<th>pretty_name</th>" in html and "Evil card" in html
    body = html.split('id="card"', 1)[1]
    for bad in ("<script", "onerror", "onclick", "<iframe", "window.pwned", "style="):
        assert bad not in body, bad
    assert 'href="javascript' not in body and "url(javascript" not in body
    # The snippets to use it.
    assert f"load_dataset('{repo}')" in html
    assert f"git clone {web_server.url}/datasets/{repo}" in html


def test_git_and_resolve_still_answer_on_the_same_paths(web_server, public_repo, tmp_path) -> None:
    repo, sha = public_repo
    r = get(web_server, f"/datasets/{repo}/resolve/main/notes/small.txt")
    assert r.status_code == 200 and r.content == b"hello <b>not bold</b>\n"
    assert r.headers["X-Repo-Commit"] == sha
    r = get(web_server, f"/datasets/{repo}.git/info/refs?service=git-upload-pack")
    assert r.status_code == 200 and b"git-upload-pack" in r.content
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_LFS_SKIP_SMUDGE": "1"}
    subprocess.run(
        ["git", "clone", "-q", f"{web_server.url}/datasets/{repo}", str(tmp_path / "c")],
        check=True,
        env=env,
        timeout=120,
        capture_output=True,
    )
    assert (tmp_path / "c" / "notes" / "small.txt").read_bytes() == b"hello <b>not bold</b>\n"
    # The HF inference POST on `/` and the OpenAI routes keep their own answers.
    assert get(web_server, "/v1/embeddings").status_code == 405
    assert get(web_server, "/v1/models").headers["content-type"].startswith("application/json")


def test_tree_blob_commits(web_server, public_repo) -> None:
    repo, sha = public_repo
    tree = get(web_server, f"/datasets/{repo}/tree/main/notes")
    assert tree.status_code == 200
    assert "big.txt" in tree.text and "650.0 kB" in tree.text
    root = get(web_server, f"/datasets/{repo}/tree/main")
    assert 'class="badge lfs"' in root.text or "data/" in root.text
    small = get(web_server, f"/datasets/{repo}/blob/main/notes/small.txt")
    assert "hello &lt;b&gt;not bold&lt;/b&gt;" in small.text  # text is escaped, not rendered
    for path, why in (("notes/big.txt", "too large"), ("notes/blob.bin", "binary")):
        page = get(web_server, f"/datasets/{repo}/blob/main/{path}")
        assert page.status_code == 200
        assert why in page.text and 'id="file-text"' not in page.text
        assert f"/datasets/{repo}/resolve/main/{path}" in page.text  # a download link instead
    commits = get(web_server, f"/datasets/{repo}/commits/main")
    assert sha[:7] in commits.text and "initial commit" in commits.text
    # A revision with an encoded slash is one segment, as in the API.
    assert get(web_server, f"/datasets/{repo}/tree/refs%2Fheads%2Fmain").status_code == 200
    assert get(web_server, f"/datasets/{repo}/tree/{sha}/notes").status_code == 200


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/tree/nope", 404, "RevisionNotFound"),
        ("/blob/main/missing.txt", 404, "EntryNotFound"),
        ("/tree/main/missing", 404, "EntryNotFound"),
        ("/blob/main/notes/%2E%2E/README.md", 400, None),
        ("/blob/main/notes/../README.md", 400, None),
        ("/tree/a..b", 400, None),
        ("/commits/-n", 400, None),
        ("/tree/main%0A", 400, None),
    ],
)
def test_bad_paths_and_revisions_as_the_api(web_server, public_repo, path, status, code) -> None:
    repo, _ = public_repo
    # http.client sends the path as written (requests would resolve the `..` itself).
    host, port = web_server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    conn.request("GET", f"/datasets/{repo}{path}")
    r = conn.getresponse()
    text = r.read().decode()
    conn.close()
    assert r.status == status, (path, text[:300])
    assert r.getheader("content-type").startswith("text/html")
    assert r.getheader("X-Error-Code") == code
    assert 'id="error-message"' in text


def test_private_repo_is_404_until_signed_in(web_server, alice) -> None:
    repo = f"alice/priv-{uuid.uuid4().hex[:6]}"
    create_repo(web_server, alice, repo, private=True)
    commit_files(web_server, alice, repo, {"README.md": b"# secret card\n", "s.txt": b"secret"})
    pages = ["", "/tree/main", "/blob/main/s.txt", "/commits/main", "/map", "/viewer"]
    missing = get(web_server, f"/datasets/alice/nothing-{uuid.uuid4().hex[:6]}")
    for page in pages:
        r = get(web_server, f"/datasets/{repo}{page}")
        assert r.status_code == 404, page
        assert r.headers.get("X-Error-Code") == "RepoNotFound"
        # The same words as a repo that does not exist, names aside: no existence leak.
        assert "secret" not in r.text
    assert missing.status_code == 404
    assert repo not in get(web_server, "/").text
    bob = sign_in(web_server, web_server.token("bob"))
    assert bob.get(f"{web_server.url}/datasets/{repo}", timeout=30).status_code == 404
    session = sign_in(web_server, alice)
    home = session.get(f"{web_server.url}/", timeout=30).text
    assert repo in home and 'id="signed-in-as">alice<' in home
    for page in pages:
        assert session.get(f"{web_server.url}/datasets/{repo}{page}", timeout=30).status_code == 200
    blob = session.get(f"{web_server.url}/datasets/{repo}/blob/main/s.txt", timeout=30).text
    link = blob.split('id="download" href="', 1)[1].split('"', 1)[0]
    assert link.startswith("/-/download/")
    assert session.get(f"{web_server.url}{link}", timeout=30).content == b"secret"
    assert get(web_server, link).status_code == 404  # the link is worth nothing without a session


def test_sign_in_cookie_csrf_and_no_token_leak(web_server, alice) -> None:
    url = web_server.url
    anon = requests.Session()
    page = anon.get(f"{url}/-/login", timeout=30)
    # Without the form's CSRF token, or with another visitor's, the sign-in is refused.
    r = anon.post(f"{url}/-/login", data={"token": alice}, allow_redirects=False, timeout=30)
    assert r.status_code == 403
    other = requests.get(f"{url}/-/login", timeout=30)
    r = anon.post(
        f"{url}/-/login",
        data={"token": alice, "csrf": csrf_of(other.text)},
        allow_redirects=False,
        timeout=30,
    )
    assert r.status_code == 403
    r = anon.post(
        f"{url}/-/login",
        data={"token": "eh_wrong", "csrf": csrf_of(page.text)},
        allow_redirects=False,
        timeout=30,
    )
    assert r.status_code == 400 and "not known" in r.text
    r = anon.post(
        f"{url}/-/login",
        data={"token": alice, "csrf": csrf_of(page.text), "next": "//evil.example/x"},
        allow_redirects=False,
        timeout=30,
    )
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert "eh_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert alice not in cookie
    home = anon.get(f"{url}/", timeout=30)
    assert alice not in home.text and alice not in home.url
    # Sign-out is a form too: refused without its token, done with it.
    r = anon.post(f"{url}/-/logout", data={}, allow_redirects=False, timeout=30)
    assert r.status_code == 403
    old = anon.cookies.get("eh_session")
    r = anon.post(
        f"{url}/-/logout", data={"csrf": csrf_of(home.text)}, allow_redirects=False, timeout=30
    )
    assert r.status_code == 303
    again = requests.get(f"{url}/", cookies={"eh_session": old}, timeout=30)
    assert 'id="signed-in-as"' not in again.text  # the old cookie opens nothing now
    assert alice not in web_server.log.read_text()
    db = (web_server.data_dir / "embedhub.db").read_bytes()
    assert alice.encode() not in db and old.encode() not in db


def test_map_without_embedding_column_says_so(web_server, alice) -> None:
    repo = f"alice/noemb-{uuid.uuid4().hex[:6]}"
    create_repo(web_server, alice, repo)
    commit_files(
        web_server,
        alice,
        repo,
        {
            "data/train.parquet": parquet_bytes({"text": ["a", "b"], "n": [1, 2]}),
        },
    )
    r = get(web_server, f"/datasets/{repo}/map")
    assert r.status_code == 200
    assert 'id="map-missing"' in r.text and "no embedding column" in r.text


def _state(server, repo: str, sha: str) -> dict:
    params = {"repo": f"dataset:{repo}", "commit": sha}
    r = get(server, "/-/map/state", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_projection_killed_midway_is_recomputed_never_half_served(
    web_server, alice, public_repo
) -> None:
    repo, sha = public_repo
    assert get(web_server, f"/datasets/{repo}/map").status_code == 200  # starts the job
    maps = web_server.data_dir / "web" / "maps" / "dataset" / "alice" / repo.split("/")[1] / sha
    progress = _wait(lambda: list(maps.glob("*/progress.json")), 60, "the job to start")[0]
    folder = progress.parent
    pid = orjson.loads(progress.read_bytes())["pid"]
    os.kill(pid, signal.SIGKILL)
    _wait(lambda: not Path(f"/proc/{pid}").exists() or _zombie(pid), 10, "the job to die")
    if not (folder / "umap.f32").exists():
        # Nothing half-written is served: the UMAP view is simply not there yet.
        params = {"repo": f"dataset:{repo}", "commit": sha}
        assert get(web_server, "/-/map/umap", params=params).status_code == 404
    state = _wait(
        lambda: (s := _state(web_server, repo, sha))["status"] == "ready" and s,
        300,
        "the projection to be recomputed",
    )
    assert state["rows"] == 60 and state["views"] == ["pca", "umap"]
    assert state["embedding"] == "embedding" and state["label"] == "text"
    params = {"repo": f"dataset:{repo}", "commit": sha}
    for view in ("pca", "umap"):
        points = get(web_server, f"/-/map/{view}", params=params)
        assert points.status_code == 200 and len(points.content) == 60 * 2 * 4
    labels = get(web_server, "/-/map/labels", params=params).json()
    assert labels[7] == "row 7 is about astronomy"
    colors = get(web_server, "/-/map/colors", params=params).json()
    topic = next(c for c in colors if c["name"] == "topic")
    assert topic["kind"] == "category" and len(topic["values"]) == 60
    assert not list(folder.glob(".*.tmp-*"))


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except FileNotFoundError:
        return True


def test_map_data_needs_read_rights(web_server, alice) -> None:
    repo = f"alice/privmap-{uuid.uuid4().hex[:6]}"
    create_repo(web_server, alice, repo, private=True)
    sha = commit_files(
        web_server,
        alice,
        repo,
        {
            "data/train.parquet": parquet_bytes(random_rows(10)),
        },
    )
    params = {"repo": f"dataset:{repo}", "commit": sha}
    r = get(web_server, "/-/map/state", params=params)
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/json")
    assert get(web_server, "/-/map/state", params=params, headers=auth("eh_bad")).status_code == 404


def test_model_repo_pages_at_the_root_and_home_search(web_server, alice, public_repo) -> None:
    name = f"model-{uuid.uuid4().hex[:6]}"
    body = {"name": name, "organization": "alice", "type": "model"}
    r = requests.post(
        f"{web_server.url}/api/repos/create", json=body, headers=auth(alice), timeout=30
    )
    assert r.status_code == 200, r.text
    page = get(web_server, f"/alice/{name}")
    assert page.status_code == 200 and f"alice/{name}" in page.text
    assert 'href="/alice/' + name + '/tree/main"' in page.text
    assert get(web_server, f"/alice/{name}/tree/main").status_code == 200
    assert get(web_server, f"/alice/{name}/resolve/main/.gitattributes").status_code == 200
    # The home page's search box filters repo names.
    found = get(web_server, "/", params={"q": name}).text
    assert f"/alice/{name}" in found and public_repo[0] not in found
