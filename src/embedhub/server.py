"""Putting `embedhub serve` together: database, one engine per model, the embedding API and
the hub on one port."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import cache, partial

import uvicorn
from fastapi import APIRouter, FastAPI

from embedhub.api.app import Mount, api_routers, create_app, top_level_names
from embedhub.api.metrics import Metrics
from embedhub.backends import configured_backend
from embedhub.config import Settings
from embedhub.db import Database
from embedhub.engine import Engine, plan_workers
from embedhub.http_limits import HttpLimits, protocol_class
from embedhub.memory import arrow_on_glibc

log = logging.getLogger("embedhub")


def load_engines(settings: Settings, metrics: Metrics) -> dict[str, Engine]:
    engines: dict[str, Engine] = {}
    workers, threads = plan_workers(settings.threads, settings.workers)
    for spec in settings.models:  # Settings made sure each id is there once
        backend = configured_backend(spec, settings, threads=threads, workers=workers)
        engines[spec.model_id] = Engine(
            backend,
            max_batch_tokens=settings.max_batch_tokens,
            max_concurrent_requests=settings.max_concurrent_requests,
            max_request_tokens=settings.max_request_tokens,
            cache_size=settings.cache_size,
            workers=workers,
            observer=metrics.observer(spec.model_id),
        )
        log.info(
            "loaded %s (%d dims, max %d tokens; %s %s, %d worker(s) x %d thread(s))",
            spec.model_id,
            backend.info.dimension,
            backend.info.max_seq_length,
            backend.info.runtime,
            backend.info.precision,
            workers,
            threads,
        )
    return engines


def _mounted(web_pages: Callable[[FastAPI], None] | None = None) -> list[Mount]:
    """What the server mounts after the embedding APIs, in matching order. The viewer and the
    web view come before the hub: their pages share the hub's URL space (GET/HEAD on shapes no
    hub route uses) and the first full match wins; the viewer first of all, so
    /datasets-server/... is never taken for a model page. The web view's pages are bound to
    its own state (`web_pages`); they claim no first segment of their own (`/`, `/-/...` and
    the hub's repo URLs)."""
    from embedhub import hub, viewer

    return [*viewer.routers(), *([web_pages] if web_pages else []), hub.router()]


@cache
def reserved_names() -> frozenset[str]:
    """The first path segments the server routes on, from the routes themselves (no engines,
    no database): a user or organisation with one of these names would make its model repos'
    URLs ambiguous. The CLI checks names against the same set without a running server."""
    routers = [m for m in _mounted() if isinstance(m, APIRouter)]
    return top_level_names([*api_routers(), *routers])


def open_database(settings: Settings) -> Database:
    return Database(settings.db_path, reserved_names=reserved_names())


def build_app(settings: Settings, engines: dict[str, Engine], metrics: Metrics) -> FastAPI:
    from embedhub import hub, viewer, web
    from embedhub.hub.store import Hub
    from embedhub.search.indexes import SearchSettings

    db = open_database(settings)
    search = SearchSettings(
        approx_threshold=settings.search_approx_threshold,
        superseded_grace_s=settings.search_index_grace,
    )
    web_pages = partial(web.register, settings=settings, db=db, engines=engines)
    app = create_app(settings, engines, db, metrics, mounts=_mounted(web_pages))
    # The dataset viewer reads repos through a Hub of its own (the same data directory and
    # database; the one that serves the hub's routes is app.state.hub).
    app.state.viewer = viewer.make_viewer(
        Hub(settings, db), engines, search=search, registry=metrics.registry
    )
    app.state.hub = hub.open_hub(settings, db, metrics.registry)
    if not settings.search_lazy:  # pushed embedding datasets are prepared for search at once
        app.state.hub.listeners.append(viewer.Warmer(app.state.viewer).changed)
    return app


def serve(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if not arrow_on_glibc():  # the CLI asked first; a server started from Python may not
        log.warning("pyarrow was loaded before the server started: it keeps its allocator")
    metrics = Metrics()
    engines = load_engines(settings, metrics)
    for engine in engines.values():
        engine.start()
    app = build_app(settings, engines, metrics)
    if not settings.on_loopback:
        log.info("bound to %s: every inference request needs a token", settings.host)
    try:
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level="info",
            access_log=False,
            timeout_graceful_shutdown=10,
            http=protocol_class(
                HttpLimits(
                    max_header_bytes=settings.max_header_bytes,
                    max_headers=settings.max_headers,
                    header_timeout=settings.header_timeout,
                    body_timeout=settings.body_timeout,
                )
            ),
        )
    finally:
        for engine in engines.values():
            engine.stop()
