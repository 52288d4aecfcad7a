"""Git LFS: the content-addressed object store, pointer files, `.gitattributes` patterns and
the signed, short-lived URLs that let a client PUT/GET an object without its token."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

POINTER_VERSION = "version https://git-lfs.github.com/spec/v1"
# Pointers are tiny; a blob bigger than this is never read to check whether it is one.
MAX_POINTER_SIZE = 1024
# A sha256 in lowercase hex; always used with fullmatch (`$` would accept a final "\n").
OID_RE = re.compile(r"[0-9a-f]{64}")
_POINTER_RE = re.compile(
    rb"^version https://git-lfs\.github\.com/spec/v1\n(?:[a-z0-9.-]+ [^\n]*\n)*?"
    rb"oid sha256:([0-9a-f]{64})\n(?:[a-z0-9.-]+ [^\n]*\n)*?size (\d+)\n"
)
COPY_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Pointer:
    oid: str
    size: int

    def encode(self) -> bytes:
        return f"{POINTER_VERSION}\noid sha256:{self.oid}\nsize {self.size}\n".encode()


def parse_pointer(data: bytes) -> Pointer | None:
    if len(data) > MAX_POINTER_SIZE or not data.startswith(b"version "):
        return None
    m = _POINTER_RE.match(data)
    return Pointer(m.group(1).decode(), int(m.group(2))) if m else None


class ObjectStore:
    """Objects live at `objects/ab/cd/<sha256>`; they appear there only by rename after their
    hash and size were checked, so a reader never sees a partial object."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    def path(self, oid: str) -> Path:
        return self.root / "objects" / oid[:2] / oid[2:4] / oid

    def size(self, oid: str) -> int | None:
        try:
            return self.path(oid).stat().st_size
        except FileNotFoundError:
            return None

    def has(self, oid: str, size: int | None = None) -> bool:
        actual = self.size(oid)
        return actual is not None and (size is None or actual == size)

    def temp_file(self) -> tuple[BinaryIO, Path]:
        fd, name = tempfile.mkstemp(dir=self.tmp, prefix="obj-")
        return os.fdopen(fd, "wb"), Path(name)

    def adopt(self, tmp: Path, oid: str) -> None:
        """Move a checked temp file into place (same filesystem: an atomic rename)."""
        dest = self.path(oid)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp, 0o444)
        os.replace(tmp, dest)

    def writer(self, oid: str, size: int) -> ObjectWriter:
        return ObjectWriter(self, oid, size)

    def put_file(self, src: Path, oid: str | None = None) -> Pointer:
        """Move an already written file into the store (it is consumed). `oid`: its sha256 when
        the caller computed it while writing; else it is hashed here."""
        if oid is None:
            digest = hashlib.sha256()
            with open(src, "rb") as f:
                while chunk := f.read(COPY_CHUNK):
                    digest.update(chunk)
            oid = digest.hexdigest()
        size = src.stat().st_size
        if self.has(oid, size):
            src.unlink()
        else:
            self.adopt(src, oid)
        return Pointer(oid, size)


class ObjectWriter:
    """Receives an object chunk by chunk into a temp file; `finish` checks the sha256 and size
    and renames it into place. Raises ValueError on a mismatch (the temp file is removed).

    When the store already holds the object (another repo uploaded it), the bytes are only
    hashed: the upload proves the sender has the content, which is what lets a repo link an
    object it did not have, and nothing is written twice."""

    def __init__(self, store: ObjectStore, oid: str, size: int) -> None:
        self.store, self.oid, self.size = store, oid, size
        self.file: BinaryIO | None = None
        self.tmp: Path | None = None
        if not store.has(oid, size):
            self.file, self.tmp = store.temp_file()
        self.digest = hashlib.sha256()
        self.written = 0

    def write(self, chunk: bytes) -> None:
        self.written += len(chunk)
        if self.written > self.size:
            raise ValueError(f"more than the announced {self.size} bytes were sent")
        self.digest.update(chunk)
        if self.file is not None:
            self.file.write(chunk)

    def finish(self) -> None:
        try:
            if self.file is not None:
                self.file.flush()
                os.fsync(self.file.fileno())
                self.file.close()
            if self.written != self.size:
                raise ValueError(f"{self.written} bytes were sent, {self.size} were announced")
            if self.digest.hexdigest() != self.oid:
                raise ValueError(
                    f"the content's sha256 is {self.digest.hexdigest()}, not {self.oid}"
                )
            if self.tmp is not None:
                self.store.adopt(self.tmp, self.oid)
        finally:
            self.abort()

    def abort(self) -> None:
        if self.file is not None:
            self.file.close()
        if self.tmp is not None:
            self.tmp.unlink(missing_ok=True)


# --- .gitattributes -----------------------------------------------------------------------
def lfs_rules(gitattributes: str) -> list[tuple[re.Pattern[str], bool, bool]]:
    """(regex, basename_only, is_lfs) for each line that sets or unsets `filter`."""
    rules = []
    for line in gitattributes.splitlines():
        fields = line.strip().split()
        if not fields or fields[0].startswith("#"):
            continue
        pattern, attrs = fields[0], fields[1:]
        if "filter=lfs" in attrs:
            lfs = True
        elif any(a in ("-filter", "!filter") or a.startswith("filter=") for a in attrs):
            lfs = False
        else:
            continue
        anchored = pattern.startswith("/")
        pattern = pattern.lstrip("/")
        basename_only = "/" not in pattern and not anchored
        rules.append((re.compile(_glob_to_regex(pattern)), basename_only, lfs))
    return rules


def is_lfs_path(rules: list[tuple[re.Pattern[str], bool, bool]], path: str) -> bool:
    """git's rule: the last matching line wins."""
    result = False
    base = path.rsplit("/", 1)[-1]
    for regex, basename_only, lfs in rules:
        if regex.fullmatch(base if basename_only else path):
            result = lfs
    return result


def _glob_to_regex(glob: str) -> str:
    out, i = [], 0
    while i < len(glob):
        c = glob[i]
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if glob.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and "]" in glob[i + 1 :]:
            end = glob.index("]", i + 1)
            body = glob[i + 1 : end].replace("\\", "\\\\")
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


# --- signed URLs --------------------------------------------------------------------------
class Signer:
    """HMAC over (action, repo, oid, size, expiry) with a secret kept in the data dir, so an
    upload link works only for that object, that repo and a short while."""

    def __init__(self, secret_file: Path, ttl: int = 3600) -> None:
        self.ttl = ttl
        self.secret = _load_secret(secret_file)

    def _mac(self, parts: tuple[str, ...]) -> str:
        return hmac.new(self.secret, "\n".join(parts).encode(), hashlib.sha256).hexdigest()

    def sign(self, action: str, repo: str, oid: str, size: int) -> dict[str, str]:
        exp = str(int(time.time()) + self.ttl)
        return {"exp": exp, "sig": self._mac((action, repo, oid, str(size), exp))}

    def check(self, action: str, repo: str, oid: str, size: int, exp: str, sig: str) -> bool:
        if not exp.isdigit() or int(exp) < time.time():
            return False
        return hmac.compare_digest(self._mac((action, repo, oid, str(size), exp)), sig)


def _load_secret(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two processes starting at once agree on one secret.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):
            data = path.read_bytes()
            if len(data) >= 32:
                return data
            time.sleep(0.01)
        raise RuntimeError(f"{path} is empty or truncated; delete it to make a new one") from None
    with os.fdopen(fd, "wb") as f:
        f.write(secrets.token_bytes(32))
    return path.read_bytes()
