"""The protocol every model runtime implements. A backend knows no queue and no HTTP."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from embedhub.types import ModelInfo, QualityGate, Token


class PassContext(threading.local):
    """What the engine knows about the forward pass the calling thread is about to run, for
    a runtime that can use it. `alone`: the pass is all the work there is (one input, no
    other pass running or waiting), so it may take every thread."""

    alone: bool = False


PASS = PassContext()


class TokenCount(int):
    """A token count that may carry the tokenization it was counted from. Why: the engine
    counts every input when it arrives (to batch by length); a graph runtime hands that same
    tokenization back to `embed`, so no input is tokenized twice."""

    encoding: Any = None

    def __new__(cls, n: int, encoding: Any = None) -> TokenCount:
        value = super().__new__(cls, n)
        value.encoding = encoding
        return value


@dataclass(frozen=True)
class LoadOptions:
    """How to load a runtime. `threads` is per worker; `workers` forward passes run at once."""

    threads: int = 1
    workers: int = 1
    cache_dir: Path = Path("onnx")  # where converted graphs are kept (load_backend sets it)
    precision: str = "fp32"  # "fp32" | "int8"
    calibration: Path | None = None  # int8: the user's calibration texts (default: shipped)
    gate: QualityGate = field(default_factory=QualityGate)


class Backend(Protocol):
    """What every backend answers, whatever its model does. A backend also has the forward
    passes of its model's kind (embedhub.types.KINDS), each with the signature of `embed`:
    `embed` and `embed_tokens` (EMBEDDING), `embed_sparse` (SPARSE), `score` (RERANKER and
    CLASSIFIER); the engine calls them by name (engine/tasks.py)."""

    info: ModelInfo
    # What one extra forward pass costs, in padded tokens; the engine uses it to decide when
    # splitting a batch by length beats padding it.
    call_overhead_tokens: int
    runtime: str  # a name from embedhub.backends.RUNTIMES: what /info reports

    @property
    def vocab_size(self) -> int: ...

    @property
    def special_ids(self) -> frozenset[int]: ...

    def count_tokens(self, texts: list[Any]) -> list[int]:
        """Tokens each text (or (query, text) pair) has with special tokens, before
        truncation. Thread-safe. The counts may be `TokenCount`s that the forward pass takes
        back."""
        ...

    def decode(self, batches: list[list[int]], skip_special_tokens: bool = True) -> list[str]:
        """Token ids of this model's tokenizer back to text."""
        ...

    def tokenize(self, texts: list[str], add_special_tokens: bool = True) -> list[list[Token]]:
        """Each text's tokens, untruncated, with character spans."""
        ...


class Embedder(Backend, Protocol):
    def embed(
        self,
        texts: list[str],
        *,
        truncation_side: str = "right",
        prompt: str | None = None,
        counts: Sequence[int] | None = None,
    ) -> np.ndarray:
        """(n, d) float32 embeddings as the model's modules make them, minus a final
        Normalize (the engine applies normalisation, so clients can turn it off). `counts`,
        when given, are what `count_tokens` returned for `prompt + text` of each text. Safe to
        call from several threads at once: the engine's workers do."""
        ...
