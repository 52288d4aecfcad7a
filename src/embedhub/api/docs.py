"""The API's description: /openapi.json, /docs (Swagger UI) and /redoc, declared here rather
than left to FastAPI's own unguarded routes, so a server that wants tokens can keep its API
description to token holders like /info and /metrics (--public-metadata opens them)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.responses import HTMLResponse, Response

from embedhub.api.common import json_response, require_metadata_auth

OPENAPI_URL = "/openapi.json"


def router() -> APIRouter:
    r = APIRouter(dependencies=[Depends(require_metadata_auth)], include_in_schema=False)

    @r.get(OPENAPI_URL)
    async def openapi(request: Request) -> Response:
        return json_response(request.app.openapi())

    @r.get("/docs")
    async def docs(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=OPENAPI_URL, title=f"{request.app.title} - API")

    @r.get("/redoc")
    async def redoc(request: Request) -> HTMLResponse:
        return get_redoc_html(openapi_url=OPENAPI_URL, title=f"{request.app.title} - API")

    return r
