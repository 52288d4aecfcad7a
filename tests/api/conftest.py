"""Fixtures for the embedding API tests: a read token on the shared server, the tokenizer,
and one extra server with strict limits (shared by the tests that need those flags)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def token(server) -> str:
    return server.token("api-tester", write=False)


@pytest.fixture(scope="session")
def tokenizer(reference_model):
    return reference_model.tokenizer


@pytest.fixture(scope="session")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """Tokens required on loopback, at most 4 inputs per request, 4 KB bodies."""
    from servers import start_server, stop_server  # tests/servers.py

    srv = start_server(
        tmp_path_factory.mktemp("embedhub-strict"),
        "--require-token",
        "--max-client-batch-size",
        "4",
        "--payload-limit",
        "4096",
    )
    yield srv
    stop_server(srv)


@pytest.fixture
def hf_client_online(monkeypatch: pytest.MonkeyPatch) -> None:
    """HF_HUB_OFFLINE=1 (tests/conftest.py) makes huggingface_hub refuse every request, even to
    the loopback server. Lift it for this test's in-process client only: the client is pointed
    at the test server by URL, and the servers' environment keeps the variable."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)


CORS_ORIGIN = "https://app.example"


@pytest.fixture(scope="session")
def kinds_server(tmp_path_factory: pytest.TempPathFactory, tiny_models) -> Iterator:
    """A reranker (the default model), a classifier and a SPLADE model (tests/kinds.py), on
    the default runtime (which serves them on torch), with --served-model-name and CORS."""
    from servers import start_server, stop_server  # tests/servers.py

    models = [f"--model=test/{name}={path}" for name, path in tiny_models.items()]
    srv = start_server(
        tmp_path_factory.mktemp("embedhub-kinds"),
        *models,
        "--served-model-name",
        "my-reranker",
        "--cors-allow-origin",
        CORS_ORIGIN,
    )
    yield srv
    stop_server(srv)
