"""SQLite the way embedhub's stores use it (the database, the Xet index): one connection per
thread (a connection must not be shared between threads), WAL so that readers never wait for
the writer, and write transactions that take the write lock at once (BEGIN IMMEDIATE: two
writers never deadlock upgrading their read locks)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class ThreadConnections:
    def __init__(self, path: Path, *, timeout: float, pragmas: tuple[str, ...] = ()) -> None:
        """`timeout`: seconds a statement waits for another connection's lock; `pragmas`:
        more `PRAGMA`s for each new connection (e.g. "foreign_keys=ON")."""
        self.path = path
        self.timeout = timeout
        self.pragmas = ("journal_mode=WAL", "synchronous=NORMAL", *pragmas)
        self._local = threading.local()

    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            for pragma in self.pragmas:
                conn.execute(f"PRAGMA {pragma}")
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction on this thread's connection, rolled back on any error."""
        conn = self.conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
