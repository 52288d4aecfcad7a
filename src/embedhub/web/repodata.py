"""What the repo pages read from a repo, in plain blocking functions (run in a thread): the
files at a revision, the README card, refs, history, and which Parquet files make up each
config and split of a dataset. Revisions and paths go through the hub's own checks, so a bad
one is the API's 400 and an unknown one its 404."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

from embedhub.db import TokenInfo
from embedhub.errors import EmbedhubError, Kind
from embedhub.hub import reading
from embedhub.hub.api import resolve_rev
from embedhub.hub.gitrepo import Entry, GitRepo
from embedhub.hub.paths import RepoId
from embedhub.hub.store import Hub
from embedhub.web.card import Card, parse_card

README_LIMIT = 1 << 20  # a README past 1 MB is shown as a file, not rendered
SPLIT_NAMES = ("train", "validation", "test")


@dataclass
class Repo:
    """A readable repo at one commit."""

    hub: Hub
    rid: RepoId
    private: bool
    git: GitRepo
    rev: str
    commit: str

    def entries(self, folder: str = "", *, recursive: bool = False) -> list[Entry]:
        return self.git.ls_tree(self.commit, folder, recursive=recursive)

    def entry(self, path: str) -> Entry | None:
        found = self.git.entries(self.commit, [path])
        return found[0] if found else None

    def is_folder(self, folder: str) -> bool:
        return self.git.object_type(self.commit, folder) == "tree"

    def head(self, entry: Entry, limit: int) -> bytes:
        return reading.read_head(self.hub, self.rid, self.git, entry, limit)

    def stored(self, entry: Entry) -> bool:
        return reading.stored(self.hub, self.rid, entry)

    def card(self) -> Card | None:
        entry = self.entry("README.md")
        if entry is None or entry.type != "blob" or entry.real_size > README_LIMIT:
            return None
        if not self.stored(entry):
            return None
        return parse_card(self.head(entry, README_LIMIT).decode(errors="replace"))

    def refs(self) -> dict[str, list[tuple[str, str]]]:
        out: dict[str, list[tuple[str, str]]] = {"branches": [], "tags": []}
        for ref, sha in self.git.refs("refs/"):
            if ref.startswith("refs/heads/"):
                out["branches"].append((ref[len("refs/heads/") :], sha))
            elif ref.startswith("refs/tags/"):
                out["tags"].append((ref[len("refs/tags/") :], sha))
        return out


def open_repo(hub: Hub, rid: RepoId, token: TokenInfo | None, rev: str = "main") -> Repo:
    """The repo at `rev`, if the visitor may read it: the same 404 as the API otherwise."""
    row = hub.readable(rid, token)
    git = hub.git(rid)
    return Repo(hub, rid, row.private, git, rev, resolve_rev(git, rid, rev))


def entry_not_found(rid: RepoId, path: str, rev: str) -> EmbedhubError:
    return EmbedhubError(
        Kind.NOT_FOUND, f"{path!r} not found at {rev!r} in {rid.id}", code="EntryNotFound"
    )


# --- datasets: configs, splits and their files ---------------------------------------------
def data_files(repo: Repo, meta: dict[str, Any] | None) -> dict[str, dict[str, list[str]]]:
    """{config: {split: [parquet paths]}}: from the card's `configs` when it has them (what
    `datasets` reads), else by the Hub's file-name convention (`train-*.parquet`, ...)."""
    paths = sorted(
        e.path
        for e in repo.entries(recursive=True)
        if e.type == "blob" and e.path.endswith(".parquet")
    )
    configs = (meta or {}).get("configs")
    if isinstance(configs, list) and configs:
        out: dict[str, dict[str, list[str]]] = {}
        for config in configs:
            if isinstance(config, dict) and isinstance(config.get("config_name"), str):
                out[config["config_name"]] = _splits_of(config.get("data_files"), paths)
        if any(out.values()):
            return {name: splits for name, splits in out.items() if splits}
    return {"default": _by_name(paths)} if paths else {}


def _splits_of(spec: Any, paths: list[str]) -> dict[str, list[str]]:
    if isinstance(spec, str | list) and not (
        isinstance(spec, list) and spec and isinstance(spec[0], dict)
    ):
        spec = [{"split": "train", "path": spec}]
    out: dict[str, list[str]] = {}
    for item in spec or []:
        if not isinstance(item, dict) or not isinstance(item.get("split"), str):
            continue
        patterns = item.get("path")
        patterns = [patterns] if isinstance(patterns, str) else patterns or []
        found = [p for p in paths if any(fnmatch.fnmatch(p, str(pat)) for pat in patterns)]
        if found:
            out[item["split"]] = found
    return out


def _by_name(paths: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for path in paths:
        name = path.rsplit("/", 1)[-1]
        split = next((s for s in SPLIT_NAMES if name.startswith(s)), "train")
        out.setdefault(split, []).append(path)
    return out
