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
            spec, threads=threads, runtime=settings.runtime, cache_dir=settings.onnx_cache
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
            "loaded %s (%d dims, max %d tokens; %s, %d worker(s) x %d thread(s))",
            spec.model_id,
            backend.info.dimension,
            backend.info.max_seq_length,
            backend.runtime,
            workers,
            threads,
        )
    return engines


def build_app(settings: Settings, engines: dict[str, Engine], metrics: Metrics) -> FastAPI:
    from embedhub import hub, web

    db = Database(settings.db_path)
    return create_app(
        settings,
        engines,
        db,
        metrics,
        # The web view first: its pages share the hub's URLs (GET/HEAD on shapes no hub
        # route uses), and the first full match wins.
        extensions=(
            lambda app: web.register(app, settings, db, engines),
            lambda app: hub.register(app, settings, db),
        ),
    )


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
