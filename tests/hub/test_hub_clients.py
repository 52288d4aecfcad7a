"""The unmodified huggingface_hub and datasets clients against a real `embedhub serve`."""

from __future__ import annotations

import hashlib
import os
import subprocess

import requests

from .helpers import auth, run_client, write_parquet_dataset

MB = 1024 * 1024


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_upload_folder_default_client_then_read_back(server, tmp_path, uid):
    """Default client (hf_xet installed): the big file and the Parquet shards go through Xet
    (preupload answers "lfs"); git holds LFS pointers to them."""
    token = server.token(f"reg{uid}")
    repo = f"reg{uid}/embeddings"
    folder = tmp_path / "out"
    rows = write_parquet_dataset(folder)
    (folder / "blobs").mkdir()
    (folder / "blobs" / "big.bin").write_bytes(os.urandom(11 * MB))
    result = run_client(
        server,
        f"""
        import hashlib, json
        from huggingface_hub import HfApi, hf_hub_download
        from datasets import load_dataset
        from huggingface_hub.utils._runtime import is_xet_available
        api = HfApi(token={token!r})
        url1 = str(api.create_repo({repo!r}, repo_type="dataset", exist_ok=True))
        url2 = str(api.create_repo({repo!r}, repo_type="dataset", exist_ok=True))
        info = api.upload_folder(folder_path={str(folder)!r}, repo_id={repo!r},
                                 repo_type="dataset")
        big = hf_hub_download({repo!r}, "blobs/big.bin", repo_type="dataset", token={token!r})
        refs = api.list_repo_refs({repo!r}, repo_type="dataset")
        commits = api.list_repo_commits({repo!r}, repo_type="dataset")
        ds = load_dataset({repo!r})
        stream = load_dataset({repo!r}, streaming=True)
        print(json.dumps({{
            "urls": [url1, url2], "oid": info.oid, "xet": is_xet_available(),
            "files": sorted(api.list_repo_files({repo!r}, repo_type="dataset")),
            "big_sha": hashlib.sha256(open(big, "rb").read()).hexdigest(),
            "branches": [(b.name, b.target_commit) for b in refs.branches],
            "commits": [c.title for c in commits],
            "exists": [api.file_exists({repo!r}, "README.md", repo_type="dataset"),
                       api.file_exists({repo!r}, "missing.txt", repo_type="dataset"),
                       api.repo_exists({repo!r}, repo_type="dataset"),
                       api.repo_exists("reg{uid}/missing", repo_type="dataset")],
            "rows": ds["train"].to_list(),
            "streamed": list(stream["train"]),
        }}))
    """,
        tmp_path,
    )
    assert result["xet"] is True
    assert result["urls"] == [f"{server.url}/datasets/{repo}"] * 2
    assert result["files"] == [
        ".gitattributes",
        "README.md",
        "blobs/big.bin",
        "data/train-00000-of-00002.parquet",
        "data/train-00001-of-00002.parquet",
    ]
    assert result["big_sha"] == sha256(folder / "blobs" / "big.bin")
    assert result["branches"] == [["main", result["oid"]]]
    assert result["commits"][-1] == "initial commit" and len(result["commits"]) == 2
    assert result["exists"] == [True, False, True, False]
    assert result["rows"] == rows
    assert result["streamed"] == rows
    # A pointer in git, the bytes in the Xet store (not in the LFS object store).
    tree = requests.get(f"{server.url}/api/datasets/{repo}/tree/main/blobs", timeout=10).json()
    assert tree[0]["lfs"]["oid"] == result["big_sha"] and tree[0]["size"] == 11 * MB
    bare = server.data_dir / "hub" / "datasets" / f"reg{uid}" / "embeddings.git"
    pointer = subprocess.run(
        ["git", f"--git-dir={bare}", "cat-file", "-p", "main:blobs/big.bin"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"oid sha256:{result['big_sha']}" in pointer.stdout
    obj = server.data_dir / "lfs" / "objects" / result["big_sha"][:2] / result["big_sha"][2:4]
    assert not (obj / result["big_sha"]).exists()
    head = requests.head(f"{server.url}/datasets/{repo}/resolve/main/blobs/big.bin", timeout=10)
    assert len(head.headers["X-Xet-Hash"]) == 64


def test_lfs_mode_without_xet(server, tmp_path, uid):
    """HF_HUB_DISABLE_XET=1: the file travels through the LFS batch API (signed PUT), then
    download, delete_file and delete_repo behave like on the Hub."""
    token = server.token(f"lfs{uid}")
    repo = f"lfs{uid}/big"
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(12 * MB))
    result = run_client(
        server,
        f"""
        import hashlib, json, os
        from huggingface_hub import HfApi, CommitOperationAdd, snapshot_download
        api = HfApi(token={token!r})
        api.create_repo({repo!r}, repo_type="dataset")
        op = CommitOperationAdd("big.bin", {str(big)!r})
        small = CommitOperationAdd("notes/small.txt", b"small file")
        api.create_commit({repo!r}, [op, small], commit_message="add big",
                          repo_type="dataset")
        snap = snapshot_download({repo!r}, repo_type="dataset", token={token!r})
        got = hashlib.sha256(open(os.path.join(snap, "big.bin"), "rb").read()).hexdigest()
        api.delete_file("notes/small.txt", {repo!r}, repo_type="dataset")
        after_delete = sorted(api.list_repo_files({repo!r}, repo_type="dataset"))
        api.delete_repo("lfs{uid}/never-existed", repo_type="dataset", missing_ok=True)
        api.delete_repo({repo!r}, repo_type="dataset")
        print(json.dumps({{"modes": [op._upload_mode, small._upload_mode],
                           "uploaded": op._is_uploaded, "sha": got,
                           "after_delete": after_delete,
                           "exists": api.repo_exists({repo!r}, repo_type="dataset")}}))
    """,
        tmp_path,
        env={"HF_HUB_DISABLE_XET": "1"},
    )
    assert result["modes"] == ["lfs", "regular"]
    assert result["uploaded"] is True
    assert result["sha"] == sha256(big)
    assert result["after_delete"] == [".gitattributes", "big.bin"]
    assert result["exists"] is False


def test_upload_file_model_repo_and_private(server, tmp_path, uid):
    token = server.token(f"mod{uid}")
    other = server.token(f"oth{uid}")
    repo = f"mod{uid}/tiny-model"
    result = run_client(
        server,
        f"""
        import json
        from huggingface_hub import HfApi, hf_hub_download
        from huggingface_hub.errors import RepositoryNotFoundError
        api = HfApi(token={token!r})
        api.create_repo({repo!r}, private=True)
        api.upload_file(path_or_fileobj=b'{{"dim": 3}}', path_in_repo="config.json",
                        repo_id={repo!r})
        path = hf_hub_download({repo!r}, "config.json", token={token!r})
        info = api.model_info({repo!r})
        try:
            HfApi(token={other!r}).model_info({repo!r})
            hidden = False
        except RepositoryNotFoundError:
            hidden = True
        print(json.dumps({{"content": open(path).read(), "private": info.private,
                           "hidden_from_other": hidden,
                           "other_sees": HfApi(token={other!r}).repo_exists({repo!r}),
                           "anon_sees": HfApi(token=False).repo_exists({repo!r})}}))
    """,
        tmp_path,
    )
    assert result == {
        "content": '{"dim": 3}',
        "private": True,
        "hidden_from_other": True,
        "other_sees": False,
        "anon_sees": False,
    }
    r = requests.get(
        f"{server.url}/{repo}/resolve/main/config.json", headers=auth(token), timeout=10
    )
    assert r.status_code == 200 and r.content == b'{"dim": 3}'
