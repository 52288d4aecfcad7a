"""One line per request in the `embedhub.access` log, 4xx and 5xx included:

    GET /datasets/ns/name/resolve/main/a.txt 200 12.3ms user=alice id=5f0c...

What is never written: the query string (signed LFS and Xet links carry their credential
there), any header (Authorization holds tokens), any body. The path is written as the client
sent it (still percent-encoded), with anything that is not printable ASCII escaped, so a
request can't forge a log line."""

from __future__ import annotations

import logging

from starlette.types import Scope

from embedhub.auth import USER_KEY  # set by authenticate()

log = logging.getLogger("embedhub.access")


def log_request(scope: Scope, status: int, seconds: float, request_id: str) -> None:
    if not log.isEnabledFor(logging.INFO):
        return
    raw = scope.get("raw_path") or scope.get("path", "").encode()
    path = raw.split(b"?", 1)[0]
    user = (scope.get("state") or {}).get(USER_KEY) or "-"
    log.info(
        "%s %s %d %.1fms user=%s id=%s",
        _printable(scope.get("method", "-").encode()),
        _printable(path),
        status,
        seconds * 1000,
        _printable(user.encode()),
        _printable(request_id.encode()),
    )


def _printable(raw: bytes) -> str:
    return "".join(chr(b) if 0x21 <= b < 0x7F and b != 0x5C else f"\\x{b:02x}" for b in raw)
