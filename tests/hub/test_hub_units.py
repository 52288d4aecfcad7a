"""The hub's building blocks on their own: paths, .gitattributes rules, LFS pointers and
store, URL signatures, and the git plumbing's compare-and-swap branch update."""

from __future__ import annotations

import hashlib
import time

import pytest

from embedhub.api.errors import WIRE
from embedhub.errors import EmbedhubError
from embedhub.hub.gitrepo import GitRepo
from embedhub.hub.lfs import ObjectStore, Pointer, Signer, is_lfs_path, lfs_rules, parse_pointer
from embedhub.hub.paths import file_path, revision, split_raw


@pytest.mark.parametrize("path", ["a.txt", "data/train-0.parquet", "a/b/c d.txt", ".gitattributes"])
def test_good_paths(path):
    assert file_path(path) == path


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/a",
        "a/../b",
        "..",
        "./a",
        "a//b",
        "a/",
        ".git/HEAD",
        "x/.GIT/config",
        "a\x00b",
        "a\\b",
        5,
    ],
)
def test_bad_paths(path):
    with pytest.raises(EmbedhubError) as info:
        file_path(path)
    assert WIRE[info.value.kind].status == 400


def test_revisions_and_raw_segments():
    assert revision("refs/convert/parquet") == "refs/convert/parquet"
    for bad in ("-x", "a..b", "a b", "main.lock", ""):
        with pytest.raises(EmbedhubError):
            revision(bad)
    assert split_raw(b"/api/datasets/a/b/tree/refs%2Fconvert%2Fparquet/x%20y") == [
        "api",
        "datasets",
        "a",
        "b",
        "tree",
        "refs/convert/parquet",
        "x y",
    ]


def test_gitattributes_rules():
    rules = lfs_rules(
        "# comment\n*.gz filter=lfs diff=lfs merge=lfs -text\n"
        "data/**/*.bin filter=lfs\n/top.csv filter=lfs\nkeep.gz -filter\n"
    )
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


@pytest.mark.parametrize("value", ["main\n", "x\n"])
def test_a_final_newline_is_no_match(value):
    """`$` matches before a final newline; every check uses fullmatch (issue 8, D13)."""
    from embedhub.db import NameError_, check_name
    from embedhub.hub.lfs import OID_RE

    with pytest.raises(EmbedhubError):
        revision(value)
    with pytest.raises(NameError_):
        check_name(value, "repo")
    assert not OID_RE.fullmatch("a" * 64 + "\n")
    with pytest.raises(EmbedhubError):
        file_path("a.txt\n")


@pytest.mark.parametrize(
    "ref, ok",
    [
        ("refs/heads/main", True),
        ("refs/heads/feature/x-1.2", True),
        ("refs/tags/v1", True),
        ("refs/heads/HEAD", False),
        ("refs/heads/-n", False),
        ("refs/meta/config", False),
        ("refs/heads/a/-b", False),
        ("refs/heads/a/.b", False),
        ("refs/pr/1", False),
        ("refs/heads/" + "a" * 40, False),
        ("HEAD", False),
        ("refs/heads/", False),
    ],
)
def test_which_refs_a_push_may_write(ref, ok):
    from embedhub.hub.paths import ref_problem

    assert (ref_problem(ref) is None) == ok


def test_tree_names_a_push_may_not_add():
    from embedhub.hub.prereceive import tree_problems

    def tree(*entries: tuple[bytes, bytes]) -> bytes:
        return b"".join(mode + b" " + name + b"\0" + b"\x01" * 20 for mode, name in entries)

    good = tree((b"100644", b"a.txt"), (b"40000", "d\u00e9j\u00e0".encode()))
    assert list(tree_problems(good)) == []
    bad = tree(
        (b"100644", b"caf\xe9"),
        (b"40000", b".git"),
        (b"100644", b"a\x01"),
        (b"160000", b"sub"),
        (b"40000", b".."),
    )
    problems = list(tree_problems(bad))
    assert len(problems) == 5 and "not UTF-8" in problems[0] and "submodule" in problems[3]


def test_commit_objects_parse_whatever_they_hold():
    from embedhub.hub.gitrepo import parse_commit

    raw = (
        b"tree " + b"1" * 40 + b"\nauthor Jos\xe9 <j@x> 1700000000 +0130\n"
        b"committer x <x@x> 1700000000 +0000\nencoding ISO-8859-1\n"
        b"gpgsig -----BEGIN\n \n -----END\n\ncaf\xe9\x1e\n\nbody\n"
    )
    c = parse_commit("c" * 40, raw)
    assert c.author == "Jos\ufffd" and c.message == "caf\xe9\x1e\n\nbody"
    assert c.date == "2023-11-14T23:43:20+01:30" and c.title == "caf\xe9\x1e"
    broken = parse_commit("d" * 40, b"tree x\nauthor nobody\n\n\xff")
    assert broken.message == "\ufffd" and broken.date.startswith("1970")
