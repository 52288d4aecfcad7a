"""Branch and tag names resolved to commit ids without running git on every request.

`git rev-parse NAME` costs a process start (milliseconds), on every hub, viewer and search
request that names a branch or tag (hub/api.py resolve_rev); a search answers in a few. Which
commit a name means depends only on the ref files git consults for it: the loose files
`NAME`, `refs/NAME`, `refs/tags/NAME`, `refs/heads/NAME`, `refs/remotes/NAME` and
`refs/remotes/NAME/HEAD` (git's own lookup order) and `packed-refs`. Every way the hub moves
a ref (`update-ref` from the commit API, `git push` through receive-pack, in this server or
another one on the same data directory) rewrites one of those files, by writing a lock file
and renaming it into place. So the bytes of those files are a fingerprint: read them (a few
small reads, microseconds), and while they are unchanged the name resolves as it did last
time; once one changes, git resolves it again. The contents, not mtimes, are compared: two
updates within one timestamp tick, or a branch moved away and back, can't fool it."""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from pathlib import Path

from embedhub.hub.gitrepo import GitRepo

RULES = (
    "{}",
    "refs/{}",
    "refs/tags/{}",
    "refs/heads/{}",
    "refs/remotes/{}",
    "refs/remotes/{}/HEAD",
)
MAX_FILE = 1 << 20  # a ref file (or packed-refs) bigger than this is not fingerprinted
_HEX = re.compile(r"[0-9a-fA-F]+")

Fingerprint = tuple[bytes | None, ...]


class RefCache:
    """Thread-safe; one per process is enough (keys carry the repository's path)."""

    def __init__(self, keep: int = 4096) -> None:
        self.keep = keep
        self._known: OrderedDict[tuple[Path, str], tuple[Fingerprint, str]] = OrderedDict()
        self._lock = threading.Lock()

    def resolve(self, repo: GitRepo, rev: str) -> str | None:
        """What `repo.resolve(rev)` answers: the commit id, or None."""
        if ".." in rev or rev.startswith("/") or "\0" in rev:
            # Not a ref name git accepts; and never a path for us to open outside the repo.
            return repo.resolve(rev)
        if _HEX.fullmatch(rev):
            # git takes a hex name for a (possibly abbreviated) object id when no ref has that
            # name: an answer that depends on the object store, not the ref files.
            return repo.resolve(rev)
        before = fingerprint(repo.path, rev)
        if before is None:
            return repo.resolve(rev)
        key = (repo.path, rev)
        with self._lock:
            known = self._known.get(key)
            if known is not None and known[0] == before:
                self._known.move_to_end(key)
                return known[1]
        commit = repo.resolve(rev)
        # Kept only if no ref file changed while git ran: otherwise the answer might belong
        # to a later state than `before` (and that state could come back).
        if commit is not None and fingerprint(repo.path, rev) == before:
            with self._lock:
                self._known[key] = (before, commit)
                self._known.move_to_end(key)
                while len(self._known) > self.keep:
                    self._known.popitem(last=False)
        return commit


def fingerprint(git_dir: Path, rev: str) -> Fingerprint | None:
    """The bytes of every file git reads to resolve `rev` (None for a file that is missing or
    a folder); None when they can't stand for the answer: a symbolic ref (its target's file
    is not among them) or a file too big to compare."""
    out: list[bytes | None] = []
    base = os.fspath(git_dir) + os.sep
    for path in [*(rule.format(rev) for rule in RULES), "packed-refs"]:
        try:
            data = _read(base + path)
        except OSError:  # unreadable (permissions, I/O): let git answer
            return None
        if data is not None and (len(data) > MAX_FILE or data.startswith(b"ref:")):
            return None
        out.append(data)
    return tuple(out)


def _read(path: str) -> bytes | None:
    # os.open/os.read, not open(): no Path or buffered file object per read. Seven reads per
    # request that names a branch took ~220 us that way, ~60 us this way.
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        parts, size = [], 0
        while size <= MAX_FILE:  # small reads: a ref file is 41 bytes, no 1 MiB buffer each
            part = os.read(fd, 1 << 16)
            if not part:
                break
            parts.append(part)
            size += len(part)
        return b"".join(parts)
    except IsADirectoryError:
        return None
    finally:
        os.close(fd)
