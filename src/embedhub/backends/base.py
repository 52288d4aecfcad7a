"""The protocol every model runtime implements. A backend knows no queue and no HTTP."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from embedhub.types import ModelInfo


class Backend(Protocol):
    info: ModelInfo
    vocab_size: int
    special_ids: frozenset[int]
    # What one extra forward pass costs, in padded tokens; the engine uses it to decide when
    # splitting a batch by length beats padding it.
    call_overhead_tokens: int
    runtime: str  # "torch" | "onnx": what /info reports

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Tokens each text has with special tokens, before truncation. Thread-safe."""
        ...

    def decode(self, batches: list[list[int]]) -> list[str]:
        """Token ids of this model's tokenizer back to text (special tokens dropped)."""
        ...

    def tokenize(self, texts: list[str]) -> list[list[tuple[int, str, int, int]]]:
        """(id, token text, start, stop) per token, special tokens included, untruncated."""
        ...

    def embed(
        self, texts: list[str], *, truncation_side: str = "right", prompt: str | None = None
    ) -> np.ndarray:
        """(n, d) float32 embeddings as the model's modules make them, minus a final
        Normalize (the engine applies normalisation, so clients can turn it off). Safe to call
        from several threads at once: the engine's workers do."""
        ...
