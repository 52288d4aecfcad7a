"""`--precision int8`: the OpenVINO graph quantized once by NNCF (static post-training
quantization calibrated on real text), cached with a quality report, served only when the
report passes the gate.

The report is computed on held-out texts the quantizer never saw (calibration/held_out.txt,
minus any calibration text): every text embedded by the fp32 and the int8 graph through the
same pipeline; the cosine of each pair, and for every text as a query, how many of its 10
nearest neighbours among all the held-out texts stay the same. Near-ties make that last number
~0.99 even between two exact fp32 runtimes, so 0.95 is a real but reachable bar."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from embedhub.backends import RuntimeSettingError
from embedhub.backends.base import LoadOptions
from embedhub.backends.calibration import held_out, read_calibration, shipped_calibration
from embedhub.backends.graph import GraphBackend
from embedhub.backends.graphcache import cached_graph, graph_key
from embedhub.types import QualityReport

log = logging.getLogger("embedhub.backends")

# The settings, by name (in the cache key and the report). Chosen by measurement on
# all-MiniLM-L6-v2: see docs/performance.md and the README's Performance section.
RECIPE = "nncf-static-transformer-mixed-v1"
CALIBRATION_TEXTS = 300  # NNCF's statistics settle by a few hundred inputs (measured)
REPORT = "quality.json"


def quantized(
    fp32: GraphBackend, model: Any, model_path: Path, cache_dir: Path, options: LoadOptions
) -> GraphBackend:
    """The int8 backend for `fp32`'s model, or RuntimeSettingError when it misses the gate."""
    import nncf
    import openvino

    from embedhub.backends.openvino import compiled, converted

    if options.calibration is not None:
        texts, source = read_calibration(options.calibration), options.calibration.name
    else:
        texts, source = shipped_calibration(), "shipped"
    texts = texts[:CALIBRATION_TEXTS]
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()
    parts = (RECIPE, digest, openvino.get_version(), nncf.__version__)
    key = graph_key(model_path, *parts)
    xml = converted(model, model_path, cache_dir, fp32.info.model_id)

    def build(out: Path) -> None:
        graph = _quantize(fp32, openvino.Core().read_model(str(xml)), texts)
        openvino.save_model(graph, out / "model.xml", compress_to_fp16=False)
        int8 = _backend(fp32, model, compiled(out / "model.xml", options))
        report = measure(fp32.embed, int8.embed, texts, source, len(texts))
        (out / REPORT).write_text(json.dumps(dataclasses.asdict(report), indent=1))

    folder = cached_graph(cache_dir, key, build, f"{fp32.info.model_id} to OpenVINO int8")
    report = QualityReport(**json.loads((folder / REPORT).read_text()))
    if not report.passes(options.gate):
        g = options.gate
        raise RuntimeSettingError(
            f"int8 graph of {fp32.info.model_id} is below the quality gate: {report.line()}; "
            f"the gate is mean cosine >= {g.mean_cosine} and top-10 agreement >= "
            f"{g.top10_agreement} (--min-quality); better calibration texts (--calibration) "
            "or --precision fp32"
        )
    log.info("int8 quality of %s: %s", fp32.info.model_id, report.line())
    int8 = _backend(fp32, model, compiled(folder / "model.xml", options))
    int8.info = dataclasses.replace(int8.info, precision="int8", quality=report)
    return int8


def _backend(fp32: GraphBackend, model: Any, run: Any) -> GraphBackend:
    return GraphBackend(fp32.runtime, fp32.info, model, run, run.names)


def _quantize(fp32: GraphBackend, graph: Any, texts: list[str]) -> Any:
    import nncf
    from nncf.parameters import ModelType

    # One text per calibration input, as NNCF expects: statistics per real length, no padding.
    items = fp32.graph_inputs(texts)
    return nncf.quantize(
        graph,
        nncf.Dataset(items),
        model_type=ModelType.TRANSFORMER,
        preset=nncf.QuantizationPreset.MIXED,
        subset_size=len(items),
    )


Embed = Callable[..., np.ndarray]


def measure(
    reference: Embed, candidate: Embed, calibration: list[str], source: str, n_calibration: int
) -> QualityReport:
    """The quality report of `candidate` against `reference` on the held-out texts."""
    seen = set(calibration)
    texts = [t for t in held_out() if t not in seen]
    ref, got = _vectors(reference, texts), _vectors(candidate, texts)
    cosine = (ref * got).sum(1)
    return QualityReport(
        mean_cosine=float(cosine.mean()),
        min_cosine=float(cosine.min()),
        top10_agreement=top10_agreement(ref, got),
        queries=len(texts),
        texts=len(texts),
        calibration=source,
        calibration_texts=n_calibration,
        recipe=RECIPE,
    )


def _vectors(embed: Embed, texts: list[str], batch: int = 32) -> np.ndarray:
    """Normalised vectors, embedded in batches of similar length as the engine would."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.empty((len(texts), 0), dtype=np.float32)
    for start in range(0, len(order), batch):
        rows = order[start : start + batch]
        vectors = embed([texts[i] for i in rows])
        if out.shape[1] == 0:
            out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
        out[rows] = vectors
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def top10_agreement(reference: np.ndarray, candidate: np.ndarray, k: int = 10) -> float:
    """Mean share of each text's k nearest neighbours (by cosine, itself excluded) that the
    candidate vectors find too. Rows must be L2-normalised."""

    def neighbours(v: np.ndarray) -> np.ndarray:
        sims = v @ v.T
        np.fill_diagonal(sims, -np.inf)
        return np.argpartition(-sims, k, axis=1)[:, :k]

    a, b = neighbours(reference), neighbours(candidate)
    return float(np.mean([len(set(x) & set(y)) / k for x, y in zip(a, b, strict=True)]))
