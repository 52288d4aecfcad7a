"""The commit API: an ndjson body of operations becomes one git commit, or nothing.

The body is first spooled to disk (it can be gigabytes of base64); parsing decodes each file
into a staging file next to the repo. Under the repo lock the new tree is computed, large files
are moved into the LFS store, blobs are written, and `update-ref` moves the branch as the last
and only visible step."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import orjson

from embedhub.errors import EmbedhubError, Kind
from embedhub.hub.gitrepo import GitRepo
from embedhub.hub.lfs import OID_RE, ObjectStore, Pointer, is_lfs_path, lfs_rules
from embedhub.hub.paths import bad, file_path, folder_path


@dataclass
class Staged:
    path: str
    tmp: Path
    size: int


@dataclass
class CommitRequest:
    summary: str = ""
    description: str = ""
    parent: str | None = None
    files: list[Staged] = field(default_factory=list)
    lfs_files: list[tuple[str, str, int | None]] = field(default_factory=list)  # path, oid, size
    deleted: list[str] = field(default_factory=list)
    deleted_folders: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        summary = self.summary.strip() or "Update files"
        return f"{summary}\n\n{self.description.strip()}" if self.description.strip() else summary


def parse_body(body: BinaryIO, staging: Path) -> CommitRequest:
    req = CommitRequest()
    seen: set[str] = set()
    for number, line in enumerate(body, start=1):
        if not line.strip():
            continue
        item, content = _split_content(line)
        try:
            item = orjson.loads(item)
        except orjson.JSONDecodeError:
            raise bad(f"Commit body line {number} is not valid JSON (expected ndjson)") from None
        if not isinstance(item, dict) or not isinstance(item.get("value"), dict):
            raise bad(f'Commit body line {number}: expected {{"key": ..., "value": {{...}}}}')
        if content is not None:
            item["value"]["content"] = content
        _add(req, item.get("key"), item["value"], number, staging, seen)
    if not req.summary.strip():
        raise bad(
            "The commit has no summary: the first line must be "
            '{"key": "header", "value": {"summary": "..."}}'
        )
    return req


_B64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


def _split_content(line: bytes) -> tuple[bytes, bytes | None]:
    """A file line carries its content as one long base64 string. Parsing it as a JSON string
    costs more than everything else in a commit, and base64 needs no JSON unescaping (bar an
    optional `\\/`), so the content is cut out of the raw line and the small rest is parsed.
    Anything unusual falls back to plain JSON parsing."""
    key = line.find(b'"content"')
    if key < 0 or len(line) < 4096:
        return line, None
    pos = key + len(b'"content"')
    while line[pos : pos + 1] in (b" ", b"\t"):
        pos += 1
    if line[pos : pos + 1] != b":":
        return line, None
    pos += 1
    while line[pos : pos + 1] in (b" ", b"\t"):
        pos += 1
    if line[pos : pos + 1] != b'"':
        return line, None
    end = line.find(b'"', pos + 1)
    if end < 0:
        return line, None
    content = line[pos + 1 : end]
    if b"\\" in content:
        content = content.replace(b"\\/", b"/")
    if not _B64.issuperset(content[:64]) or not _B64.issuperset(content[-64:]):
        return line, None
    return line[:pos] + b'""' + line[end + 1 :], content


def _add(
    req: CommitRequest, key: object, value: dict, number: int, staging: Path, seen: set[str]
) -> None:
    where = f"Commit body line {number} ({key})"
    if key == "header":
        req.summary = _str(value.get("summary", ""), f"{where}: summary")
        req.description = _str(value.get("description", "") or "", f"{where}: description")
        parent = value.get("parentCommit")
        if parent is not None and not (isinstance(parent, str) and len(parent) == 40):
            raise bad(f"{where}: parentCommit must be a 40-character commit id")
        req.parent = parent
        return
    if key not in ("file", "lfsFile", "deletedFile", "deletedFolder"):
        raise bad(
            f"{where}: unknown key; expected header, file, lfsFile, deletedFile or deletedFolder"
        )
    path = value.get("path")
    path = (
        folder_path(path, f"{where}: path")
        if key == "deletedFolder"
        else file_path(path, f"{where}: path")
    )
    if key in ("file", "lfsFile"):
        if path in seen:
            raise bad(f"{where}: {path!r} is added twice in one commit")
        seen.add(path)
    if key == "file":
        req.files.append(_stage(value, path, where, staging))
    elif key == "lfsFile":
        oid, size = value.get("oid"), value.get("size")
        if (
            value.get("algo", "sha256") != "sha256"
            or not isinstance(oid, str)
            or not OID_RE.match(oid)
        ):
            raise bad(f"{where}: expected algo 'sha256' and oid as 64 lowercase hex characters")
        if size is not None and (not isinstance(size, int) or size < 0):
            raise bad(f"{where}: size must be a non-negative integer")
        req.lfs_files.append((path, oid, size))
    elif key == "deletedFile":
        req.deleted.append(path)
    else:
        if not path:
            raise bad(f"{where}: deleting the root folder is not allowed; delete the repo")
        req.deleted_folders.append(path)


def _str(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise bad(f"{what} must be a string")
    return value


def _stage(value: dict, path: str, where: str, staging: Path) -> Staged:
    content, encoding = value.get("content"), value.get("encoding", "base64")
    if not isinstance(content, str | bytes):
        raise bad(f"{where}: content must be a string")
    if isinstance(content, bytes) and encoding != "base64":
        content = content.decode(errors="replace")
    if encoding == "base64":
        try:
            data = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise bad(f"{where}: content of {path!r} is not valid base64") from None
    elif encoding in ("utf-8", "utf8", None):
        data = content.encode() if isinstance(content, str) else content
    else:
        raise bad(f"{where}: encoding must be 'base64' or 'utf-8'")
    fd, name = tempfile.mkstemp(dir=staging, prefix="file-")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return Staged(path, Path(name), len(data))


def apply(
    repo: GitRepo, lfs: ObjectStore, branch: str, req: CommitRequest, author: str, threshold: int
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
    scratch = Path(tempfile.mkdtemp(dir=repo.path, prefix="embedhub-blobs-"))
    try:
        for staged in req.files:
            if staged.size >= threshold or is_lfs_path(rules, staged.path):
                pointer = lfs.put_file(staged.tmp)
                blob_sources.append((staged.path, _write(scratch, pointer.encode())))
            else:
                blob_sources.append((staged.path, staged.tmp))
        for path, oid, size in req.lfs_files:
            blob_sources.append((path, _write(scratch, _lfs_pointer(lfs, path, oid, size))))
        shas = repo.write_blobs([src for _, src in blob_sources])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
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


def _lfs_pointer(lfs: ObjectStore, path: str, oid: str, size: int | None) -> bytes:
    stored = lfs.size(oid)
    if stored is None:
        raise EmbedhubError(
            Kind.BAD_REQUEST,
            f"LFS object {oid} for {path!r} was never uploaded: upload it through the LFS "
            "batch API before committing",
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
