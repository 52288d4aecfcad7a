"""The hub: a self-hosted, Hugging Face Hub-compatible host for dataset and model repos.

Repos are bare git repositories under `data_dir/hub`, large files are Git LFS objects under
`data_dir/lfs` or Xet files under `data_dir/xet` (what huggingface_hub's default client
uploads), and users, organisations, tokens and visibility live in SQLite. The official clients
(huggingface_hub with or without hf_xet, datasets, git + git-lfs) talk to it unchanged."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the package is also imported by git's push hook, which needs no web stack
    from fastapi import APIRouter
    from prometheus_client import CollectorRegistry

    from embedhub.config import Settings
    from embedhub.db import Database
    from embedhub.hub.store import Hub


def router() -> APIRouter:
    """The hub's API, file, LFS and git routes; they serve the Hub in `app.state.hub`, so
    they can be listed without one."""
    from embedhub.hub.routes import router

    return router()


def open_hub(settings: Settings, db: Database, registry: CollectorRegistry | None = None) -> Hub:
    """The hub's state, for `app.state.hub`, with its start-up work done; its metrics go in
    `registry`."""
    from embedhub.hub.store import Hub

    hub = Hub(settings, db)
    hub.start()
    if registry is not None:  # the hub's counters go with the app's other metrics
        hub.use_registry(registry)
    return hub
