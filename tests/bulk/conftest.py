"""The real model, loaded once for the in-process bulk tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def embedder(model_dir: Path):
    """The in-process engine on the real bundled model, shared by the in-process tests."""
    from embedhub.bulk.embedders import LocalEmbedder
    from embedhub.config import DEFAULT_MODEL_ID
    from embedhub.types import ModelSpec

    e = LocalEmbedder(ModelSpec(DEFAULT_MODEL_ID, str(model_dir)))
    yield e
    e.close()
