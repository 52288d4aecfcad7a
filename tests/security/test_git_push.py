"""Malicious git pushes (issue 8, D8 and D9): trees with names the hub can't serve, refs no
push may write, and history that once broke the API for everyone (a summary with `\\x1e`, a
file name that is not UTF-8). Each bad push is refused with a message saying why; the repo's
API keeps answering."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import requests

from embedhub.hub.gitrepo import GitRepo

from .conftest import git
from .helpers import commit, create_repo, file_line, header
from .helpers import token as make_token


@pytest.fixture(scope="module")
def target(server, git_env, tmp_path_factory) -> dict:
    """A repo, its owner's push URL, and a local bare repo holding the repo's main."""
    user = f"gp{uuid.uuid4().hex[:6]}"
    token = make_token(server, user)
    repo_id = f"{user}/target"
    create_repo(server.url, token, repo_id)
    url = f"{server.url}/datasets/{repo_id}"
    push_url = url.replace("://", f"://{user}:{token}@")
    work = tmp_path_factory.mktemp("push") / "local.git"
    git(git_env, work.parent, "init", "-q", "--bare", str(work))
    return {"id": repo_id, "token": token, "push": push_url, "work": work, "user": user}


def raw_tree(entries: list[tuple[bytes, bytes, str]]) -> bytes:
    """A tree object's bytes, entries (mode, name, hex id) in git's order."""
    return b"".join(
        mode + b" " + name + b"\0" + bytes.fromhex(sha)
        for mode, name, sha in sorted(
            entries, key=lambda e: e[1] + (b"/" if e[0] == b"40000" else b"")
        )
    )


def tree_commit(env: dict, t: dict, entries: list[tuple[bytes, bytes, str]]) -> str:
    """A commit on the remote main whose tree is main's plus `entries` (written literally: git's
    own tools refuse to make most of these)."""
    work = t["work"]
    git(env, work, "fetch", "-q", t["push"], "main")
    listing = git(env, work, "ls-tree", "-z", "FETCH_HEAD").stdout
    entries = entries + [
        (meta.split()[0], name, meta.split()[2].decode())
        for meta, name in (item.split(b"\t", 1) for item in listing.split(b"\0") if item)
    ]
    data = raw_tree([(b"40000" if m == b"040000" else m, n, s) for m, n, s in entries])
    tree = (
        git(env, work, "hash-object", "-t", "tree", "--literally", "-w", "--stdin", input=data)
        .stdout.decode()
        .strip()
    )
    return (
        git(env, work, "commit-tree", tree, "-p", "FETCH_HEAD", "-m", "hostile")
        .stdout.decode()
        .strip()
    )


def blob(env: dict, work: Path, data: bytes) -> str:
    return git(env, work, "hash-object", "-w", "--stdin", input=data).stdout.decode().strip()


def api_still_answers(server, repo_id: str) -> None:
    base = f"{server.url}/api/datasets/{repo_id}"
    for url in (base, f"{base}/tree/main?recursive=1", f"{base}/commits/main", f"{base}/refs"):
        r = requests.get(url, timeout=30)
        assert r.status_code == 200, (url, r.text)


BAD_NAMES = [
    (b".git", "hasDotgit"),
    (b".GIT", "hasDotgit"),
    (b"..", "hasDotdot"),
    (b".", "hasDot"),
    (b"caf\xe9.txt", "is not UTF-8"),
    (b"tab\there", "control characters"),
    (b"back\\slash", "separator"),
]


@pytest.mark.parametrize("name, says", BAD_NAMES, ids=[repr(n) for n, _ in BAD_NAMES])
def test_tree_with_bad_name_is_refused(server, git_env, target, name, says):
    work = target["work"]
    inner = raw_tree([(b"100644", b"config", blob(git_env, work, b"[core]\n"))])
    folder = (
        git(git_env, work, "hash-object", "-t", "tree", "--literally", "-w", "--stdin", input=inner)
        .stdout.decode()
        .strip()
    )
    sha = tree_commit(git_env, target, [(b"40000", name, folder)])
    refused = git(git_env, work, "push", target["push"], f"{sha}:refs/heads/main", check=False)
    assert refused.returncode != 0
    assert says.encode() in refused.stderr, refused.stderr
    api_still_answers(server, target["id"])
    tree = requests.get(f"{server.url}/api/datasets/{target['id']}/tree/main", timeout=30)
    assert "config" not in str(tree.json())


def test_submodule_is_refused(server, git_env, target):
    sha = tree_commit(git_env, target, [(b"160000", b"sub", "1" * 40)])
    refused = git(
        git_env, target["work"], "push", target["push"], f"{sha}:refs/heads/main", check=False
    )
    assert refused.returncode != 0 and b"submodule" in refused.stderr, refused.stderr


BAD_REFS = [
    "refs/heads/HEAD",
    "refs/heads/-n",
    "refs/meta/config",
    "refs/heads/we@ird",
    "refs/pr/1",
    "refs/convert/parquet",
    "refs/heads/" + "0" * 40,
]


@pytest.mark.parametrize("ref", BAD_REFS)
def test_bad_ref_is_refused(server, git_env, target, ref):
    work = target["work"]
    git(git_env, work, "fetch", "-q", target["push"], "main")
    refused = git(git_env, work, "push", target["push"], f"FETCH_HEAD:{ref}", check=False)
    assert refused.returncode != 0, refused.stderr
    assert b"embedhub refused this push" in refused.stderr, refused.stderr
    bare = GitRepo(server.data_dir / "hub" / "datasets" / target["user"] / "target.git")
    assert [r for r, _ in bare.refs("refs/")] == ["refs/heads/main"]


def test_good_branches_and_tags_go_in(server, git_env, target):
    work = target["work"]
    git(git_env, work, "fetch", "-q", target["push"], "main")
    git(
        git_env,
        work,
        "push",
        target["push"],
        "FETCH_HEAD:refs/heads/feature/x",
        "FETCH_HEAD:refs/tags/v1.0",
    )
    refs = requests.get(f"{server.url}/api/datasets/{target['id']}/refs", timeout=30).json()
    assert [b["name"] for b in refs["branches"]] == ["feature/x", "main"]
    assert [t["name"] for t in refs["tags"]] == ["v1.0"]
    git(git_env, work, "push", target["push"], ":refs/heads/feature/x")  # deleting is fine


def test_summary_with_record_separator(server, uid):
    """D8: `\\x1e` was the log parser's separator; the repo's API stayed 500 after it."""
    token = make_token(server, f"rs{uid}")
    repo_id = f"rs{uid}/d"
    create_repo(server.url, token, repo_id)
    summary = "one\x1etwo \u2028 \U0001f600"
    r = commit(server.url, token, repo_id, [header(summary), file_line("a.txt", b"a")])
    assert r.status_code == 200, r.text
    api_still_answers(server, repo_id)
    log = requests.get(f"{server.url}/api/datasets/{repo_id}/commits/main", timeout=30).json()
    assert log[0]["title"] == summary.strip() and len(log) == 2
    nul = commit(server.url, token, repo_id, [header("a\x00b"), file_line("b.txt", b"b")])
    assert nul.status_code == 400 and "NUL" in nul.json()["error"]


def test_history_that_is_not_utf8(server, git_env, target, uid):
    """A file name that is not UTF-8 (pushed before pushes were checked: written here straight
    into the bare repo) and a commit message in Latin-1: listed, never a 500; a commit through
    the API keeps the odd name byte for byte."""
    bare = GitRepo(server.data_dir / "hub" / "datasets" / target["user"] / "target.git")
    with bare.lock():
        head = bare.resolve("main")
        files = bare.files(head)
        files[b"caf\xe9.txt".decode("utf-8", "surrogateescape")] = (
            "100644",
            bare.write_blob(b"latin"),
        )
        sha = bare.make_commit(head, files, "odd name", "x")
        env = {
            "GIT_AUTHOR_NAME": "Jos\xe9",
            "GIT_COMMITTER_NAME": "x",
            "GIT_AUTHOR_EMAIL": "j@x",
            "GIT_COMMITTER_EMAIL": "x@x",
        }
        latin = (
            bare.run(
                "-c",
                "i18n.commitEncoding=ISO-8859-1",
                "commit-tree",
                bare.run("rev-parse", f"{sha}^{{tree}}").decode().strip(),
                "-p",
                sha,
                input="caf\xe9 au lait".encode("latin-1"),
                env={**os.environ, **env},
            )
            .decode()
            .strip()
        )
        assert bare.update_ref("main", latin, head)
    api_still_answers(server, target["id"])
    base = f"{server.url}/api/datasets/{target['id']}"
    names = [e["path"] for e in requests.get(f"{base}/tree/main", timeout=30).json()]
    assert "caf\ufffd.txt" in names
    log = requests.get(f"{base}/commits/main", timeout=30).json()
    assert log[0]["title"] == "caf\xe9 au lait"
    r = commit(server.url, target["token"], target["id"], [header(), file_line("n.txt", b"n")])
    assert r.status_code == 200, r.text
    listing = bare.run("ls-tree", "-z", "--name-only", "main")
    assert b"caf\xe9.txt" in listing.split(b"\0") and b"n.txt" in listing.split(b"\0")
