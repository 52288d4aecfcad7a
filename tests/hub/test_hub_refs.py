"""Branches, tags and history with the unmodified clients: huggingface_hub's create/delete
branch and tag, uploads to a branch and downloads at a tag, list_repo_refs, super-squash,
`expand=True` (lastCommit) and Link-header pagination of tree and commits, and
`Dataset.push_to_hub(revision=...)` + `load_dataset(revision=...)`."""

from __future__ import annotations

import os
import subprocess

import requests

from .helpers import auth, commit, create_repo, file_line, header, run_client


def git(server, repo_id: str, *args: str) -> str:
    ns, name = repo_id.split("/")
    bare = server.data_dir / "hub" / "datasets" / ns / f"{name}.git"
    return subprocess.run(
        ["git", f"--git-dir={bare}", *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_branches_and_tags(server, account, tmp_path, uid):
    user, token, reader = account.user, account.token, account.reader
    repo = f"{user}/refs-{uid}"
    result = run_client(
        server,
        f"""
        import json
        from huggingface_hub import HfApi, hf_hub_download
        from huggingface_hub.errors import (BadRequestError, EntryNotFoundError,
                                            HfHubHTTPError, RevisionNotFoundError)
        api = HfApi(token={token!r})
        R = dict(repo_id={repo!r}, repo_type="dataset")
        out = {{}}

        def status(call):
            try:
                call()
            except HfHubHTTPError as e:
                return [type(e).__name__, e.response.status_code]
            return "ok"

        api.create_repo(private=True, **R)
        c1 = api.upload_file(path_or_fileobj=b"one", path_in_repo="a.txt", **R).oid
        api.create_branch(branch="dev", **R)
        out["again"] = status(lambda: api.create_branch(branch="dev", **R))
        api.create_branch(branch="dev", exist_ok=True, **R)
        c2 = api.upload_file(path_or_fileobj=b"two", path_in_repo="b.txt", revision="dev", **R).oid
        api.create_tag(tag="v1", tag_message="first release", revision=c1, **R)
        api.create_tag(tag="light", revision="dev", **R)
        api.create_branch(branch="feature/x", revision="v1", **R)
        out["tag_again"] = status(lambda: api.create_tag(tag="v1", **R))
        try:
            api.create_tag(tag="v1", **R)
        except HfHubHTTPError as e:
            out["tag_again_says"] = str(e)
        out["tag_is_branch"] = status(lambda: api.create_branch(branch="v1", **R))
        out["bad"] = [status(lambda n=n: api.create_branch(branch=n, **R))
                      for n in ("bad..name", "refs/pr/1", "-x", "HEAD", "a" * 40, "x.lock")]
        out["bad_tag"] = status(lambda: api.create_tag(tag="v 2", **R))
        out["no_rev"] = status(lambda: api.create_tag(tag="v9", revision="nope", **R))
        out["no_start"] = status(lambda: api.create_branch(branch="y", revision="nope", **R))
        refs = api.list_repo_refs(**R)
        out["branches"] = sorted((b.name, b.target_commit) for b in refs.branches)
        out["tags"] = sorted((t.name, t.target_commit) for t in refs.tags)
        get = lambda f, rev: open(hf_hub_download({repo!r}, f, repo_type="dataset",
                                                  revision=rev, token={token!r})).read()
        out["downloads"] = [get("a.txt", "v1"), get("b.txt", "light"), get("b.txt", "dev"),
                            get("a.txt", "feature/x"), get("a.txt", c1)]
        out["not_at_v1"] = status(lambda: get("b.txt", "v1"))
        out["upload_to_tag"] = status(lambda: api.upload_file(
            path_or_fileobj=b"x", path_in_repo="c.txt", revision="v1", **R))
        reader = HfApi(token={reader!r})
        out["read_token"] = status(lambda: reader.create_branch(branch="r", **R))
        out["anonymous"] = status(lambda: HfApi(token=False).create_tag(tag="t", **R))
        api.create_tag(tag="v2", tag_message="kept", revision="dev", **R)
        api.delete_tag(tag="v1", **R)
        out["deleted_again"] = status(lambda: api.delete_tag(tag="v1", **R))
        api.delete_branch(branch="dev", **R)
        out["no_branch"] = status(lambda: api.delete_branch(branch="dev", **R))
        out["main"] = status(lambda: api.delete_branch(branch="main", **R))
        refs = api.list_repo_refs(**R)
        out["after"] = [sorted(b.name for b in refs.branches), sorted(t.name for t in refs.tags)]
        out["commits"] = [c1, c2]
        print(json.dumps(out))
        """,
        tmp_path,
    )
    c1, c2 = result["commits"]
    assert result["again"] == ["HfHubHTTPError", 409]
    assert result["tag_again"] == ["HfHubHTTPError", 409]
    assert "'v1' already exists" in result["tag_again_says"]  # what `hf repos tag` shows
    assert result["tag_is_branch"] == ["HfHubHTTPError", 409]
    assert result["bad"] == [["BadRequestError", 400]] * 6
    assert result["bad_tag"] == ["BadRequestError", 400]
    assert result["no_rev"] == ["RevisionNotFoundError", 404]
    assert result["no_start"] == ["RevisionNotFoundError", 404]
    # The annotated tag is peeled to its commit, the lightweight one points at it already.
    assert result["branches"] == [["dev", c2], ["feature/x", c1], ["main", c1]]
    assert result["tags"] == [["light", c2], ["v1", c1]]
    assert result["downloads"] == ["one", "two", "two", "one", "one"]
    assert result["not_at_v1"] == ["RemoteEntryNotFoundError", 404]
    assert result["upload_to_tag"] == ["RevisionNotFoundError", 404]
    assert result["read_token"] == ["HfHubHTTPError", 403]
    assert result["anonymous"] == ["RepositoryNotFoundError", 404]  # private: not revealed
    assert result["deleted_again"] == ["RevisionNotFoundError", 404]
    assert result["no_branch"] == ["RevisionNotFoundError", 404]
    assert result["main"] == ["HfHubHTTPError", 403]
    assert result["after"] == [["feature/x", "main"], ["light", "v2"]]
    # A message makes an annotated tag: a tag object, with the message and the tagger.
    assert git(server, repo, "cat-file", "-t", "refs/tags/v2") == "tag"
    assert "tagger " + user in git(server, repo, "cat-file", "-p", "refs/tags/v2")
    assert git(server, repo, "cat-file", "-t", "refs/tags/light") == "commit"


def test_push_to_hub_at_a_revision(server, account, tmp_path, uid):
    token = account.token
    repo = f"{account.user}/emb-{uid}"
    result = run_client(
        server,
        f"""
        import json
        from datasets import Dataset, load_dataset
        from huggingface_hub import HfApi
        rows = [{{"id": i, "embedding": [float(i), 0.5]}} for i in range(20)]
        Dataset.from_list(rows).push_to_hub({repo!r}, revision="dev", token={token!r})
        api = HfApi(token={token!r})
        api.create_tag({repo!r}, tag="v1", revision="dev", repo_type="dataset")
        print(json.dumps({{
            "dev": load_dataset({repo!r}, revision="dev", split="train").to_list(),
            "v1": load_dataset({repo!r}, revision="v1", split="train").to_list(),
            "main": api.list_repo_files({repo!r}, repo_type="dataset"),
            "rows": rows,
        }}))
        """,
        tmp_path,
    )
    assert result["dev"] == result["rows"] and result["v1"] == result["rows"]
    assert result["main"] == [".gitattributes"]  # the upload went to dev only


def many_files(server, token: str, repo: str) -> list[str]:
    """Three commits: 55 files in many/, then one of them changed, then top.txt."""
    assert create_repo(server, token, repo).status_code == 200
    files = [file_line(f"many/f{i:03d}.txt", b"%d" % i) for i in range(55)]
    shas = []
    for lines in (
        [header("many files"), *files],
        [header("change f007"), file_line("many/f007.txt", b"seven")],
        [header("top"), file_line("top.txt", b"top")],
    ):
        r = commit(server, token, repo, lines)
        assert r.status_code == 200, r.text
        shas.append(r.json()["commitOid"])
    return shas


def test_expand_pagination_and_squash(server, account, tmp_path, uid):
    token = account.token
    repo = f"{account.user}/tree-{uid}"
    c1, c2, c3 = many_files(server, token, repo)
    blob = tmp_path / "w.bin"
    blob.write_bytes(os.urandom(200_000))
    result = run_client(
        server,
        f"""
        import json
        from huggingface_hub import HfApi
        from huggingface_hub.errors import BadRequestError, RevisionNotFoundError
        api = HfApi(token={token!r})
        R = dict(repo_id={repo!r}, repo_type="dataset")
        out = {{}}
        tree = list(api.list_repo_tree(path_in_repo="many", expand=True, **R))
        out["tree"] = [(f.path, f.last_commit.oid, f.last_commit.title) for f in tree]
        out["plain"] = [f.last_commit for f in api.list_repo_tree(**R)]
        out["recursive"] = len(list(api.list_repo_tree(recursive=True, **R)))
        info = api.get_paths_info(paths=["many", "many/f007.txt", "top.txt", "nope"],
                                  expand=True, **R)
        out["info"] = [(i.path, i.last_commit.oid) for i in info]
        out["info_plain"] = [i.last_commit for i in api.get_paths_info(paths=["top.txt"], **R)]
        out["before"] = [c.title for c in api.list_repo_commits(**R)]
        # A file the default client uploads through Xet has its Xet hash in listings.
        api.upload_file(path_or_fileobj={str(blob)!r}, path_in_repo="w.bin", **R)
        out["xet"] = [[f.path, f.xet_hash] for f in api.list_repo_tree(**R)
                      if f.path in ("w.bin", "top.txt")]
        out["xet_info"] = [i.xet_hash for i in api.get_paths_info(paths=["w.bin"], **R)]
        api.create_tag(tag="old", **R)
        files = sorted(api.list_repo_files(**R))
        api.super_squash_history(commit_message="squashed", **R)
        out["after"] = [(c.title, c.commit_id) for c in api.list_repo_commits(**R)]
        out["same_files"] = sorted(api.list_repo_files(**R)) == files
        out["tag_kept"] = [c.title for c in api.list_repo_commits(revision="old", **R)]
        for name, call in (("on_tag", lambda: api.super_squash_history(branch="old", **R)),
                           ("missing", lambda: api.super_squash_history(branch="nope", **R))):
            try:
                call()
            except (BadRequestError, RevisionNotFoundError) as e:
                out[name] = [type(e).__name__, e.response.status_code]
        print(json.dumps(out))
        """,
        tmp_path,
    )
    tree = result["tree"]
    assert [p for p, _, _ in tree] == [f"many/f{i:03d}.txt" for i in range(55)]  # 50 + 5
    assert {(p, sha) for p, sha, _ in tree if p != "many/f007.txt"} == {
        (f"many/f{i:03d}.txt", c1) for i in range(55) if i != 7
    }
    assert ["many/f007.txt", c2, "change f007"] in tree
    assert result["plain"] == [None, None, None]  # .gitattributes, many, top.txt
    assert result["recursive"] == 58
    assert result["info"] == [["many", c2], ["many/f007.txt", c2], ["top.txt", c3]]
    assert result["info_plain"] == [None]
    assert result["before"] == ["top", "change f007", "many files", "initial commit"]
    head = requests.head(f"{server.url}/datasets/{repo}/resolve/main/w.bin", timeout=10)
    xet_hash = head.headers["X-Xet-Hash"]
    assert result["xet"] == [["top.txt", None], ["w.bin", xet_hash]]
    assert result["xet_info"] == [xet_hash]
    [(title, squashed)] = result["after"]
    assert title == "squashed" and squashed not in (c1, c2, c3)
    assert result["same_files"] is True
    assert result["tag_kept"] == ["Upload w.bin with huggingface_hub", *result["before"]]
    assert result["on_tag"] == ["BadRequestError", 400]
    assert result["missing"] == ["RevisionNotFoundError", 404]


def follow(url: str, token: str) -> tuple[list, int]:
    """Every item of a Link-paginated listing, and the number of pages."""
    items, pages = [], 0
    while url:
        r = requests.get(url, headers=auth(token), timeout=30)
        assert r.status_code == 200, r.text
        items += r.json()
        pages += 1
        url = r.links.get("next", {}).get("url")
    return items, pages


def test_tree_and_commits_pages_follow_the_link(server, account, uid):
    token = account.token
    repo = f"{account.user}/pages-{uid}"
    many_files(server, token, repo)
    r = requests.post(
        f"{server.url}/api/datasets/{repo}/branch/feature%2Fx", headers=auth(token), timeout=10
    )
    assert r.status_code == 200, r.text
    base = f"{server.url}/api/datasets/{repo}"
    whole = requests.get(f"{base}/tree/main?recursive=true", headers=auth(token), timeout=10)
    assert "Link" not in whole.headers and len(whole.json()) == 58
    # A revision with %2F stays one segment in the next page's URL.
    paged, pages = follow(f"{base}/tree/feature%2Fx?recursive=true&limit=20", token)
    assert (paged, pages) == (whole.json(), 3)
    folder, pages = follow(f"{base}/tree/main/many?limit=50&expand=true", token)
    assert pages == 2 and [e["path"] for e in folder] == [f"many/f{i:03d}.txt" for i in range(55)]
    assert all("lastCommit" in e for e in folder)
    commits, pages = follow(f"{base}/commits/main?limit=1", token)
    assert pages == 4 and [c["title"] for c in commits][0] == "top"
    bad = requests.get(f"{base}/tree/main?cursor=%%%", headers=auth(token), timeout=10)
    assert bad.status_code == 400 and "cursor" in bad.json()["error"]
    bad = requests.get(f"{base}/tree/main?limit=0", headers=auth(token), timeout=10)
    assert bad.status_code == 400 and "limit" in bad.json()["error"]
