"""Xet access tokens and signed xorb URLs (hub-docs `docs/xet/auth.md`, and the download
protocol's "presigned" fetch URLs).

An access token is what the hub's `xet-read-token` / `xet-write-token` routes hand out: it
names one repo, a scope (`read` or `write`), the user it was issued to and its expiry, and is
signed with an HMAC so the CAS routes can check it without a lookup. A fetch URL signs one
byte range of one xorb for a short while; the client sends no credentials with it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

import orjson

PREFIX = "xet_"
TOKEN_TTL = 3600
FETCH_TTL = 3600


class TokenError(ValueError):
    """The token is malformed, forged or expired (the message says which)."""


@dataclass(frozen=True)
class Grant:
    repo: str  # "type/namespace/name"
    scope: str  # "read" | "write"
    user: str | None
    role: str | None  # the role of the hub token it was issued for
    exp: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    def __init__(self, secret: bytes) -> None:
        # Separate keys per use, derived from the one secret: a signature made for one thing
        # can never be replayed as the other.
        self._token_key = hmac.new(secret, b"xet access token", hashlib.sha256).digest()
        self._fetch_key = hmac.new(secret, b"xet fetch url", hashlib.sha256).digest()

    def issue(self, repo: str, scope: str, user: str | None, role: str | None) -> tuple[str, int]:
        exp = int(time.time()) + TOKEN_TTL
        body = _b64(orjson.dumps({"r": repo, "s": scope, "u": user, "o": role, "e": exp}))
        sig = _b64(hmac.new(self._token_key, body.encode(), hashlib.sha256).digest())
        return f"{PREFIX}{body}.{sig}", exp

    def check(self, token: str) -> Grant:
        body, _, sig = token.removeprefix(PREFIX).partition(".")
        if not token.startswith(PREFIX) or not sig:
            raise TokenError("not a Xet access token (ask the hub's xet-read-token route)")
        good = _b64(hmac.new(self._token_key, body.encode(), hashlib.sha256).digest())
        if not (sig.isascii() and body.isascii()) or not hmac.compare_digest(good, sig):
            raise TokenError("the Xet access token's signature is not valid")
        data = orjson.loads(_unb64(body))
        if data["e"] < time.time():
            raise TokenError("the Xet access token has expired; ask the hub for a new one")
        return Grant(data["r"], data["s"], data["u"], data["o"], data["e"])

    def _fetch_mac(self, xorb: str, first: int, last: int, exp: int) -> str:
        msg = f"{xorb}\n{first}\n{last}\n{exp}".encode()
        return _b64(hmac.new(self._fetch_key, msg, hashlib.sha256).digest())

    def sign_fetch(self, xorb: str, first: int, last: int) -> dict[str, str]:
        """Query parameters that let anyone read bytes [first, last] of xorb `xorb` (hex)."""
        exp = int(time.time()) + FETCH_TTL
        return {"r": f"{first}-{last}", "e": str(exp), "s": self._fetch_mac(xorb, first, last, exp)}

    def check_fetch(self, xorb: str, signed_range: str, exp: str, sig: str) -> tuple[int, int]:
        """The signed byte range; TokenError when the URL is forged or expired."""
        first, _, last = signed_range.partition("-")
        numbers = (first, last, exp)
        if not all(n.isascii() and n.isdigit() for n in numbers) or not sig.isascii():
            raise TokenError("this xorb URL is malformed; ask for a new reconstruction")
        mac = self._fetch_mac(xorb, int(first), int(last), int(exp))
        if not hmac.compare_digest(mac, sig):
            raise TokenError("this xorb URL's signature is not valid")
        if int(exp) < time.time():
            raise TokenError("this xorb URL has expired; ask for a new reconstruction")
        return int(first), int(last)
