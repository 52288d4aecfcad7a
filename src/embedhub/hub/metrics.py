"""The hub's counters for /metrics (request counts and durations by route are the server's:
api/middleware.py). Cheap by design: one increment per commit, ref change or request body."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class HubMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = registry or CollectorRegistry()
        self.commits = Counter(
            "embedhub_hub_commits",
            "Commits the hub made (via: api for the commit API, squash for super-squash)",
            ["via"],
            registry=r,
        )
        self.ref_changes = Counter(
            "embedhub_hub_ref_changes",
            "Branches and tags created or deleted through the API",
            ["action"],
            registry=r,
        )
        self.received = Counter(
            "embedhub_hub_received_bytes",
            "Request body bytes the hub accepted (via: commit, lfs, push)",
            ["via"],
            registry=r,
        )
        self.repo_changes = Counter(
            "embedhub_hub_repo_changes",
            "Repos created, deleted, moved or duplicated",
            ["action"],
            registry=r,
        )
