"""Reading a repo's files from inside the server (the web view, search): the one place that
knows where a file's bytes live, a git blob or a stored large-file object, so callers never
reach into the object store's paths themselves."""

from __future__ import annotations

import io
from typing import BinaryIO

from embedhub.errors import EmbedhubError, Kind
from embedhub.hub.gitrepo import Entry, GitRepo
from embedhub.hub.paths import RepoId
from embedhub.hub.store import Hub


def stored(hub: Hub, rid: RepoId, entry: Entry) -> bool:
    """Whether the file's bytes are on this server and readable through this repo: an LFS
    pointer may have been pushed without its object, or name another repo's object (which
    this repo may not read, as `resolve` enforces)."""
    if entry.lfs is None:
        return True
    oid = entry.lfs.oid
    return hub.lfs.has(oid, entry.lfs.size) and hub.object_visible(rid, oid)


def open_file(hub: Hub, rid: RepoId, repo: GitRepo, entry: Entry) -> BinaryIO:
    """The file's real bytes as a seekable binary file (Parquet readers seek to the footer).
    A git blob is read whole: blobs are small (big files go to LFS on commit)."""
    if entry.lfs is not None:
        if not stored(hub, rid, entry):
            raise EmbedhubError(
                Kind.NOT_FOUND,
                f"The large-file object of {entry.path!r} in {rid.id} was never uploaded to "
                "this repo",
                code="EntryNotFound",
            )
        return open(hub.lfs.path(entry.lfs.oid), "rb")
    return io.BytesIO(repo.read_blobs([entry.sha]).get(entry.sha, b""))


def read_head(hub: Hub, rid: RepoId, repo: GitRepo, entry: Entry, limit: int) -> bytes:
    """At most the first `limit` bytes of the file."""
    with open_file(hub, rid, repo, entry) as f:
        return f.read(limit)
