"""A repo's file for readers that want a local path when there is one (search reads Parquet by
random access and lays it out once): the bytes come from `hub.reading.open_file`, the one
place that knows where a file lives (git blob, LFS object, Xet file) and which repo may read
it; this adds only the plain local file behind an LFS object, so it can be hard-linked
instead of copied."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from embedhub.errors import EmbedhubError, Kind
from embedhub.hub import reading
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
    """The content of `entry` (a blob listed at some commit of `rid`); 404 when its bytes are
    not readable through `rid` (never uploaded, or another repo's object)."""
    if entry.type != "blob":
        raise EmbedhubError(Kind.NOT_FOUND, f"{entry.path!r} is a folder, not a file")
    if not reading.stored(hub, rid, entry):
        raise EmbedhubError(
            Kind.NOT_FOUND,
            f"The large-file object of {entry.path!r} in {rid.id} was never uploaded to this "
            "repo (pushed as a pointer only)",
            code="EntryNotFound",
        )
    repo = hub.git(rid)
    oid = entry.lfs.oid if entry.lfs else entry.sha
    local = None
    if entry.lfs is not None and hub.lfs.has(oid, entry.lfs.size) and hub.object_visible(rid, oid):
        local = hub.lfs.path(oid)
    return RepoFile(
        entry.path, entry.real_size, oid, local, lambda: reading.open_file(hub, rid, repo, entry)
    )
