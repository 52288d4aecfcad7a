"""The hub's state: repos (SQLite row + bare git repo on disk), the LFS object store, the URL
signer, which objects each repo may read, and who may read or write what.

The database row says whether a repo exists; the git directory appears by one rename of a
fully initialised temporary repo, so a crash leaves either nothing or a complete repo (a
directory without a row is leftover from a crash and is replaced on the next create)."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO

from prometheus_client import CollectorRegistry

from embedhub.config import Settings
from embedhub.db import Database, RepoRow, TokenInfo
from embedhub.errors import EmbedhubError, Kind
from embedhub.hub import prereceive, sweep
from embedhub.hub.gitrepo import GitError, GitRepo, file_lock
from embedhub.hub.lfs import ObjectStore, Signer
from embedhub.hub.limits import Limits
from embedhub.hub.metrics import HubMetrics
from embedhub.hub.paths import RepoId
from embedhub.hub.xet_service import XetService

log = logging.getLogger("embedhub.hub")

# What a new repo's first commit holds, like the Hub: common binary formats go to LFS.
DEFAULT_GITATTRIBUTES = "".join(
    f"{pattern} filter=lfs diff=lfs merge=lfs -text\n"
    for pattern in (
        "*.7z",
        "*.arrow",
        "*.bin",
        "*.bz2",
        "*.ckpt",
        "*.ftz",
        "*.gz",
        "*.h5",
        "*.joblib",
        "*.lfs.*",
        "*.lz4",
        "*.mds",
        "*.mlmodel",
        "*.model",
        "*.msgpack",
        "*.npy",
        "*.npz",
        "*.onnx",
        "*.ot",
        "*.parquet",
        "*.pb",
        "*.pickle",
        "*.pkl",
        "*.pt",
        "*.pth",
        "*.rar",
        "*.safetensors",
        "saved_model/**/*",
        "*.tar.*",
        "*.tar",
        "*.tflite",
        "*.tgz",
        "*.wasm",
        "*.xz",
        "*.zip",
        "*.zst",
        "*tfevents*",
    )
)
REALM = 'Basic realm="embedhub hub"'
# A repo move in progress (meta key): finished at the next start if the server died during it.
PENDING_MOVE = "pending_move"


def not_found(rid: RepoId) -> EmbedhubError:
    # The same answer whether the repo is missing or private to someone else: no existence leak.
    return EmbedhubError(
        Kind.NOT_FOUND,
        f"Repository {rid.id} ({rid.type}) not found, or you are not allowed to see it. "
        "If it is private, pass a token of its owner or of a member of its organisation.",
        code="RepoNotFound",
    )


class Hub:
    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.root = settings.data_dir / "hub"
        self.root.mkdir(parents=True, exist_ok=True)
        self.lfs = ObjectStore(settings.data_dir / "lfs")
        self.signer = Signer(self.root / "lfs-url-secret")
        self.xet = XetService(settings.data_dir / "xet", self.signer.secret)
        self.limits = Limits.of(settings)
        self.hooks = self.root / "hooks"
        self.metrics = HubMetrics()
        # Called with the repo after every commit, push and ref change this hub makes (not
        # another process's): each must return at once (the search warmer only queues it).
        self.listeners: list[Callable[[RepoId], None]] = []
        self._serving: BinaryIO | None = None

    def use_registry(self, registry: CollectorRegistry) -> None:
        """Count into the server's /metrics registry (the hub's and the Xet store's counters)."""
        self.metrics = HubMetrics(registry)
        self.xet.use_registry(registry)

    def start(self) -> None:
        """Once, when the server starts: install the push hook, sweep what crashed runs left
        (when no other server uses this data directory), link the LFS objects of repos made
        before links were kept."""
        self.install_hooks()
        # Every server holds a shared lock for its lifetime; the one that can take it
        # exclusively at start is alone, so nothing it sweeps can be in use.
        self._serving = serving = open(self.root / "serve.lock", "a+b")
        try:
            fcntl.flock(serving, fcntl.LOCK_EX | fcntl.LOCK_NB)
            sweep.sweep(self.settings.data_dir, before=time.time())
        except BlockingIOError:
            log.info("another server uses %s: no startup sweep", self.settings.data_dir)
        fcntl.flock(serving, fcntl.LOCK_SH)
        self._finish_move()
        self._backfill_links()

    def install_hooks(self) -> Path:
        """The push check as git's pre-receive hook (rewritten each start: it must exist, as
        git skips a missing hook silently). Returns the hooks folder."""
        hook = self.hooks / "pre-receive"
        if not hook.exists() or hook.read_text() != prereceive.HOOK_SCRIPT:
            self.hooks.mkdir(parents=True, exist_ok=True)
            tmp = self.hooks / f".pre-receive-{uuid.uuid4().hex}"
            tmp.write_text(prereceive.HOOK_SCRIPT)
            tmp.chmod(0o755)
            os.replace(tmp, hook)
        return self.hooks

    def hook_env(self, rid: RepoId) -> dict[str, str]:
        return {
            prereceive.ENV_DB: str(self.settings.db_path),
            prereceive.ENV_REPO: f"{rid.type}/{rid.namespace}/{rid.name}",
            prereceive.ENV_PYTHON: sys.executable,
        }

    def path(self, rid: RepoId) -> Path:
        return self.root / f"{rid.type}s" / rid.namespace / f"{rid.name}.git"

    def git(self, rid: RepoId) -> GitRepo:
        return GitRepo(self.path(rid))

    def _admin_lock(self) -> AbstractContextManager[None]:
        """Creates and deletes are rare: one lock for all of them keeps row and disk in step."""
        return file_lock(self.root / "admin.lock")

    # --- lifecycle ---------------------------------------------------------------------------
    def create(self, rid: RepoId, *, private: bool, author: str) -> bool:
        """False when it already exists."""
        with self._admin_lock():
            if self.db.get_repo(rid.type, rid.namespace, rid.name):
                return False
            dest = self.path(rid)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if dest.exists():
                self._discard(dest)
            tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=".new-"))
            try:
                repo = GitRepo.init(tmp)
                blob = repo.write_blob(DEFAULT_GITATTRIBUTES.encode())
                commit = repo.make_commit(
                    None, {".gitattributes": ("100644", blob)}, "initial commit", author
                )
                repo.update_ref("main", commit, None)
                os.rename(tmp, dest)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            self.db.create_repo(rid.type, rid.namespace, rid.name, private=private)
            return True

    def delete(self, rid: RepoId) -> None:
        with self._admin_lock():
            self.db.delete_repo(rid.type, rid.namespace, rid.name)
            if self.path(rid).exists():
                self._discard(self.path(rid))

    def touch(self, rid: RepoId) -> None:
        """The repo changed (a commit, push or ref change): listings sort by this."""
        self.db.touch_repo(rid.type, rid.namespace, rid.name)
        for listener in self.listeners:
            listener(rid)

    def move(self, source: RepoId, dest: RepoId) -> bool:
        """Rename a repo (False when `dest` exists). Its object links follow it. The move is
        written down first, so a server killed between the folder's rename and the row's
        update finishes it at its next start."""
        with self._admin_lock():
            if self.row(dest) is not None:
                return False
            dest_path = self.path(dest)
            dest_path.parent.mkdir(parents=True, exist_ok=True)
            if dest_path.exists():  # a folder without a row: left by a crash
                self._discard(dest_path)
            # The source's writers (commits, pushes) hold this lock: none is halfway through.
            with self.git(source).lock():
                self.db.set_meta(PENDING_MOVE, json.dumps([_key(source), _key(dest)]))
                os.rename(self.path(source), dest_path)
                self._finish_move()
            return True

    def _finish_move(self) -> None:
        raw = self.db.get_meta(PENDING_MOVE)
        if raw is None:
            return
        source, dest = (RepoId(*key) for key in json.loads(raw))
        if self.path(dest).exists() and not self.path(source).exists():
            self.db.rename_repo(source.type, _names(source), _names(dest))
            log.info("moved %s %s to %s", source.type, source.id, dest.id)
        self.db.delete_meta(PENDING_MOVE)

    def duplicate(self, source: RepoId, dest: RepoId, *, private: bool) -> bool:
        """A copy of `source`'s branches and tags as a new repo `dest` that may read the same
        objects (False when `dest` exists). Built aside and renamed into place, like create."""
        with self._admin_lock():
            if self.row(dest) is not None:
                return False
            dest_path = self.path(dest)
            dest_path.parent.mkdir(parents=True, exist_ok=True)
            if dest_path.exists():
                self._discard(dest_path)
            tmp = Path(tempfile.mkdtemp(dir=dest_path.parent, prefix=".new-"))
            try:
                GitRepo.init(tmp).fetch_refs(self.path(source))
                os.rename(tmp, dest_path)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            self.db.copy_repo(source.type, _names(source), _names(dest), private=private)
            return True

    def storage(self, rid: RepoId) -> int:
        """Bytes the repo uses: its git folder and the LFS objects it may read."""
        git = sum(f.stat().st_size for f in self.path(rid).rglob("*") if f.is_file())
        oids = self.db.repo_oids(rid.type, rid.namespace, rid.name)
        return git + sum(self.lfs.size(oid) or 0 for oid in oids)

    def _discard(self, path: Path) -> None:
        # Rename first so the name is free at once, even if removing the files takes a while.
        trash = path.parent / f".deleted-{uuid.uuid4().hex}"
        os.rename(path, trash)
        shutil.rmtree(trash, ignore_errors=True)

    # --- which objects a repo may read -----------------------------------------------------
    # All repos share the object stores; an object is readable through a repo only when it
    # was uploaded to that repo, or stored in LFS by a commit to it. Any content store
    # (LFS, Xet) registers its files here by sha256.
    def link_object(self, rid: RepoId, oid: str) -> None:
        self.link_objects(rid, [oid])

    def link_objects(self, rid: RepoId, oids: list[str]) -> None:
        if oids:
            self.db.link_objects(rid.type, rid.namespace, rid.name, oids)

    def object_visible(self, rid: RepoId, oid: str) -> bool:
        return oid in self.visible_objects(rid, [oid])

    def visible_objects(self, rid: RepoId, oids: list[str]) -> set[str]:
        return self.db.linked_objects(rid.type, rid.namespace, rid.name, oids)

    def _backfill_links(self) -> None:
        """Repos made before links were kept: link the stored objects their history points to
        (once; their history is all that says which objects they used)."""
        if self.db.get_meta("repo_objects_backfilled"):
            return
        count = 0
        for row in self.db.list_repos():
            rid = RepoId(row.type, row.namespace, row.name)
            repo = self.git(rid)
            try:
                pointers = repo.pointers(repo.all_objects())
            except GitError as exc:
                log.warning("could not read %s to link its LFS objects: %s", rid.id, exc)
                continue
            oids = sorted({p.oid for _, p in pointers if self.lfs.has(p.oid, p.size)})
            self.link_objects(rid, oids)
            count += len(oids)
        self.db.set_meta("repo_objects_backfilled", str(time.time()))
        if count:
            log.info("linked %d LFS object(s) to the repos whose history points to them", count)

    # --- permissions ---------------------------------------------------------------------------
    def row(self, rid: RepoId) -> RepoRow | None:
        return self.db.get_repo(rid.type, rid.namespace, rid.name)

    def is_member(self, token: TokenInfo | None, namespace: str) -> bool:
        return token is not None and self.db.can_write_namespace(token.user, namespace)

    def readable(self, rid: RepoId, token: TokenInfo | None, *, basic: bool = False) -> RepoRow:
        """The repo's row, if `token` may read it; else 404, the same for missing and private.
        `basic`: git and git-lfs only send credentials after a Basic challenge, so they get
        one (401) when they came without a token."""
        row = self.row(rid)
        if row is None or (row.private and not self.is_member(token, rid.namespace)):
            if basic and token is None:
                raise need_token(rid, basic=True, reading=True)
            raise not_found(rid)
        return row

    def writable(self, rid: RepoId, token: TokenInfo | None, *, basic: bool = False) -> RepoRow:
        row = self.readable(rid, token, basic=basic)
        if token is None:
            raise need_token(rid, basic=basic)
        self.check_write(rid.namespace, token)
        return row

    def check_write(self, namespace: str, token: TokenInfo | None) -> None:
        if token is None:
            raise EmbedhubError(Kind.UNAUTHORIZED, "A write token is needed for this action")
        if not self.db.can_write_namespace(token.user, namespace):
            raise EmbedhubError(
                Kind.FORBIDDEN,
                f"User {token.user!r} can't write to namespace {namespace!r}: only its owner "
                "or members of the organisation can (embedhub org create ORG --member USER)",
            )
        if not token.can_write:
            raise EmbedhubError(
                Kind.FORBIDDEN,
                f"This token of {token.user!r} is read-only; create one with "
                f"`embedhub token create {token.user} --write`",
            )


def _key(rid: RepoId) -> tuple[str, str, str]:
    return (rid.type, rid.namespace, rid.name)


def _names(rid: RepoId) -> tuple[str, str]:
    return (rid.namespace, rid.name)


def need_token(rid: RepoId, *, basic: bool, reading: bool = False) -> EmbedhubError:
    if reading:
        message = f"{rid.id}: authentication required (or the repo does not exist)"
    else:
        message = (
            f"Writing to {rid.id} needs a write token (Authorization: Bearer TOKEN, or the "
            "token as the password for git)"
        )
    return EmbedhubError(
        Kind.UNAUTHORIZED,
        message,
        headers={"WWW-Authenticate": REALM if basic else 'Bearer realm="embedhub hub"'},
    )
