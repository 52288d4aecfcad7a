"""Link-header pagination, as the Hub does it and its clients follow it: a page answers
`Link: <URL>; rel="next"` while more follows, where URL is the request's own (path as sent,
every query parameter) plus an opaque `cursor`. huggingface_hub's `paginate` (listings,
commits) and `list_repo_tree` read nothing else."""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.requests import Request

from embedhub.hub.paths import bad
from embedhub.hub.store import Hub
from embedhub.hub.web import base_url


def page_size(request: Request, default: int, most: int) -> int:
    raw = request.query_params.get("limit")
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise bad(f"'limit' must be a positive integer, not {raw!r}")
    return min(int(raw), most)


def cursor_of(request: Request) -> Any:
    """The cursor a previous page handed out, None on the first page."""
    raw = request.query_params.get("cursor")
    if raw is None:
        return None
    try:
        return orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError):
        raise bad("Invalid 'cursor': use the URL of the Link header as it is") from None


def encode_cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).rstrip(b"=").decode()


def next_link(hub: Hub, request: Request, **replace: str) -> dict[str, str]:
    """The Link header to the next page: this request's URL with `replace`d parameters."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in replace]
    query = urlencode([*kept, *replace.items()])
    return {"Link": f'<{base_url(hub, request)}{raw_path(request)}?{query}>; rel="next"'}


def raw_path(request: Request) -> str:
    """The path as the client sent it, still percent-encoded (a revision `refs%2Fpr%2F1` must
    stay one segment in the next page's URL), without the app's root path."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    root = request.scope.get("root_path", "").encode()
    if root and raw.startswith(root):
        raw = raw[len(root) :]
    return raw.decode("latin-1").split("?", 1)[0]
