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

# The settings, by name (in the cache key and the report). NNCF's static int8 for
# transformers (SmoothQuant, asymmetric activations), except the matmuls whose inputs int8
# hurts most, which stay fp32: the attention's query/key/value projections (they read a
# LayerNorm output with a few outlier channels) and each layer's FFN output (it reads the
# GELU output). Measured on all-MiniLM-L6-v2 (held-out texts, 10 nearest neighbours):
# everything int8 keeps 0.907 of the neighbours; q/k/v left fp32 gains the most (+0.03),
# the FFN output next (+0.01); the other inputs gain < 0.002 each. See the README.
RECIPE = "nncf-static-fp32-qkv-ffn-out-v1"
FP32_MATMULS = (r".*attention\.self\.(query|key|value)/.*", r".*layer\.\d+\.output\.dense/.*")
CALIBRATION_TEXTS = 300  # NNCF's statistics settle by a few hundred inputs
REPORT = "quality.json"


def quantized(
    name: str,
    backend: Callable[[Path], GraphBackend],
    xml: Path,
    model_path: Path,
    cache_dir: Path,
    options: LoadOptions,
) -> GraphBackend:
    """The int8 backend of the fp32 graph `xml`, or RuntimeSettingError when it misses the
    gate. `backend(graph)`: the pipeline around a graph file."""
    import nncf
    import openvino

    if options.calibration is not None:
        texts, source = read_calibration(options.calibration), options.calibration.name
    else:
        texts, source = shipped_calibration(), "shipped"
    texts = texts[:CALIBRATION_TEXTS]
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()
    parts = (RECIPE, digest, openvino.get_version(), nncf.__version__, int8_isa())
    key = graph_key(model_path, *parts)
    int8 = None

    def build(out: Path) -> None:
        nonlocal int8
        fp32 = backend(xml)
        graph = _quantize(fp32, openvino.Core().read_model(str(xml)), texts)
        openvino.save_model(graph, out / "model.xml", compress_to_fp16=False)
        int8 = backend(out / "model.xml")
        report = measure(fp32.embed, int8.embed, texts, source, len(texts))
        (out / REPORT).write_text(json.dumps(dataclasses.asdict(report), indent=1))

    folder = cached_graph(cache_dir, key, build, f"{name} to OpenVINO int8")
    report = QualityReport(**json.loads((folder / REPORT).read_text()))
    if not report.passes(options.gate):
        g = options.gate
        raise RuntimeSettingError(
            f"int8 graph of {name} is below the quality gate: {report.line()}; "
            f"the gate is mean cosine >= {g.mean_cosine} and top-10 agreement >= "
            f"{g.top10_agreement} (--min-quality); better calibration texts (--calibration) "
            "or --precision fp32"
        )
    log.info("int8 quality of %s: %s", name, report.line())
    if int8 is None:  # made by an earlier start
        int8 = backend(folder / "model.xml")
    int8.info = dataclasses.replace(int8.info, precision="int8", quality=report)
    return int8


def int8_isa() -> str:
    """The CPU's int8 instructions, part of the cache key: the same int8 graph computes
    slightly different numbers with VNNI/AMX than without (AVX2 sums pairs of products in
    16 bits), so a report measured on one kind of CPU is not reused on another."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:  # not Linux: one key for all
        return "unknown"
    for isa in ("amx_int8", "avx512_vnni", "avx_vnni", "avx512bw", "avx2"):
        if isa in flags:
            return isa
    return "other"


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
        # Names as openvino.convert_model gives them for BERT-like models; another model
        # whose names don't match is quantized whole, and its report says what that costs.
        ignored_scope=nncf.IgnoredScope(patterns=list(FP32_MATMULS), validate=False),
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
