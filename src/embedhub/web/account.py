"""Signing in and out, and downloads of private files for a signed-in visitor.

The token arrives once, in a POST body (never a URL), and is not logged or echoed back; the
browser keeps only an opaque session id in an HttpOnly, SameSite=Lax cookie."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import Message, Receive, Scope, Send

from embedhub.errors import EmbedhubError, Kind
from embedhub.hub.paths import URL_PREFIX, file_path, repo_id
from embedhub.web.context import Web, in_thread
from embedhub.web.sessions import ANON_COOKIE, SESSION_COOKIE, SESSION_DAYS, Visitor

FORM_LIMIT = 16 * 1024


def safe_next(value: str | None) -> str:
    """Only a path on this site: `//evil.example` or `https://...` become `/`."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def _secure(web: Web, request: Request) -> bool:
    return request.url.scheme == "https" or web.settings.public_url.startswith("https://")


def set_cookie(web: Web, request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        max_age=SESSION_DAYS * 86400,
        httponly=True,
        samesite="lax",
        secure=_secure(web, request),
        path="/",
    )


async def read_form(request: Request) -> dict[str, str]:
    ctype = request.headers.get("content-type", "")
    if ctype and "application/x-www-form-urlencoded" not in ctype:
        raise EmbedhubError(Kind.BAD_REQUEST, "Expected a form (application/x-www-form-urlencoded)")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_LIMIT:
            raise EmbedhubError(Kind.TOO_LARGE, f"A form may carry at most {FORM_LIMIT} bytes")
    fields = parse_qs(body.decode(errors="replace"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items()}


def check_csrf(web: Web, request: Request, form: dict[str, str]) -> None:
    cookie = request.cookies.get(SESSION_COOKIE) or request.cookies.get(ANON_COOKIE)
    if not web.sessions.csrf_ok(cookie, form.get("csrf")):
        raise EmbedhubError(
            Kind.FORBIDDEN,
            "This form expired or did not come from this site; reload the page and try again",
        )


async def login_page(web: Web, request: Request, visitor: Visitor, error: str = "") -> Response:
    status = 400 if error else 200
    next_url = safe_next(request.query_params.get("next"))
    if request.cookies.get(SESSION_COOKIE) or request.cookies.get(ANON_COOKIE):
        return web.page(request, visitor, "login.html", status, error=error, next=next_url)
    # First visit: a pre-session id for the form's CSRF token to be bound to.
    visitor_id = secrets.token_urlsafe(24)
    request.cookies[ANON_COOKIE] = visitor_id  # so this render's token matches the cookie
    response = web.page(request, visitor, "login.html", status, error=error, next=next_url)
    set_cookie(web, request, response, ANON_COOKIE, visitor_id)
    return response


async def login(web: Web, request: Request, visitor: Visitor) -> Response:
    form = await read_form(request)
    check_csrf(web, request, form)
    token = form.get("token", "").strip()
    session_id = await in_thread(web.sessions.create, token) if token else None
    if session_id is None:
        return await login_page(
            web,
            request,
            visitor,
            "That token is not known to this server. Paste a token "
            "made with `embedhub token create USER`.",
        )
    response = RedirectResponse(safe_next(form.get("next")), status_code=303)
    set_cookie(web, request, response, SESSION_COOKIE, session_id)
    response.delete_cookie(ANON_COOKIE, path="/")
    return response


async def logout(web: Web, request: Request, visitor: Visitor) -> Response:
    form = await read_form(request)
    check_csrf(web, request, form)
    await in_thread(web.sessions.end, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def download(web: Web, request: Request, visitor: Visitor, segs: list[str]) -> Response:
    """`/-/download/TYPE/NS/NAME/REV/PATH`: the file from the hub's own `resolve` route,
    answered with the visitor's rights (the browser can't send the token itself). The request
    is handed to the app in-process, so headers, ranges and streaming are resolve's own."""
    if len(segs) < 5 or segs[0] not in URL_PREFIX:
        raise EmbedhubError(Kind.NOT_FOUND, "Expected /-/download/TYPE/NS/NAME/REV/PATH")
    rid = repo_id(segs[0], segs[1], segs[2])
    path = file_path("/".join(segs[4:]))
    target = f"/{URL_PREFIX[rid.type]}{rid.id}/resolve/{quote(segs[3], safe='')}/{quote(path)}"
    return _Forward(target, visitor)


class _Forward(Response):
    """A response that runs the app again on another path with the visitor's token."""

    def __init__(self, path: str, visitor: Visitor) -> None:
        super().__init__()
        self.path = path
        self.visitor = visitor

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(k, v) for k, v in scope["headers"] if k not in (b"authorization", b"cookie")]
        if self.visitor.raw_token:
            headers.append((b"authorization", f"Bearer {self.visitor.raw_token}".encode()))
        inner = {
            **scope,
            "path": self.path,
            "raw_path": self.path.encode(),
            "query_string": b"",
            "headers": headers,
        }

        async def no_body() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        await scope["app"](inner, no_body, send)
