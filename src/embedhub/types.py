"""Plain data shared by every layer. Imports nothing from embedhub."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ModelSpec:
    """A model as the operator named it: the id clients use, and where its files are (if given)."""

    model_id: str
    path: str | None = None


# What a model does, as TEI tells them apart: an embedding model (pooled vectors, and token
# vectors for /embed_all), a SPLADE model (sparse vectors over the vocabulary), a cross-encoder
# with one output (a reranker: a relevance score per query-text pair) or with several (a
# classifier: a score per label).
EMBEDDING, SPARSE, RERANKER, CLASSIFIER = "embedding", "sparse", "reranker", "classifier"
KINDS = (EMBEDDING, SPARSE, RERANKER, CLASSIFIER)


@dataclass(frozen=True)
class ModelInfo:
    model_id: str
    dimension: int  # vector size; the vocabulary for SPARSE; the number of labels for scorers
    max_seq_length: int
    normalizes: bool  # the model's own modules.json ends in Normalize
    prompts: dict[str, str] = field(default_factory=dict)
    pooling: str = "mean"  # "splade" for SPARSE; "none" for scorers
    kind: str = EMBEDDING
    labels: tuple[str, ...] = ()  # a scorer's labels, by output index (config.json id2label)
    runtime: str = "torch"  # what actually runs it (after any fallback)
    precision: str = "fp32"
    quality: QualityReport | None = None  # int8 only: how close it stays to fp32

    @property
    def scores(self) -> bool:
        """A cross-encoder: it scores texts or pairs rather than embedding them."""
        return self.kind in (RERANKER, CLASSIFIER)

    def runtime_report(self) -> dict[str, object]:
        """What /info and /v1/models say about how this model is run."""
        quality = None if self.quality is None else self.quality.as_dict()
        return {"runtime": self.runtime, "precision": self.precision, "quality": quality}


@dataclass(frozen=True)
class QualityGate:
    """The least quality an int8 graph must keep to be served (--min-quality)."""

    mean_cosine: float = 0.995
    top10_agreement: float = 0.95


@dataclass(frozen=True)
class QualityReport:
    """An int8 graph against the same model in fp32, on held-out texts (never the calibration
    ones): cosine of each vector to its fp32 vector, and how many of each query's 10 nearest
    neighbours (among all the held-out texts) stay the same."""

    mean_cosine: float
    min_cosine: float
    top10_agreement: float
    queries: int  # texts used as queries for the neighbour agreement
    texts: int  # texts embedded both ways (the neighbours are searched among these)
    calibration: str  # "shipped" or the calibration file's name
    calibration_texts: int
    recipe: str  # the quantization settings, by name

    def passes(self, gate: QualityGate) -> bool:
        return self.mean_cosine >= gate.mean_cosine and self.top10_agreement >= gate.top10_agreement

    def as_dict(self) -> dict[str, float | int | str]:
        return {
            "mean_cosine": round(self.mean_cosine, 5),
            "min_cosine": round(self.min_cosine, 5),
            "top10_agreement": round(self.top10_agreement, 4),
            "queries": self.queries,
            "texts": self.texts,
            "calibration": self.calibration,
            "calibration_texts": self.calibration_texts,
            "recipe": self.recipe,
        }

    def line(self) -> str:
        return (
            f"mean cosine to fp32 {self.mean_cosine:.4f} (min {self.min_cosine:.4f}), "
            f"top-10 neighbour agreement {self.top10_agreement:.3f} over {self.queries} "
            "held-out queries"
        )


@dataclass(frozen=True)
class EmbedOptions:
    """Per-request options; `None` means "what the model does by default"."""

    normalize: bool | None = None
    truncate: bool = True
    truncation_direction: str = "right"  # "right" | "left"
    prompt_name: str | None = None
    dimensions: int | None = None
    use_cache: bool = True


@dataclass(frozen=True)
class ScoreOptions:
    """Per-request options of a cross-encoder (rerank, predict)."""

    truncate: bool = True
    truncation_direction: str = "right"  # "right" | "left"
    raw_scores: bool = False  # the model's logits, without sigmoid / softmax


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


@dataclass
class TaskResult:
    """What a task other than pooled embedding gives, one value per input, in input order:
    scores (rerank: (n,) array; predict: (n, labels) array), sparse vectors ((indices, values)
    per input) or token vectors ((tokens, hidden) array per input)."""

    values: Any
    token_counts: list[int]
    timings: Timings


@dataclass(frozen=True)
class Token:
    """One token of a tokenized text: its id, its text in the vocabulary, its character span
    in the text it came from, and whether the tokenizer added it (special tokens)."""

    id: int
    text: str
    start: int
    stop: int
    special: bool
