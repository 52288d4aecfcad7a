"""The commit API: an ndjson body of operations becomes one git commit, or nothing.

The body is first spooled to disk (it can be gigabytes of base64); parsing (commitbody.py)
decodes each file into a staging file. Under the repo lock the new tree is computed, large
files are moved into the LFS store, blobs are written, and `update-ref` moves the branch as
the last and only visible step."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from embedhub.errors import EmbedhubError, Kind
from embedhub.hub.commitbody import CommitRequest
from embedhub.hub.gitrepo import GitRepo
from embedhub.hub.lfs import ObjectStore, Pointer, is_lfs_path, lfs_rules
from embedhub.hub.paths import bad


@dataclass(frozen=True)
class Objects:
    """The LFS store, and which of its objects the committing repo may use: an `lfsFile` must
    point to one (uploaded to this repo), and files the commit stores in LFS become one.
    `xet_size(oid)`: the size of the Xet file with that sha256, None if there is none (an
    `lfsFile` may point to one, uploaded to this repo through Xet)."""

    store: ObjectStore
    visible: Callable[[str], bool]
    link: Callable[[list[str]], None]
    xet_size: Callable[[str], int | None] = lambda oid: None


def apply(
    repo: GitRepo, objects: Objects, branch: str, req: CommitRequest, author: str, threshold: int
) -> str:
    """Call with the repo lock held. Returns the new commit id."""
    head = repo.resolve(f"refs/heads/{branch}")
    if head is None:
        raise EmbedhubError(
            Kind.NOT_FOUND,
            f"Branch {branch!r} not found; commits go to an existing branch",
            code="RevisionNotFound",
        )
    if req.parent is not None and req.parent != head:
        raise EmbedhubError(
            Kind.PRECONDITION,
            f"parentCommit {req.parent} is not the head of {branch!r} ({head}): someone "
            "committed in between; fetch the new head and retry",
        )
    files = repo.files(head)
    _delete(files, req)
    rules = lfs_rules(_gitattributes(repo, files, req))
    blob_sources: list[tuple[str, Path]] = []
    stored: list[str] = []
    scratch = Path(tempfile.mkdtemp(dir=repo.path, prefix="embedhub-blobs-"))
    try:
        for staged in req.files:
            if staged.size >= threshold or is_lfs_path(rules, staged.path):
                pointer = objects.store.put_file(staged.tmp, staged.sha256)
                stored.append(pointer.oid)
                blob_sources.append((staged.path, _write(scratch, pointer.encode())))
            else:
                blob_sources.append((staged.path, staged.tmp))
        for path, oid, size in req.lfs_files:
            blob_sources.append((path, _write(scratch, _lfs_pointer(objects, path, oid, size))))
        shas = repo.write_blobs([src for _, src in blob_sources])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    objects.link(stored)  # before the branch moves: a reader of the commit may read them
    for (path, _), sha in zip(blob_sources, shas, strict=True):
        files[path] = ("100644", sha)
    _check_conflicts(files)
    commit = repo.make_commit(head, files, req.message, author)
    if not repo.update_ref(branch, commit, head):
        raise EmbedhubError(Kind.PRECONDITION, f"Branch {branch!r} moved during the commit; retry")
    return commit


def _delete(files: dict[str, tuple[str, str]], req: CommitRequest) -> None:
    for path in req.deleted:
        if files.pop(path, None) is None:
            raise EmbedhubError(
                Kind.NOT_FOUND, f"Cannot delete {path!r}: no such file", code="EntryNotFound"
            )
    for folder in req.deleted_folders:
        doomed = [p for p in files if p.startswith(folder + "/")]
        if not doomed:
            raise EmbedhubError(
                Kind.NOT_FOUND,
                f"Cannot delete folder {folder!r}: no such folder",
                code="EntryNotFound",
            )
        for p in doomed:
            del files[p]


def _gitattributes(repo: GitRepo, files: dict[str, tuple[str, str]], req: CommitRequest) -> str:
    for staged in req.files:
        if staged.path == ".gitattributes":
            return staged.tmp.read_bytes().decode(errors="replace")
    if ".gitattributes" in files:
        sha = files[".gitattributes"][1]
        return repo.read_blobs([sha]).get(sha, b"").decode(errors="replace")
    return ""


def _lfs_pointer(objects: Objects, path: str, oid: str, size: int | None) -> bytes:
    # The same answer whether the object is missing or belongs to another repo only.
    stored = objects.store.size(oid)
    if stored is None:
        stored = objects.xet_size(oid)
    if stored is None or not objects.visible(oid):
        raise EmbedhubError(
            Kind.BAD_REQUEST,
            f"LFS object {oid} for {path!r} was never uploaded to this repo: upload it "
            "through the LFS batch API or Xet (preupload) before committing",
        )
    if size is not None and size != stored:
        raise bad(f"LFS object {oid} for {path!r} has {stored} bytes, not {size}")
    return Pointer(oid, stored).encode()


def _write(folder: Path, data: bytes) -> Path:
    path = folder / hashlib.sha1(data).hexdigest()
    path.write_bytes(data)
    return path


def _check_conflicts(files: dict[str, tuple[str, str]]) -> None:
    folders = {p.rsplit("/", i)[0] for p in files for i in range(1, p.count("/") + 1)}
    clash = sorted(folders.intersection(files))
    if clash:
        raise EmbedhubError(
            Kind.CONFLICT,
            f"{clash[0]!r} would be both a file and a folder; delete one of them first",
        )
