"""Xet storage with the real clients: huggingface_hub + hf_xet uploading and downloading
natively, datasets' push_to_hub, and every other reader (plain HTTP, git-lfs, an old
huggingface_hub) getting the same bytes; files pushed with git-lfs read by the Xet client."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import requests

from embedhub.xet import upload

from .helpers import auth, create_repo, run_client
from .test_hub_git import git, with_token

MB = 1024 * 1024
OLD_HUB = "0.26.5"  # before Xet: huggingface_hub of late 2024 knows only LFS


def _content(seed: int) -> bytes:
    """Float32 vectors (as embedding files are) with a repeated block in them."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal(600_000, dtype=np.float32).tobytes()
    return vectors[: 2 * MB] + bytes(MB) + vectors[: MB // 2] + vectors[2 * MB :]


def resolve_url(server, repo: str, path: str, rev: str = "main") -> str:
    return f"{server.url}/datasets/{repo}/resolve/{rev}/{path}"


def metric(server, name: str) -> float:
    text = requests.get(f"{server.url}/metrics", timeout=10).text
    line = next(x for x in text.splitlines() if x.startswith(f"{name} "))
    return float(line.split()[1])


@pytest.fixture(scope="module")
def xet_repo(server, tmp_path_factory) -> dict:
    """A private repo filled by the default client (hf_xet): upload_file, then upload_folder."""
    tmp = tmp_path_factory.mktemp("xet-upload")
    user = f"xet{os.getpid()}"
    token = server.token(user)
    repo = f"{user}/vectors"
    files = {"big.bin": _content(1), "sub/part.bin": _content(2)[: 3 * MB],
             "sub/notes.txt": b"small, goes into git"}  # fmt: skip
    folder = tmp / "folder"
    for path, data in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(data)
    received = metric(server, "embedhub_xet_received_bytes_total")
    result = run_client(
        server,
        f"""
        import json
        from huggingface_hub import HfApi
        api = HfApi(token={token!r})
        api.create_repo({repo!r}, repo_type="dataset", private=True)
        api.upload_file(path_or_fileobj={str(folder / "big.bin")!r}, path_in_repo="big.bin",
                        repo_id={repo!r}, repo_type="dataset")
        api.upload_folder(folder_path={str(folder / "sub")!r}, path_in_repo="sub",
                          repo_id={repo!r}, repo_type="dataset")
        print(json.dumps(sorted(api.list_repo_files({repo!r}, repo_type="dataset"))))
    """,
        tmp,
    )
    assert result == [".gitattributes", "big.bin", "sub/notes.txt", "sub/part.bin"]
    sent = metric(server, "embedhub_xet_received_bytes_total") - received
    return {"repo": repo, "token": token, "user": user, "files": files, "sent": sent}


def test_xet_uploads_are_stored_in_xet_with_the_clients_hashes(server, xet_repo):
    repo, files, owner = xet_repo["repo"], xet_repo["files"], auth(xet_repo["token"])
    for path in ("big.bin", "sub/part.bin"):
        data = files[path]
        head = requests.head(resolve_url(server, repo, path), headers=owner, timeout=10)
        assert head.status_code == 200
        assert int(head.headers["Content-Length"]) == len(data)
        # The hash hf_xet computed and registered equals ours from the raw bytes: same chunk
        # boundaries (gear table, sizes), same chunk, Merkle and file hashes.
        assert head.headers["X-Xet-Hash"] == upload.prepare(data).file_hash
        assert "xet-read-token" in head.headers["X-Xet-Refresh-Route"]
        sha = hashlib.sha256(data).hexdigest()
        assert head.headers["X-Linked-Etag"] == f'"{sha}"'
        assert not (server.data_dir / "lfs" / "objects" / sha[:2] / sha[2:4] / sha).exists()
    notes = requests.head(resolve_url(server, repo, "sub/notes.txt"), headers=owner, timeout=10)
    assert notes.status_code == 200 and "X-Xet-Hash" not in notes.headers
    # part.bin repeats the first 2 MiB of big.bin, and big.bin a block of itself: the client
    # sent much less than the files hold.
    assert 0 < xet_repo["sent"] < len(files["big.bin"]) + MB
    info = requests.get(f"{server.url}/api/datasets/{repo}", headers=owner, timeout=10).json()
    assert info["xetEnabled"] is True


def test_default_client_downloads_natively(server, xet_repo, tmp_path):
    repo, token = xet_repo["repo"], xet_repo["token"]
    served = metric(server, "embedhub_xet_served_bytes_total")
    result = run_client(
        server,
        f"""
        import hashlib, json, os
        from huggingface_hub import HfFileSystem, hf_hub_download, snapshot_download
        big = hf_hub_download({repo!r}, "big.bin", repo_type="dataset", token={token!r})
        snap = snapshot_download({repo!r}, repo_type="dataset", token={token!r},
                                 local_dir="snap")
        fs = HfFileSystem(token={token!r})
        with fs.open("datasets/{repo}/sub/part.bin", "rb") as f:
            f.seek(1_000_000)
            middle = f.read(100_000)
        def sha(p): return hashlib.sha256(open(p, "rb").read()).hexdigest()
        print(json.dumps({{
            "big": sha(big), "part": sha(os.path.join(snap, "sub/part.bin")),
            "notes": open(os.path.join(snap, "sub/notes.txt")).read(),
            "middle": hashlib.sha256(middle).hexdigest(),
            "ls": sorted(fs.ls("datasets/{repo}/sub", detail=False)),
        }}))
    """,
        tmp_path,
    )
    files = xet_repo["files"]
    assert result["big"] == hashlib.sha256(files["big.bin"]).hexdigest()
    assert result["part"] == hashlib.sha256(files["sub/part.bin"]).hexdigest()
    assert result["notes"] == files["sub/notes.txt"].decode()
    expected = files["sub/part.bin"][1_000_000:1_100_000]
    assert result["middle"] == hashlib.sha256(expected).hexdigest()
    assert result["ls"] == [f"datasets/{repo}/sub/notes.txt", f"datasets/{repo}/sub/part.bin"]
    # The bytes came from the Xet store (xorb ranges), not a plain download of the file.
    assert metric(server, "embedhub_xet_served_bytes_total") - served >= xet_repo["sent"] / 2


def test_non_xet_clients_read_xet_files(server, xet_repo, tmp_path, git_env):
    repo, token, user, files = (xet_repo[k] for k in ("repo", "token", "user", "files"))
    result = run_client(
        server,
        f"""
        import hashlib, json
        from huggingface_hub import hf_hub_download
        path = hf_hub_download({repo!r}, "big.bin", repo_type="dataset", token={token!r})
        print(json.dumps(hashlib.sha256(open(path, "rb").read()).hexdigest()))
    """,
        tmp_path,
        env={"HF_HUB_DISABLE_XET": "1"},
    )
    assert result == hashlib.sha256(files["big.bin"]).hexdigest()

    url, owner = resolve_url(server, repo, "big.bin"), auth(token)
    assert requests.get(url, timeout=30).status_code == 404  # private
    data = files["big.bin"]
    for first, last in ((0, 99), (2 * MB - 10, 3 * MB + 10), (len(data) - 5, len(data) + 50)):
        r = requests.get(url, headers={**owner, "Range": f"bytes={first}-{last}"}, timeout=30)
        assert r.status_code == 206 and r.content == data[first : last + 1]
        assert r.headers["Content-Range"].endswith(f"/{len(data)}")
    suffix = requests.get(url, headers={**owner, "Range": "bytes=-1000"}, timeout=30)
    assert suffix.content == data[-1000:]
    past = requests.get(url, headers={**owner, "Range": f"bytes={len(data)}-"}, timeout=30)
    assert past.status_code == 416

    clone = tmp_path / "clone"
    git(git_env, tmp_path, "clone", with_token(f"{server.url}/datasets/{repo}", user, token),
        str(clone))  # fmt: skip
    for path, content in files.items():
        assert (clone / path).read_bytes() == content, path


def _old_hub(tmp_path_factory) -> Path:
    """huggingface_hub OLD_HUB unpacked beside the tests (a pure-Python wheel; its few
    dependencies are in our venv already), so it needs no venv of its own: seconds."""
    where = tmp_path_factory.mktemp("old-hub")
    got = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(where),
         f"huggingface_hub=={OLD_HUB}"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if got.returncode != 0:
        pytest.fail(f"could not fetch huggingface_hub {OLD_HUB} from the package index:\n"
                    f"{got.stderr[-2000:]}")  # fmt: skip
    wheel = next(where.glob("*.whl"))
    with zipfile.ZipFile(wheel) as z:
        z.extractall(where / "site")
    return where / "site"


def test_old_huggingface_hub_takes_the_lfs_path(server, xet_repo, tmp_path_factory, uid):
    site = _old_hub(tmp_path_factory)
    tmp = tmp_path_factory.mktemp("old-client")
    token = server.token(f"old{uid}")
    repo = f"old{uid}/data"
    big = os.urandom(3 * MB)
    (tmp / "big.bin").write_bytes(big)
    result = run_client(
        server,
        f"""
        import hashlib, json
        import huggingface_hub
        from huggingface_hub import HfApi, hf_hub_download
        api = HfApi(token={token!r})
        api.create_repo({repo!r}, repo_type="dataset")
        api.upload_file(path_or_fileobj={str(tmp / "big.bin")!r}, path_in_repo="big.bin",
                        repo_id={repo!r}, repo_type="dataset")
        mine = hf_hub_download({repo!r}, "big.bin", repo_type="dataset", token={token!r})
        theirs = hf_hub_download({xet_repo["repo"]!r}, "big.bin", repo_type="dataset",
                                 token={xet_repo["token"]!r})
        def sha(p): return hashlib.sha256(open(p, "rb").read()).hexdigest()
        print(json.dumps([huggingface_hub.__version__, sha(mine), sha(theirs)]))
    """,
        tmp,
        env={"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])},
    )
    sha = hashlib.sha256(big).hexdigest()
    assert result == [OLD_HUB, sha, hashlib.sha256(xet_repo["files"]["big.bin"]).hexdigest()]
    # It went through the LFS batch API into the LFS object store.
    assert (server.data_dir / "lfs" / "objects" / sha[:2] / sha[2:4] / sha).exists()


def test_xet_client_reads_a_git_lfs_push(server, tmp_path, uid, git_env):
    user = f"gl{uid}"
    token = server.token(user)
    repo = f"{user}/pushed"
    assert create_repo(server, token, repo).status_code == 200
    work = tmp_path / "work"
    git(git_env, tmp_path, "clone", with_token(f"{server.url}/datasets/{repo}", user, token),
        str(work))  # fmt: skip
    data = os.urandom(2 * MB)
    (work / "weights.bin").write_bytes(data)  # *.bin is LFS-tracked in a new repo
    git(git_env, work, "add", "weights.bin")
    git(git_env, work, "commit", "-m", "weights")
    git(git_env, work, "push")
    head = requests.head(resolve_url(server, repo, "weights.bin"), timeout=10)
    assert head.status_code == 200 and "X-Xet-Hash" not in head.headers
    result = run_client(
        server,
        f"""
        import hashlib, json
        from huggingface_hub import hf_hub_download
        from huggingface_hub.utils._runtime import is_xet_available
        path = hf_hub_download({repo!r}, "weights.bin", repo_type="dataset")
        print(json.dumps([is_xet_available(), hashlib.sha256(open(path, "rb").read()).hexdigest()]))
    """,
        tmp_path,
    )
    assert result == [True, hashlib.sha256(data).hexdigest()]


def test_push_to_hub_then_load_dataset(server, tmp_path, uid):
    token = server.token(f"ds{uid}")
    repo = f"ds{uid}/embeddings"
    result = run_client(
        server,
        f"""
        import json
        import numpy as np
        from datasets import Dataset, load_dataset
        rng = np.random.default_rng(0)
        rows = {{"id": list(range(300)),
                 "embedding": rng.standard_normal((300, 16)).astype("float32").tolist()}}
        Dataset.from_dict(rows).push_to_hub({repo!r}, token={token!r})
        loaded = load_dataset({repo!r}, token={token!r})["train"]
        streamed = list(load_dataset({repo!r}, token={token!r}, streaming=True)["train"])
        original = Dataset.from_dict(rows).to_list()
        print(json.dumps([loaded.to_list() == original, streamed == original,
                          len(loaded)]))
    """,
        tmp_path,
    )
    assert result == [True, True, 300]
    tree = requests.get(f"{server.url}/api/datasets/{repo}/tree/main/data", headers=auth(token),
                        timeout=10).json()  # fmt: skip
    parquet = [e for e in tree if e["path"].endswith(".parquet")]
    head = requests.head(resolve_url(server, repo, parquet[0]["path"]), timeout=10)
    assert "X-Xet-Hash" in head.headers  # it went through Xet, at preupload time
