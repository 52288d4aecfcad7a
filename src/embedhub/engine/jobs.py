"""One request's inputs as they wait and are worked on: the bookkeeping between the event loop
(which awaits a request) and the worker threads (which finish its inputs)."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from embedhub.types import Timings


@dataclass
class Input:
    """One distinct input of a request, waiting for a forward pass."""

    item: Any  # a text, or a (query, text) pair
    tokens: int
    group: tuple  # inputs share a forward pass only within one group (task, side, prompt, shape)
    seq: int
    job: Job
    slots: list[int]  # positions in the job's output (duplicates share one input)
    counted: int  # what the backend's count_tokens gave: may carry its tokenization back
    enqueued: float = field(default_factory=time.perf_counter)


class Job:
    """One request's inputs; completes when every input has its result."""

    def __init__(self, n: int, remaining: int = 0) -> None:
        self.results: list[Any] = [None] * n
        self.remaining = remaining
        self.error: BaseException | None = None
        self.timings = Timings()
        self._lock = threading.Lock()  # workers finish this job's inputs concurrently
        self._done = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._future: asyncio.Future | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future:
        self._loop = loop
        self._future = loop.create_future()
        # The worker may have finished between the caller's `remaining` check and this bind;
        # its finish() then saw no loop to wake, so resolve here or the request never returns.
        if self._done.is_set():
            self._future.set_result(None)
        return self._future

    def settle(
        self, queue_seconds: float, inference_seconds: float, error: BaseException | None
    ) -> bool:
        """One input is done (its result written, or `error`); True when it was the last."""
        with self._lock:
            self.timings.queue_seconds = max(self.timings.queue_seconds, queue_seconds)
            self.timings.inference_seconds = max(self.timings.inference_seconds, inference_seconds)
            if error is not None:
                self.error = error
            self.remaining -= 1
            return self.remaining == 0

    def finish(self) -> None:
        self._done.set()
        if self._loop is not None and self._future is not None:
            self._loop.call_soon_threadsafe(self._resolve)

    def _resolve(self) -> None:
        if self._future is not None and not self._future.done():
            self._future.set_result(None)

    def wait(self) -> None:
        self._done.wait()
