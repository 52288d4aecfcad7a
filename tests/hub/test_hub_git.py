"""The plain git + git-lfs workflow over smart HTTP, then the datasets client reading what git
pushed."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import requests

from .helpers import create_repo, run_client


def git(env: dict[str, str], cwd: Path, *args: str, check: bool = True):
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    if check:
        assert proc.returncode == 0, f"git {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def with_token(url: str, user: str, token: str) -> str:
    return url.replace("http://", f"http://{user}:{token}@")


def test_clone_lfs_push_then_load_dataset(server, tmp_path, uid, git_env):
    user = f"git{uid}"
    token = server.token(user)
    repo = f"{user}/my_embeddings"
    assert create_repo(server, token, repo).status_code == 200
    url = f"{server.url}/datasets/{repo}"
    work = tmp_path / "clone"
    git(git_env, tmp_path, "clone", with_token(url, user, token), str(work))
    assert (work / ".gitattributes").exists()

    rows = [{"id": i, "embedding": [i / 10, 1.0]} for i in range(40)]
    (work / "data").mkdir()
    pq.write_table(pa.Table.from_pylist(rows), work / "data" / "train-00000.parquet")
    big = os.urandom(3 * 1024 * 1024)
    (work / "blob.gz").write_bytes(gzip.compress(big))
    (work / "notes.gz").write_bytes(gzip.compress(b"hello"))
    git(git_env, work, "lfs", "track", "*.gz")
    git(git_env, work, "add", ".gitattributes", "blob.gz", "notes.gz", "data")
    git(git_env, work, "commit", "-m", "add gz files")
    push = git(git_env, work, "push")
    assert "main -> main" in push.stderr
    head = git(git_env, work, "rev-parse", "HEAD").stdout.strip()

    # The server holds pointers in git and the bytes in its LFS store.
    tree = requests.get(f"{server.url}/api/datasets/{repo}/tree/main", timeout=10).json()
    by_path = {e["path"]: e for e in tree}
    assert by_path["blob.gz"]["lfs"]["size"] == len((work / "blob.gz").read_bytes())
    info = requests.get(f"{server.url}/api/datasets/{repo}", timeout=10).json()
    assert info["sha"] == head

    # A fresh clone through the `.git` URL gets the real bytes back (LFS download).
    again = tmp_path / "again"
    git(git_env, tmp_path, "clone", f"{url}.git", str(again))
    assert gzip.decompress((again / "blob.gz").read_bytes()) == big
    assert (again / "data" / "train-00000.parquet").read_bytes() == (
        work / "data" / "train-00000.parquet"
    ).read_bytes()

    result = run_client(
        server,
        f"""
        import json
        from datasets import load_dataset
        print(json.dumps(load_dataset({repo!r})["train"].to_list()))
    """,
        tmp_path,
    )
    assert result == rows


def test_git_push_permissions_and_model_repo(server, tmp_path, uid, git_env):
    owner, other = f"gpo{uid}", f"gpx{uid}"
    token, read_token = server.token(owner), server.token(owner, write=False)
    other_token = server.token(other)
    assert create_repo(server, token, f"{owner}/model", type_="model").status_code == 200
    url = f"{server.url}/{owner}/model"
    work = tmp_path / "m"
    git(git_env, tmp_path, "clone", url, str(work))  # public: no credentials needed
    (work / "weights.txt").write_text("w")
    git(git_env, work, "add", "weights.txt")
    git(git_env, work, "commit", "-m", "weights")

    anonymous = git(git_env, work, "push", check=False)
    assert anonymous.returncode != 0 and "could not read Username" in anonymous.stderr
    for name, tok in ((owner, read_token), (other, other_token)):
        denied = git(git_env, work, "push", with_token(url, name, tok), "main", check=False)
        assert denied.returncode != 0, denied.stderr
    before = requests.get(f"{server.url}/api/models/{owner}/model", timeout=10).json()["sha"]
    assert before != git(git_env, work, "rev-parse", "HEAD").stdout.strip()

    git(git_env, work, "push", with_token(url, owner, token), "main")
    r = requests.get(f"{server.url}/{owner}/model/resolve/main/weights.txt", timeout=10)
    assert r.status_code == 200 and r.text == "w"
    shutil.rmtree(work)


def test_private_repo_clone_needs_member_token(server, tmp_path, uid, git_env):
    owner, other = f"gpr{uid}", f"gpq{uid}"
    token, other_token = server.token(owner), server.token(other)
    assert create_repo(server, token, f"{owner}/secret", private=True).status_code == 200
    url = f"{server.url}/datasets/{owner}/secret"
    anon = git(git_env, tmp_path, "clone", url, str(tmp_path / "a"), check=False)
    assert anon.returncode != 0
    stranger = git(
        git_env,
        tmp_path,
        "clone",
        with_token(url, other, other_token),
        str(tmp_path / "b"),
        check=False,
    )
    assert stranger.returncode != 0 and "not found" in stranger.stderr.lower()
    git(git_env, tmp_path, "clone", with_token(url, owner, token), str(tmp_path / "c"))
    assert (tmp_path / "c" / ".gitattributes").exists()


def test_gzip_request_body_to_upload_pack(server, uid):
    """git gzips large negotiation bodies (Content-Encoding: gzip); http-backend must get
    them inflated, and answer with a pack."""
    token = server.token(f"gz{uid}")
    assert create_repo(server, token, f"gz{uid}/d").status_code == 200
    sha = requests.get(f"{server.url}/api/datasets/gz{uid}/d", timeout=10).json()["sha"]
    want = f"want {sha}\n"
    body = f"{len(want) + 4:04x}{want}00000009done\n".encode()
    r = requests.post(
        f"{server.url}/datasets/gz{uid}/d/git-upload-pack",
        data=gzip.compress(body),
        headers={
            "Content-Type": "application/x-git-upload-pack-request",
            "Content-Encoding": "gzip",
        },
        timeout=30,
    )
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/x-git-upload-pack-result"
    assert b"NAK" in r.content[:16] and b"PACK" in r.content
