"""The protocol every model runtime implements. A backend knows no queue and no HTTP."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from embedhub.types import ModelInfo, QualityGate


class TokenCount(int):
    """A token count that may carry the tokenization it was counted from. Why: the engine
    counts every input when it arrives (to batch by length); a graph runtime hands that same
    tokenization back to `embed`, so no input is tokenized twice."""

    encoding: Any = None

    def __new__(cls, n: int, encoding: Any = None) -> TokenCount:
        value = super().__new__(cls, n)
        value.encoding = encoding
        return value


class IdDecoder:
    """Token ids back to text that tokenizes to the same ids. The ids a client sends may
    come from this model's own /tokenize, framed by the special tokens the tokenizer adds
    ([CLS] ... [SEP]): those are dropped from the ends (tokenizing adds them again). Any
    other special token ([UNK], [MASK]) stays in the text, where the tokenizer finds it
    again: dropping it would embed a different input than the client sent."""

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer  # a `tokenizers.Tokenizer`, only read
        framed = tokenizer.encode("a", add_special_tokens=True)
        mask = framed.special_tokens_mask
        first = mask.index(0) if 0 in mask else len(mask)
        last = len(mask) - mask[::-1].index(0) if 0 in mask else len(mask)
        self._head = list(framed.ids[:first])
        self._tail = list(framed.ids[last:])

    def __call__(self, batches: list[list[int]]) -> list[str]:
        return self._tokenizer.decode_batch(
            [self._unframed(ids) for ids in batches], skip_special_tokens=False
        )

    def _unframed(self, ids: list[int]) -> list[int]:
        head, tail = len(self._head), len(self._tail)
        if head and ids[:head] == self._head:
            ids = ids[head:]
        if tail and len(ids) >= tail and ids[-tail:] == self._tail:
            ids = ids[:-tail]
        return ids


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
    info: ModelInfo
    vocab_size: int
    special_ids: frozenset[int]
    # What one extra forward pass costs, in padded tokens; the engine uses it to decide when
    # splitting a batch by length beats padding it.
    call_overhead_tokens: int
    runtime: str  # a name from embedhub.backends.RUNTIMES: what /info reports

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Tokens each text has with special tokens, before truncation. Thread-safe. The
        counts may be `TokenCount`s that `embed` takes back."""
        ...

    def decode(self, batches: list[list[int]]) -> list[str]:
        """Token ids of this model's tokenizer back to text (see `IdDecoder`). Thread-safe."""
        ...

    def tokenize(self, texts: list[str]) -> list[list[tuple[int, str, int, int]]]:
        """(id, token text, start, stop) per token, special tokens included, untruncated."""
        ...

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
