"""Everything a graph runtime reads from a sentence-transformers model besides the transformer
graph itself: the model's description (ModelInfo), its fast tokenizer and how it pads, and its
head (pooling, Dense layers). Read from the loaded SentenceTransformer once and kept in the
graph cache as plain files; later starts read those files and never import torch or
sentence-transformers.

Why: importing sentence-transformers costs ~12 s of CPU on a 2-core machine (it pulls torch,
transformers and scikit-learn): more than the rest of a start together. With the graph and
these parts cached, a start needs only the tokenizers library, numpy and the graph runtime.

The files are what the loaded model gave, not a re-reading of its config files by other code,
so a later start sees the same tokenizer, lengths, prompts and weights as the first. They are
keyed like the graphs (by the model's files) plus the versions of the libraries that read the
model: an upgrade of sentence-transformers reads the model again."""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from embedhub.backends.graphcache import cached_graph, graph_key
from embedhub.backends.heads import Dense, Head, read_head
from embedhub.models import resolve_model
from embedhub.types import ModelInfo, ModelSpec

log = logging.getLogger("embedhub.backends")

# Part of the cache key: a change to what is saved here must not reuse older parts.
PARTS_VERSION = "parts 1"
_READERS = ("sentence-transformers", "transformers", "tokenizers")


@dataclass(frozen=True)
class ModelParts:
    info: ModelInfo
    tokenizer: str  # the fast tokenizer, as tokenizers.Tokenizer.to_str() writes it
    pad_id: int
    pad_left: bool
    special_ids: frozenset[int]
    head: Head  # what follows the transformer, before the final Normalize


class SourceModel:
    """The SentenceTransformer behind a spec, loaded (with torch) only when something needs
    it: converting a graph, or reading parts the cache does not hold yet."""

    def __init__(self, spec: ModelSpec, threads: int) -> None:
        self.spec = spec
        self.path = resolve_model(spec)
        self._threads = threads
        self._loaded: tuple[Any, ModelInfo] | None = None

    def load(self) -> tuple[Any, ModelInfo]:
        if self._loaded is None:
            from embedhub.backends.sentence_transformers import load_sentence_transformer

            model, info, _ = load_sentence_transformer(self.spec, threads=self._threads)
            self._loaded = (model, info)
        return self._loaded


def model_parts(source: SourceModel, cache_dir: Path) -> ModelParts:
    """The parts of `source`'s model, from the cache, read from the model on first use."""
    versions = [f"{name} {_version(name)}" for name in _READERS]
    key = graph_key(source.path, PARTS_VERSION, *versions)

    def build(out: Path) -> None:
        save(parts_of(*source.load()), out)

    what = f"{source.spec.model_id} with sentence-transformers (tokenizer, head)"
    folder = cached_graph(cache_dir, key, build, what, verb="reading")
    parts = read(folder)
    # The id is the spec's: one folder may be served under several names.
    info = dataclasses.replace(parts.info, model_id=source.spec.model_id)
    return dataclasses.replace(parts, info=info)


def parts_of(model: Any, info: ModelInfo) -> ModelParts:
    """The parts of a loaded SentenceTransformer. Raises heads.Unsupported for a module stack
    the numpy head does not reproduce."""
    modules = list(model)
    if info.normalizes:
        modules = modules[:-1]  # the engine normalises
    hf = model.tokenizer
    return ModelParts(
        info=info,
        tokenizer=hf.backend_tokenizer.to_str(),
        pad_id=hf.pad_token_id if hf.pad_token_id is not None else 0,
        pad_left=getattr(hf, "padding_side", "right") == "left",
        special_ids=frozenset(int(i) for i in hf.all_special_ids),
        head=read_head(modules),
    )


def save(parts: ModelParts, folder: Path) -> None:
    (folder / "tokenizer.json").write_text(parts.tokenizer, encoding="utf-8")
    arrays: dict[str, Any] = {}  # Any: savez also takes keyword options, typed otherwise
    for i, layer in enumerate(parts.head.dense):
        arrays[f"dense{i}.weight"] = layer.weight
        if layer.bias is not None:
            arrays[f"dense{i}.bias"] = layer.bias
    np.savez(folder / "head.npz", **arrays)
    described = {
        "info": dataclasses.asdict(parts.info),
        "pad_id": parts.pad_id,
        "pad_left": parts.pad_left,
        "special_ids": sorted(parts.special_ids),
        "pooling": parts.head.pooling,
        "activations": [layer.activation for layer in parts.head.dense],
    }
    (folder / "parts.json").write_text(json.dumps(described, indent=1), encoding="utf-8")


def read(folder: Path) -> ModelParts:
    described = json.loads((folder / "parts.json").read_text(encoding="utf-8"))
    info = described["info"]
    info["labels"] = tuple(info["labels"])
    with np.load(folder / "head.npz") as arrays:
        dense = tuple(
            Dense(arrays[f"dense{i}.weight"], arrays.get(f"dense{i}.bias"), activation)
            for i, activation in enumerate(described["activations"])
        )
    head = Head(described["pooling"], dense)
    head.check()
    return ModelParts(
        info=ModelInfo(**info),
        tokenizer=(folder / "tokenizer.json").read_text(encoding="utf-8"),
        pad_id=int(described["pad_id"]),
        pad_left=bool(described["pad_left"]),
        special_ids=frozenset(described["special_ids"]),
        head=head,
    )


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"
