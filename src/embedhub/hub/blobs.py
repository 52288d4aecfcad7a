"""The bytes of one file of a hosted repo at one commit: the single way code outside the hub's
own routes reads a repo's content.

Why one function: where the bytes live depends on how the file was stored (a git blob, an
object in the LFS store, and later chunks reassembled from another store). Callers get a
`RepoFile` that can always be opened as a stream, and that names a plain local file holding
exactly those bytes when the store has one (so a reader that wants a path, e.g. Parquet with
random access, can use or hard-link it without copying)."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from embedhub.errors import EmbedhubError, Kind
from embedhub.hub.gitrepo import Entry
from embedhub.hub.paths import RepoId
from embedhub.hub.store import Hub


@dataclass(frozen=True)
class RepoFile:
    path: str  # inside the repo
    size: int
    oid: str  # content id: the LFS sha256, else the git blob id
    local: Path | None  # a read-only plain file with exactly these bytes, if the store has one
    opener: Callable[[], BinaryIO]

    def open(self) -> BinaryIO:
        return self.opener()


def repo_file(hub: Hub, rid: RepoId, entry: Entry) -> RepoFile:
    """The content of `entry` (a blob listed at some commit of `rid`)."""
    if entry.type != "blob":
        raise EmbedhubError(Kind.NOT_FOUND, f"{entry.path!r} is a folder, not a file")
    if entry.lfs is None:
        repo = hub.git(rid)

        def read_git() -> BinaryIO:
            return io.BytesIO(repo.read_blobs([entry.sha])[entry.sha])

        return RepoFile(entry.path, entry.size, entry.sha, None, read_git)
    oid, size = entry.lfs.oid, entry.lfs.size
    if not hub.lfs.has(oid, size):
        raise EmbedhubError(
            Kind.NOT_FOUND,
            f"The LFS object of {entry.path!r} in {rid.id} ({oid}) was never uploaded to this "
            "server (pushed as a pointer only); push it with `git lfs push --all`",
            code="EntryNotFound",
        )
    local = hub.lfs.path(oid)
    return RepoFile(entry.path, size, oid, local, lambda: open(local, "rb"))


def repo_file_at(hub: Hub, rid: RepoId, commit: str, path: str) -> RepoFile:
    """The content of `path` at `commit` (a resolved commit id)."""
    found = [e for e in hub.git(rid).entries(commit, [path]) if e.type == "blob"]
    if not found:
        raise EmbedhubError(
            Kind.NOT_FOUND, f"{path!r} not found at {commit} in {rid.id}", code="EntryNotFound"
        )
    return repo_file(hub, rid, found[0])
