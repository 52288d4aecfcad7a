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
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
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
        cmd = ["git", "init", "--quiet", "--bare", f"--initial-branch={branch}", str(path)]
        proc = subprocess.run(cmd, capture_output=True, env=git_env())
        if proc.returncode != 0:
            raise GitError(f"git init failed: {proc.stderr.decode(errors='replace').strip()}")
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
        """(ref, commit) under `prefix`; an annotated tag is peeled to the commit it tags."""
        fmt = "--format=%(refname)%00%(objectname)%00%(*objectname)%00%(*objecttype)"
        out = self.run("for-each-ref", fmt, prefix)
        found = []
        for line in out.decode(errors="replace").splitlines():
            ref, sha, peeled, peeled_type = line.split("\0")
            if peeled_type == "tag":  # a tag of a tag (pushed): peel all the way
                peeled = self.resolve(ref) or peeled
            found.append((ref, peeled or sha))
        return found

    def object_type(self, commit: str, path: str) -> str | None:
        spec = f"{commit}:{path}" if path else f"{commit}^{{tree}}"
        out = self.run("cat-file", "-t", spec, check=False).decode().strip()
        return out or None

    def ls_tree(
        self, commit: str, folder: str = "", *, recursive: bool = False, pointers: bool = True
    ) -> list[Entry]:
        """The entries in `folder` (its whole subtree when recursive), paths from the root.
        `pointers=False`: LFS pointers are not read yet (see with_pointers), so that a page of
        a big listing reads only its own."""
        tree = f"{commit}:{folder}" if folder else commit
        args = ["ls-tree", "-z", "-l"]
        if recursive:
            args += ["-r", "-t"]
        prefix = f"{folder}/" if folder else ""
        entries = [_entry(raw, prefix) for raw in self.run(*args, tree).split(b"\0") if raw]
        return self.with_pointers(entries) if pointers else entries

    def entries(self, commit: str, paths: list[str]) -> list[Entry]:
        """The entries for these exact paths (files or folders); unknown paths are left out."""
        if not paths:
            return []
        # -r -t: without them git shows a folder's entry only when no path below it is asked.
        out = self.run("ls-tree", "-z", "-l", "-r", "-t", "--full-tree", commit, "--", *paths)
        wanted = set(paths)
        found = [_entry(raw, "") for raw in out.split(b"\0") if raw]
        return self.with_pointers([e for e in found if e.path in wanted])

    def files(self, commit: str | None) -> dict[str, tuple[str, str]]:
        """Every file of a commit: path -> (mode, blob sha)."""
        if commit is None:
            return {}
        out = self.run("ls-tree", "-z", "-r", "--full-tree", commit)
        result = {}
        for raw in out.split(b"\0"):
            if raw:
                # surrogateescape: a name that is not UTF-8 (pushed before pushes were
                # checked) is written back byte for byte by make_commit, never renamed.
                meta, path = raw.decode("utf-8", "surrogateescape").split("\t", 1)
                mode, _type, sha = meta.split()
                result[path] = (mode, sha)
        return result

    def read_blobs(self, shas: list[str]) -> dict[str, bytes]:
        return dict(self.iter_objects(shas))

    def iter_objects(self, shas: list[str]) -> Iterator[tuple[str, bytes]]:
        """(sha, content) of each object that exists, in order, read one at a time from one
        `git cat-file --batch` (the ids go in through a file: no pipe can fill up both ways)."""
        if not shas:
            return
        with tempfile.TemporaryFile() as ids:
            ids.write("".join(f"{s}\n" for s in shas).encode())
            ids.seek(0)
            cmd = ["git", f"--git-dir={self.path}", "cat-file", "--batch"]
            proc = subprocess.Popen(cmd, stdin=ids, stdout=subprocess.PIPE, env=git_env())
            assert proc.stdout is not None
            try:
                for sha in shas:
                    header = proc.stdout.readline().split()
                    if len(header) != 3:  # "<sha> missing"
                        continue
                    data = proc.stdout.read(int(header[2]))
                    proc.stdout.read(1)  # the newline after each object
                    yield sha, data
            finally:
                proc.stdout.close()
                proc.kill()
                proc.wait()

    def object_info(self, shas: list[str]) -> list[tuple[str, str, int]]:
        """(sha, type, size) of each object that exists."""
        if not shas:
            return []
        out = self.run("cat-file", "--batch-check", input="".join(f"{s}\n" for s in shas).encode())
        found = []
        for line in out.decode().splitlines():
            fields = line.split()
            if len(fields) == 3:
                found.append((fields[0], fields[1], int(fields[2])))
        return found

    def new_objects(self, tips: list[str]) -> list[tuple[str, str, int]]:
        """(sha, type, size) of every object reachable from `tips` but from no ref: what a push
        adds (run in its quarantine, before the refs move)."""
        out = self.run("rev-list", "--objects", "--no-object-names", *tips, "--not", "--all")
        return self.object_info(out.decode().split())

    def all_objects(self) -> list[tuple[str, str, int]]:
        out = self.run("rev-list", "--objects", "--no-object-names", "--all")
        return self.object_info(out.decode().split())

    def pointers(self, objects: list[tuple[str, str, int]]) -> list[tuple[str, Pointer]]:
        """(blob sha, pointer) for the blobs among `objects` that are LFS pointers."""
        small = [s for s, type_, size in objects if type_ == "blob" and size <= MAX_POINTER_SIZE]
        found = []
        for sha, data in self.iter_objects(small):
            pointer = parse_pointer(data)
            if pointer is not None:
                found.append((sha, pointer))
        return found

    def with_pointers(self, entries: list[Entry]) -> list[Entry]:
        small = [e.sha for e in entries if e.type == "blob" and e.size <= MAX_POINTER_SIZE]
        blobs = self.read_blobs(sorted(set(small)))
        out = []
        for e in entries:
            pointer = parse_pointer(blobs[e.sha]) if e.sha in blobs else None
            out.append(Entry(e.path, e.type, e.mode, e.sha, e.size, pointer) if pointer else e)
        return out

    def log(self, rev: str, limit: int = 0, skip: int = 0) -> list[CommitMeta]:
        """Commits from `rev` back, newest first. Read as raw commit objects (sizes known, no
        separator a message could contain), so any summary and any pushed bytes parse."""
        args = ["rev-list", f"--skip={skip}"] + ([f"--max-count={limit}"] if limit else [])
        shas = self.run(*args, rev, "--").decode().split()
        return [parse_commit(sha, raw) for sha, raw in self.iter_objects(shas)]

    def commits(self, shas: list[str]) -> dict[str, CommitMeta]:
        return {sha: parse_commit(sha, raw) for sha, raw in self.iter_objects(shas)}

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
            data = listing.encode("utf-8", "surrogateescape")
            self.run("update-index", "-z", "--index-info", input=data, env=env)
            tree = self.run("write-tree", env=env).decode().strip()
        return self.commit_tree(tree, parent, message, author)

    def commit_tree(self, tree: str, parent: str | None, message: str, author: str) -> str:
        """A commit object of `tree`; no ref moves."""
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
        return self.set_ref(f"refs/heads/{branch}", new, old)

    def set_ref(self, ref: str, new: str, old: str | None) -> bool:
        """Point `ref` at `new` only if it is at `old` (None: only if it does not exist yet)."""
        return self.ok("update-ref", ref, new, old or ZERO)

    def delete_ref(self, ref: str, old: str) -> bool:
        """Delete `ref` only if it still points at `old` (the object id it holds)."""
        return self.ok("update-ref", "-d", ref, old)

    def ref_target(self, ref: str) -> str | None:
        """The object id `ref` holds (a commit, or an annotated tag's tag object)."""
        out = self.run("rev-parse", "--verify", "--quiet", ref, check=False).decode().strip()
        return out or None

    def write_tag(self, commit: str, name: str, message: str, tagger: str) -> str:
        """An annotated tag object for `commit` (no ref moves)."""
        stamp = f"{tagger} <{tagger}@users.noreply.embedhub> {int(time.time())} +0000"
        text = f"object {commit}\ntype commit\ntag {name}\ntagger {stamp}\n\n{message}\n"
        return self.run("mktag", input=text.encode()).decode().strip()

    def fetch_refs(self, source: Path) -> None:
        """Copy the branches and tags of the repo at `source` (and the objects they need)."""
        specs = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"]
        self.run("fetch", "--quiet", "--no-tags", "--update-head-ok", str(source), *specs)

    def tree_of(self, commit: str) -> str:
        return self.run("rev-parse", f"{commit}^{{tree}}").decode().strip()

    def ok(self, *args: str) -> bool:
        cmd = ["git", f"--git-dir={self.path}", *args]
        return subprocess.run(cmd, capture_output=True, env=git_env()).returncode == 0


def _entry(raw: bytes, prefix: str) -> Entry:
    # Pushes with names that are not UTF-8 are refused (hub/prereceive.py); one that got in
    # earlier is shown with U+FFFD rather than breaking every listing of the repo.
    meta, path = raw.decode(errors="replace").split("\t", 1)
    mode, type_, sha, size = meta.split()
    return Entry(prefix + path, type_, mode, sha, int(size) if size != "-" else 0)


def parse_commit(sha: str, raw: bytes) -> CommitMeta:
    """A raw commit object: header lines, a blank line, the message. Bytes that are not valid
    in the commit's encoding become U+FFFD."""
    head, _, body = raw.partition(b"\n\n")
    fields: dict[bytes, bytes] = {}
    for line in head.split(b"\n"):
        if line and not line.startswith(b" "):  # " ..." continues a multi-line header
            key, _, value = line.partition(b" ")
            fields.setdefault(key, value)
    encoding = fields.get(b"encoding", b"utf-8").decode("ascii", "replace")
    try:
        message = body.decode(encoding, "replace")
    except LookupError:
        message = body.decode("utf-8", "replace")
    name, date = _person(fields.get(b"author", b""))
    return CommitMeta(sha, name, date, message.strip())


def _person(value: bytes) -> tuple[str, str]:
    """`Name <email> 1700000000 +0100` -> (name, ISO 8601 date in that zone)."""
    name, _, rest = value.rpartition(b" <")
    stamp = rest.rpartition(b"> ")[2].split()
    try:
        seconds, zone = int(stamp[0]), stamp[1].decode()
        sign = -1 if zone.startswith("-") else 1
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5])) * sign
        date = datetime.fromtimestamp(seconds, timezone(offset)).isoformat()
    except (IndexError, ValueError, OverflowError, OSError):
        date = datetime.fromtimestamp(0, UTC).isoformat()
    return name.decode("utf-8", "replace"), date
