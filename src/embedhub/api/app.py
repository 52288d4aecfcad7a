"""The app factory. No module-level app and no work at import time: the caller builds the
engines and the database and passes them in."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from fastapi import APIRouter, FastAPI
from starlette.routing import BaseRoute

from embedhub import __version__
from embedhub.api import docs, errors, hf_inference, openai_api, tei
from embedhub.api.common import ApiContext
from embedhub.api.metrics import Metrics
from embedhub.api.middleware import RequestMiddleware
from embedhub.api.routing import first_names
from embedhub.config import Settings
from embedhub.db import Database
from embedhub.engine import Engine


def api_routers() -> list[APIRouter]:
    """The embedding APIs, in the order they are matched."""
    return [docs.router(), tei.router(), openai_api.router(), hf_inference.router()]


def new_app() -> FastAPI:
    """The app, without FastAPI's own unguarded /docs, /openapi.json and /redoc (api/docs.py
    declares them with the same auth as /info)."""
    return FastAPI(
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        title="embedhub",
        version=__version__,
        description="Embeddings as a service (Hugging Face Inference, OpenAI and TEI APIs) "
        "and a Hugging Face Hub-compatible dataset host.",
    )


# What an app mounts after the embedding APIs: a router, or a function that adds routes bound
# to its own state (the web view's pages).
Mount = APIRouter | Callable[[FastAPI], None]


def create_app(
    settings: Settings,
    engines: dict[str, Engine],
    db: Database,
    metrics: Metrics,
    *,
    mounts: Sequence[Mount] = (),
) -> FastAPI:
    """`mounts`: more routes after the embedding APIs' (the viewer's, the web view's, the
    hub's), in the order they are matched."""
    app = new_app()
    app.state.ctx = ApiContext(settings, engines, db, metrics)
    routers = api_routers()
    for router in routers:
        app.include_router(router)
    for mount in mounts:
        if isinstance(mount, APIRouter):
            app.include_router(mount)
            routers.append(mount)
        else:
            mount(app)
    errors.install(app, routes_of(routers))
    app.add_middleware(RequestMiddleware, metrics=metrics)
    return app


def routes_of(routers: Iterable[APIRouter]) -> list[BaseRoute]:
    return [route for router in routers for route in router.routes]


def top_level_names(routers: Iterable[APIRouter]) -> frozenset[str]:
    """The first path segments an app mounting `routers` routes on."""
    routes = routes_of(routers)
    return frozenset(name for route in routes for name in first_names(route))
