"""SQLite: users, organisations, tokens and hub repos. Only token hashes are stored.

One connection per thread (sqlite3 objects must not cross threads); WAL so readers never wait
for a writer; every write is one transaction."""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from embedhub.sqlite import ThreadConnections

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS orgs (
    name TEXT PRIMARY KEY,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS members (
    org TEXT NOT NULL REFERENCES orgs(name) ON DELETE CASCADE,
    user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    PRIMARY KEY (org, user)
);
CREATE TABLE IF NOT EXISTS tokens (
    hash TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('read', 'write')),
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS repos (
    type TEXT NOT NULL CHECK (type IN ('model', 'dataset', 'space')),
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    private INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL,  -- the last commit, push or ref change (NULL: never since created)
    PRIMARY KEY (type, namespace, name)
);
-- Which content-addressed objects (sha256 of a file's bytes: LFS, later Xet) a repo may read:
-- those uploaded to it and those its history referenced when they were committed or pushed.
-- The object stores are shared by all repos; this table is what keeps them apart.
CREATE TABLE IF NOT EXISTS repo_objects (
    type TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    oid TEXT NOT NULL,
    PRIMARY KEY (type, namespace, name, oid),
    FOREIGN KEY (type, namespace, name) REFERENCES repos (type, namespace, name)
        ON DELETE CASCADE ON UPDATE CASCADE
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS repo_objects_by_oid ON repo_objects (oid);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

# fullmatch, never match with `$`: `$` also matches before a final newline ("x\n").
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}")
TOKEN_PREFIX = "eh_"


class NameError_(ValueError):
    """A user, organisation or token name that can't be used."""


@dataclass(frozen=True)
class TokenInfo:
    user: str
    name: str
    role: str  # "read" | "write"

    @property
    def can_write(self) -> bool:
        return self.role == "write"


@dataclass(frozen=True)
class RepoRow:
    type: str
    namespace: str
    name: str
    private: bool
    created_at: float
    updated_at: float

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}"


REPO_COLUMNS = "type, namespace, name, private, created_at, COALESCE(updated_at, created_at)"


def _repo_row(row: tuple) -> RepoRow:
    t, ns, n, private, created, updated = row
    return RepoRow(t, ns, n, bool(private), created, updated)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_name(name: str, what: str, reserved: frozenset[str] = frozenset()) -> str:
    """`reserved`: names the server routes on (server.reserved_names), refused as well."""
    if not NAME_RE.fullmatch(name) or ".." in name or name.endswith((".git", ".")):
        raise NameError_(
            f"{what} name {name!r} is not valid: use 1-96 letters, digits, '-', '_' or '.', "
            "starting with a letter or digit"
        )
    if name.lower() in reserved:
        raise NameError_(f"{what} name {name!r} is reserved by the server; choose another")
    return name


class Database:
    def __init__(self, path: Path, *, reserved_names: frozenset[str] = frozenset()) -> None:
        """`reserved_names`: user and organisation names refused because the server's own
        routes use them (the caller computes them from the routes; see server.py)."""
        self.path = Path(path)
        self.reserved_names = reserved_names
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._sqlite = ThreadConnections(self.path, timeout=30, pragmas=("foreign_keys=ON",))
        # executescript commits on its own; the schema is idempotent (IF NOT EXISTS).
        self._conn().executescript(SCHEMA)
        self._add_column("repos", "updated_at", "REAL")

    def _add_column(self, table: str, column: str, kind: str) -> None:
        """A column added after a database was made (two servers starting at once may both
        try: the loser's "duplicate column" is fine)."""
        columns = {row[1] for row in self.query(f"PRAGMA table_info({table})")}
        if column not in columns:
            try:
                self._conn().execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            except sqlite3.OperationalError as exc:
                if "duplicate column" not in str(exc):
                    raise

    def _conn(self) -> sqlite3.Connection:
        return self._sqlite.conn()

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._sqlite.transaction()

    def query(self, sql: str, args: tuple = ()) -> list[tuple]:
        return self._conn().execute(sql, args).fetchall()

    # --- users and organisations share one namespace -------------------------------------
    def create_user(self, name: str, *, exist_ok: bool = False) -> bool:
        """Returns True when the user was created, False when it existed (and exist_ok)."""
        check_name(name, "user", self.reserved_names)
        with self.transaction() as conn:
            if conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                if exist_ok:
                    return False
                raise NameError_(f"user {name!r} already exists")
            if conn.execute("SELECT 1 FROM orgs WHERE name = ?", (name,)).fetchone():
                raise NameError_(f"{name!r} is already an organisation")
            conn.execute("INSERT INTO users VALUES (?, ?)", (name, time.time()))
        return True

    def create_org(self, name: str, members: Sequence[str] = ()) -> None:
        check_name(name, "organisation", self.reserved_names)
        with self.transaction() as conn:
            if conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise NameError_(f"{name!r} is already a user")
            conn.execute("INSERT OR IGNORE INTO orgs VALUES (?, ?)", (name, time.time()))
            for user in members:
                if not conn.execute("SELECT 1 FROM users WHERE name = ?", (user,)).fetchone():
                    raise NameError_(f"user {user!r} does not exist (embedhub user create {user})")
                conn.execute("INSERT OR IGNORE INTO members VALUES (?, ?)", (name, user))

    def orgs_of(self, user: str) -> list[str]:
        rows = self.query("SELECT org FROM members WHERE user = ? ORDER BY org", (user,))
        return [r[0] for r in rows]

    def can_write_namespace(self, user: str, namespace: str) -> bool:
        if user == namespace:
            return True
        return bool(
            self.query("SELECT 1 FROM members WHERE org = ? AND user = ?", (namespace, user))
        )

    # --- tokens ----------------------------------------------------------------------------
    def create_token(self, user: str, *, write: bool = False, name: str = "default") -> str:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.transaction() as conn:
            if not conn.execute("SELECT 1 FROM users WHERE name = ?", (user,)).fetchone():
                raise NameError_(f"user {user!r} does not exist")
            conn.execute(
                "INSERT INTO tokens VALUES (?, ?, ?, ?, ?)",
                (hash_token(token), user, name, "write" if write else "read", time.time()),
            )
        return token

    def resolve_token(self, token: str) -> TokenInfo | None:
        rows = self.query(
            "SELECT user, name, role FROM tokens WHERE hash = ?", (hash_token(token),)
        )
        return TokenInfo(*rows[0]) if rows else None

    # --- repos -------------------------------------------------------------------------------
    def get_repo(self, type_: str, namespace: str, name: str) -> RepoRow | None:
        rows = self.query(
            f"SELECT {REPO_COLUMNS} FROM repos WHERE type = ? AND namespace = ? AND name = ?",
            (type_, namespace, name),
        )
        return _repo_row(rows[0]) if rows else None

    def create_repo(self, type_: str, namespace: str, name: str, *, private: bool) -> bool:
        """False when the repo already exists (the row is left as it is)."""
        with self.transaction() as conn:
            return self._insert_repo(conn, type_, namespace, name, private)

    def _insert_repo(
        self, conn: sqlite3.Connection, type_: str, namespace: str, name: str, private: bool
    ) -> bool:
        now = time.time()
        cur = conn.execute(
            "INSERT OR IGNORE INTO repos (type, namespace, name, private, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (type_, namespace, name, int(private), now, now),
        )
        return cur.rowcount == 1

    def copy_repo(
        self, type_: str, source: tuple[str, str], dest: tuple[str, str], *, private: bool
    ) -> bool:
        """A new repo row for `dest` (namespace, name) that may read the objects `source` may
        read; False (and nothing written) when `dest` exists."""
        with self.transaction() as conn:
            if not self._insert_repo(conn, type_, *dest, private):
                return False
            conn.execute(
                "INSERT OR IGNORE INTO repo_objects SELECT type, ?, ?, oid FROM repo_objects "
                "WHERE type = ? AND namespace = ? AND name = ?",
                (*dest, type_, *source),
            )
            return True

    def rename_repo(self, type_: str, source: tuple[str, str], dest: tuple[str, str]) -> bool:
        """Give a repo a new namespace and name; its object links follow (ON UPDATE CASCADE).
        False when `dest` exists or `source` does not."""
        with self.transaction() as conn:
            taken = conn.execute(
                "SELECT 1 FROM repos WHERE type = ? AND namespace = ? AND name = ?",
                (type_, *dest),
            ).fetchone()
            if taken:
                return False
            cur = conn.execute(
                "UPDATE repos SET namespace = ?, name = ?, updated_at = ? "
                "WHERE type = ? AND namespace = ? AND name = ?",
                (*dest, time.time(), type_, *source),
            )
            return cur.rowcount == 1

    def touch_repo(self, type_: str, namespace: str, name: str) -> None:
        """Record that the repo changed now (the `lastModified` listings sort by)."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE repos SET updated_at = ? WHERE type = ? AND namespace = ? AND name = ?",
                (time.time(), type_, namespace, name),
            )

    def delete_repo(self, type_: str, namespace: str, name: str) -> bool:
        with self.transaction() as conn:
            cur = conn.execute(
                "DELETE FROM repos WHERE type = ? AND namespace = ? AND name = ?",
                (type_, namespace, name),
            )
            return cur.rowcount == 1

    def list_repos(
        self,
        type_: str | None = None,
        *,
        namespaces: list[str] | None = None,
        private_of: list[str] | None = None,
    ) -> list[RepoRow]:
        """Repos, optionally of one type and of these namespaces only. `private_of`: private
        repos are left out unless their namespace is in it (None: all are listed)."""
        where, args = [], []
        if type_ is not None:
            where.append("type = ?")
            args.append(type_)
        if namespaces is not None:
            where.append(f"namespace IN ({','.join('?' * len(namespaces))})")
            args += namespaces
        if private_of is not None:
            where.append(f"(private = 0 OR namespace IN ({','.join('?' * len(private_of))}))")
            args += private_of
        sql = f"SELECT {REPO_COLUMNS} FROM repos WHERE " + (" AND ".join(where) or "1")
        return [_repo_row(row) for row in self.query(sql, tuple(args))]

    # --- which objects each repo may read --------------------------------------------------
    def link_objects(self, type_: str, namespace: str, name: str, oids: list[str]) -> None:
        with self.transaction() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO repo_objects VALUES (?, ?, ?, ?)",
                [(type_, namespace, name, oid) for oid in oids],
            )

    def linked_objects(self, type_: str, namespace: str, name: str, oids: list[str]) -> set[str]:
        """The subset of `oids` linked to the repo (one indexed lookup per 500)."""
        found: set[str] = set()
        for i in range(0, len(oids), 500):
            chunk = oids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.query(
                "SELECT oid FROM repo_objects WHERE type = ? AND namespace = ? AND name = ? "
                f"AND oid IN ({marks})",
                (type_, namespace, name, *chunk),
            )
            found.update(r[0] for r in rows)
        return found

    def repo_oids(self, type_: str, namespace: str, name: str) -> list[str]:
        rows = self.query(
            "SELECT oid FROM repo_objects WHERE type = ? AND namespace = ? AND name = ?",
            (type_, namespace, name),
        )
        return [r[0] for r in rows]

    def get_meta(self, key: str) -> str | None:
        rows = self.query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def delete_meta(self, key: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM meta WHERE key = ?", (key,))

    def set_repo_private(self, type_: str, namespace: str, name: str, private: bool) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE repos SET private = ? WHERE type = ? AND namespace = ? AND name = ?",
                (int(private), type_, namespace, name),
            )
