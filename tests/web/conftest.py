"""One server per test module (the model loads once per module), with the hub and the web
view on one port."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import Server, start_server, stop_server  # tests/servers.py

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("embedhub-web"))
    yield srv
    stop_server(srv)


@pytest.fixture(scope="session")
def shots_dir() -> Path:
    """Where the browser tests save their screenshots (EMBEDHUB_TEST_OUTPUT overrides)."""
    root = Path(os.environ.get("EMBEDHUB_TEST_OUTPUT", REPO_ROOT / "test-output"))
    folder = root / "web"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
