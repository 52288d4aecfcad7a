"""Reading a repo's files from inside the server (the web view): the one place that knows
where a file's bytes live, a git blob, an LFS object or a Xet file, so callers never reach
into a store's paths themselves. A large file is readable through a repo only when the repo
may read it (the hub's object links), exactly as `resolve` decides."""

from __future__ import annotations

import io
from typing import BinaryIO

from embedhub.errors import EmbedhubError, Kind
from embedhub.hub import xet_repo
from embedhub.hub.gitrepo import Entry, GitRepo
from embedhub.hub.paths import RepoId
from embedhub.hub.store import Hub
from embedhub.xet.index import FileRecord

# Xet files are read through a buffer this large: Parquet readers make many small reads
# (footer, then column chunks), and each store read decodes whole chunks.
XET_BUFFER = 1 << 20


def _lfs_object(hub: Hub, rid: RepoId, entry: Entry) -> bool:
    assert entry.lfs is not None
    oid = entry.lfs.oid
    return hub.lfs.has(oid, entry.lfs.size) and hub.object_visible(rid, oid)


def stored(hub: Hub, rid: RepoId, entry: Entry) -> bool:
    """Whether the file's bytes are on this server and readable through this repo: an LFS
    pointer may have been pushed without its object, or name another repo's object."""
    if entry.lfs is None or _lfs_object(hub, rid, entry):
        return True
    return xet_repo.pointer_file(hub, rid, entry.lfs) is not None


def open_file(hub: Hub, rid: RepoId, repo: GitRepo, entry: Entry) -> BinaryIO:
    """The file's real bytes as a seekable binary file (Parquet readers seek to the footer).
    A git blob is read whole: blobs are small (big files go to LFS or Xet on commit)."""
    if entry.lfs is None:
        return io.BytesIO(repo.read_blobs([entry.sha]).get(entry.sha, b""))
    if _lfs_object(hub, rid, entry):
        return open(hub.lfs.path(entry.lfs.oid), "rb")
    record = xet_repo.pointer_file(hub, rid, entry.lfs)
    if record is None:
        raise EmbedhubError(
            Kind.NOT_FOUND,
            f"The large-file object of {entry.path!r} in {rid.id} was never uploaded to this repo",
            code="EntryNotFound",
        )
    return io.BufferedReader(_XetFile(hub, record), XET_BUFFER)


def read_head(hub: Hub, rid: RepoId, repo: GitRepo, entry: Entry, limit: int) -> bytes:
    """At most the first `limit` bytes of the file."""
    with open_file(hub, rid, repo, entry) as f:
        return f.read(limit)


class _XetFile(io.RawIOBase):
    """A Xet file with random access: each read reconstructs just the bytes asked for."""

    def __init__(self, hub: Hub, record: FileRecord) -> None:
        self.record = record
        self._read = hub.xet.store.ranges(record)
        self.pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.record.size}[whence]
        self.pos = max(base + offset, 0)
        return self.pos

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        size = self.record.size
        if self.pos >= size or len(buffer) == 0:
            return 0
        last = min(self.pos + len(buffer), size) - 1
        data = b"".join(self._read(self.pos, last))
        buffer[: len(data)] = data
        self.pos += len(data)
        return len(data)
