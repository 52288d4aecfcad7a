"""One bare git repository, driven through git's plumbing commands.

A commit is built without touching any ref: blobs (`hash-object -w`), a tree from a private
temporary index (`update-index --index-info`, `write-tree`), a commit object (`commit-tree`).
Only then does `update-ref refs/heads/B NEW OLD` move the branch, which git does atomically
(lock file + rename) and only if the branch still points at OLD. Objects written by a commit
that dies before that step are unreachable garbage, never a half-written branch."""

from __future__ import annotations

import fcntl
import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from embedhub.hub.lfs import MAX_POINTER_SIZE, Pointer, parse_pointer

ZERO = "0" * 40


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on `path`: it holds across processes and is released if the holder
    dies, so a killed server never leaves a repo locked."""
    with open(path, "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# git must read no user or system configuration: the server's behaviour can't depend on the
# account it runs under.
BASE_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
    "LC_ALL": "C",
}


class GitError(RuntimeError):
    pass


@dataclass(frozen=True)
class Entry:
    path: str
    type: str  # "blob" | "tree"
    mode: str
    sha: str
    size: int  # the blob's size in git (a pointer's size for LFS files); 0 for trees
    lfs: Pointer | None = None

    @property
    def real_size(self) -> int:
        return self.lfs.size if self.lfs else self.size


@dataclass(frozen=True)
class CommitMeta:
    id: str
    author: str
    date: str  # ISO 8601
    message: str

    @property
    def title(self) -> str:
        return self.message.split("\n", 1)[0]


def git_env(**extra: str) -> dict[str, str]:
    return {**os.environ, **BASE_ENV, **extra}


class GitRepo:
    def __init__(self, path: Path) -> None:
        self.path = path

    def run(
        self,
        *args: str,
        input: bytes | None = None,
        env: dict[str, str] | None = None,
        check: bool = True,
    ) -> bytes:
        proc = subprocess.run(
            ["git", f"--git-dir={self.path}", *args],
            input=input,
            capture_output=True,
            env=env or git_env(),
        )
        if check and proc.returncode != 0:
            err = proc.stderr.decode(errors="replace").strip()
            raise GitError(f"git {args[0]} failed: {err}")
        return proc.stdout

    @classmethod
    def init(cls, path: Path, branch: str = "main") -> GitRepo:
        subprocess.run(
            ["git", "init", "--quiet", "--bare", f"--initial-branch={branch}", str(path)],
            check=True,
            capture_output=True,
            env=git_env(),
        )
        repo = cls(path)
        # Pushes that rewrite history would orphan commits clients already hold; the Hub
        # allows them, and so do we, but deleting the default branch is refused.
        repo.run("config", "receive.denyDeleteCurrent", "true")
        repo.run("config", "gc.auto", "0")
        return repo

    @property
    def lock_path(self) -> Path:
        return self.path / "embedhub.lock"

    def lock(self) -> AbstractContextManager[None]:
        """One writer at a time per repo, whether it writes through the commit API or git push."""
        return file_lock(self.lock_path)

    # --- reading ---------------------------------------------------------------------------
    def resolve(self, rev: str) -> str | None:
        out = self.run("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
        sha = out.decode().strip()
        return sha or None

    def refs(self, prefix: str) -> list[tuple[str, str]]:
        out = self.run("for-each-ref", "--format=%(refname)%00%(objectname)", prefix)
        return [tuple(line.split("\0", 1)) for line in out.decode().splitlines()]  # type: ignore[misc]

    def object_type(self, commit: str, path: str) -> str | None:
        spec = f"{commit}:{path}" if path else f"{commit}^{{tree}}"
        out = self.run("cat-file", "-t", spec, check=False).decode().strip()
        return out or None

    def ls_tree(self, commit: str, folder: str = "", *, recursive: bool = False) -> list[Entry]:
        """The entries in `folder` (its whole subtree when recursive), paths from the root."""
        tree = f"{commit}:{folder}" if folder else commit
        args = ["ls-tree", "-z", "-l"]
        if recursive:
            args += ["-r", "-t"]
        prefix = f"{folder}/" if folder else ""
        return self._with_pointers(
            [_entry(raw, prefix) for raw in self.run(*args, tree).split(b"\0") if raw]
        )

    def entries(self, commit: str, paths: list[str]) -> list[Entry]:
        """The entries for these exact paths (files or folders); unknown paths are left out."""
        if not paths:
            return []
        # -r -t: without them git shows a folder's entry only when no path below it is asked.
        out = self.run("ls-tree", "-z", "-l", "-r", "-t", "--full-tree", commit, "--", *paths)
        wanted = set(paths)
        found = [_entry(raw, "") for raw in out.split(b"\0") if raw]
        return self._with_pointers([e for e in found if e.path in wanted])

    def files(self, commit: str | None) -> dict[str, tuple[str, str]]:
        """Every file of a commit: path -> (mode, blob sha)."""
        if commit is None:
            return {}
        out = self.run("ls-tree", "-z", "-r", "--full-tree", commit)
        result = {}
        for raw in out.split(b"\0"):
            if raw:
                meta, path = raw.decode().split("\t", 1)
                mode, _type, sha = meta.split()
                result[path] = (mode, sha)
        return result

    def read_blobs(self, shas: list[str]) -> dict[str, bytes]:
        if not shas:
            return {}
        out = self.run("cat-file", "--batch", input="".join(f"{s}\n" for s in shas).encode())
        result, pos = {}, 0
        for sha in shas:
            header_end = out.index(b"\n", pos)
            header = out[pos:header_end].split()
            if header[1] == b"missing":
                pos = header_end + 1
                continue
            size = int(header[2])
            result[sha] = out[header_end + 1 : header_end + 1 + size]
            pos = header_end + 1 + size + 1
        return result

    def _with_pointers(self, entries: list[Entry]) -> list[Entry]:
        small = [e.sha for e in entries if e.type == "blob" and e.size <= MAX_POINTER_SIZE]
        blobs = self.read_blobs(sorted(set(small)))
        out = []
        for e in entries:
            pointer = parse_pointer(blobs[e.sha]) if e.sha in blobs else None
            out.append(Entry(e.path, e.type, e.mode, e.sha, e.size, pointer) if pointer else e)
        return out

    def log(self, rev: str, limit: int = 0, skip: int = 0) -> list[CommitMeta]:
        args = ["log", "--format=%H%x00%an%x00%aI%x00%B%x1e", f"--skip={skip}"]
        if limit:
            args.append(f"-n{limit}")
        out = self.run(*args, rev, "--").decode(errors="replace")
        commits = []
        for record in out.split("\x1e"):
            record = record.strip("\n")
            if record:
                sha, author, date, message = record.split("\0", 3)
                commits.append(CommitMeta(sha, author, date, message.strip()))
        return commits

    def count_commits(self, rev: str) -> int:
        return int(self.run("rev-list", "--count", rev, "--").decode().strip())

    # --- writing ---------------------------------------------------------------------------
    def write_blobs(self, files: list[Path]) -> list[str]:
        """Store files as blobs, as they are (no filters: LFS conversion is done by us)."""
        if not files:
            return []
        listing = "".join(f"{f}\n" for f in files).encode()
        out = self.run("hash-object", "-w", "--no-filters", "--stdin-paths", input=listing)
        return out.decode().split()

    def write_blob(self, data: bytes) -> str:
        return self.run("hash-object", "-w", "--no-filters", "--stdin", input=data).decode().strip()

    def make_commit(
        self, parent: str | None, files: dict[str, tuple[str, str]], message: str, author: str
    ) -> str:
        """A commit object whose tree holds exactly `files`; no ref moves."""
        with tempfile.TemporaryDirectory(dir=self.path, prefix="embedhub-index-") as tmp:
            env = git_env(GIT_INDEX_FILE=str(Path(tmp) / "index"))
            self.run("read-tree", "--empty", env=env)
            listing = "".join(f"{mode} blob {sha}\t{path}\0" for path, (mode, sha) in files.items())
            self.run("update-index", "-z", "--index-info", input=listing.encode(), env=env)
            tree = self.run("write-tree", env=env).decode().strip()
        email = f"{author}@users.noreply.embedhub"
        env = git_env(
            GIT_AUTHOR_NAME=author,
            GIT_AUTHOR_EMAIL=email,
            GIT_COMMITTER_NAME=author,
            GIT_COMMITTER_EMAIL=email,
        )
        args = ["commit-tree", tree, "-F", "-"]
        if parent:
            args += ["-p", parent]
        return self.run(*args, input=message.encode(), env=env).decode().strip()

    def update_ref(self, branch: str, new: str, old: str | None) -> bool:
        """The one atomic step: move the branch only if it still is at `old`."""
        return self.ok("update-ref", f"refs/heads/{branch}", new, old or ZERO)

    def ok(self, *args: str) -> bool:
        cmd = ["git", f"--git-dir={self.path}", *args]
        return subprocess.run(cmd, capture_output=True, env=git_env()).returncode == 0


def _entry(raw: bytes, prefix: str) -> Entry:
    meta, path = raw.decode().split("\t", 1)
    mode, type_, sha, size = meta.split()
    return Entry(prefix + path, type_, mode, sha, int(size) if size != "-" else 0)
