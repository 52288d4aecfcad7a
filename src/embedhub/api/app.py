"""The app factory. No module-level app and no work at import time: the caller builds the
engines and the database and passes them in."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from embedhub import __version__
from embedhub.api import errors, hf_inference, openai_api, tei
from embedhub.api.common import ApiContext
from embedhub.api.metrics import Metrics
from embedhub.api.middleware import RequestMiddleware
from embedhub.config import Settings
from embedhub.db import Database
from embedhub.engine import Engine


def create_app(
    settings: Settings,
    engines: dict[str, Engine],
    db: Database,
    metrics: Metrics,
    *,
    extensions: tuple[Callable[[FastAPI], None], ...] = (),
) -> FastAPI:
    """`extensions` add more routes after the embedding API's (the hub registers this way)."""
    app = FastAPI(
        title="embedhub",
        version=__version__,
        description="Embeddings as a service (Hugging Face Inference, OpenAI and TEI APIs) "
        "and a Hugging Face Hub-compatible dataset host.",
    )
    app.state.ctx = ApiContext(settings, engines, db, metrics)
    errors.install(app)
    app.include_router(tei.router())
    app.include_router(openai_api.router())
    app.include_router(hf_inference.router())
    for extend in extensions:
        extend(app)
    app.add_middleware(RequestMiddleware, metrics=metrics, payload_limit=settings.payload_limit)
    return app
