"""The Xet store's index, in its own SQLite file (`DATA_DIR/xet/index.sqlite`).

- `xorbs`: one row per stored xorb, with its chunk hashes and offsets packed in blobs (a xorb's
  ~1024 chunks are always read together, so one row beats a thousand);
- `files` and `terms`: each registered file (Xet file hash -> size, sha256) and its
  reconstruction, in order; `files.sha256` is indexed, since a git LFS pointer names a sha256;
- `dedup`: the chunks a global dedup query can find, and the xorb holding each.

A row appears only after what it describes is complete on disk, and each shard's files are
written in one transaction, so a crash leaves the index saying "not there", never "half there".
One connection per thread; WAL, so readers don't wait for the writer."""

from __future__ import annotations

import sqlite3
import time
from array import array
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from embedhub.sqlite import ThreadConnections
from embedhub.xet.xorb import XorbInfo

SCHEMA = """
CREATE TABLE IF NOT EXISTS xorbs (
    hash BLOB PRIMARY KEY,
    size INTEGER NOT NULL,
    chunk_hashes BLOB NOT NULL,
    byte_ends BLOB NOT NULL,
    unpacked_ends BLOB NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    hash BLOB PRIMARY KEY,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS files_by_sha256 ON files (sha256);
CREATE TABLE IF NOT EXISTS terms (
    file BLOB NOT NULL,
    idx INTEGER NOT NULL,
    xorb BLOB NOT NULL,
    start INTEGER NOT NULL,
    stop INTEGER NOT NULL,
    PRIMARY KEY (file, idx)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS terms_by_xorb ON terms (xorb);
CREATE TABLE IF NOT EXISTS dedup (
    chunk BLOB PRIMARY KEY,
    xorb BLOB NOT NULL
) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class FileRecord:
    hash: bytes
    size: int
    sha256: str
    terms: list[tuple[bytes, int, int]]  # (xorb hash, first chunk, end chunk exclusive)


def _u32s(values: Iterable[int]) -> bytes:
    arr = array("I", values)
    if arr.itemsize != 4:  # pragma: no cover - every platform we run on
        raise RuntimeError("array('I') is not 32-bit here")
    return arr.tobytes()


def _from_u32s(blob: bytes) -> list[int]:
    arr = array("I")
    arr.frombytes(blob)
    return arr.tolist()


class Index:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._sqlite = ThreadConnections(path, timeout=60)
        self._conn().executescript(SCHEMA)  # idempotent: IF NOT EXISTS

    def _conn(self) -> sqlite3.Connection:
        return self._sqlite.conn()

    def write(self) -> AbstractContextManager[sqlite3.Connection]:
        """One transaction, taken for writing at once (no upgrade deadlock between writers)."""
        return self._sqlite.transaction()

    def _one(self, sql: str, args: tuple) -> tuple | None:
        return self._conn().execute(sql, args).fetchone()

    # --- xorbs -----------------------------------------------------------------------------
    def has_xorb(self, h: bytes) -> bool:
        return self._one("SELECT 1 FROM xorbs WHERE hash = ?", (h,)) is not None

    def add_xorb(self, info: XorbInfo, dedup_chunks: list[bytes]) -> bool:
        with self.write() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO xorbs VALUES (?, ?, ?, ?, ?, ?)",
                (info.hash, info.size, b"".join(info.chunk_hashes), _u32s(info.byte_ends),
                 _u32s(info.unpacked_ends), time.time()),
            )  # fmt: skip
            conn.executemany(
                "INSERT OR IGNORE INTO dedup VALUES (?, ?)", ((c, info.hash) for c in dedup_chunks)
            )
            return cur.rowcount == 1

    def xorb(self, h: bytes) -> XorbInfo | None:
        row = self._one(
            "SELECT size, chunk_hashes, byte_ends, unpacked_ends FROM xorbs WHERE hash = ?", (h,)
        )
        if row is None:
            return None
        size, blob, ends, unpacked = row
        chunk_hashes = [blob[i : i + 32] for i in range(0, len(blob), 32)]
        return XorbInfo(h, chunk_hashes, _from_u32s(ends), _from_u32s(unpacked), size)

    # --- files -----------------------------------------------------------------------------
    def add_files(self, files: list[FileRecord], dedup: list[tuple[bytes, bytes]]) -> None:
        now = time.time()
        with self.write() as conn:
            for f in files:
                cur = conn.execute(
                    "INSERT OR IGNORE INTO files VALUES (?, ?, ?, ?)",
                    (f.hash, f.size, f.sha256, now),
                )
                if cur.rowcount == 1:
                    conn.executemany(
                        "INSERT INTO terms VALUES (?, ?, ?, ?, ?)",
                        ((f.hash, i, x, s, e) for i, (x, s, e) in enumerate(f.terms)),
                    )
            conn.executemany("INSERT OR IGNORE INTO dedup VALUES (?, ?)", dedup)

    def file(self, h: bytes) -> FileRecord | None:
        row = self._one("SELECT size, sha256 FROM files WHERE hash = ?", (h,))
        if row is None:
            return None
        terms = self._conn().execute(
            "SELECT xorb, start, stop FROM terms WHERE file = ? ORDER BY idx", (h,)
        )
        return FileRecord(h, row[0], row[1], [tuple(t) for t in terms])

    def files_with_sha256(self, sha256: str) -> list[bytes]:
        rows = self._conn().execute("SELECT hash FROM files WHERE sha256 = ?", (sha256,))
        return [r[0] for r in rows]

    # --- dedup -----------------------------------------------------------------------------
    def dedup_xorb(self, chunk: bytes) -> bytes | None:
        row = self._one("SELECT xorb FROM dedup WHERE chunk = ?", (chunk,))
        return row[0] if row else None

    def related_xorbs(self, xorb: bytes, limit: int) -> list[bytes]:
        """`xorb`, then the other xorbs of files that use it (a new version of a file mostly
        reuses the chunks of the old one, so these are what its uploader can dedup against)."""
        rows = self._conn().execute(
            "SELECT DISTINCT t2.xorb FROM terms t1 JOIN terms t2 ON t2.file = t1.file "
            "WHERE t1.xorb = ? AND t2.xorb != ? LIMIT ?",
            (xorb, xorb, limit - 1),
        )
        return [xorb, *(r[0] for r in rows)]
