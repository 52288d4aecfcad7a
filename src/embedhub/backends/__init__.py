"""Model runtimes behind one small protocol (see base.Backend)."""

from __future__ import annotations

import logging
from pathlib import Path

from embedhub.backends.base import Backend
from embedhub.models import ModelNotFound
from embedhub.types import ModelSpec

RUNTIMES = ("torch", "onnx")
log = logging.getLogger("embedhub.backends")


def load_backend(
    spec: ModelSpec, *, threads: int = 0, runtime: str = "torch", cache_dir: Path | None = None
) -> Backend:
    """`torch`: sentence-transformers as is. `onnx`: the transformer exported once to ONNX
    (cached in `cache_dir`) and run by ONNX Runtime; same vectors, less overhead per call."""
    if runtime == "onnx":
        from embedhub.backends.onnx import OnnxBackend

        try:
            return OnnxBackend.load(spec, threads=threads, cache_dir=cache_dir)
        except ModelNotFound:
            raise
        except Exception as exc:  # an architecture the exporter can't handle: still serve it
            log.warning("ONNX export of %s failed (%s); using torch for it", spec.model_id, exc)
            runtime = "torch"
    if runtime != "torch":
        raise ValueError(f"unknown runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
    from embedhub.backends.sentence_transformers import SentenceTransformersBackend

    return SentenceTransformersBackend.load(spec, threads=threads)


__all__ = ["RUNTIMES", "Backend", "load_backend"]
