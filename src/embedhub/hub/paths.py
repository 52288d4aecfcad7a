"""Names and paths inside the hub: repo ids, repo types, file paths and revisions.

Everything a client sends that becomes part of a filesystem path or a git argument passes
through here first, so a bad value ends as a precise 400, never as a git error or a path
outside the data directory."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from embedhub.db import NameError_, check_name
from embedhub.errors import EmbedhubError, Kind

# URL segment (`datasets`) and singular form (`dataset`, what the database and the client's
# `repo_type` use).
REPO_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
# Every repo is created with it; it can't be deleted.
DEFAULT_BRANCH = "main"

# A ref name git accepts and that can't be taken for an option or a range. Every pattern
# here is used with fullmatch: `$` would also match before a final newline.
_REV_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./-]{0,254}")
COMMIT_ID_RE = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class RepoId:
    type: str  # "model" | "dataset" | "space"
    namespace: str
    name: str

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}"

    def url(self, base: str) -> str:
        return f"{base.rstrip('/')}/{URL_PREFIX[self.type]}{self.id}"


def bad(message: str) -> EmbedhubError:
    return EmbedhubError(Kind.BAD_REQUEST, message)


def flag(value: object) -> bool:
    """A yes/no parameter as the clients send it: `1`, `true`, `True` (query, form or JSON)."""
    return str(value).lower() in ("1", "true")


def repo_type(value: str | None, *, plural: bool = False) -> str:
    """`model`/`dataset`/`space` from the client's spelling (None means model, like the Hub)."""
    if value is None or value == "":
        return "model"
    if plural and value in REPO_TYPES:
        return REPO_TYPES[value]
    if not plural and value in REPO_TYPES.values():
        return value
    allowed = ", ".join(REPO_TYPES if plural else REPO_TYPES.values())
    raise bad(f"Unknown repo type {value!r}: use one of {allowed}")


def repo_id(
    type_: str, namespace: str, name: str, reserved: frozenset[str] = frozenset()
) -> RepoId:
    """`reserved`: names the server routes on (Database.reserved_names), refused as the
    namespace where a repo is made (`/rerank/x` would be a route's URL); elsewhere such a repo
    can't exist, so a lookup just finds nothing. A repo's own name is never a URL's first
    segment, so `ns/embeddings` or `ns/api` is fine."""
    try:
        check_name(namespace, "namespace", reserved)
        check_name(name, "repo")
    except NameError_ as exc:
        raise bad(str(exc)) from None
    return RepoId(type_, namespace, name)


def file_path(path: object, what: str = "path") -> str:
    """A path inside a repo: relative, `/`-separated, no empty, `.` or `..` segments, nothing
    under `.git/`, no NUL or control characters."""
    if not isinstance(path, str) or not path:
        raise bad(f"{what} must be a non-empty string")
    if path.startswith("/"):
        raise bad(f"{what} {path!r} must be relative and use '/' as separator")
    for segment in path.split("/"):
        problem = name_problem(segment)
        if problem:
            raise bad(f"{what} {path!r} {problem}")
    if len(path.encode()) > 4096:
        raise bad(f"{what} is longer than 4096 bytes")
    return path


def name_problem(name: str) -> str | None:
    """Why one file or folder name can't be part of a repo (None: it can). The commit API and
    the check on git pushes (hub/prereceive.py) both use this rule."""
    if name == "":
        return "has an empty segment ('//' or a trailing '/')"
    if any(ord(c) < 32 or c == "\x7f" for c in name):
        return "contains NUL or control characters"
    if "\\" in name:
        return "must be relative and use '/' as separator"
    if name in (".", ".."):
        return "must not contain '.' or '..' segments"
    if name.lower() == ".git":
        return "points into .git, which is not part of the repo's files"
    return None


def ref_problem(ref: str) -> str | None:
    """Why a ref can't be created or moved by a push (None: it can). Only branches and tags
    whose names the API can address: `refs/heads/NAME` and `refs/tags/NAME`, where NAME is
    a valid revision with no part that starts like an option or a hidden file, and is
    neither `HEAD` nor a commit id."""
    kind, _, name = ref[len("refs/") :].partition("/") if ref.startswith("refs/") else ("", "", "")
    if kind not in ("heads", "tags"):
        return "only branches (refs/heads/...) and tags (refs/tags/...) can be pushed"
    try:
        revision(name)
    except EmbedhubError:
        return "use letters, digits, '_', '-', '.' and '/' (starting with a letter or digit)"
    if any(part.startswith(("-", ".")) or not part for part in name.split("/")):
        return "no part of the name may be empty or start with '-' or '.'"
    if name == "HEAD" or COMMIT_ID_RE.fullmatch(name):
        return "HEAD or a 40-character commit id can't be a branch or tag name"
    return None


def folder_path(path: object, what: str = "path") -> str:
    """Like file_path, but a trailing '/' is allowed (and dropped); '' means the root."""
    if path in ("", "/", None):
        return ""
    if isinstance(path, str) and path.endswith("/"):
        path = path[:-1]
    return file_path(path, what)


def revision(value: str) -> str:
    """A branch, tag, `refs/...` name or commit id, already URL-decoded."""
    if not _REV_RE.fullmatch(value) or ".." in value or value.endswith((".lock", "/", ".")):
        raise bad(
            f"Invalid revision {value!r}: expected a branch or tag name, a refs/... name, "
            "or a 40-character commit id"
        )
    return value


def split_raw(raw_path: bytes) -> list[str]:
    """The request path split into decoded segments. Splitting before decoding keeps a
    `%2F` inside one segment (the revision `refs%2Fconvert%2Fparquet`)."""
    text = raw_path.decode("latin-1").split("?", 1)[0]
    return [unquote(seg) for seg in text.split("/")[1:]]
