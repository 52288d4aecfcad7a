"""The hub: a self-hosted, Hugging Face Hub-compatible host for dataset and model repos.

Repos are bare git repositories under `data_dir/hub`, large files are Git LFS objects under
`data_dir/lfs` or Xet files under `data_dir/xet` (what huggingface_hub's default client
uploads), and users, organisations, tokens and visibility live in SQLite. The official clients
(huggingface_hub with or without hf_xet, datasets, git + git-lfs) talk to it unchanged."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the package is also imported by git's push hook, which needs no web stack
    from fastapi import FastAPI

    from embedhub.config import Settings
    from embedhub.db import Database


def register(app: FastAPI, settings: Settings, db: Database) -> None:
    """Add the hub's API, file, LFS and git routes to `app`."""
    from embedhub.hub.routes import add_routes
    from embedhub.hub.store import Hub

    hub = Hub(settings, db)
    hub.start()
    if hasattr(app.state, "ctx"):  # the Xet byte counters go with the app's other metrics
        hub.xet.use_registry(app.state.ctx.metrics.registry)
    add_routes(app, hub)
