"""Repo listings: `GET /api/{models,datasets,spaces}` (huggingface_hub's `list_models` /
`list_datasets`, `hf models ls`, `hf datasets ls`) and the storage listing
`GET /api/settings/repositories` (`hf repos ls`, `list_user_repos`).

Private repos are listed only to members of their namespace, exactly as they are readable.
Pages are in a total order (the sort key, then the id) and the cursor is the last item's
key, so a repo created or deleted between two pages moves nothing else. This hub counts no
downloads or likes and keeps no tags, pipeline tags, inference or gating: those sort as ties
(by id), and a filter on them (`filter`, `pipeline_tag`, `gated=true`, ...) matches nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from embedhub.db import RepoRow
from embedhub.errors import EmbedhubError, Kind
from embedhub.hub.api import iso
from embedhub.hub.pages import cursor_of, encode_cursor, next_link, page_size
from embedhub.hub.paths import DEFAULT_BRANCH, REPO_TYPES, RepoId, bad, flag
from embedhub.hub.store import Hub
from embedhub.hub.web import in_thread, json, token_of

PAGE, PAGE_WITH_GIT = 1000, 100  # items per page; fewer when each needs git or disk work
SORTS: dict[str, Callable[[RepoRow], Any]] = {
    "id": lambda r: "",
    "lastModified": lambda r: r.updated_at,
    "createdAt": lambda r: r.created_at,
    "downloads": lambda r: 0,
    "likes": lambda r: 0,
    "trendingScore": lambda r: 0,
}
DEFAULT_FIELDS = (
    "author",
    "private",
    "gated",
    "disabled",
    "downloads",
    "likes",
    "trendingScore",
    "tags",
    "createdAt",
    "lastModified",
)
GIT_FIELDS = ("sha", "siblings", "usedStorage")
# Filters on properties no repo here has (list_models and list_datasets send them when asked).
NOTHING_HAS = (
    "filter",
    "pipeline_tag",
    "apps",
    "inference",
    "inference_provider",
    "num_parameters",
)
EXPANDABLE = frozenset(DEFAULT_FIELDS + GIT_FIELDS)


async def list_repos(hub: Hub, request: Request, plural: str) -> Response:
    token = token_of(hub, request)
    q = request.query_params
    fields = _fields(q.getlist("expand") + q.getlist("expand[]"), flag(q.get("full")))
    size = page_size(request, PAGE, PAGE_WITH_GIT if set(fields) & set(GIT_FIELDS) else PAGE)
    key, descending = _order(q.get("sort"), q.get("direction"))
    members = [token.user, *hub.db.orgs_of(token.user)] if token else []
    author = q.get("author") or None
    rows = hub.db.list_repos(
        REPO_TYPES[plural], namespaces=[author] if author else None, private_of=members
    )
    searches = [s.lower() for s in q.getlist("search") if s]
    rows = [r for r in rows if all(s in r.id.lower() for s in searches)]
    if any(q.getlist(name) for name in NOTHING_HAS) or flag(q.get("gated")):
        rows = []
    page, more = _page(request, rows, key, descending, size)
    items = await in_thread(lambda: [_item(hub, r, fields) for r in page])
    headers = next_link(hub, request, cursor=encode_cursor(key(page[-1]))) if more else None
    return json(items, headers=headers)


def _fields(expand: list[str], full: bool) -> tuple[str, ...]:
    """What each item holds besides `id`: the defaults, the defaults + files (`full`), or
    exactly the `expand`ed properties."""
    if expand and full:
        raise bad("Pass either 'expand' or 'full', not both")
    unknown = sorted(set(expand) - EXPANDABLE)
    if unknown:
        raise bad(
            f"Unknown 'expand' properties {unknown}; this hub can expand: "
            + ", ".join(sorted(EXPANDABLE))
        )
    if expand:
        return tuple(expand)
    return DEFAULT_FIELDS + (("sha", "siblings") if full else ())


def _order(sort: str | None, direction: str | None) -> tuple[Callable, bool]:
    sort = sort or "id"
    if sort not in SORTS:
        raise bad(f"Unknown 'sort' {sort!r}; use one of: " + ", ".join(SORTS))
    if direction not in (None, "", "-1", "1"):
        raise bad("'direction' must be -1 (descending) or 1 (ascending)")
    # Like the Hub: a sort is descending (newest, most) unless asked otherwise.
    descending = direction == "-1" or (not direction and sort != "id")
    value = SORTS[sort]
    return (lambda r: (value(r), r.type, r.id)), descending


def _by_id(row: RepoRow) -> tuple[str, str, str]:
    return ("", row.type, row.id)


def _page(
    request: Request, rows: list[RepoRow], key: Callable, descending: bool, size: int
) -> tuple[list[RepoRow], bool]:
    """The page after the cursor, and whether more follow."""
    ordered = sorted(rows, key=key, reverse=descending)
    cursor = cursor_of(request)
    if cursor is not None:
        if not isinstance(cursor, list):
            raise bad("Invalid 'cursor': use the URL of the Link header as it is")
        after = tuple(cursor)
        try:
            ordered = [r for r in ordered if (key(r) < after if descending else key(r) > after)]
        except TypeError:
            raise bad("Invalid 'cursor': it belongs to another sort") from None
    return ordered[:size], len(ordered) > size


def _item(hub: Hub, row: RepoRow, fields: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {"_id": row.id, "id": row.id}
    rid = RepoId(row.type, row.namespace, row.name)
    for field in fields:
        out[field] = _value(hub, rid, row, field)
    return out


def _value(hub: Hub, rid: RepoId, row: RepoRow, field: str) -> Any:
    simple = {
        "author": row.namespace,
        "private": row.private,
        "gated": False,
        "disabled": False,
        "downloads": 0,
        "likes": 0,
        "trendingScore": 0,
        "tags": [],
        "createdAt": iso(row.created_at),
        "lastModified": iso(row.updated_at),
    }
    if field in simple:
        return simple[field]
    if field == "usedStorage":
        return hub.storage(rid)
    repo = hub.git(rid)
    sha = repo.resolve(f"refs/heads/{DEFAULT_BRANCH}")
    if field == "sha":
        return sha
    entries = repo.ls_tree(sha, recursive=True) if sha else []
    return [{"rfilename": e.path} for e in entries if e.type == "blob"]


# --- /api/settings/repositories -------------------------------------------------------------
async def settings_repositories(
    hub: Hub, request: Request, namespace: str | None = None
) -> Response:
    """Every repo of the caller's namespace (or of an organisation they belong to), private
    ones included, with the bytes each uses."""
    token = token_of(hub, request)
    if token is None:
        raise EmbedhubError(Kind.UNAUTHORIZED, "Listing your repositories needs a token")
    namespace = namespace or token.user
    if not hub.is_member(token, namespace):
        raise EmbedhubError(
            Kind.FORBIDDEN, f"Only members of {namespace!r} may list its repositories' settings"
        )
    rows = hub.db.list_repos(namespaces=[namespace])
    size = page_size(request, PAGE_WITH_GIT, PAGE_WITH_GIT)
    page, more = _page(request, rows, _by_id, False, size)

    def build() -> list[dict[str, Any]]:
        used = {(r.type, r.id): hub.storage(RepoId(r.type, r.namespace, r.name)) for r in rows}
        total = sum(used.values()) or 1
        return [
            {
                "id": r.id,
                "type": r.type,
                "updatedAt": iso(r.updated_at),
                "visibility": "private" if r.private else "public",
                "storage": used[(r.type, r.id)],
                "storagePercent": round(100 * used[(r.type, r.id)] / total, 2),
            }
            for r in page
        ]

    items = await in_thread(build)
    headers = next_link(hub, request, cursor=encode_cursor(_by_id(page[-1]))) if more else None
    return json(items, headers=headers)
