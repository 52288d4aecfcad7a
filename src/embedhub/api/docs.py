"""The API's description: /openapi.json and /docs (Swagger UI), declared here rather than left
to FastAPI's own unguarded routes, so a server that wants tokens can keep its API description
to token holders like /info and /metrics (--public-metadata opens them).

Swagger UI's files are served from the package (`api/static/swagger-ui`, vendored from npm's
swagger-ui-dist by scripts/vendor_web.sh with its licences), never from a CDN: a server
without internet access shows its docs too. /redoc, FastAPI's other viewer, would need a
second vendored UI for the same description; it redirects to /docs."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from embedhub.api.common import json_response, require_metadata_auth
from embedhub.errors import EmbedhubError, Kind

OPENAPI_URL = "/openapi.json"
ASSETS = Path(__file__).parent / "static" / "swagger-ui"
# What /docs/assets/ serves: these names only (no path from the request reaches the disk).
ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}


def router() -> APIRouter:
    r = APIRouter(dependencies=[Depends(require_metadata_auth)], include_in_schema=False)

    @r.get(OPENAPI_URL)
    async def openapi(request: Request) -> Response:
        return json_response(request.app.openapi())

    @r.get("/docs")
    async def docs(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=OPENAPI_URL,
            title=f"{request.app.title} - API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
        )

    @r.get("/docs/assets/{name}")
    async def docs_asset(name: str) -> Response:
        media_type = ASSET_TYPES.get(name)
        if media_type is None:
            known = ", ".join(ASSET_TYPES)
            raise EmbedhubError(Kind.NOT_FOUND, f"No docs asset {name!r}; there are: {known}")
        headers = {"Cache-Control": "public, max-age=86400"}
        return FileResponse(ASSETS / name, media_type=media_type, headers=headers)

    @r.get("/redoc")
    async def redoc() -> Response:
        return RedirectResponse("/docs", status_code=307)

    return r
