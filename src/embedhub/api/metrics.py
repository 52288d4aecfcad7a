"""Prometheus metrics, one registry per app (so several apps can live in one process), and the
engine observer that feeds them."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from embedhub.api.tei_metrics import TeiMetrics
from embedhub.engine import EngineObserver
from embedhub.types import Timings

_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "embedhub_requests",
            "HTTP requests by route and status",
            ["route", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "embedhub_request_duration_seconds",
            "Time to answer a request",
            ["route"],
            buckets=_SECONDS,
            registry=r,
        )
        self.queue_size = Gauge(
            "embedhub_queue_size", "Inputs waiting for a batch", ["model"], registry=r
        )
        self.batch_size = Histogram(
            "embedhub_batch_size", "Inputs per forward pass", ["model"], buckets=_SIZES, registry=r
        )
        self.batch_tokens = Histogram(
            "embedhub_batch_tokens",
            "Padded tokens per forward pass",
            ["model"],
            buckets=tuple(s * 16 for s in _SIZES),
            registry=r,
        )
        self.queue_seconds = Histogram(
            "embedhub_queue_duration_seconds",
            "Time a request waited for the model",
            ["model"],
            buckets=_SECONDS,
            registry=r,
        )
        self.inference_seconds = Histogram(
            "embedhub_inference_duration_seconds",
            "Time of one forward pass",
            ["model"],
            buckets=_SECONDS,
            registry=r,
        )
        self.cache_hits = Counter(
            "embedhub_cache_hits", "Inputs answered from the embedding cache", ["model"], registry=r
        )
        self.rejected = Counter(
            "embedhub_rejected_requests",
            "Requests refused with 429 (overloaded)",
            ["model"],
            registry=r,
        )

        self.tei = TeiMetrics(r)
        self.withdrawn = Counter(
            "embedhub_withdrawn_inputs",
            "Waiting inputs dropped, not embedded, because their client disconnected",
            ["model"],
            registry=r,
        )

    def observer(self, model_id: str) -> EngineObserver:
        return _PrometheusObserver(self, model_id)


class _PrometheusObserver(EngineObserver):
    def __init__(self, metrics: Metrics, model: str) -> None:
        self._batch_size = metrics.batch_size.labels(model)
        self._batch_tokens = metrics.batch_tokens.labels(model)
        self._inference = metrics.inference_seconds.labels(model)
        self._queue = metrics.queue_size.labels(model)
        self._queue_wait = metrics.queue_seconds.labels(model)
        self._hits = metrics.cache_hits.labels(model)
        self._rejected = metrics.rejected.labels(model)
        self._withdrawn = metrics.withdrawn.labels(model)
        tei = self._tei = metrics.tei
        self._te_queue = tei.queue_size.labels(model)
        self._te_batch_size = tei.batch_size.labels(model)
        self._te_batch_tokens = tei.batch_tokens.labels(model)
        self._te_batch_duration = tei.batch_duration.labels(model)

    def batch(self, size: int, padded_tokens: int, seconds: float) -> None:
        self._batch_size.observe(size)
        self._batch_tokens.observe(padded_tokens)
        self._inference.observe(seconds)
        self._te_batch_size.observe(size)
        self._te_batch_tokens.observe(padded_tokens)
        self._te_batch_duration.observe(seconds)

    def queue_size(self, size: int) -> None:
        self._queue.set(size)
        self._te_queue.set(size)

    def queue_wait(self, seconds: float) -> None:
        self._queue_wait.observe(seconds)

    def cache_hits(self, n: int) -> None:
        self._hits.inc(n)

    def rejected(self) -> None:
        self._rejected.inc()

    def withdrawn(self, n: int) -> None:
        self._withdrawn.inc(n)

    def finished(self, timings: Timings, token_counts: list[int]) -> None:
        tei = self._tei
        tei.tokenization_duration.observe(timings.tokenize_seconds)
        tei.queue_duration.observe(timings.queue_seconds)
        tei.inference_duration.observe(timings.inference_seconds)
        for n in token_counts:
            tei.input_length.observe(n)
