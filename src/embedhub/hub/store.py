"""The hub's state: repos (SQLite row + bare git repo on disk), the LFS object store, the URL
signer, and who may read or write what.

The database row says whether a repo exists; the git directory appears by one rename of a
fully initialised temporary repo, so a crash leaves either nothing or a complete repo (a
directory without a row is leftover from a crash and is replaced on the next create)."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from contextlib import AbstractContextManager
from pathlib import Path

from embedhub.config import Settings
from embedhub.db import Database, RepoRow, TokenInfo
from embedhub.errors import EmbedhubError, Kind
from embedhub.hub.gitrepo import GitRepo, file_lock
from embedhub.hub.lfs import ObjectStore, Signer
from embedhub.hub.paths import RepoId

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

    def _discard(self, path: Path) -> None:
        # Rename first so the name is free at once, even if removing the files takes a while.
        trash = path.parent / f".deleted-{uuid.uuid4().hex}"
        os.rename(path, trash)
        shutil.rmtree(trash, ignore_errors=True)

    # --- permissions ---------------------------------------------------------------------------
    def row(self, rid: RepoId) -> RepoRow | None:
        return self.db.get_repo(rid.type, rid.namespace, rid.name)

    def is_member(self, token: TokenInfo | None, namespace: str) -> bool:
        return token is not None and self.db.can_write_namespace(token.user, namespace)

    def readable(self, rid: RepoId, token: TokenInfo | None) -> RepoRow:
        row = self.row(rid)
        if row is None or (row.private and not self.is_member(token, rid.namespace)):
            raise not_found(rid)
        return row

    def writable(self, rid: RepoId, token: TokenInfo | None, *, basic: bool = False) -> RepoRow:
        """`basic`: answer a missing token in the way git understands (Basic challenge)."""
        row = self.row(rid)
        if token is None:
            if row is None or row.private:
                if basic:
                    raise need_token(rid, basic=True)
                raise not_found(rid)
            raise need_token(rid, basic=basic)
        row = self.readable(rid, token)
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


def need_token(rid: RepoId, *, basic: bool) -> EmbedhubError:
    return EmbedhubError(
        Kind.UNAUTHORIZED,
        f"Writing to {rid.id} needs a write token (Authorization: Bearer TOKEN, or the token "
        "as the password for git)",
        headers={"WWW-Authenticate": REALM if basic else 'Bearer realm="embedhub hub"'},
    )
