"""Who may read and write: anonymous, read tokens, other users, organisation members, and
private repos that don't admit they exist."""

from __future__ import annotations

import hashlib

import requests

from .helpers import auth, commit, create_repo, file_line, header


def info(server, repo_id, token=None):
    return requests.get(f"{server.url}/api/datasets/{repo_id}", headers=auth(token), timeout=10)


def test_write_needs_owner_write_token(server, uid):
    owner, other = f"pw{uid}", f"px{uid}"
    token, read, other_token = (
        server.token(owner),
        server.token(owner, write=False),
        server.token(other),
    )
    repo_id = f"{owner}/pub"
    assert create_repo(server, None, repo_id).status_code == 401
    assert create_repo(server, read, repo_id).status_code == 403
    assert create_repo(server, other_token, repo_id).status_code == 403
    assert create_repo(server, "eh_not_a_token", repo_id).status_code == 401
    assert create_repo(server, token, repo_id).status_code == 200
    exists = create_repo(server, token, repo_id)
    assert exists.status_code == 409 and exists.json()["url"].endswith(f"/datasets/{repo_id}")

    assert info(server, repo_id).status_code == 200  # public: reading needs no token
    lines = [header(), file_line("x.txt", b"x")]
    assert commit(server, None, repo_id, lines).status_code == 401
    assert commit(server, read, repo_id, lines).status_code == 403
    assert commit(server, other_token, repo_id, lines).status_code == 403
    assert commit(server, token, repo_id, lines).status_code == 200
    r = requests.delete(
        f"{server.url}/api/repos/delete",
        headers=auth(other_token),
        json={"name": "pub", "organization": owner, "type": "dataset"},
        timeout=10,
    )
    assert r.status_code == 403 and info(server, repo_id).status_code == 200


def test_org_members_write_org_repos(server, uid):
    member, outsider, org = f"pm{uid}", f"po{uid}", f"org{uid}"
    member_token, outsider_token = server.token(member), server.token(outsider)
    server.cli("org", "create", org, "--member", member)
    assert create_repo(server, outsider_token, f"{org}/d").status_code == 403
    assert create_repo(server, member_token, f"{org}/d", private=True).status_code == 200
    assert info(server, f"{org}/d", member_token).status_code == 200
    assert (
        commit(server, member_token, f"{org}/d", [header(), file_line("a", b"a")]).status_code
        == 200
    )
    who = requests.get(f"{server.url}/api/whoami-v2", headers=auth(member_token), timeout=10)
    assert who.json()["name"] == member and who.json()["orgs"] == [{"name": org, "type": "org"}]
    assert requests.get(f"{server.url}/api/whoami-v2", timeout=10).status_code == 401


def test_private_repo_is_404_for_everyone_else(server, uid):
    owner, other = f"pp{uid}", f"pq{uid}"
    token, read, other_token = (
        server.token(owner),
        server.token(owner, write=False),
        server.token(other),
    )
    repo_id = f"{owner}/secret"
    assert create_repo(server, token, repo_id, private=True).status_code == 200
    assert commit(server, token, repo_id, [header(), file_line("s.txt", b"s")]).status_code == 200
    missing = info(server, f"{owner}/really-missing", other_token)
    for who in (None, other_token):
        for r in (
            info(server, repo_id, who),
            requests.get(
                f"{server.url}/datasets/{repo_id}/resolve/main/s.txt", headers=auth(who), timeout=10
            ),
            requests.get(
                f"{server.url}/api/datasets/{repo_id}/tree/main", headers=auth(who), timeout=10
            ),
        ):
            assert (r.status_code, r.headers.get("X-Error-Code")) == (404, "RepoNotFound")
            assert r.json() == missing.json() | {"error": r.json()["error"]}
        assert commit(server, who, repo_id, [header(), file_line("t", b"t")]).status_code == 404
    assert info(server, repo_id, read).status_code == 200  # owner's read token reads
    assert info(server, repo_id, read).json()["private"] is True
    # Making it public opens it to everyone.
    r = requests.put(
        f"{server.url}/api/datasets/{repo_id}/settings",
        json={"private": False},
        headers=auth(token),
        timeout=10,
    )
    assert r.status_code == 200 and info(server, repo_id).status_code == 200


def test_lfs_upload_links_are_signed(server, uid):
    owner = f"pl{uid}"
    token = server.token(owner)
    repo_id = f"{owner}/lfs"
    assert create_repo(server, token, repo_id).status_code == 200
    data = b"lfs object body" * 100
    oid = hashlib.sha256(data).hexdigest()
    batch_url = f"{server.url}/datasets/{repo_id}.git/info/lfs/objects/batch"
    body = {
        "operation": "upload",
        "transfers": ["basic"],
        "objects": [{"oid": oid, "size": len(data)}],
        "hash_algo": "sha256",
    }
    lfs_headers = {"Accept": "application/vnd.git-lfs+json"}
    assert requests.post(batch_url, json=body, headers=lfs_headers, timeout=10).status_code == 401
    r = requests.post(batch_url, json=body, headers={**lfs_headers, **auth(token)}, timeout=10)
    upload = r.json()["objects"][0]["actions"]["upload"]["href"]
    tampered = upload.replace("sig=", "sig=0")
    assert requests.put(tampered, data=data, timeout=10).status_code == 403
    assert requests.put(upload.split("?")[0], data=data, timeout=10).status_code == 403
    wrong = requests.put(upload, data=b"x" * len(data), timeout=10)
    assert wrong.status_code == 400 and "sha256" in wrong.json()["error"]
    assert requests.put(upload, data=data, timeout=10).status_code == 200  # no token needed
    r = requests.post(batch_url, json=body, headers={**lfs_headers, **auth(token)}, timeout=10)
    assert "actions" not in r.json()["objects"][0]  # already stored: client skips the PUT
