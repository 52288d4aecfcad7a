"""The work dir inside the output folder: committed parts and the index that says what they
hold. This is what makes a run resumable and exactly-once.

A part is a Parquet file written to a temp name, fsynced and renamed; only then is it recorded,
with its rows' keys, in one SQLite transaction. On start, files that the index does not know
(a run killed between rename and commit) are deleted, so a part is either fully recorded or gone.
Rows are `(key, id, part, run)`: `run` is the last run that saw the row in its input, so rows a
newer input no longer has (deleted, or changed text) are found and dropped from their parts."""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from embedhub.bulk.errors import BulkError

WORK_DIR = ".embedhub"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS parts (part INTEGER PRIMARY KEY, rows INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rows (key INTEGER NOT NULL, id TEXT NOT NULL,
                                 part INTEGER NOT NULL, run INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS rows_key ON rows(key);
CREATE INDEX IF NOT EXISTS rows_part ON rows(part);
"""


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class WorkDir:
    def __init__(self, output: Path) -> None:
        self.root = output / WORK_DIR
        self.parts_dir = self.root / "parts"
        self.parts_dir.mkdir(parents=True, exist_ok=True)
        self._lock = _lock(self.root / "lock", output)
        self.db = sqlite3.connect(self.root / "index.sqlite", isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)
        self._drop_unrecorded()

    def close(self) -> None:
        self.db.close()
        self._lock.close()

    # --- runs and their settings ----------------------------------------------------------
    def begin_run(self, settings: dict[str, str]) -> int:
        """A new run number. Settings are kept for the record; a change of model or text
        changes every row's key, so such rows are simply embedded again."""
        stored = dict(self.db.execute("SELECT k, v FROM meta").fetchall())
        run = int(stored.get("run", "0")) + 1
        with self.db:
            self.db.execute("BEGIN")
            for k, v in {**settings, "run": str(run)}.items():
                self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (k, v))
        return run

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT v FROM meta WHERE k = ?", (key,)).fetchone()
        return row[0] if row else None

    # --- what is done ---------------------------------------------------------------------
    def done_keys(self) -> np.ndarray:
        """Sorted keys of every recorded row (8 bytes a row, so resume checks are in memory)."""
        keys = np.fromiter((k for (k,) in self.db.execute("SELECT key FROM rows")), np.int64)
        keys.sort()
        return keys

    def part_numbers(self) -> list[int]:
        return [p for (p,) in self.db.execute("SELECT part FROM parts ORDER BY part")]

    def part_path(self, part: int) -> Path:
        return self.parts_dir / f"part-{part:06d}.parquet"

    def next_part(self) -> int:
        (top,) = self.db.execute("SELECT COALESCE(MAX(part), -1) FROM parts").fetchone()
        return int(top) + 1

    def row_count(self) -> int:
        return int(self.db.execute("SELECT COALESCE(SUM(rows), 0) FROM parts").fetchone()[0])

    # --- committing -------------------------------------------------------------------------
    def commit_part(self, part: int, keys: list[int], ids: list[str], run: int) -> None:
        """Record a part already renamed into place, with its rows, in one transaction."""
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute("INSERT INTO parts VALUES (?, ?)", (part, len(keys)))
            self.db.executemany(
                "INSERT INTO rows VALUES (?, ?, ?, ?)",
                ((k, i, part, run) for k, i in zip(keys, ids, strict=True)),
            )

    def mark_seen(self, keys: np.ndarray, run: int) -> None:
        """Rows already in the output that this run's input still has."""
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany(
                "UPDATE rows SET run = ? WHERE key = ?", ((run, int(k)) for k in keys)
            )

    def duplicate_ids(self, run: int, limit: int = 5) -> list[tuple[str, int]]:
        return self.db.execute(
            "SELECT id, COUNT(*) FROM rows WHERE run = ? GROUP BY id HAVING COUNT(*) > 1 LIMIT ?",
            (run, limit),
        ).fetchall()

    def stale_parts(self, run: int) -> Iterator[tuple[int, set[str]]]:
        """Parts holding rows this run's input no longer has, with the ids still wanted."""
        query = """SELECT p.part FROM parts p LEFT JOIN
                     (SELECT part, COUNT(*) n FROM rows WHERE run = ? GROUP BY part) r
                     ON r.part = p.part WHERE COALESCE(r.n, 0) < p.rows ORDER BY p.part"""
        for (part,) in self.db.execute(query, (run,)).fetchall():
            live = self.db.execute("SELECT id FROM rows WHERE part = ? AND run = ?", (part, run))
            yield part, {i for (i,) in live}

    def replace_part(self, old: int, new: int | None, rows: int, run: int) -> int:
        """Swap a stale part for its rewrite (or nothing); returns the rows dropped."""
        with self.db:
            self.db.execute("BEGIN")
            (before,) = self.db.execute("SELECT rows FROM parts WHERE part = ?", (old,)).fetchone()
            if new is not None:
                self.db.execute("INSERT INTO parts VALUES (?, ?)", (new, rows))
                self.db.execute(
                    "UPDATE rows SET part = ? WHERE part = ? AND run = ?", (new, old, run)
                )
            self.db.execute("DELETE FROM rows WHERE part = ?", (old,))
            self.db.execute("DELETE FROM parts WHERE part = ?", (old,))
        self.part_path(old).unlink(missing_ok=True)
        return int(before) - rows

    def _drop_unrecorded(self) -> None:
        known = {self.part_path(p).name for p in self.part_numbers()}
        for path in self.parts_dir.iterdir():
            if path.name not in known:
                path.unlink()


def _lock(path: Path, output: Path):
    """One run per output folder: a second would delete the first one's unrecorded parts.
    The OS drops the lock when the holder dies, even by kill -9."""
    handle = open(path, "a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise BulkError(f"{output}: another `embedhub embed` is writing to this folder") from None
    return handle


class PartWriter:
    """Streams one part to a temp file; `finish` makes it durable under its final name."""

    def __init__(self, work: WorkDir, part: int, schema: pa.Schema) -> None:
        self.path = work.part_path(part)
        self.tmp = self.path.with_name(self.path.name + ".tmp")
        self.part = part
        self.rows = 0
        self._writer = pq.ParquetWriter(self.tmp, schema, compression="zstd")

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table)
        self.rows += table.num_rows

    def finish(self) -> None:
        self._writer.close()
        with open(self.tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(self.tmp, self.path)
        fsync_dir(self.path.parent)

    def abandon(self) -> None:
        self._writer.close()
        self.tmp.unlink(missing_ok=True)
