"""What every page handler shares: the hub, sessions, templates, the map store, and how a page
becomes a response (security headers on every page; errors as HTML pages with the API's
status codes)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
import httpx
import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from embedhub.api.errors import WIRE
from embedhub.config import Settings
from embedhub.db import Database
from embedhub.errors import EmbedhubError
from embedhub.hub.store import Hub
from embedhub.web import fmt
from embedhub.web.mapstore import Maps
from embedhub.web.sessions import ANON_COOKIE, SESSION_COOKIE, Sessions, Visitor, load_secret

log = logging.getLogger("embedhub.web")
# httpx logs every in-process call to the server's own APIs at INFO: noise in the server log.
logging.getLogger("httpx").setLevel(logging.WARNING)
HERE = Path(__file__).parent
T = TypeVar("T")

# No inline script and nothing from another origin: a README that slipped a script past the
# sanitiser still could not run it.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
# regl (under the map's scatter plot) compiles its draw commands with `new Function`, so the
# map page alone also allows eval; it renders no README or other visitor-supplied HTML.
MAP_CSP = CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-eval'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "private, no-cache",
}


@dataclass
class Web:
    settings: Settings
    db: Database
    hub: Hub
    engines: dict[str, Any]
    sessions: Sessions
    maps: Maps
    templates: jinja2.Environment

    @classmethod
    def build(cls, settings: Settings, db: Database, engines: dict[str, Any]) -> Web:
        root = settings.data_dir / "web"
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters.update(
            size=fmt.size, short=fmt.short_sha, when=fmt.when, seg=fmt.seg, path=fmt.path
        )
        hub = Hub(settings, db)
        return cls(
            settings=settings,
            db=db,
            hub=hub,
            engines=engines,
            sessions=Sessions(db, load_secret(root / "secret")),
            maps=Maps(root / "maps", settings),
            templates=env,
        )

    # --- who is asking ------------------------------------------------------------------
    def visitor(self, request: Request) -> Visitor:
        return self.sessions.visitor(request.cookies.get(SESSION_COOKIE))

    def csrf(self, request: Request) -> str:
        """The token the page's forms carry (see sessions.py); '' before a cookie exists."""
        cookie = request.cookies.get(SESSION_COOKIE) or request.cookies.get(ANON_COOKIE)
        return self.sessions.csrf_token(cookie) if cookie else ""

    # --- responses ----------------------------------------------------------------------
    def page(
        self, request: Request, visitor: Visitor, template: str, status: int = 200, **values: Any
    ) -> Response:
        html = self.templates.get_template(template).render(
            request=request, visitor=visitor, csrf=self.csrf(request), **values
        )
        headers = dict(SECURITY_HEADERS)
        if template == "map.html":
            headers["Content-Security-Policy"] = MAP_CSP
        return HTMLResponse(html, status_code=status, headers=headers)

    def error_page(self, request: Request, visitor: Visitor, err: EmbedhubError) -> Response:
        status = WIRE[err.kind].status  # the status the API gives the same failure
        response = self.page(
            request, visitor, "error.html", status, status_code=status, message=err.message
        )
        if err.code:
            response.headers["X-Error-Code"] = err.code
        return response

    async def internal(
        self, request: Request, visitor: Visitor, path: str, params: dict[str, Any]
    ) -> httpx.Response:
        """Call one of this server's own APIs in-process, with the visitor's rights."""
        headers = {"Authorization": f"Bearer {visitor.raw_token}"} if visitor.raw_token else {}
        transport = httpx.ASGITransport(app=request.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://embedhub") as client:
            return await client.get(path, params=params, headers=headers, timeout=60)


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    # git, SQLite and Parquet work blocks: keep it off the event loop.
    return await anyio.to_thread.run_sync(fn, *args)
