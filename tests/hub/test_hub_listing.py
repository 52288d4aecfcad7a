"""Listings, moves and duplicates with the unmodified clients (huggingface_hub and the `hf`
CLI), and who may see or do what: private repos are listed only to members of their
namespace, a move needs write access to both namespaces, and a moved or duplicated repo
still reads its LFS files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from .helpers import auth, commit, create_repo, file_line, header, run_client

HF = Path(sys.executable).parent / "hf"  # installed with huggingface_hub


def hf_cli(server, token: str | None, *args: str, home: Path) -> subprocess.CompletedProcess:
    """The `hf` CLI installed with huggingface_hub, pointed at the test server."""
    env = {
        **os.environ,
        "HF_ENDPOINT": server.url,
        "HF_HOME": str(home),
        "HF_HUB_OFFLINE": "0",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    }
    env.pop("HF_TOKEN", None)
    if token:
        env["HF_TOKEN"] = token
    return subprocess.run(
        [str(HF), *args, "--format", "json"], capture_output=True, text=True, env=env, timeout=120
    )


def cli_json(proc: subprocess.CompletedProcess):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def world(server, account):
    """Owner `own` (member of org `org`) with public and private repos; `other` (the
    session's shared account, in neither namespace) sees only what is public. Each repo has
    an LFS file (*.bin goes to LFS)."""
    tag = os.urandom(4).hex()
    own, other, org = f"own{tag}", account.user, f"org{tag}"
    tokens = {"own": server.token(own), "other": account.token}  # the token makes the user
    server.cli("org", "create", org, "--member", own)
    repos = {
        f"{own}/alpha": ("dataset", False),
        f"{own}/beta": ("dataset", True),
        f"{own}/gamma": ("dataset", False),
        f"{own}/model-a": ("model", False),
        f"{org}/team": ("dataset", True),
    }
    for repo_id, (kind, private) in repos.items():
        r = create_repo(server, tokens["own"], repo_id, type_=kind, private=private)
        assert r.status_code == 200, r.text
        lines = [header("files"), file_line("w.bin", repo_id.encode() * 10)]
        plural = f"{kind}s"
        assert commit(server, tokens["own"], repo_id, lines, type_=plural).status_code == 200
    return {"own": own, "other": other, "org": org, "tokens": tokens}


def test_listings_with_the_client(server, world, tmp_path):
    own, org, tokens = world["own"], world["org"], world["tokens"]
    script = f"""
        import json
        from huggingface_hub import HfApi
        out = {{}}
        for who, token in (("own", {tokens["own"]!r}), ("other", {tokens["other"]!r}),
                           ("anon", False)):
            api = HfApi(token=token)
            out[who] = {{
                "datasets": [d.id for d in api.list_datasets(author={own!r})],
                "org": [d.id for d in api.list_datasets(author={org!r})],
                "models": [m.id for m in api.list_models(author={own!r})],
            }}
        api = HfApi(token={tokens["own"]!r})
        out["search"] = [d.id for d in api.list_datasets(author={own!r}, search="amm")]
        out["limit"] = [d.id for d in api.list_datasets(author={own!r}, limit=2)]
        out["newest"] = [d.id for d in api.list_datasets(author={own!r}, sort="last_modified")]
        full = list(api.list_datasets(author={own!r}, search="alpha", full=True))
        out["full"] = [(d.sha, sorted(s.rfilename for s in d.siblings)) for d in full]
        out["sha"] = api.dataset_info({own!r} + "/alpha").sha
        some = list(api.list_datasets(author={own!r}, search="alpha", expand=["private"]))
        out["expand"] = [(d.id, d.private, d.sha) for d in some]
        out["filter"] = [d.id for d in api.list_datasets(author={own!r}, filter="language:en")]
        out["gated"] = [[d.id for d in api.list_models(author={own!r}, gated=gated)]
                        for gated in (True, False)]
        out["pipeline"] = [m.id for m in api.list_models(author={own!r}, pipeline_tag="fill-mask")]
        out["mine"] = sorted((r.id, r.type, r.visibility, r.storage > 0)
                             for r in api.list_user_repos())
        out["org_storage"] = [(r.id, r.storage_percent) for r in api.list_user_repos({org!r})]
        try:
            list(HfApi(token={tokens["other"]!r}).list_user_repos({org!r}))
        except Exception as e:
            out["not_member"] = e.response.status_code
        print(json.dumps(out))
    """
    result = run_client(server, script, tmp_path)
    public = [f"{own}/alpha", f"{own}/gamma"]
    assert result["own"]["datasets"] == [f"{own}/alpha", f"{own}/beta", f"{own}/gamma"]
    assert result["other"]["datasets"] == public and result["anon"]["datasets"] == public
    assert result["own"]["org"] == [f"{org}/team"]
    assert result["other"]["org"] == [] and result["anon"]["org"] == []
    assert result["own"]["models"] == [f"{own}/model-a"] == result["anon"]["models"]
    assert result["search"] == [f"{own}/gamma"]
    assert result["limit"] == [f"{own}/alpha", f"{own}/beta"]
    assert result["newest"] == [f"{own}/gamma", f"{own}/beta", f"{own}/alpha"]
    assert result["full"] == [[result["sha"], [".gitattributes", "w.bin"]]]
    assert result["expand"] == [[f"{own}/alpha", False, None]]
    assert result["filter"] == [] and result["pipeline"] == []
    assert result["gated"] == [[], [f"{own}/model-a"]]
    assert result["mine"] == [
        [f"{own}/alpha", "dataset", "public", True],
        [f"{own}/beta", "dataset", "private", True],
        [f"{own}/gamma", "dataset", "public", True],
        [f"{own}/model-a", "model", "public", True],
    ]
    assert result["org_storage"] == [[f"{org}/team", 100.0]]
    assert result["not_member"] == 403


def test_listing_pages_and_bad_parameters(server, world):
    own, token = world["own"], world["tokens"]["own"]
    url = f"{server.url}/api/datasets?author={own}&limit=1&sort=createdAt&direction=1"
    seen = []
    while url:
        r = requests.get(url, headers=auth(token), timeout=10)
        assert r.status_code == 200, r.text
        seen += [d["id"] for d in r.json()]
        url = r.links.get("next", {}).get("url")
    assert seen == [f"{own}/alpha", f"{own}/beta", f"{own}/gamma"]
    # The same pages without a token: the private repo is in none of them.
    url, anon = f"{server.url}/api/datasets?author={own}&limit=1", []
    while url:
        r = requests.get(url, timeout=10)
        anon += [d["id"] for d in r.json()]
        url = r.links.get("next", {}).get("url")
    assert anon == [f"{own}/alpha", f"{own}/gamma"]
    for query, needle in (
        ("sort=stars", "sort"),
        ("direction=up", "direction"),
        ("expand=cardData", "expand"),
        ("expand=private&full=true", "expand"),
        ("limit=-3", "limit"),
        ("cursor=bm90LWEtY3Vyc29y", "cursor"),
    ):
        r = requests.get(f"{server.url}/api/datasets?{query}", timeout=10)
        assert r.status_code == 400 and needle in r.json()["error"], (query, r.text)
    assert requests.get(f"{server.url}/api/settings/repositories", timeout=10).status_code == 401


def test_move_and_duplicate(server, world, tmp_path):
    own, other, org, tokens = world["own"], world["other"], world["org"], world["tokens"]
    home = tmp_path / "hf"
    r = create_repo(server, tokens["own"], f"{own}/movable")
    assert r.status_code == 200
    lines = [header("lfs"), file_line("m.bin", b"moving bytes" * 100)]
    assert commit(server, tokens["own"], f"{own}/movable", lines).status_code == 200
    # And a file the default client uploads through Xet.
    xet_file = tmp_path / "x.bin"
    xet_file.write_bytes(os.urandom(100_000))
    upload = f"""
        from huggingface_hub import HfApi
        HfApi(token={tokens["own"]!r}).upload_file(path_or_fileobj={str(xet_file)!r},
            path_in_repo="x.bin", repo_id={own!r} + "/movable", repo_type="dataset")
        print("[]")
    """
    run_client(server, upload, tmp_path)

    moved = hf_cli(
        server,
        tokens["own"],
        "repos",
        "move",
        f"{own}/movable",
        f"{org}/moved",
        "--repo-type",
        "dataset",
        home=home,
    )
    assert cli_json(moved) == {"from_id": f"{own}/movable", "to_id": f"{org}/moved"}
    gone = requests.get(f"{server.url}/api/datasets/{own}/movable", timeout=10)
    assert (gone.status_code, gone.headers["X-Error-Code"]) == (404, "RepoNotFound")
    # The LFS file moved with the repo: still readable through its new name only.
    got = requests.get(f"{server.url}/datasets/{org}/moved/resolve/main/m.bin", timeout=10)
    assert got.status_code == 200 and got.content == b"moving bytes" * 100

    def move(token, source, dest):
        body = {"fromRepo": source, "toRepo": dest, "type": "dataset"}
        r = requests.post(
            f"{server.url}/api/repos/move", json=body, headers=auth(token), timeout=10
        )
        return r.status_code

    assert move(tokens["other"], f"{org}/moved", f"{other}/stolen") == 403  # no write on org
    assert move(tokens["other"], f"{own}/beta", f"{other}/stolen") == 404  # private: hidden
    assert move(tokens["own"], f"{org}/moved", f"{other}/pushed") == 403  # no write on other
    assert move(tokens["own"], f"{org}/moved", f"{own}/alpha") == 409
    assert move(tokens["own"], f"{org}/moved", f"{org}/moved") == 400
    assert move(None, f"{org}/moved", f"{own}/x") == 401

    dup = hf_cli(
        server,
        tokens["other"],
        "repos",
        "duplicate",
        f"{org}/moved",
        f"{other}/copy",
        "--type",
        "dataset",
        home=home,
    )
    assert cli_json(dup)["url"] == f"{server.url}/datasets/{other}/copy"
    got = requests.get(f"{server.url}/datasets/{other}/copy/resolve/main/m.bin", timeout=10)
    assert got.status_code == 200 and got.content == b"moving bytes" * 100
    hidden = requests.post(
        f"{server.url}/api/datasets/{own}/beta/duplicate",
        json={"repository": f"{other}/stolen"},
        headers=auth(tokens["other"]),
        timeout=10,
    )
    assert (hidden.status_code, hidden.headers["X-Error-Code"]) == (404, "RepoNotFound")
    assert requests.get(f"{server.url}/api/datasets/{other}/stolen", timeout=10).status_code == 404
    result = run_client(
        server,
        f"""
        import json
        from huggingface_hub import HfApi, hf_hub_download
        api = HfApi(token={tokens["own"]!r})
        first = api.duplicate_repo({own!r} + "/beta", {own!r} + "/beta-copy", repo_type="dataset")
        again = api.duplicate_repo({own!r} + "/beta", {own!r} + "/beta-copy",
                                   repo_type="dataset", exist_ok=True)
        try:
            api.duplicate_repo({own!r} + "/beta", {own!r} + "/beta-copy", repo_type="dataset")
        except Exception as e:
            conflict = e.response.status_code
        private = api.dataset_info({own!r} + "/beta-copy").private
        api.move_repo({own!r} + "/beta-copy", {own!r} + "/beta-renamed", repo_type="dataset")
        moved = [api.repo_exists({own!r} + "/beta-copy", repo_type="dataset"),
                 api.dataset_info({own!r} + "/beta-renamed").private]
        # The Xet file, downloaded natively by hf_xet through both new names.
        xet = [open(hf_hub_download(r, "x.bin", repo_type="dataset"), "rb").read().hex()
               for r in ({org!r} + "/moved", {other!r} + "/copy")]
        print(json.dumps([str(first), str(again), conflict, private, moved, xet]))
    """,
        tmp_path,
    )
    url = f"{server.url}/datasets/{own}/beta-copy"
    assert result[:4] == [url, url, 409, True]  # a private repo's copy stays private
    assert result[4] == [False, True]  # moved with the client's move_repo, still private
    assert result[5] == [xet_file.read_bytes().hex()] * 2
    for repo in (f"{org}/moved", f"{other}/copy"):
        head = requests.head(f"{server.url}/datasets/{repo}/resolve/main/x.bin", timeout=10)
        assert head.status_code == 200 and "X-Xet-Hash" in head.headers
    listed = requests.get(f"{server.url}/api/datasets?author={own}", timeout=10).json()
    assert f"{own}/beta-renamed" not in [d["id"] for d in listed]  # private: not to anyone


def test_branch_and_tag_with_the_cli(server, world, tmp_path):
    own, token = world["own"], world["tokens"]["own"]
    home, repo = tmp_path / "hf", f"{own}/gamma"

    def hf(*args: str) -> subprocess.CompletedProcess:
        return hf_cli(server, token, "repos", *args, "--repo-type", "dataset", home=home)

    cli_json(hf("branch", "create", repo, "dev"))
    cli_json(hf("tag", "create", repo, "v1", "-m", "first", "--revision", "dev"))
    # Read back over HTTP (a `tag list` process would cost a second; list_repo_refs is
    # test_hub_refs.py's): the annotated tag, peeled to the commit dev and main are at.
    sha = requests.get(f"{server.url}/api/datasets/{repo}", timeout=10).json()["sha"]
    refs = requests.get(f"{server.url}/api/datasets/{repo}/refs", timeout=10).json()
    assert refs["tags"] == [{"name": "v1", "ref": "refs/tags/v1", "targetCommit": sha}]
    cli_json(hf("tag", "delete", repo, "v1", "-y"))
    cli_json(hf("branch", "delete", repo, "dev"))
    refs = requests.get(f"{server.url}/api/datasets/{repo}/refs", timeout=10).json()
    assert [b["name"] for b in refs["branches"]] == ["main"] and refs["tags"] == []
    listed = cli_json(hf_cli(server, token, "datasets", "ls", "--author", own, home=home))
    ids = [d["id"] for d in listed]
    assert {f"{own}/alpha", f"{own}/beta", f"{own}/gamma"} <= set(ids)
    assert ids == sorted(ids) and all(i.startswith(f"{own}/") for i in ids)
    mine = cli_json(hf_cli(server, token, "repos", "ls", home=home))
    assert {r["id"]: r["visibility"] for r in mine}[f"{own}/beta"] == "private"
