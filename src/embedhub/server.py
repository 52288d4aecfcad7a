"""Putting `embedhub serve` together: database, one engine per model, the embedding API and
the hub on one port."""

from __future__ import annotations

import logging

import uvicorn
from fastapi import FastAPI

from embedhub.api.app import create_app
from embedhub.api.metrics import Metrics
from embedhub.backends import load_backend
from embedhub.config import Settings
from embedhub.db import Database
from embedhub.engine import Engine, plan_workers

log = logging.getLogger("embedhub")


def load_engines(settings: Settings, metrics: Metrics) -> dict[str, Engine]:
    engines: dict[str, Engine] = {}
    workers, threads = plan_workers(settings.threads, settings.workers)
    for spec in settings.models:  # Settings made sure each id is there once
        backend = load_backend(
            spec,
            runtime=settings.runtime,
            threads=threads,
            workers=workers,
            cache_dir=settings.onnx_cache,
            precision=settings.precision,
            calibration=settings.calibration,
            gate=settings.quality_gate,
        )
        engines[spec.model_id] = Engine(
            backend,
            max_batch_tokens=settings.max_batch_tokens,
            max_concurrent_requests=settings.max_concurrent_requests,
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


def build_app(settings: Settings, engines: dict[str, Engine], metrics: Metrics) -> FastAPI:
    from embedhub import hub, viewer, web
    from embedhub.hub.store import Hub
    from embedhub.search.indexes import SearchSettings

    db = Database(settings.db_path)
    search = SearchSettings(
        approx_threshold=settings.search_approx_threshold,
        superseded_grace_s=settings.search_index_grace,
    )
    # The dataset viewer reads repos through a Hub of its own (the same data directory and
    # database; the one that serves the hub's routes is app.state.hub, below).
    dataset_viewer = viewer.make_viewer(
        Hub(settings, db), engines, search=search, registry=metrics.registry
    )
    app = create_app(
        settings,
        engines,
        db,
        metrics,
        # The viewer and the web view before the hub: their pages share the hub's URL space
        # (GET/HEAD on shapes no hub route uses), and the first full match wins; the viewer
        # first of all, so /datasets-server/... is never taken for a model page.
        mounts=(
            lambda app: viewer.register(app, dataset_viewer),
            lambda app: web.register(app, settings, db, engines),
            hub.router(),
        ),
    )
    app.state.hub = hub.open_hub(settings, db, metrics.registry)
    return app


def serve(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
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
        )
    finally:
        for engine in engines.values():
            engine.stop()
