"""Which commit last changed each file or folder (`expand=True` on tree and paths-info:
the `lastCommit` the clients show)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import IO

from embedhub.hub.gitrepo import GitRepo, git_env

READ = 64 * 1024
MAX_PATHSPECS = 256


def last_commits(repo: GitRepo, rev: str, paths: list[str]) -> dict[str, str]:
    """For each path (file or folder), the id of the newest commit from `rev` back that
    changed it. One `git log` walk for all of them, stopped as soon as each has been seen
    (a page of entries costs one process, not one per entry)."""
    left, found = set(paths), dict[str, str]()
    if not left:
        return found
    # Pathspecs let git skip commits that touch none of the paths; :(literal) keeps a name
    # with '*' or '?' a name. Past a few hundred paths (paths-info can ask for thousands) the
    # command line would overflow: then every commit's changes are matched here instead.
    specs = [f":(literal){p}" for p in paths] if len(paths) <= MAX_PATHSPECS else []
    proc = subprocess.Popen(
        ["git", f"--git-dir={repo.path}", "log", "--format=%x01%H", "-z", "--name-only", rev]
        + ["--", *specs],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=git_env(),
    )
    assert proc.stdout is not None
    try:
        for sha, names in log_records(proc.stdout):
            for name in names:
                # The entries a changed file belongs to: itself and each folder above it.
                parts = name.split("/")
                for i in range(1, len(parts) + 1):
                    entry = "/".join(parts[:i])
                    if entry in left:
                        left.discard(entry)
                        found[entry] = sha
            if not left:
                break
    finally:
        proc.stdout.close()
        proc.kill()
        proc.wait()
    return found


def log_records(stream: IO[bytes]) -> Iterator[tuple[str, list[str]]]:
    """(commit id, changed paths) from `git log --format=%x01%H -z --name-only`, parsed as it
    arrives: each record is \\x01, the id, NUL, newline, then NUL-terminated names."""
    buf = b""
    while True:
        chunk = stream.read(READ)
        records = (buf + chunk).split(b"\x01")
        buf = records.pop() if chunk else b""  # the last one may be incomplete
        for record in records:
            if record:
                sha, _, names = record.partition(b"\0")
                paths = names.lstrip(b"\n").split(b"\0")
                yield sha.decode(), [n.decode(errors="replace") for n in paths if n]
        if not chunk:
            return
