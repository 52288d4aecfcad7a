"""A hosted dataset at one commit: its files, card, embedding metadata and splits.

Everything downstream (rows, indexes, search) is keyed by the commit id resolved here, once
per request: a push that moves the branch during a request changes nothing the request
reads, so every answer comes from one consistent commit."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embedhub.cardmeta import CardMetaError, EmbeddingMeta, card_data_of, meta_from_card_data
from embedhub.errors import EmbedhubError, Kind
from embedhub.hub.api import resolve_rev
from embedhub.hub.blobs import repo_file
from embedhub.hub.gitrepo import Entry
from embedhub.hub.paths import RepoId
from embedhub.hub.store import Hub
from embedhub.search.files import FileCache
from embedhub.search.layout import LayoutError, SplitLayout, layout

README = "README.md"
MAX_README = 1 << 20  # a card bigger than this is not parsed for metadata


@dataclass
class Snapshot:
    rid: RepoId
    commit: str
    entries: dict[str, Entry]  # files only, by path
    card_data: dict[str, Any]
    splits: list[SplitLayout]
    meta: EmbeddingMeta | None
    meta_error: str | None  # why the card's embedhub block could not be used
    layout_error: str | None  # why the card's configs block could not be used

    @property
    def configs(self) -> list[str]:
        return list(dict.fromkeys(s.config for s in self.splits))

    def split(self, config: str, split: str) -> SplitLayout:
        for s in self.splits:
            if s.config == config and s.split == split:
                return s
        if config not in self.configs:
            known = ", ".join(repr(c) for c in self.configs) or "none"
            raise EmbedhubError(
                Kind.NOT_FOUND,
                f"No config {config!r} in {self.rid.id} at {self.commit[:12]}; configs: {known}",
                code="ResponseNotFound",
            )
        known = ", ".join(repr(s.split) for s in self.splits if s.config == config)
        raise EmbedhubError(
            Kind.NOT_FOUND,
            f"No split {split!r} in config {config!r} of {self.rid.id}; splits: {known}",
            code="ResponseNotFound",
        )


class Snapshots:
    """Resolves (repo, revision) to a Snapshot; the last few are kept in memory."""

    def __init__(self, hub: Hub, files: FileCache, keep: int = 64) -> None:
        self.hub = hub
        self.files = files
        self.keep = keep
        self._cache: OrderedDict[tuple[RepoId, str], Snapshot] = OrderedDict()
        self._lock = threading.Lock()

    def commit_of(self, rid: RepoId, revision: str) -> str:
        return resolve_rev(self.hub.git(rid), rid, revision)

    def get(self, rid: RepoId, revision: str) -> Snapshot:
        """Call from a worker thread (git may run). The caller checked read permission."""
        commit = self.commit_of(rid, revision)
        key = (rid, commit)
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
                return found
        snap = self._load(rid, commit)
        with self._lock:
            self._cache[key] = snap
            while len(self._cache) > self.keep:
                self._cache.popitem(last=False)
        return snap

    def local_files(self, snap: Snapshot, split: SplitLayout) -> list[Path]:
        """The split's data files as local paths (see FileCache)."""
        return [
            self.files.path(repo_file(self.hub, snap.rid, snap.entries[p])) for p in split.files
        ]

    def local_file(self, snap: Snapshot, path: str) -> Path:
        return self.files.path(repo_file(self.hub, snap.rid, snap.entries[path]))

    def _load(self, rid: RepoId, commit: str) -> Snapshot:
        tree = self.hub.git(rid).ls_tree(commit, recursive=True)
        entries = {e.path: e for e in tree if e.type == "blob"}
        card_data = self._card_data(rid, entries.get(README))
        meta, meta_error = None, None
        try:
            meta = meta_from_card_data(card_data)
        except CardMetaError as exc:
            meta_error = str(exc)
        try:
            splits, layout_error = layout(list(entries), card_data), None
        except LayoutError as exc:
            splits, layout_error = [], str(exc)
        return Snapshot(rid, commit, entries, card_data, splits, meta, meta_error, layout_error)

    def _card_data(self, rid: RepoId, readme: Entry | None) -> dict[str, Any]:
        if readme is None or readme.real_size > MAX_README:
            return {}
        try:
            with repo_file(self.hub, rid, readme).open() as f:
                text = f.read().decode("utf-8", errors="replace")
        except EmbedhubError:  # an LFS pointer whose object never arrived
            return {}
        return card_data_of(text)
