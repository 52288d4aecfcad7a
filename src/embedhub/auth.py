"""Who is calling: the token from `Authorization: Bearer T` (the HF and OpenAI clients) or
HTTP Basic with the token as password (git and git-lfs)."""

from __future__ import annotations

import base64
import binascii

from starlette.requests import Request

from embedhub.db import Database, TokenInfo
from embedhub.errors import EmbedhubError, Kind

# Where a request's resolved user is kept (in scope["state"]) for the access log.
USER_KEY = "embedhub_user"


def presented_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "bearer" and value:
        return value
    if scheme == "basic" and value:
        try:
            _, _, password = base64.b64decode(value).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return password or None
    return None


def authenticate(db: Database, request: Request) -> TokenInfo | None:
    """The caller's token, None when none was sent; 401 when one was sent but is not valid
    (a wrong token is never silently treated as anonymous)."""
    token = presented_token(request)
    if token is None:
        return None
    info = db.resolve_token(token)
    if info is None:
        raise EmbedhubError(
            Kind.UNAUTHORIZED,
            "Invalid credentials in Authorization header: the token is not known to this "
            "server (create one with `embedhub token create NAME`)",
            headers={"WWW-Authenticate": 'Bearer realm="embedhub"'},
        )
    request.scope.setdefault("state", {})[USER_KEY] = info.user  # for the access log
    return info
