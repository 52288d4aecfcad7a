"""Embeddings quantized per request (Cohere's `embedding_types`), computed by
sentence-transformers' own `quantize_embeddings`, so they equal what a user of that library
gets from the same float vectors:

- binary / ubinary: one bit per dimension (value > 0), packed eight to a byte; ubinary is that
  byte (0..255), binary the byte minus 128 (-128..127). Needs nothing but the vector.
- int8 / uint8: each dimension's calibrated [min, max] cut into 256 buckets. The ranges come
  from many texts, never from the request itself: ranges computed from a request's own few
  vectors would give every request its own scale, and vectors from two requests could not be
  compared. They ship per model (backends/calibration/ranges/, written by
  scripts/make_quantization_ranges.py from the shipped calibration corpus), one pair per
  output dimension; a model or dimension without them is refused int8/uint8.

Ranges are filed by model id, and an id can name other weights (`--model ID=PATH`), so before
a served model's ranges are first used, it embeds the probe texts filed with them: its vectors
must be the ones the ranges were computed from (cosine >= PROBE_MIN_COSINE each; an int8
runtime stays well above it, another model is far below)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from embedhub.backends.calibration import ranged_models, shipped_ranges
from embedhub.engine.core import Engine
from embedhub.engine.errors import EngineError, EngineErrorKind
from embedhub.types import EmbedOptions

PRECISIONS = ("int8", "uint8", "binary", "ubinary")
NEEDS_RANGES = ("int8", "uint8")
PROBE_MIN_COSINE = 0.99


def quantize(vectors: np.ndarray, precision: str, ranges: np.ndarray | None = None) -> np.ndarray:
    """`vectors` (n, d) float32 as `precision`; int8/uint8 need `ranges` (2, d)."""
    from sentence_transformers.util.quantization import quantize_embeddings

    if precision in NEEDS_RANGES and ranges is None:
        raise ValueError(f"{precision} needs calibrated ranges")
    vectors = np.asarray(vectors, np.float32)
    out = quantize_embeddings(vectors, precision=precision, ranges=ranges)  # type: ignore[arg-type]
    assert isinstance(out, np.ndarray)
    return out


@dataclass(frozen=True)
class Calibration:
    """One model's shipped ranges: output dimension -> (2, d) float32 [min; max]."""

    model_id: str
    ranges: dict[int, np.ndarray]
    probe_texts: list[str]
    probe_vectors: np.ndarray

    @classmethod
    def shipped(cls, model_id: str) -> Calibration | None:
        found = shipped_ranges(model_id) or shipped_ranges(_full_id(model_id))
        if found is None:
            return None
        ranges = {int(d): np.asarray(r, np.float32) for d, r in found["ranges"].items()}
        probe = found["probe"]
        return cls(found["model_id"], ranges, probe["texts"], np.asarray(probe["vectors"]))


class Calibrations:
    """The int8/uint8 ranges of each served model, checked against the model once."""

    def __init__(self) -> None:
        self._checked: dict[str, Calibration | str] = {}  # model id -> ranges, or why none

    async def ranges(self, engine: Engine, dimension: int) -> np.ndarray:
        """The ranges for `engine`'s vectors cut to `dimension`; Validation (naming the field
        `embedding_types`) when there are none."""
        model_id = engine.info.model_id
        if model_id not in self._checked:
            self._checked[model_id] = await self._check(engine)
        found = self._checked[model_id]
        if isinstance(found, str):
            raise _refused(found)
        if dimension not in found.ranges:
            dims = ", ".join(str(d) for d in sorted(found.ranges))
            raise _refused(
                f"int8 and uint8 ranges of {model_id} are calibrated for output dimensions "
                f"{dims}, not {dimension}; ask for one of those, or for float, binary or ubinary"
            )
        return found.ranges[dimension]

    async def _check(self, engine: Engine) -> Calibration | str:
        info = engine.info
        found = Calibration.shipped(info.model_id)
        if found is None:
            shipped = ", ".join(ranged_models()) or "none"
            return (
                f"int8 and uint8 embeddings need calibrated ranges, and none ship for "
                f"{info.model_id} (ranges ship for: {shipped}; "
                "scripts/make_quantization_ranges.py computes them); float, binary and "
                "ubinary need none"
            )
        if found.probe_vectors.shape[1] != info.dimension:
            return f"the int8 and uint8 ranges filed for {info.model_id} are for another model"
        result = await engine.embed(found.probe_texts, EmbedOptions(normalize=True))
        expected = found.probe_vectors / np.linalg.norm(found.probe_vectors, axis=1, keepdims=True)
        cosine = float(np.min(np.sum(result.vectors * expected, axis=1)))
        if cosine < PROBE_MIN_COSINE:
            return (
                f"the int8 and uint8 ranges filed for {info.model_id} were computed from other "
                f"weights than the ones served (probe cosine {cosine:.3f} < {PROBE_MIN_COSINE})"
            )
        return found


def _full_id(model_id: str) -> str:
    """The bundled model may be served by its short name."""
    from embedhub.models import DEFAULT_MODEL_ID

    return DEFAULT_MODEL_ID if model_id == DEFAULT_MODEL_ID.split("/")[-1] else model_id


def _refused(message: str) -> EngineError:
    return EngineError(EngineErrorKind.VALIDATION, message, param="embedding_types")
