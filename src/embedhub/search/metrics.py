"""What search reports to /metrics: index builds (in progress, done, how long, how far),
queries by method, folders removed. Registered on the server's registry when given one; a
`SearchMetrics(None)` (tests, tools) counts nothing."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_BUILD_SECONDS = (0.1, 0.5, 1, 5, 10, 30, 60, 120, 180, 300, 600, 1800)


class SearchMetrics:
    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.enabled = registry is not None
        if registry is None:
            return
        r = registry
        self.builds_running = Gauge(
            "embedhub_search_index_builds_in_progress",
            "Approximate search indexes being built now (queries are answered exactly meanwhile)",
            registry=r,
        )
        self.build_fraction = Gauge(
            "embedhub_search_index_build_progress",
            "Share of rows added to the approximate index being built (0-1)",
            registry=r,
        )
        self.builds = Counter(
            "embedhub_search_index_builds",
            "Approximate index builds by result",
            ["result"],
            registry=r,
        )
        self.build_seconds = Histogram(
            "embedhub_search_index_build_duration_seconds",
            "Time to build one approximate index",
            buckets=_BUILD_SECONDS,
            registry=r,
        )
        self.view_seconds = Histogram(
            "embedhub_search_view_open_duration_seconds",
            "Time to open a split for search (building its rows and vectors the first time)",
            buckets=_BUILD_SECONDS,
            registry=r,
        )
        self.queries = Counter(
            "embedhub_search_queries", "Semantic search queries by method", ["method"], registry=r
        )
        self.removals = Counter(
            "embedhub_search_indexes_removed",
            "Split index folders removed (superseded, unused or their repo deleted)",
            registry=r,
        )

    def build_started(self) -> None:
        if self.enabled:
            self.builds_running.inc()
            self.build_fraction.set(0)

    def build_progress(self, fraction: float) -> None:
        if self.enabled:
            self.build_fraction.set(fraction)

    def build_finished(self, seconds: float, *, ok: bool) -> None:
        if self.enabled:
            self.builds_running.dec()
            self.builds.labels("ok" if ok else "failed").inc()
            if ok:
                self.build_seconds.observe(seconds)

    def view_opened(self, seconds: float) -> None:
        if self.enabled:
            self.view_seconds.observe(seconds)

    def query(self, method: str) -> None:
        if self.enabled:
            self.queries.labels(method).inc()

    def removed(self) -> None:
        if self.enabled:
            self.removals.inc()
