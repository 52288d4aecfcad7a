"""Browser sessions: a person pastes a token once and gets an HttpOnly session cookie.

The database keeps only a hash of the session id, so a copy of the database opens no session.
The pages need the token itself for one thing: calling the server's own APIs in-process with
the visitor's rights (the dataset viewer). So the token is kept encrypted with a one-time pad
drawn from the session id (which only the browser holds) and a server secret: neither the
database alone nor the secret alone gives it back.

CSRF: every state-changing form carries `csrf_token(cookie)`, an HMAC of the visitor's cookie
(session id, or a random pre-session id before sign-in); a form posted from another site can't
compute it, and SameSite=Lax keeps the cookie off cross-site POSTs anyway."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from embedhub.db import Database, TokenInfo

SESSION_COOKIE = "eh_session"
ANON_COOKIE = "eh_visitor"  # the pre-session id the sign-in form's CSRF token is bound to
SESSION_DAYS = 14

SCHEMA = """
CREATE TABLE IF NOT EXISTS web_sessions (
    hash TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL REFERENCES tokens(hash) ON DELETE CASCADE,
    sealed BLOB NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class Visitor:
    """Who is looking: `token` is None for an anonymous visitor."""

    token: TokenInfo | None
    raw_token: str | None = None

    @property
    def user(self) -> str | None:
        return self.token.user if self.token else None


ANONYMOUS = Visitor(None)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def load_secret(path: Path) -> bytes:
    """A random server secret, created once (mode 0600, written by one atomic rename)."""
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(secrets.token_bytes(32))
    try:
        os.link(tmp, path)  # fails if another process won the race: keep theirs
    except FileExistsError:
        pass
    os.unlink(tmp)
    return path.read_bytes()


class Sessions:
    def __init__(self, db: Database, secret: bytes) -> None:
        self.db = db
        self.secret = secret
        with db.transaction() as conn:
            conn.execute(SCHEMA)

    def _pad(self, session_id: str, n: int) -> bytes:
        return hashlib.shake_256(self.secret + b"session-token" + session_id.encode()).digest(n)

    def create(self, raw_token: str) -> str | None:
        """A new session id for a valid token; None when the token is unknown."""
        info = self.db.resolve_token(raw_token)
        if info is None:
            return None
        session_id = secrets.token_urlsafe(32)
        data = raw_token.encode()
        sealed = bytes(a ^ b for a, b in zip(data, self._pad(session_id, len(data)), strict=True))
        now = time.time()
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM web_sessions WHERE expires_at < ?", (now,))
            conn.execute(
                "INSERT INTO web_sessions VALUES (?, ?, ?, ?, ?)",
                (_digest(session_id), _digest(raw_token), sealed, now, now + SESSION_DAYS * 86400),
            )
        return session_id

    def visitor(self, session_id: str | None) -> Visitor:
        """The signed-in visitor, or ANONYMOUS for no, unknown or expired sessions and for a
        token that was deleted since (its sessions go with it)."""
        if not session_id:
            return ANONYMOUS
        rows = self.db.query(
            "SELECT sealed, expires_at FROM web_sessions WHERE hash = ?", (_digest(session_id),)
        )
        if not rows or rows[0][1] < time.time():
            return ANONYMOUS
        sealed = rows[0][0]
        pad = self._pad(session_id, len(sealed))
        try:
            raw = bytes(a ^ b for a, b in zip(sealed, pad, strict=True)).decode()
        except UnicodeDecodeError:
            return ANONYMOUS
        info = self.db.resolve_token(raw)
        return Visitor(info, raw) if info else ANONYMOUS

    def end(self, session_id: str | None) -> None:
        if session_id:
            with self.db.transaction() as conn:
                conn.execute("DELETE FROM web_sessions WHERE hash = ?", (_digest(session_id),))

    def csrf_token(self, cookie: str) -> str:
        return hmac.new(self.secret, b"csrf:" + cookie.encode(), "sha256").hexdigest()

    def csrf_ok(self, cookie: str | None, presented: str | None) -> bool:
        if not cookie or not presented:
            return False
        return hmac.compare_digest(self.csrf_token(cookie), presented)
