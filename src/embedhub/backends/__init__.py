"""Model runtimes, each one module behind one protocol (base.Backend).

A runtime is a module with `load(spec, options) -> Backend`, named in RUNTIMES; nothing else
needs to change to add one (the CLI, settings and /info read these tables). Modules are
imported only when their runtime is asked for, so an unused runtime costs nothing at start."""

from __future__ import annotations

import dataclasses
import importlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from embedhub.backends.base import Backend, LoadOptions
from embedhub.types import CLASSIFIER, RERANKER, SPARSE, ModelSpec, QualityGate

if TYPE_CHECKING:
    from embedhub.config import Settings

log = logging.getLogger("embedhub.backends")

# name -> module; the first is the default. OpenVINO: the fastest runtime whose vectors equal
# encode()'s (bench/serve.py); ONNX Runtime: the same vectors, a little slower; torch:
# sentence-transformers itself, the reference.
RUNTIMES = {
    "openvino": "embedhub.backends.openvino",
    "onnx": "embedhub.backends.onnx",
    "torch": "embedhub.backends.sentence_transformers",
}
DEFAULT_RUNTIME = next(iter(RUNTIMES))
# precision -> the runtimes that offer it
PRECISIONS = {"fp32": tuple(RUNTIMES), "int8": ("openvino",)}
# Models that are not embedding models, by kind (embedhub.types.KINDS): torch alone runs them
# (the graph runtimes export token vectors, not a classification or MLM head).
TORCH_ONLY = {
    SPARSE: "embedhub.backends.sparse_encoder",
    RERANKER: "embedhub.backends.cross_encoder",
    CLASSIFIER: "embedhub.backends.cross_encoder",
}


class RuntimeSettingError(ValueError):
    """A runtime setting that can't be used (unknown runtime or precision, an unusable
    calibration file, an int8 graph below the quality gate): one line for the person who
    gave it; the CLI exits 2."""


def check_runtime(runtime: str, precision: str) -> None:
    if runtime not in RUNTIMES:
        raise RuntimeSettingError(
            f"--runtime {runtime!r} is not a runtime; choose one of {', '.join(RUNTIMES)}"
        )
    if precision not in PRECISIONS:
        raise RuntimeSettingError(
            f"--precision {precision!r} is not a precision; choose one of {', '.join(PRECISIONS)}"
        )
    if runtime not in PRECISIONS[precision]:
        offered = ", ".join(PRECISIONS[precision])
        raise RuntimeSettingError(f"--precision {precision} needs --runtime {offered}")


def configured_backend(
    spec: ModelSpec, settings: Settings, *, threads: int, workers: int = 1
) -> Backend:
    """The backend the settings ask for (`embedhub serve` and `embedhub embed` alike): a
    runtime setting declared in config.py reaches both through here."""
    return load_backend(
        spec,
        runtime=settings.runtime,
        threads=threads,
        workers=workers,
        cache_dir=settings.onnx_cache,
        precision=settings.precision,
        calibration=settings.calibration,
        gate=settings.quality_gate,
    )


def load_backend(
    spec: ModelSpec,
    *,
    runtime: str = DEFAULT_RUNTIME,
    threads: int = 0,
    workers: int = 1,
    cache_dir: Path | None = None,
    precision: str = "fp32",
    calibration: Path | None = None,
    gate: QualityGate | None = None,
) -> Backend:
    """`threads` per worker (0: one per core), `workers` forward passes at once. A model a
    graph runtime can't convert or reproduce is served by torch, with a logged line."""
    import os

    from embedhub.backends.kinds import model_kind
    from embedhub.models import ModelNotFound, resolve_model

    check_runtime(runtime, precision)
    if cache_dir is None:  # where the settings (EMBEDHUB_* variables) keep graphs
        from embedhub.config import settings_from_env

        cache_dir = settings_from_env().onnx_cache
    options = LoadOptions(
        threads=threads or os.cpu_count() or 1,
        workers=max(1, workers),
        cache_dir=cache_dir,
        precision=precision,
        calibration=calibration,
        gate=gate or QualityGate(),
    )
    if options.calibration is not None:
        from embedhub.backends.calibration import read_calibration

        read_calibration(options.calibration)  # a bad file is refused before any model loads
    kind = model_kind(resolve_model(spec))
    if kind in TORCH_ONLY:
        if runtime != "torch" or precision != "fp32":
            log.warning(
                "%s is a %s model, which only the torch runtime runs (fp32); using torch for it",
                spec.model_id,
                kind,
            )
        loader = importlib.import_module(TORCH_ONLY[kind])
        return loader.load(spec, dataclasses.replace(options, precision="fp32"))
    module = importlib.import_module(RUNTIMES[runtime])
    try:
        return module.load(spec, options)
    except (ModelNotFound, RuntimeSettingError):
        raise
    except Exception as exc:  # a model the converter or the numpy head can't take
        if runtime == "torch":
            raise
        log.warning(
            "%s runtime can't take %s (%s); using torch for it", runtime, spec.model_id, exc
        )
    torch = importlib.import_module(RUNTIMES["torch"])
    return torch.load(spec, dataclasses.replace(options, precision="fp32"))


__all__ = [
    "DEFAULT_RUNTIME",
    "PRECISIONS",
    "RUNTIMES",
    "Backend",
    "LoadOptions",
    "RuntimeSettingError",
    "check_runtime",
    "configured_backend",
    "load_backend",
]
