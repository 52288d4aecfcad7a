"""The pieces under branches, tags, moves and listings, on real git and real SQLite: which
commit last changed each path, peeled tags, ref names, the repos table of an older database,
and a move interrupted by a crash."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess

import pytest

from embedhub.config import Settings
from embedhub.db import Database
from embedhub.errors import EmbedhubError
from embedhub.hub.gitrepo import GitRepo, git_env
from embedhub.hub.history import MAX_PATHSPECS, last_commits
from embedhub.hub.paths import RepoId
from embedhub.hub.refs_api import new_ref_name
from embedhub.hub.store import PENDING_MOVE, Hub


def commit_files(repo: GitRepo, parent: str | None, files: dict[str, bytes], msg: str) -> str:
    current = repo.files(parent)
    for path, data in files.items():
        current[path] = ("100644", repo.write_blob(data))
    sha = repo.make_commit(parent, current, msg, "tester")
    assert repo.update_ref("main", sha, parent)
    return sha


def test_last_commits_walks_once_for_files_and_folders(tmp_path):
    repo = GitRepo.init(tmp_path / "r.git")
    c1 = commit_files(repo, None, {"a.txt": b"a", "d/x": b"x", "d/y": b"y", 'q"*?': b"q"}, "one")
    c2 = commit_files(repo, c1, {"d/y": b"y2"}, "two")
    c3 = commit_files(repo, c2, {"b.txt": b"b"}, "three")
    paths = ["a.txt", "d", "d/x", "d/y", 'q"*?', "b.txt", "missing"]
    assert last_commits(repo, c3, paths) == {
        "a.txt": c1,
        "d": c2,
        "d/x": c1,
        "d/y": c2,
        'q"*?': c1,  # a name with glob characters is taken literally
        "b.txt": c3,
    }
    assert last_commits(repo, c2, ["b.txt", "d"]) == {"d": c2}
    assert last_commits(repo, c3, []) == {}
    # Too many paths for pathspecs: the same answer from matching every commit's changes.
    many = paths + [f"none/{i}" for i in range(MAX_PATHSPECS)]
    assert last_commits(repo, c3, many) == last_commits(repo, c3, paths)


def test_refs_peel_tags_all_the_way(tmp_path):
    repo = GitRepo.init(tmp_path / "r.git")
    c1 = commit_files(repo, None, {"a": b"a"}, "one")
    tag = repo.write_tag(c1, "v1", "first", "tester")
    assert repo.set_ref("refs/tags/v1", tag, None)
    assert not repo.set_ref("refs/tags/v1", c1, None)  # create-only
    env = git_env(GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@x")
    repo.run("tag", "-a", "-m", "tag of a tag", "v1-again", "v1", env=env)
    assert repo.refs("refs/tags/") == [("refs/tags/v1", c1), ("refs/tags/v1-again", c1)]
    assert repo.ref_target("refs/tags/v1") == tag != c1


@pytest.mark.parametrize(
    "name, ok",
    [
        ("dev", True),
        ("feature/x-1.2_b", True),
        ("v1.0", True),
        ("refs/heads/dev", False),
        ("a..b", False),
        ("-rf", False),
        ("x/.hidden", False),
        ("x//y", False),
        ("end.lock", False),
        ("HEAD", False),
        ("0" * 40, False),
        ("sp ace", False),
        ("at@{1}", False),
        ("trailing/", False),
    ],
)
def test_which_names_the_api_may_create(name, ok):
    if ok:
        assert new_ref_name(name, "branch") == name
    else:
        with pytest.raises(EmbedhubError) as err:
            new_ref_name(name, "tag")
        assert "Invalid tag name" in str(err.value)


def test_an_older_database_gets_updated_at(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE repos (type TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT "
            "NULL, private INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL, PRIMARY KEY "
            "(type, namespace, name))"
        )
        conn.execute("INSERT INTO repos VALUES ('dataset', 'ns', 'old', 0, 1000.0)")
    db = Database(path)
    Database(path)  # a second opener finds the column there
    [row] = db.list_repos()
    assert (row.id, row.created_at, row.updated_at) == ("ns/old", 1000.0, 1000.0)
    assert db.create_repo("dataset", "ns", "new", private=True)
    db.touch_repo("dataset", "ns", "old")
    rows = {r.name: r for r in db.list_repos("dataset", private_of=[])}
    assert list(rows) == ["old"] and rows["old"].updated_at > 1000.0


def test_a_move_cut_short_is_finished_at_start(tmp_path):
    settings = Settings(data_dir=tmp_path)
    hub = Hub(settings, Database(settings.db_path))
    hub.start()
    source, dest = RepoId("dataset", "ns", "before"), RepoId("dataset", "ns", "after")
    assert hub.create(source, private=False, author="ns")
    hub.link_objects(source, ["a" * 64])
    # Killed between the folder's rename and the row's update:
    keys = [[source.type, source.namespace, source.name], [dest.type, dest.namespace, dest.name]]
    hub.db.set_meta(PENDING_MOVE, json.dumps(keys))
    os.rename(hub.path(source), hub.path(dest))
    restarted = Hub(settings, Database(settings.db_path))
    restarted.start()
    assert restarted.row(source) is None and restarted.row(dest) is not None
    assert restarted.object_visible(dest, "a" * 64)
    assert restarted.db.get_meta(PENDING_MOVE) is None
    assert restarted.git(dest).resolve("main")
    # Killed before the rename: nothing moved, the note is dropped.
    restarted.db.set_meta(PENDING_MOVE, json.dumps(keys[::-1]))
    again = Hub(settings, Database(settings.db_path))
    again.start()
    assert again.row(dest) is not None and again.db.get_meta(PENDING_MOVE) is None


def test_duplicate_copies_refs_and_links(tmp_path):
    settings = Settings(data_dir=tmp_path)
    hub = Hub(settings, Database(settings.db_path))
    hub.start()
    source, copy = RepoId("model", "ns", "src"), RepoId("model", "other", "copy")
    assert hub.create(source, private=True, author="ns")
    repo = hub.git(source)
    head = repo.resolve("main")
    assert repo.set_ref("refs/tags/v1", head, None) and repo.set_ref("refs/heads/dev", head, None)
    hub.link_objects(source, ["b" * 64])
    assert hub.duplicate(source, copy, private=False)
    assert not hub.duplicate(source, copy, private=False)
    dup = hub.git(copy)
    assert sorted(dup.refs("refs/")) == sorted(repo.refs("refs/"))
    assert hub.object_visible(copy, "b" * 64) and hub.row(copy).private is False
    out = subprocess.run(
        ["git", f"--git-dir={dup.path}", "config", "--get-regexp", "remote"],
        capture_output=True,
        text=True,
    )
    assert out.stdout == ""  # no trace of where it was copied from
    assert not list(hub.path(copy).parent.glob(".new-*"))
