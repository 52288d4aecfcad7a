"""Small formatting helpers the templates use."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote


def size(n: int | None) -> str:
    if n is None:
        return ""
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"


def short_sha(sha: str) -> str:
    return sha[:7]


def when(iso: str | float) -> str:
    if isinstance(iso, float | int):
        moment = datetime.fromtimestamp(iso, UTC)
    else:
        moment = datetime.fromisoformat(iso).astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def seg(value: str) -> str:
    """One URL segment: a revision like `refs/convert/parquet` stays one (`%2F`), as in the API."""
    return quote(value, safe="")


def path(value: str) -> str:
    return quote(value, safe="/")
