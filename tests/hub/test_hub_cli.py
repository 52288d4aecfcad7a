"""`embedhub user/org create` and `embedhub push` / `embedhub pull` as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys

import requests

from .helpers import auth, write_parquet_dataset


def embedhub(*args: str, home) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "HF_HOME": str(home),
        "HF_HUB_OFFLINE": "0",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    }
    env.pop("HF_ENDPOINT", None)
    return subprocess.run(
        [sys.executable, "-m", "embedhub", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_user_org_push_pull(server, tmp_path, uid):
    user, org = f"cli{uid}", f"cliorg{uid}"
    assert "created user" in server.cli("user", "create", user).stdout
    again = server.cli("user", "create", user, check=False)
    assert again.returncode == 2 and "already exists" in again.stderr
    bad = server.cli("org", "create", org, "--member", f"ghost{uid}", check=False)
    assert bad.returncode == 2 and "does not exist" in bad.stderr
    server.cli("org", "create", org, "--member", user)
    token = server.token(user)

    folder = tmp_path / "out"
    write_parquet_dataset(folder, shards=1, rows_per_shard=5)
    (folder / ".embedhub").mkdir()  # `embedhub embed`'s resume state: never uploaded
    (folder / ".embedhub" / "index.sqlite").write_bytes(b"state")
    pushed = embedhub(
        "push",
        str(folder),
        f"{org}/emb",
        "--private",
        "--endpoint",
        server.url,
        "--token",
        token,
        home=tmp_path / "hf",
    )
    assert pushed.returncode == 0, pushed.stderr
    sha = pushed.stdout.strip().splitlines()[-1]
    info = requests.get(f"{server.url}/api/datasets/{org}/emb", headers=auth(token), timeout=10)
    assert info.json()["sha"] == sha and info.json()["private"] is True
    names = {s["rfilename"] for s in info.json()["siblings"]}
    assert "data/train-00000-of-00001.parquet" in names
    assert not [n for n in names if n.startswith(".embedhub/")]

    dest = tmp_path / "pulled"
    pulled = embedhub(
        "pull",
        f"{org}/emb",
        str(dest),
        "--endpoint",
        server.url,
        "--token",
        token,
        home=tmp_path / "hf2",
    )
    assert pulled.returncode == 0, pulled.stderr
    for rel in ("README.md", "data/train-00000-of-00001.parquet"):
        assert (dest / rel).read_bytes() == (folder / rel).read_bytes()

    denied = embedhub(
        "pull", f"{org}/emb", str(tmp_path / "x"), "--endpoint", server.url, home=tmp_path / "hf3"
    )
    assert denied.returncode == 1 and "embedhub pull" in denied.stderr
    wrong = embedhub("push", str(folder), "no-slash", home=tmp_path / "hf4")
    assert wrong.returncode == 2 and "NS/NAME" in wrong.stderr
