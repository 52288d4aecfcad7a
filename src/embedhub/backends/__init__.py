"""Model runtimes behind one small protocol (see base.Backend)."""

from __future__ import annotations

from embedhub.backends.base import Backend
from embedhub.types import ModelSpec


def load_backend(spec: ModelSpec, *, threads: int = 0) -> Backend:
    from embedhub.backends.sentence_transformers import SentenceTransformersBackend

    return SentenceTransformersBackend.load(spec, threads=threads)


__all__ = ["Backend", "load_backend"]
