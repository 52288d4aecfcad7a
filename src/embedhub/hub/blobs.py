"""The bytes of one file of a hosted repo at one commit: the single way code outside the hub's
own routes reads a repo's content.

Why one function: where the bytes live depends on how the file was stored (a git blob, an
object in the LFS store, and later chunks reassembled from another store). Callers get a
`RepoFile` that can always be opened as a stream, and that names a plain local file holding
exactly those bytes when the store has one (so a reader that wants a path, e.g. Parquet with
random access, can use or hard-link it without copying). A file stored through Xet has no
such file: it streams, reassembled from its chunks."""

from __future__ import annotations

import io
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from embedhub.errors import EmbedhubError, Kind
from embedhub.hub import xet_repo
from embedhub.hub.gitrepo import Entry, GitRepo, git_env
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
        return RepoFile(entry.path, entry.size, entry.sha, None, lambda: _git_blob(repo, entry))
    oid, size = entry.lfs.oid, entry.lfs.size
    # An object is readable through a repo only if it was stored for that repo (the hub's
    # per-repo visibility): a pointer naming another repo's object reads nothing.
    if hub.lfs.has(oid, size) and hub.object_visible(rid, oid):
        local = hub.lfs.path(oid)
        return RepoFile(entry.path, size, oid, local, lambda: open(local, "rb"))
    record = xet_repo.pointer_file(hub, rid, entry.lfs)  # checks the same visibility
    if record is not None:
        return RepoFile(entry.path, size, oid, None, lambda: _Chunks(hub, record))
    raise EmbedhubError(
        Kind.NOT_FOUND,
        f"The LFS object of {entry.path!r} in {rid.id} ({oid}) was never uploaded to this "
        "repo (pushed as a pointer only); push it with `git lfs push --all`",
        code="EntryNotFound",
    )


class _Chunks(io.RawIOBase):
    """A file stored through Xet, reassembled chunk by chunk as it is read."""

    def __init__(self, hub: Hub, record) -> None:
        self._parts = iter(hub.xet.store.read(record, 0, record.size - 1)) if record.size else None
        self._held = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        while not self._held and self._parts is not None:
            self._held = next(self._parts, b"")
            if not self._held:
                self._parts = None
        n = min(len(buffer), len(self._held))
        buffer[:n] = self._held[:n]
        self._held = self._held[n:]
        return n


SMALL_BLOB = 1 << 20


def _git_blob(repo: GitRepo, entry: Entry) -> BinaryIO:
    """A git blob's bytes: read at once when small, else streamed from `git cat-file`."""
    if entry.size <= SMALL_BLOB:
        return io.BytesIO(repo.read_blobs([entry.sha]).get(entry.sha, b""))
    return _Stream(repo, entry.sha)


class _Stream(io.RawIOBase):
    """`git cat-file blob SHA`'s output as a readable file; closing it ends the process."""

    def __init__(self, repo: GitRepo, sha: str) -> None:
        cmd = ["git", f"--git-dir={repo.path}", "cat-file", "blob", sha]
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=git_env()
        )

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        assert self.proc.stdout is not None
        data = self.proc.stdout.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        super().close()


def repo_file_at(hub: Hub, rid: RepoId, commit: str, path: str) -> RepoFile:
    """The content of `path` at `commit` (a resolved commit id)."""
    found = [e for e in hub.git(rid).entries(commit, [path]) if e.type == "blob"]
    if not found:
        raise EmbedhubError(
            Kind.NOT_FOUND, f"{path!r} not found at {commit} in {rid.id}", code="EntryNotFound"
        )
    return repo_file(hub, rid, found[0])
