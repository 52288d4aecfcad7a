"""What the engine reports while it works. The default does nothing; the HTTP layer passes one
that feeds Prometheus, so the engine itself needs no metrics library."""

from __future__ import annotations

from embedhub.types import Timings


class EngineObserver:
    def batch(self, size: int, padded_tokens: int, seconds: float) -> None:
        pass

    def queue_size(self, size: int) -> None:
        pass

    def queue_wait(self, seconds: float) -> None:
        """How long one request waited for the model (its longest-waiting input)."""

    def cache_hits(self, n: int) -> None:
        pass

    def rejected(self) -> None:
        pass

    def withdrawn(self, n: int) -> None:
        """Waiting inputs dropped because their request was cancelled."""

    def finished(self, timings: Timings, token_counts: list[int]) -> None:
        """One request's inputs are all done: its timings and each input's tokens."""
