"""Reading a commit body (ndjson, one operation a line) from the spooled request into a
CommitRequest, with each file's content decoded into a staging file.

A file line carries its content as one base64 string, as long as the file (a 600 MB file is
an 800 MB line). Such a line is never held whole: the bytes before the content are read
(small), the content is decoded from the spool to the staging file a chunk at a time, and
the small rest of the line is read after it. Memory stays a few MB whatever the file size."""

from __future__ import annotations

import binascii
import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import orjson

from embedhub.hub.lfs import OID_RE
from embedhub.hub.paths import COMMIT_ID_RE, bad, file_path, folder_path

# A line longer than this is read in parts; shorter lines are parsed whole.
LINE_CAP = 64 * 1024
# A long line with no "content" near its start (a huge description, say) is read whole up to
# this size, and refused past it.
LONG_LINE_MAX = 16 * 1024 * 1024
CHUNK = 1024 * 1024
QUOTE, BACKSLASH, COLON = ord('"'), ord("\\"), ord(":")
KEYS = ("header", "file", "lfsFile", "deletedFile", "deletedFolder")


@dataclass
class Staged:
    path: str
    tmp: Path
    size: int
    sha256: str


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


@dataclass
class Streamed:
    """A content string decoded while it was read; `raw` are its offsets in the body, kept in
    case the line turns out not to be base64 after all."""

    tmp: Path
    size: int
    sha256: str
    valid_base64: bool
    raw: tuple[int, int]


def parse_body(body: BinaryIO, staging: Path) -> CommitRequest:
    req = CommitRequest()
    seen: set[str] = set()
    number = 0
    while head := body.readline(LINE_CAP):
        number += 1
        line, streamed = head, None
        if len(head) == LINE_CAP and not head.endswith(b"\n"):
            line, streamed = _long_line(body, head, staging, number)
        if not line.strip():
            continue
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise bad(f"Commit body line {number} is not valid JSON (expected ndjson)") from None
        if not isinstance(item, dict) or not isinstance(item.get("value"), dict):
            raise bad(f'Commit body line {number}: expected {{"key": ..., "value": {{...}}}}')
        if streamed is not None:
            item["value"]["content"] = streamed
        _add(req, item.get("key"), item["value"], number, staging, seen, body)
    if not req.summary.strip():
        raise bad(
            "The commit has no summary: the first line must be "
            '{"key": "header", "value": {"summary": "..."}}'
        )
    return req


def _long_line(
    body: BinaryIO, head: bytes, staging: Path, number: int
) -> tuple[bytes, Streamed | None]:
    """The line without its content string (replaced by ""), and the content decoded."""
    start = _content_start(head)
    if start is None:
        rest = body.readline(LONG_LINE_MAX)
        if len(head) + len(rest) > LONG_LINE_MAX and not rest.endswith(b"\n"):
            raise bad(
                f"Commit body line {number} is longer than {LONG_LINE_MAX} bytes; only a "
                "file's base64 content may be that long"
            )
        return head + rest, None
    offset = body.tell() - len(head) + start
    streamed, after = _decode_content(body, head[start:], staging, offset)
    tail, newline, extra = after.partition(b"\n")
    if newline:
        body.seek(-len(extra), os.SEEK_CUR)  # the next line starts there
    else:
        tail += body.readline(LINE_CAP)
        if len(tail) >= LINE_CAP and not tail.endswith(b"\n"):
            raise bad(f"Commit body line {number}: too much after the file's content")
    return head[:start] + b'"' + tail, streamed


def _decode_content(
    body: BinaryIO, first: bytes, staging: Path, offset: int
) -> tuple[Streamed, bytes]:
    """Decode the string that starts with `first` (after its opening quote) up to its closing
    quote; returns it and what followed the quote in the last chunk read."""
    fd, name = tempfile.mkstemp(dir=staging, prefix="file-")
    with os.fdopen(fd, "wb") as out:
        decoder = _Base64Writer(out)
        chunk, length = first, 0
        while (end := chunk.find(b'"')) < 0:
            decoder.feed(chunk)
            length += len(chunk)
            chunk = body.read(CHUNK)
            if not chunk:
                raise bad("Commit body: a file's content string is not terminated")
        decoder.feed(chunk[:end])
        length += end
        decoder.finish()
    streamed = Streamed(
        Path(name), decoder.size, decoder.digest.hexdigest(), decoder.ok, (offset, length)
    )
    return streamed, chunk[end + 1 :]


def _content_start(head: bytes) -> int | None:
    """Where the value of the operation's `"content"` key starts (just after its opening
    quote). The JSON tokens of `head` are walked, so a "content" inside another string or in
    a nested object is not taken for it. None when it is not in `head`."""
    i, n, depth, key = 0, len(head), 0, b""
    while i < n:
        c = head[i]
        if c == QUOTE:
            if key == b'"content"' and depth == 2:  # {"key": ..., "value": {"content": ...}}
                return i + 1
            j = i + 1
            while j < n and head[j] != QUOTE:
                j += 2 if head[j] == BACKSLASH else 1
            if j >= n:
                return None
            k = j + 1
            while k < n and head[k] in b" \t\r":
                k += 1
            # A string followed by ':' is a key: remembered until its value.
            key = head[i : j + 1] if k < n and head[k] == COLON else b""
            i = k
            continue
        if c in b"{[":
            depth += 1
        elif c in b"}]":
            depth -= 1
        if c not in b" \t\r:":
            key = b""
        i += 1
    return None


class _Base64Writer:
    """base64 decoded as it arrives (in runs of whole 4-character groups), hashed and written
    out. Invalid input marks it invalid rather than raising: the line may turn out to carry
    another encoding."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.digest = hashlib.sha256()
        self.size = 0
        self.ok = True
        self.carry = b""
        self.padded = False

    def feed(self, data: bytes) -> None:
        if not self.ok:
            return
        data = self.carry + data
        hold = b""
        if data.endswith(b"\\"):  # maybe the start of JSON's "\/", ended by the next chunk
            data, hold = data[:-1], b"\\"
        if b"\\" in data:
            data = data.replace(b"\\/", b"/")
            if b"\\" in data:
                self.ok = False
                return
        cut = len(data) - len(data) % 4
        block, self.carry = data[:cut], data[cut:] + hold
        if not block:
            return
        if self.padded:  # nothing may follow the padding
            self.ok = False
            return
        try:
            decoded = binascii.a2b_base64(block, strict_mode=True)
        except binascii.Error:
            self.ok = False
            return
        self.padded = block.endswith(b"=")
        self.digest.update(decoded)
        self.out.write(decoded)
        self.size += len(decoded)

    def finish(self) -> None:
        if self.carry:
            self.ok = False


def _add(
    req: CommitRequest,
    key: object,
    value: dict,
    number: int,
    staging: Path,
    seen: set[str],
    body: BinaryIO,
) -> None:
    where = f"Commit body line {number} ({key})"
    if key == "header":
        req.summary = _text(value.get("summary", ""), f"{where}: summary")
        req.description = _text(value.get("description", "") or "", f"{where}: description")
        parent = value.get("parentCommit")
        if parent is not None and not (isinstance(parent, str) and COMMIT_ID_RE.fullmatch(parent)):
            raise bad(f"{where}: parentCommit must be a 40-character commit id")
        req.parent = parent
        return
    if key not in KEYS:
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
        req.files.append(_stage(value, path, where, staging, body))
    elif key == "lfsFile":
        req.lfs_files.append(_lfs_file(value, path, where))
    elif key == "deletedFile":
        req.deleted.append(path)
    else:
        if not path:
            raise bad(f"{where}: deleting the root folder is not allowed; delete the repo")
        req.deleted_folders.append(path)


def _lfs_file(value: dict, path: str, where: str) -> tuple[str, str, int | None]:
    oid, size = value.get("oid"), value.get("size")
    algo = value.get("algo", "sha256")
    if not isinstance(oid, str) or not OID_RE.fullmatch(oid) or algo != "sha256":
        raise bad(f"{where}: expected algo 'sha256' and oid as 64 lowercase hex characters")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise bad(f"{where}: size must be a non-negative integer")
    return path, oid, size


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise bad(f"{what} must be a string")
    if "\0" in value:
        raise bad(f"{what} must not contain NUL characters (git can't store them)")
    return value


def _stage(value: dict, path: str, where: str, staging: Path, body: BinaryIO) -> Staged:
    content, encoding = value.get("content"), value.get("encoding", "base64")
    if encoding not in ("base64", "utf-8", "utf8", None):
        raise bad(f"{where}: encoding must be 'base64' or 'utf-8'")
    if isinstance(content, Streamed):
        if encoding == "base64":
            if not content.valid_base64:
                raise bad(f"{where}: content of {path!r} is not valid base64")
            return Staged(path, content.tmp, content.size, content.sha256)
        content = _reread(body, content, where)
    if not isinstance(content, str):
        raise bad(f"{where}: content must be a string")
    if encoding == "base64":
        try:
            data = binascii.a2b_base64(content.encode("ascii"), strict_mode=True)
        except (binascii.Error, UnicodeEncodeError):
            raise bad(f"{where}: content of {path!r} is not valid base64") from None
    else:
        data = content.encode()
    fd, name = tempfile.mkstemp(dir=staging, prefix="file-")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return Staged(path, Path(name), len(data), hashlib.sha256(data).hexdigest())


def _reread(body: BinaryIO, streamed: Streamed, where: str) -> str:
    """A long content string that is not base64: parsed as JSON text, if small enough."""
    start, length = streamed.raw
    streamed.tmp.unlink(missing_ok=True)
    if length > LONG_LINE_MAX:
        raise bad(f"{where}: content over {LONG_LINE_MAX} bytes must be sent as base64")
    here = body.tell()
    body.seek(start)
    raw = body.read(length)
    body.seek(here)
    try:
        text = orjson.loads(b'"' + raw + b'"')
    except orjson.JSONDecodeError:
        raise bad(f"{where}: content is not a valid JSON string") from None
    return text
