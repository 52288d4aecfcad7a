"""Names a user or organisation can't take: every first path segment the server routes on,
taken from the routes themselves, and refused by the CLI with no server running."""

from __future__ import annotations

import pytest
import requests
from fastapi import APIRouter

from embedhub.api.app import top_level_names
from embedhub.api.routing import first_segment
from embedhub.cli.main import main
from embedhub.server import reserved_names


def test_every_served_first_segment_is_reserved(server):
    paths = requests.get(f"{server.url}/openapi.json", timeout=10).json()["paths"]
    served = {first_segment(p) for p in paths} - {None}
    assert {"v1", "embed", "pipeline", "models"} <= served
    assert served <= reserved_names()
    # The hub's routes are not in the OpenAPI document; FastAPI's own are not in `paths`.
    assert {"api", "datasets", "spaces", "docs", "redoc", "openapi.json"} <= reserved_names()


def test_a_new_router_reserves_its_first_segment():
    router = APIRouter(prefix="/brand-new")

    @router.get("/thing")
    async def thing() -> None: ...

    assert "brand-new" in top_level_names([router])


@pytest.mark.parametrize("name", ["v1", "Embed", "openapi.json", "datasets"])
@pytest.mark.parametrize("command", ["user", "org"])
def test_cli_refuses_a_reserved_name(tmp_path, capsys, command, name):
    assert main([command, "create", name, "--data-dir", str(tmp_path)]) == 2
    assert f"name {name!r} is reserved by the server" in capsys.readouterr().err
