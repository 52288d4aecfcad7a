"""The check every git push passes before any ref moves: git's pre-receive hook, which the
hub installs for all repos (`core.hooksPath`, set by hub/githttp.py) and git runs with the
pushed objects still in quarantine. A push is refused, with a message the pusher sees as
`remote: ...`, when it would:

- create or move a ref other than a sanely named branch or tag (`refs/heads/HEAD`,
  `refs/heads/-n`, `refs/meta/config` ...);
- add a tree with a name the hub can't serve: not UTF-8, `.`, `..`, `.git`, control
  characters, a backslash; or a submodule;
- add an LFS pointer to an object that was not uploaded to this repo (the object store is
  shared by all repos: committing a pointer must not be a way to read another repo's file).

Run by git as `python -m embedhub.hub.prereceive`, so it imports nothing heavy."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from embedhub.db import Database
from embedhub.hub.gitrepo import ZERO, GitRepo
from embedhub.hub.paths import name_problem, ref_problem

SHOWN = 10  # problems listed in full; the rest are counted
ENV_DB, ENV_REPO, ENV_PYTHON = "EMBEDHUB_HOOK_DB", "EMBEDHUB_HOOK_REPO", "EMBEDHUB_PYTHON"
HOOK_SCRIPT = f"""#!/bin/sh
# Installed by embedhub: every push to a hub repo passes embedhub.hub.prereceive. Without the
# variables embedhub sets, the hook fails, and so does the push (never unchecked).
exec "${ENV_PYTHON}" -m embedhub.hub.prereceive
"""

Visible = Callable[[list[str]], set[str]]


def check_push(repo: GitRepo, updates: list[tuple[str, str, str]], visible: Visible) -> list[str]:
    """Problems with a push of `updates` (old, new, ref); empty when it may go in."""
    problems = []
    for _old, new, ref in updates:
        problem = None if new == ZERO else ref_problem(ref)  # deleting a bad ref is allowed
        if problem:
            problems.append(f"{ref}: {problem}")
    tips = [new for _old, new, _ref in updates if new != ZERO]
    objects = repo.new_objects(tips) if tips else []
    trees = [sha for sha, type_, _ in objects if type_ == "tree"]
    for sha, data in repo.iter_objects(trees):
        problems += [f"tree {sha[:10]}: {p}" for p in tree_problems(data)]
    pointers = repo.pointers(objects)
    allowed = visible(sorted({p.oid for _, p in pointers}))
    for _blob, pointer in pointers:
        if pointer.oid not in allowed:
            problems.append(
                f"LFS object {pointer.oid} ({pointer.size} bytes) was not uploaded to this "
                "repo: with git-lfs installed (`git lfs install`), push again or run "
                "`git lfs push --all origin`"
            )
    return problems


def tree_problems(data: bytes) -> Iterator[str]:
    for mode, raw in tree_entries(data):
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            yield f"the name {raw!r} is not UTF-8, which the hub can't show; rename it"
            continue
        problem = name_problem(name)
        if problem:
            yield f"the name {name!r} {problem}"
        elif mode == b"160000":
            yield f"{name!r} is a submodule; submodules are not supported"


def tree_entries(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(mode, name) of each entry of a raw tree object: `MODE NAME\\0` then a 20-byte id."""
    pos = 0
    while pos < len(data):
        space = data.index(b" ", pos)
        nul = data.index(b"\0", space)
        yield data[pos:space], data[space + 1 : nul]
        pos = nul + 21


def main() -> int:
    # git runs the hook in the repo, with the quarantine in the environment.
    repo = GitRepo(Path(os.environ.get("GIT_DIR", ".")).resolve())
    db = Database(Path(os.environ[ENV_DB]))
    type_, namespace, name = os.environ[ENV_REPO].split("/")
    updates = [tuple(line.split()) for line in sys.stdin.read().splitlines() if line.strip()]

    def visible(oids: list[str]) -> set[str]:
        return db.linked_objects(type_, namespace, name, oids)

    problems = check_push(repo, updates, visible)
    if not problems:
        return 0
    print("embedhub refused this push:", file=sys.stderr)
    for problem in problems[:SHOWN]:
        print(f"  - {problem}", file=sys.stderr)
    if len(problems) > SHOWN:
        print(f"  ... and {len(problems) - SHOWN} more", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
