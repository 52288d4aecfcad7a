"""The hub's building blocks on their own: paths, .gitattributes rules, LFS pointers and
store, URL signatures, and the git plumbing's compare-and-swap branch update."""

from __future__ import annotations

import hashlib
import time

import pytest

from embedhub.errors import EmbedhubError
from embedhub.hub.gitrepo import GitRepo
from embedhub.hub.lfs import ObjectStore, Pointer, Signer, is_lfs_path, lfs_rules, parse_pointer
from embedhub.hub.paths import file_path, revision, split_raw


@pytest.mark.parametrize("path", ["a.txt", "data/train-0.parquet", "a/b/c d.txt", ".gitattributes"])
def test_good_paths(path):
    assert file_path(path) == path


@pytest.mark.parametrize("path", ["", "/a", "a/../b", "..", "./a", "a//b", "a/", ".git/HEAD",
                                  "x/.GIT/config", "a\x00b", "a\\b", 5])
def test_bad_paths(path):
    with pytest.raises(EmbedhubError) as info:
        file_path(path)
    assert info.value.kind.status == 400


def test_revisions_and_raw_segments():
    assert revision("refs/convert/parquet") == "refs/convert/parquet"
    for bad in ("-x", "a..b", "a b", "main.lock", ""):
        with pytest.raises(EmbedhubError):
            revision(bad)
    assert split_raw(b"/api/datasets/a/b/tree/refs%2Fconvert%2Fparquet/x%20y") == [
        "api", "datasets", "a", "b", "tree", "refs/convert/parquet", "x y"]


def test_gitattributes_rules():
    rules = lfs_rules("# comment\n*.gz filter=lfs diff=lfs merge=lfs -text\n"
                      "data/**/*.bin filter=lfs\n/top.csv filter=lfs\nkeep.gz -filter\n")
    assert is_lfs_path(rules, "x.gz") and is_lfs_path(rules, "deep/dir/x.gz")
    assert is_lfs_path(rules, "data/a/b/y.bin") and is_lfs_path(rules, "data/y.bin")
    assert not is_lfs_path(rules, "other/y.bin")
    assert is_lfs_path(rules, "top.csv") and not is_lfs_path(rules, "sub/top.csv")
    assert not is_lfs_path(rules, "keep.gz")  # the last matching line wins
    assert not is_lfs_path(rules, "readme.md")


def test_pointer_round_trip():
    p = Pointer("a" * 64, 12345)
    assert parse_pointer(p.encode()) == p
    assert parse_pointer(b"version https://git-lfs.github.com/spec/v1\noid sha256:zz\n") is None
    assert parse_pointer(b"just a file") is None


def test_object_store_checks_hash_and_size(tmp_path):
    store = ObjectStore(tmp_path / "lfs")
    data = b"payload" * 1000
    oid = hashlib.sha256(data).hexdigest()
    bad = store.writer(oid, len(data))
    bad.write(b"x" * len(data))
    with pytest.raises(ValueError, match="sha256"):
        bad.finish()
    assert not store.has(oid) and not list(store.tmp.iterdir())
    good = store.writer(oid, len(data))
    good.write(data)
    good.finish()
    assert store.has(oid, len(data)) and store.path(oid).read_bytes() == data


def test_signer(tmp_path):
    signer = Signer(tmp_path / "secret", ttl=60)
    q = signer.sign("upload", "a/b", "c" * 64, 10)
    assert signer.check("upload", "a/b", "c" * 64, 10, q["exp"], q["sig"])
    assert not signer.check("upload", "a/other", "c" * 64, 10, q["exp"], q["sig"])
    assert not signer.check("download", "a/b", "c" * 64, 10, q["exp"], q["sig"])
    assert not signer.check("upload", "a/b", "c" * 64, 11, q["exp"], q["sig"])
    assert not signer.check("upload", "a/b", "c" * 64, 10, str(int(time.time()) - 1), q["sig"])
    # The secret persists: a restarted server accepts links it handed out before.
    assert Signer(tmp_path / "secret").secret == signer.secret


def test_update_ref_is_compare_and_swap(tmp_path):
    repo = GitRepo.init(tmp_path / "r.git")
    blob = repo.write_blob(b"one")
    first = repo.make_commit(None, {"a.txt": ("100644", blob)}, "first", "tester")
    assert repo.update_ref("main", first, None)
    second = repo.make_commit(first, {"b.txt": ("100644", blob)}, "second", "tester")
    other = repo.make_commit(first, {"c.txt": ("100644", blob)}, "other", "tester")
    assert repo.update_ref("main", second, first)
    assert not repo.update_ref("main", other, first)  # someone moved it: refused
    assert repo.resolve("main") == second
    assert sorted(repo.files(second)) == ["b.txt"]
