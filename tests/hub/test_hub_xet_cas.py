"""The Xet CAS routes with hand-made input: every bad xorb, shard, token and query is a precise
4xx and stores nothing; a Xet file stays inside the repo it was uploaded for."""

from __future__ import annotations

import hashlib
import os

import requests

from embedhub.xet import hashes, shard, upload

from .helpers import auth, commit, create_repo, header

MB = 1024 * 1024


def xet_token(server, repo: str, token: str | None, kind: str = "write") -> requests.Response:
    url = f"{server.url}/api/datasets/{repo}/xet-{kind}-token/main"
    return requests.get(url, headers=auth(token), timeout=10)


class Cas:
    def __init__(self, server, repo: str, token: str, kind: str) -> None:
        r = xet_token(server, repo, token, kind)
        assert r.status_code == 200, r.text
        body = r.json()
        assert r.headers["X-Xet-Access-Token"] == body["accessToken"]
        self.url, self.token = body["casUrl"], body["accessToken"]

    def post(self, path: str, data: bytes, token: str | None = "") -> requests.Response:
        token = self.token if token == "" else token
        return requests.post(self.url + path, data=data, headers=auth(token), timeout=30)

    def get(self, path: str, **headers: str) -> requests.Response:
        return requests.get(self.url + path, headers={**auth(self.token), **headers}, timeout=30)


def test_bad_uploads_are_refused_and_store_nothing(server, uid):
    token = server.token(f"cas{uid}")
    repo = f"cas{uid}/data"
    assert create_repo(server, token, repo).status_code == 200
    cas, reader = Cas(server, repo, token, "write"), Cas(server, repo, token, "read")
    data = os.urandom(300_000)
    up = upload.prepare(data)
    (xorb_hash, blob), name = up.xorbs[0], hashes.to_hex(up.xorbs[0][0])
    stored = server.data_dir / "xet" / "xorbs" / name[:2] / name

    assert cas.post(f"/v1/xorbs/default/{name}", blob, token=None).status_code == 401
    assert cas.post(f"/v1/xorbs/default/{name}", blob, token="xet_forged.sig").status_code == 401
    refused = cas.post(f"/v1/xorbs/default/{name}", blob, token=reader.token)
    assert refused.status_code == 403 and "xet-write-token" in refused.json()["error"]
    corrupt = bytearray(blob)
    corrupt[100] ^= 1
    other = hashes.to_hex(upload.prepare(os.urandom(1000)).xorbs[0][0])
    for path, body, message in (
        (f"/v1/xorbs/default/{name}", bytes(corrupt), "hash to"),
        (f"/v1/xorbs/default/{name}", blob[: len(blob) // 2], "ends inside"),
        (f"/v1/xorbs/default/{other}", blob, "hash to"),
        ("/v1/xorbs/default/XYZ", blob, "not a hash"),
    ):
        r = cas.post(path, body)
        assert r.status_code == 400 and message in r.json()["error"], r.text
    assert not stored.exists()
    assert not list((server.data_dir / "xet" / "tmp").iterdir())

    good_shard = up.shard()
    for body, message in (
        (good_shard, "never uploaded"),  # its xorb is not there yet
        (good_shard[:-20], "truncated"),
        (b"garbage" * 20, "not a shard"),
    ):
        r = cas.post("/v1/shards", body)
        assert r.status_code == 400 and message in r.json()["error"], r.text
    assert reader.get(f"/v1/reconstructions/{up.file_hash}").status_code == 404

    assert cas.post(f"/v1/xorbs/default/{name}", blob).json() == {"was_inserted": True}
    assert cas.post(f"/v1/xorbs/default/{name}", blob).json() == {"was_inserted": False}
    assert cas.post("/v1/shards", good_shard, token=reader.token).status_code == 403
    assert cas.post("/v1/shards", good_shard).json() == {"result": 1}

    # Now it reads back, through signed URLs of exact byte ranges.
    plan = reader.get(f"/v1/reconstructions/{up.file_hash}").json()
    assert plan["offset_into_first_range"] == 0 and len(plan["terms"]) == 1
    fetch = plan["fetch_info"][name][0]
    first, last = fetch["url_range"]["start"], fetch["url_range"]["end"]
    got = requests.get(fetch["url"], headers={"Range": f"bytes={first}-{last}"}, timeout=30)
    assert got.status_code == 206 and got.content == blob[first : last + 1]
    assert requests.get(fetch["url"], timeout=30).status_code == 403  # no Range
    tampered = fetch["url"].replace("r=", "r=1")
    assert requests.get(tampered, headers={"Range": "bytes=1-2"}, timeout=30).status_code == 403
    part = reader.get(f"/v1/reconstructions/{up.file_hash}", Range="bytes=100000-199999").json()
    assert 0 < part["offset_into_first_range"] <= 100000
    past = reader.get(f"/v1/reconstructions/{up.file_hash}", Range=f"bytes={len(data)}-")
    assert past.status_code == 416
    unknown = hashes.to_hex(hashlib.sha256(b"x").digest())
    assert reader.get(f"/v1/reconstructions/{unknown}").status_code == 404
    assert reader.get("/v1/reconstructions/nothex").status_code == 400

    first_chunk = hashes.to_hex(up.listings[0].chunks[0].hash)
    answer = reader.get(f"/v1/chunks/default-merkledb/{first_chunk}")
    assert answer.status_code == 200
    assert shard.parse(answer.content).xorbs[0].hash == xorb_hash
    assert reader.get(f"/v1/chunks/default-merkledb/{unknown}").status_code == 404


def test_a_xet_file_stays_in_its_repo(server, uid):
    owner, thief = f"own{uid}", f"thf{uid}"
    owner_token, thief_token = server.token(owner), server.token(thief)
    secret, mine = f"{owner}/secret", f"{thief}/mine"
    assert create_repo(server, owner_token, secret, private=True).status_code == 200
    assert create_repo(server, thief_token, mine).status_code == 200
    cas = Cas(server, secret, owner_token, "write")
    data = os.urandom(200_000)
    up = upload.prepare(data)
    for h, blob in up.xorbs:
        assert cas.post(f"/v1/xorbs/default/{hashes.to_hex(h)}", blob).status_code == 200
    assert cas.post("/v1/shards", up.shard()).status_code == 200
    sha = hashlib.sha256(data).hexdigest()
    lfs_file = {"key": "lfsFile", "value": {"path": "f.bin", "algo": "sha256", "oid": sha}}
    assert commit(server, owner_token, secret, [header(), lfs_file]).status_code == 200

    # The thief knows every hash, but his tokens are for his own repo.
    assert xet_token(server, secret, thief_token, "read").status_code == 404
    assert xet_token(server, secret, thief_token, "write").status_code == 404
    assert xet_token(server, mine, None, "write").status_code == 401
    assert xet_token(server, f"{owner}/missing", owner_token).status_code == 404
    assert xet_token(server, secret, owner_token.replace("eh_", "eh_x")).status_code == 401
    his = Cas(server, mine, thief_token, "read")
    assert his.get(f"/v1/reconstructions/{up.file_hash}").status_code == 404
    stolen = commit(server, thief_token, mine, [header(), lfs_file])
    assert stolen.status_code == 400 and "never uploaded" in stolen.json()["error"]
    batch = requests.post(
        f"{server.url}/datasets/{mine}.git/info/lfs/objects/batch",
        json={"operation": "download", "objects": [{"oid": sha, "size": len(data)}]},
        headers=auth(thief_token),
        timeout=10,
    ).json()
    assert batch["objects"][0]["error"]["code"] == 404

    # Re-sending the owner's shard for his own repo needs the xorbs' chunk hashes, which
    # are what the data hashes to: having them means having the data. Without, refused.
    guessed = [shard.Term(t.xorb, t.unpacked, t.start, t.end, bytes(32)) for t in up.entry.terms]
    forged = shard.FileEntry(up.entry.hash, guessed, up.entry.sha256)
    his_cas = Cas(server, mine, thief_token, "write")
    r = his_cas.post("/v1/shards", shard.build([forged], [], footer=False))
    assert r.status_code == 400 and "verification" in r.json()["error"]

    # The owner reads it, by every route.
    r = requests.get(f"{server.url}/datasets/{secret}/resolve/main/f.bin",
                     headers=auth(owner_token), timeout=30)  # fmt: skip
    assert r.content == data and r.headers["X-Xet-Hash"] == up.file_hash
    assert Cas(server, secret, owner_token, "read").get(
        f"/v1/reconstructions/{up.file_hash}").status_code == 200  # fmt: skip

    # A repo deleted and created again under the same name starts with no files.
    body = {"name": "secret", "organization": owner, "type": "dataset"}
    gone = requests.delete(f"{server.url}/api/repos/delete", json=body,
                           headers=auth(owner_token), timeout=10)  # fmt: skip
    assert gone.status_code == 200
    assert create_repo(server, owner_token, secret).status_code == 200
    again = Cas(server, secret, owner_token, "read")
    assert again.get(f"/v1/reconstructions/{up.file_hash}").status_code == 404
