"""The web view: pages to browse repos, read and search datasets, and see a dataset's
embeddings as a map, on the same port as the APIs. Nothing in api/, hub/ or engine/ imports
this package; the server adds it (server.py)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from embedhub.config import Settings
from embedhub.db import Database


def register(app: FastAPI, settings: Settings, db: Database, engines: dict[str, Any]) -> None:
    """Add the web view's routes to `app`; call before the hub registers its routes (its pages
    share the hub's URLs, and the first full match wins)."""
    from embedhub.web.context import Web
    from embedhub.web.routes import add_routes

    web = Web.build(settings, db, engines)
    add_routes(app, web)
