"""The app factory. No module-level app and no work at import time: the caller builds the
engines and the database and passes them in."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from embedhub import __version__
from embedhub.api import cohere, docs, errors, hf_inference, openai_api, rerank, tei, tei_tasks
from embedhub.api.common import ApiContext
from embedhub.api.metrics import Metrics
from embedhub.api.middleware import RequestMiddleware
from embedhub.api.routing import OpenAIRoute, first_names
from embedhub.config import Settings
from embedhub.db import Database
from embedhub.engine import Engine


def api_routers() -> list[APIRouter]:
    """The embedding APIs, in the order they are matched."""
    openai = openai_api.router()
    return [
        docs.router(),
        tei.router(),
        tei_tasks.router(),
        openai,
        openai_alias(openai),
        cohere.router(),
        rerank.router(),
        hf_inference.router(),
    ]


def openai_alias(openai: APIRouter) -> APIRouter:
    """TEI serves the OpenAI embeddings route at /embeddings too (what clients configured
    with a base URL that lacks /v1 call): the same handler, in OpenAI's error shape."""
    alias = APIRouter(tags=["OpenAI"], route_class=OpenAIRoute)
    for route in openai.routes:
        if isinstance(route, APIRoute) and route.path == "/v1/embeddings":
            alias.add_api_route(
                "/embeddings",
                route.endpoint,
                methods=["POST"],
                dependencies=route.dependencies,
                responses=route.responses,
                summary=f"{route.summary} (TEI's alias of /v1/embeddings)",
                operation_id="create_embeddings_tei_alias",
            )
    return alias


def new_app() -> FastAPI:
    """The app, without FastAPI's own unguarded /docs, /openapi.json and /redoc (api/docs.py
    declares them with the same auth as /info)."""
    return FastAPI(
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        title="embedhub",
        version=__version__,
        description="Embeddings as a service (Hugging Face Inference, OpenAI, TEI and Cohere "
        "APIs) "
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
    if settings.cors_allow_origin:
        # Outermost, so a preflight (OPTIONS) is answered before routing, auth or limits.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_allow_origin),
            allow_methods=["GET", "POST"],
            allow_headers=["*"],
            expose_headers=EXPOSED_HEADERS,
        )
    return app


# What a page may read of an answer from another origin: TEI's timing headers and ours.
EXPOSED_HEADERS = [
    "x-compute-type",
    "x-compute-time",
    "x-compute-characters",
    "x-compute-tokens",
    "x-total-time",
    "x-tokenization-time",
    "x-queue-time",
    "x-inference-time",
    "x-cache-hits",
    "x-request-id",
    "retry-after",
]


def routes_of(routers: Iterable[APIRouter]) -> list[BaseRoute]:
    return [route for router in routers for route in router.routes]


def top_level_names(routers: Iterable[APIRouter]) -> frozenset[str]:
    """The first path segments an app mounting `routers` routes on."""
    routes = routes_of(routers)
    return frozenset(name for route in routes for name in first_names(route))
