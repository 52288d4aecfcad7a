"""What every dataset-viewer route needs: the hub (permissions, files), the datasets'
snapshots, the search indexes and the engines, and the steps all routes share: which
dataset, may this caller read it, which commit, which split."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread
from starlette.requests import Request

from embedhub.db import TokenInfo
from embedhub.engine import Engine
from embedhub.errors import EmbedhubError, Kind
from embedhub.hub.paths import RepoId, repo_id
from embedhub.hub.store import Hub
from embedhub.hub.web import token_of
from embedhub.search.indexes import Indexes, SplitKey
from embedhub.search.layout import SplitLayout
from embedhub.search.snapshots import Snapshot, Snapshots
from embedhub.search.views import View, ViewError
from embedhub.viewer.params import invalid, optional, required

DEFAULT_REVISION = "main"


def viewer_of(request: Request) -> Viewer:
    """The Viewer the server keeps in `app.state.viewer`."""
    return request.app.state.viewer


@dataclass
class Viewer:
    hub: Hub
    snapshots: Snapshots
    indexes: Indexes
    engines: dict[str, Engine]
    inference_needs_token: bool

    # --- which dataset, and may the caller read it -----------------------------------------
    def token(self, request: Request) -> TokenInfo | None:
        return token_of(self.hub, request)

    def readable(self, name: str, token: TokenInfo | None) -> RepoId:
        """The dataset repo `name` ("ns/repo"); 404 (the hub's own answer) when it doesn't
        exist or the caller may not see it, with a pointed message for a model repo."""
        parts = name.split("/")
        if len(parts) != 2 or not all(parts):
            raise invalid(f"Parameter 'dataset' must be NAMESPACE/NAME, got {name!r}")
        try:
            rid = repo_id("dataset", parts[0], parts[1])
        except EmbedhubError as exc:
            raise invalid(f"Parameter 'dataset': {exc.message}") from None
        try:
            self.hub.readable(rid, token)
        except EmbedhubError:
            model = RepoId("model", rid.namespace, rid.name)
            row = self.hub.row(model)
            if row is not None and (not row.private or self.hub.is_member(token, rid.namespace)):
                raise EmbedhubError(
                    Kind.NOT_FOUND,
                    f"{rid.id} is a model repository, not a dataset: the dataset viewer "
                    "reads dataset repositories (datasets/NS/NAME) only",
                    code="DatasetNotFoundError",
                ) from None
            raise
        return rid

    async def snapshot(self, request: Request) -> Snapshot:
        """The `dataset` parameter's dataset at the `revision` parameter (default: main)."""
        name = required(request, "dataset")
        revision = optional(request, "revision") or DEFAULT_REVISION
        rid = self.readable(name, self.token(request))
        return await anyio.to_thread.run_sync(self.snapshots.get, rid, revision)

    # --- which split -----------------------------------------------------------------------
    def split(self, snap: Snapshot, config: str | None, split: str | None) -> SplitLayout:
        """The named split; config and split may be left out when there is only one choice
        (or a `train` split), as semantic search allows."""
        if not snap.splits:
            raise no_data(snap)
        config = config or snap.configs[0]
        if split is None:
            names = [s.split for s in snap.splits if s.config == config]
            split = "train" if "train" in names else (names[0] if len(names) == 1 else None)
            if split is None:
                raise EmbedhubError(
                    Kind.VALIDATION,
                    f"{snap.rid.id} has several splits in config {config!r} "
                    f"({', '.join(names)}): pass split=",
                    code="MissingRequiredParameter",
                )
        found = snap.split(config, split)
        if not found.supported:
            raise EmbedhubError(
                Kind.VALIDATION,
                f"Split {split!r} of {snap.rid.id} is stored as {', '.join(found.files[:3])}: "
                "this server reads Parquet data files only",
                code="UnsupportedFormat",
            )
        return found

    def paths(self, snap: Snapshot, split: SplitLayout) -> list[Path]:
        return self.snapshots.local_files(snap, split)

    async def view(self, snap: Snapshot, split: SplitLayout, revision: str) -> View:
        """The split's search view (built on first use, in a worker thread)."""
        return await anyio.to_thread.run_sync(self.open_view, snap, split, revision)

    def open_view(self, snap: Snapshot, split: SplitLayout, revision: str) -> View:
        """`view` for code already in a worker thread."""
        key = SplitKey("dataset", snap.rid.namespace, snap.rid.name, self._oids(snap, split))
        latest_for = (snap.rid, revision, split.config, split.split)
        try:
            return self.indexes.view(key, lambda: self.paths(snap, split), latest_for)
        except ViewError as exc:
            raise EmbedhubError(
                Kind.VALIDATION,
                f"{snap.rid.id} ({split.split}): {exc}",
                code="UnsupportedFormat",
            ) from None

    @staticmethod
    def _oids(snap: Snapshot, split: SplitLayout) -> tuple[str, ...]:
        out = []
        for path in split.files:
            e = snap.entries[path]
            out.append(e.lfs.oid if e.lfs else e.sha)
        return tuple(out)


def no_data(snap: Snapshot) -> EmbedhubError:
    why = snap.layout_error or "it has no data files (e.g. data/train-00000-of-00001.parquet)"
    return EmbedhubError(
        Kind.NOT_FOUND,
        f"{snap.rid.id} at {snap.commit[:12]} has no split to show: {why}",
        code="ResponseNotFound",
    )
