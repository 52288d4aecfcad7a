"""Writes the int8/uint8 output ranges of a model (src/embedhub/backends/calibration/ranges/),
what the Cohere-style `embedding_types: ["int8"|"uint8"]` quantize with. Run once per model by a
maintainer; the file is committed.

    python scripts/make_quantization_ranges.py                        # the bundled model
    python scripts/make_quantization_ranges.py --model ID=PATH        # another local model

How: sentence-transformers embeds the shipped calibration corpus (calibration/calibration.txt,
1,000 texts) the way the server does (the model's own normalisation; for a smaller output
dimension d, the first d components, re-normalised in float32 when the model normalises, as
the engine does). Each
dimension's minimum and maximum over the corpus is that dimension's range, which is what
sentence-transformers' `quantize_embeddings(..., calibration_embeddings=...)` computes. One
pair of ranges per output dimension: the model's own, and each power of two from 32 below it
(the Matryoshka sizes clients ask for). The first texts of the held-out corpus, with their
vectors, are kept as a probe: the server embeds them before using the ranges, so ranges filed
under a model id are never used for other weights served under that id."""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np

from embedhub.backends.calibration import HERE, held_out, ranges_file, shipped_calibration
from embedhub.models import DEFAULT_MODEL_ID
from embedhub.types import ModelSpec

PROBE_TEXTS = 3


def dimensions(full: int) -> list[int]:
    dims, d = [], 32
    while d < full:
        dims.append(d)
        d *= 2
    return [*dims, full]


def shortest(values: np.ndarray) -> list[float]:
    """float32 values as the shortest decimals that read back as the same float32."""
    return [float(np.format_float_positional(v, unique=True)) for v in values.astype(np.float32)]


def cut(vectors: np.ndarray, dim: int, normalizes: bool) -> np.ndarray:
    """The first `dim` components, re-normalised as the engine does it (numpy, float32)."""
    vectors = vectors[:, :dim]
    if normalizes:
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.maximum(norms, 1e-12)
    return vectors.astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL_ID, metavar="ID[=PATH]")
    args = parser.parse_args()
    from sentence_transformers import SentenceTransformer

    from embedhub.config import parse_model
    from embedhub.models import resolve_model

    spec: ModelSpec = parse_model(args.model)
    model = SentenceTransformer(str(resolve_model(spec)), device="cpu")
    normalizes = type(list(model)[-1]).__name__ == "Normalize"
    texts = shipped_calibration()
    full = model.get_embedding_dimension()
    embedded = model.encode(texts, batch_size=32).astype(np.float32)
    ranges = {}
    for dim in dimensions(full):
        vectors = cut(embedded, dim, normalizes)
        ranges[str(dim)] = [shortest(vectors.min(axis=0)), shortest(vectors.max(axis=0))]
    probe = held_out()[:PROBE_TEXTS]
    probe_vectors = model.encode(probe).astype(np.float32)
    corpus = (HERE / "calibration.txt").read_bytes()
    out = {
        "model_id": spec.model_id,
        "how": "per-dimension min and max of the model's vectors of the calibration corpus; "
        "for each output dimension d, the first d components"
        + (", re-normalised" if normalizes else ""),
        "made_by": "scripts/make_quantization_ranges.py",
        "corpus": "calibration/calibration.txt",
        "corpus_sha256": hashlib.sha256(corpus).hexdigest(),
        "corpus_texts": len(texts),
        "probe": {"texts": probe, "vectors": [shortest(v) for v in probe_vectors]},
        "ranges": ranges,
    }
    path: Path = ranges_file(spec.model_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {path} ({', '.join(ranges)} dimensions)")


if __name__ == "__main__":
    main()
