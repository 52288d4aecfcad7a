"""Progress while a run goes: a live rich bar on a terminal, a plain line every few seconds
when stderr is a file or pipe (logs, CI), nothing with --quiet.

The bar measures rows when the input's row count is known up front (Parquet, Arrow), and
bytes read otherwise, so CSV/JSON/text inputs still get an ETA without a counting pass."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


class Progress:
    def __init__(self, *, total_rows: int | None, total_bytes: int | None) -> None:
        self.total_rows = total_rows
        self.total_bytes = total_bytes
        self.rows = 0
        self.bytes = 0
        self.embedded = 0
        self.shard = ""
        self.started = time.monotonic()
        self._lock = threading.Lock()

    def add_bytes(self, n: int) -> None:
        with self._lock:  # readers may run on another thread
            self.bytes += n

    def advance(self, rows: int, embedded: int, shard: str) -> None:
        self.rows += rows
        self.embedded += embedded
        self.shard = shard
        self.refresh()

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        pass

    # shared arithmetic
    def fraction(self) -> float | None:
        if self.total_rows:
            return min(self.rows / self.total_rows, 1.0)
        if self.total_bytes:
            return min(self.bytes / self.total_bytes, 1.0)
        return None

    def rate(self) -> float:
        return self.rows / max(time.monotonic() - self.started, 1e-9)

    def eta(self) -> float | None:
        done = self.fraction()
        if not done:
            return None
        elapsed = time.monotonic() - self.started
        return elapsed * (1 - done) / done


class PlainProgress(Progress):
    def __init__(self, stream: TextIO, every: float = 5.0, **totals) -> None:
        super().__init__(**totals)
        self.stream = stream
        self.every = every
        self._last = time.monotonic()

    def refresh(self) -> None:
        if time.monotonic() - self._last >= self.every:
            self._last = time.monotonic()
            self.stream.write(self.line() + "\n")
            self.stream.flush()

    def line(self) -> str:
        done, eta = self.fraction(), self.eta()
        parts = [f"{self.rows:,} rows", f"{self.rate():,.0f} rows/s", f"{self.embedded:,} embedded"]
        if done is not None:
            parts.append(f"{done:.0%}")
        if eta is not None:
            parts.append(f"ETA {eta:,.0f}s")
        if self.shard:
            parts.append(f"shard {self.shard}")
        return "embed: " + ", ".join(parts)


class RichProgress(Progress):
    def __init__(self, stream: TextIO, **totals) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as Bar

        super().__init__(**totals)
        self.bar = Bar(
            TextColumn("embedding"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rows]:,} rows  {task.fields[rate]:,.0f} rows/s"),
            TimeRemainingColumn(),
            TextColumn("shard {task.fields[shard]}"),
            console=Console(file=stream),
            transient=False,
        )
        self.task = self.bar.add_task("embed", total=1.0, rows=0, rate=0.0, shard="-")
        self.bar.start()

    def refresh(self) -> None:
        done = self.fraction()
        self.bar.update(
            self.task,
            completed=done if done is not None else 0.0,
            total=1.0 if done is not None else None,
            rows=self.rows,
            rate=self.rate(),
            shard=self.shard or "-",
        )

    def close(self) -> None:
        self.refresh()
        self.bar.stop()


def make_progress(
    *, quiet: bool, total_rows: int | None, total_bytes: int | None, stream: TextIO | None = None
) -> Progress:
    stream = stream or sys.stderr
    if quiet:
        return Progress(total_rows=total_rows, total_bytes=total_bytes)
    if stream.isatty():
        return RichProgress(stream, total_rows=total_rows, total_bytes=total_bytes)
    return PlainProgress(stream, total_rows=total_rows, total_bytes=total_bytes)
