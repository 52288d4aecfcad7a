"""Fixtures for the embedding API tests: a read token on the shared server, the tokenizer,
one extra server with strict limits and one with model variants and an alias (each shared by
the tests that need those flags)."""

from __future__ import annotations

import json
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


def model_variant(src, dst, changed: dict[str, dict]):
    """A copy of the model folder `src` at `dst` made of links to its files, except `changed`
    (relative path -> JSON written there): the same weights, another configuration."""
    import os
    import shutil

    shutil.copytree(src, dst, copy_function=os.symlink)
    for rel, content in changed.items():
        path = dst / rel
        path.unlink(missing_ok=True)
        path.write_text(json.dumps(content))
    return dst


# The prompts of the `prompted` model on `variants_server`, named as sentence-transformers models
# name theirs (encode_query takes "query", encode_document "document").
PROMPTS = {"query": "query: ", "document": "passage: ", "clustering": "cluster: "}


@pytest.fixture(scope="session")
def variants_server(tmp_path_factory: pytest.TempPathFactory, model_dir, tiny_models) -> Iterator:
    """Models that differ from the bundled one the way the API must notice, on the torch
    runtime (nothing to convert): `prompted` (the bundled weights with prompts, no int8
    ranges shipped: also the default model, and aliased text-embedding-ada-002), and the
    bundled model's own id naming the same weights with CLS pooling (other vectors than the
    shipped int8 ranges were computed from), and `reranker`, the tiny random cross-encoder
    of tests/kinds.py."""
    from servers import start_server, stop_server  # tests/servers.py

    root = tmp_path_factory.mktemp("model-variants")
    prompted = model_variant(
        model_dir, root / "prompted", {"config_sentence_transformers.json": {"prompts": PROMPTS}}
    )
    pooling = json.loads((model_dir / "1_Pooling/config.json").read_text())
    pooling |= {"pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True}
    cls = model_variant(model_dir, root / "cls", {"1_Pooling/config.json": pooling})
    srv = start_server(
        tmp_path_factory.mktemp("embedhub-variants"),
        "--runtime",
        "torch",
        "--model",
        f"prompted={prompted}",
        "--model",
        f"sentence-transformers/all-MiniLM-L6-v2={cls}",
        "--model",
        f"reranker={tiny_models['reranker']}",
        "--model-alias",
        "text-embedding-ada-002=prompted",
    )
    yield srv
    stop_server(srv)


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
