"""What kind of model a folder holds, read from its files as TEI reads them (no weights load):
a cross-encoder (a sequence-classification head: a reranker with one output, a classifier with
several), a SPLADE model (sentence-transformers' SparseEncoder), or an embedding model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from embedhub.types import CLASSIFIER, EMBEDDING, RERANKER, SPARSE


def model_kind(path: Path) -> str:
    """One of embedhub.types.KINDS for the model in `path`."""
    st = _json(path / "config_sentence_transformers.json")
    config = _json(path / "config.json")
    declared = st.get("model_type")
    if declared == "SparseEncoder" or _has_splade_pooling(path):
        return SPARSE
    classifies = any(str(a).endswith("Classification") for a in config.get("architectures") or ())
    if declared == "CrossEncoder" or classifies:
        return RERANKER if len(labels(config)) <= 1 else CLASSIFIER
    return EMBEDDING


def labels(config: dict[str, Any]) -> tuple[str, ...]:
    """A classifier's labels by output index, from config.json's id2label (num_labels when
    there is no id2label, as transformers names them)."""
    id2label = config.get("id2label") or {}
    if id2label:
        return tuple(str(id2label[k]) for k in sorted(id2label, key=int))
    return tuple(f"LABEL_{i}" for i in range(int(config.get("num_labels", 1))))


def read_config(path: Path) -> dict[str, Any]:
    return _json(path / "config.json")


def _has_splade_pooling(path: Path) -> bool:
    modules = _json(path / "modules.json", default=[])
    return isinstance(modules, list) and any(
        "SpladePooling" in str(m.get("type", "")) for m in modules if isinstance(m, dict)
    )


def _json(path: Path, default: Any = None) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {} if default is None else default
