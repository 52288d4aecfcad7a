"""Who may read and write LFS objects, and that no repo is a window onto another repo's objects
(issue 8, D1). All repos share one object store; an object is readable through a repo only
when it was uploaded to that repo, or committed there by someone who could.

The matrix: anonymous / read token / write token / another user, on a user's repos and on an
organisation's (member / non-member), public and private, for LFS batch download, resolve,
a commit of an `lfsFile` pointer and a git push of a pointer."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from embedhub.db import Database
from embedhub.hub.gitrepo import GitRepo
from embedhub.hub.lfs import Pointer

from .conftest import git
from .helpers import auth, batch, commit, create_repo, header, lfs_line, upload_lfs
from .helpers import token as make_token


@dataclass
class Repo:
    id: str
    private: bool
    oid: str
    data: bytes
    tokens: dict[str, str | None]  # role -> token


@pytest.fixture(scope="module")
def world(server) -> dict[str, Repo]:
    """A user's and an organisation's repos, public and private, each holding its own LFS
    object at big.bin; tokens for each role relative to each repo."""
    u = uuid.uuid4().hex[:6]
    owner, member, outsider, org = f"own{u}", f"mem{u}", f"out{u}", f"org{u}"
    tokens = {
        owner: {"read": make_token(server, owner, write=False), "write": make_token(server, owner)},
        org: {
            "read": make_token(server, member, write=False, orgs=(org,)),
            "write": make_token(server, member),
        },
    }
    stranger = make_token(server, outsider)
    repos = {}
    for ns in (owner, org):
        for private in (False, True):
            repo_id = f"{ns}/{'priv' if private else 'pub'}"
            writer = tokens[ns]["write"]
            create_repo(server.url, writer, repo_id, private=private)
            data = os.urandom(2048)
            oid = upload_lfs(server.url, repo_id, writer, data)
            r = commit(server.url, writer, repo_id, [header(), lfs_line("big.bin", oid, 2048)])
            assert r.status_code == 200, r.text
            roles = {"anonymous": None, **tokens[ns], "outsider": stranger}
            kind = "user" if ns == owner else "org"
            repos[f"{kind}-{'private' if private else 'public'}"] = Repo(
                repo_id, private, oid, data, roles
            )
    return repos


CASES = [
    (repo, role)
    for repo in ("user-public", "user-private", "org-public", "org-private")
    for role in ("anonymous", "read", "write", "outsider")
]


def can_read(repo: Repo, role: str) -> bool:
    return not repo.private or role in ("read", "write")


@pytest.mark.parametrize("which, role", CASES)
def test_batch_download_and_resolve(server, world, which, role):
    repo = world[which]
    token = repo.tokens[role]
    r = batch(server.url, repo.id, token, "download", [{"oid": repo.oid, "size": 2048}])
    resolved = requests.get(
        f"{server.url}/datasets/{repo.id}/resolve/main/big.bin", headers=auth(token), timeout=30
    )
    if can_read(repo, role):
        link = r.json()["objects"][0]["actions"]["download"]["href"]
        assert requests.get(link, timeout=30).content == repo.data
        assert resolved.status_code == 200 and resolved.content == repo.data
    else:
        # git-lfs gets a Basic challenge when anonymous; everyone else the same 404 as a
        # repo that does not exist.
        assert r.status_code == (401 if role == "anonymous" else 404), r.text
        assert resolved.status_code == 404
        assert resolved.headers["X-Error-Code"] == "RepoNotFound"


@pytest.mark.parametrize("which, role", CASES)
def test_commit_pointer(server, world, which, role):
    repo = world[which]
    r = commit(
        server.url,
        repo.tokens[role],
        repo.id,
        [header(), lfs_line(f"copy-{role}.bin", repo.oid, 2048)],
    )
    if role == "write":
        assert r.status_code == 200, r.text
    elif role == "anonymous":
        assert r.status_code == (404 if repo.private else 401)
    elif role == "read":
        assert r.status_code == 403
    else:
        assert r.status_code == (404 if repo.private else 403)


def pointer_commit(env: dict, work: Path, url: str, token: str, oid: str, size: int) -> str:
    """A commit on top of the remote's main adding a pointer to `oid`, made with plumbing
    (no git-lfs hook gets a say: the server alone must judge it)."""
    git(env, work, "fetch", "-q", url.replace("://", f"://u:{token}@"), "main")
    blob = (
        git(env, work, "hash-object", "-w", "--stdin", input=Pointer(oid, size).encode())
        .stdout.decode()
        .strip()
    )
    tree = git(env, work, "ls-tree", "FETCH_HEAD").stdout.decode()
    tree += f"100644 blob {blob}\tpushed-{uuid.uuid4().hex[:6]}.bin\n"
    sha = git(env, work, "mktree", input=tree.encode()).stdout.decode().strip()
    return (
        git(env, work, "commit-tree", sha, "-p", "FETCH_HEAD", "-m", "pointer")
        .stdout.decode()
        .strip()
    )


def push(env: dict, work: Path, url: str, token: str | None, sha: str):
    target = url.replace("://", f"://u:{token}@") if token else url
    return git(env, work, "push", target, f"{sha}:refs/heads/main", check=False)


@pytest.mark.parametrize("which", ["user-public", "user-private", "org-public", "org-private"])
def test_git_push_pointer(server, world, which, git_env, tmp_path):
    repo = world[which]
    work = tmp_path / "local.git"
    git(git_env, tmp_path, "init", "-q", "--bare", str(work))
    url = f"{server.url}/datasets/{repo.id}"
    sha = pointer_commit(git_env, work, url, repo.tokens["write"], repo.oid, 2048)
    for role in ("anonymous", "read", "outsider"):
        denied = push(git_env, work, url, repo.tokens[role], sha)
        assert denied.returncode != 0, (role, denied.stderr)
    assert push(git_env, work, url, repo.tokens["write"], sha).returncode == 0
    head = requests.get(
        f"{server.url}/api/datasets/{repo.id}", timeout=10, headers=auth(repo.tokens["write"])
    ).json()["sha"]
    assert head == sha


# --- one repo's objects through another ----------------------------------------------------
@pytest.fixture(scope="module")
def attacker(server, world) -> tuple[str, str]:
    """A user with a public repo of their own: (repo_id, write token)."""
    name = f"att{uuid.uuid4().hex[:6]}"
    write = make_token(server, name)
    create_repo(server.url, write, f"{name}/mine")
    return f"{name}/mine", write


PRIVATE = ["user-private", "org-private"]


@pytest.mark.parametrize("which", PRIVATE)
def test_batch_download_through_another_repo(server, world, attacker, which):
    """D1a: a link to a private repo's bytes, asked through any public repo."""
    secret = world[which]
    for repo_id, token in ((world["user-public"].id, None), attacker):
        r = batch(server.url, repo_id, token, "download", [{"oid": secret.oid, "size": 2048}])
        assert r.status_code == 200
        answer = r.json()["objects"][0]
        assert "actions" not in answer and answer["error"]["code"] == 404


@pytest.mark.parametrize("which", PRIVATE)
def test_commit_pointer_to_another_repos_object(server, world, attacker, which):
    """D1b: committing a pointer to an object one can't read, then resolving it."""
    secret = world[which]
    repo_id, token = attacker
    r = commit(server.url, token, repo_id, [header(), lfs_line("stolen.bin", secret.oid, 2048)])
    assert r.status_code == 400 and "never uploaded to this repo" in r.json()["error"]
    # Same answer as for an object that exists nowhere: nothing is revealed.
    fake = "ab" * 32
    nowhere = commit(server.url, token, repo_id, [header(), lfs_line("stolen.bin", fake, 2048)])
    assert nowhere.json()["error"].replace(fake, secret.oid) == r.json()["error"]


@pytest.mark.parametrize("which", PRIVATE)
def test_git_push_pointer_to_another_repos_object(
    server, world, attacker, which, git_env, tmp_path
):
    secret = world[which]
    repo_id, token = attacker
    work = tmp_path / "local.git"
    git(git_env, tmp_path, "init", "-q", "--bare", str(work))
    url = f"{server.url}/datasets/{repo_id}"
    sha = pointer_commit(git_env, work, url, token, secret.oid, 2048)
    refused = push(git_env, work, url, token, sha)
    assert refused.returncode != 0
    assert b"was not uploaded to this repo" in refused.stderr, refused.stderr
    assert secret.oid.encode() in refused.stderr


def test_resolve_checks_the_repo_not_only_its_history(server, world, attacker):
    """A pointer that got into a repo's history without its object (written straight into
    the bare repo, as a server without these checks let happen): resolve still says 404."""
    secret = world["user-private"]
    repo_id, _ = attacker
    ns, name = repo_id.split("/")
    bare = GitRepo(server.data_dir / "hub" / "datasets" / ns / f"{name}.git")
    with bare.lock():
        head = bare.resolve("main")
        files = bare.files(head)
        files["planted.bin"] = ("100644", bare.write_blob(Pointer(secret.oid, 2048).encode()))
        assert bare.update_ref("main", bare.make_commit(head, files, "planted", "x"), head)
    r = requests.get(f"{server.url}/datasets/{repo_id}/resolve/main/planted.bin", timeout=30)
    assert r.status_code == 404 and r.headers["X-Error-Code"] == "EntryNotFound"
    assert secret.data not in r.content


@pytest.mark.parametrize("which", PRIVATE)
def test_upload_batch_reveals_nothing(server, world, attacker, which):
    """D1c: an upload batch answers an object stored for another repo exactly like one stored
    nowhere (upload links), and only the real bytes then link it."""
    secret = world[which]
    repo_id, token = attacker
    unknown = {"oid": "cd" * 32, "size": 2048}
    r = batch(server.url, repo_id, token, "upload", [{"oid": secret.oid, "size": 2048}, unknown])
    stored, nowhere = r.json()["objects"]
    assert set(stored["actions"]) == set(nowhere["actions"]) == {"upload", "verify"}
    put = requests.put(stored["actions"]["upload"]["href"], data=os.urandom(2048), timeout=30)
    assert put.status_code == 400 and "sha256" in put.json()["error"]
    verify = requests.post(
        stored["actions"]["verify"]["href"], timeout=30, json={"oid": secret.oid, "size": 2048}
    )
    assert verify.status_code == 404
    again = batch(server.url, repo_id, token, "download", [{"oid": secret.oid, "size": 2048}])
    assert "actions" not in again.json()["objects"][0]


def test_uploading_the_bytes_links_an_object_stored_elsewhere(server, world, attacker):
    """Whoever has the bytes may add them to their repo: stored once, readable there."""
    other = world["user-private"]
    repo_id, token = attacker
    assert upload_lfs(server.url, repo_id, token, other.data) == other.oid
    r = commit(server.url, token, repo_id, [header(), lfs_line("same.bin", other.oid, 2048)])
    assert r.status_code == 200, r.text
    got = requests.get(f"{server.url}/datasets/{repo_id}/resolve/main/same.bin", timeout=30)
    assert got.content == other.data


def test_links_go_with_the_repo(server, uid):
    """Deleting a repo removes its links; a new repo of the same name starts with none."""
    writer = make_token(server, f"del{uid}")
    repo_id = f"del{uid}/gone"
    create_repo(server.url, writer, repo_id)
    oid = upload_lfs(server.url, repo_id, writer, os.urandom(512))
    db = Database(server.data_dir / "embedhub.db")
    assert db.linked_objects("dataset", f"del{uid}", "gone", [oid]) == {oid}
    r = requests.delete(
        f"{server.url}/api/repos/delete",
        headers=auth(writer),
        timeout=30,
        json={"name": "gone", "organization": f"del{uid}", "type": "dataset"},
    )
    assert r.status_code == 200
    assert db.linked_objects("dataset", f"del{uid}", "gone", [oid]) == set()
    create_repo(server.url, writer, repo_id)
    r = commit(server.url, writer, repo_id, [header(), lfs_line("a.bin", oid, 512)])
    assert r.status_code == 400


def test_anonymous_batch_on_private_repo_gets_basic_challenge(server, world):
    r = batch(server.url, world["user-private"].id, None, "download", [])
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Basic")
    r = batch(server.url, "nobody/nothing", None, "download", [])
    assert r.status_code == 401  # the same for a repo that does not exist
