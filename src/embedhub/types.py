"""Plain data shared by every layer. Imports nothing from embedhub."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ModelSpec:
    """A model as the operator named it: the id clients use, and where its files are (if given)."""

    model_id: str
    path: str | None = None


@dataclass(frozen=True)
class ModelInfo:
    model_id: str
    dimension: int
    max_seq_length: int
    normalizes: bool  # the model's own modules.json ends in Normalize
    prompts: dict[str, str] = field(default_factory=dict)
    pooling: str = "mean"


@dataclass(frozen=True)
class EmbedOptions:
    """Per-request options; `None` means "what the model does by default"."""

    normalize: bool | None = None
    truncate: bool = True
    truncation_direction: str = "right"  # "right" | "left"
    prompt_name: str | None = None
    dimensions: int | None = None
    use_cache: bool = True


@dataclass
class Timings:
    queue_seconds: float = 0.0
    inference_seconds: float = 0.0
    tokenize_seconds: float = 0.0


@dataclass
class EmbedResult:
    vectors: np.ndarray  # (n, d) float32
    token_counts: list[int]
    timings: Timings
    cache_hits: int = 0
