"""The tasks an engine runs, which model kinds can run each, and what a model that can't is
told (TEI's words, so a TEI client sees the message it knows).

A task is one backend forward pass over a batch of inputs (embedhub.backends.base); inputs of
different tasks never share a pass."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from embedhub.types import CLASSIFIER, EMBEDDING, RERANKER, SPARSE


@dataclass(frozen=True)
class Task:
    name: str
    method: str  # the backend's forward pass for it
    kinds: tuple[str, ...]  # the model kinds that can run it


EMBED = Task("embed", "embed", (EMBEDDING,))
TOKENS = Task("tokens", "embed_tokens", (EMBEDDING,))
SPARSE_EMBED = Task("sparse", "embed_sparse", (SPARSE,))
SCORE = Task("score", "score", (RERANKER, CLASSIFIER))
RERANK = Task("score", "score", (RERANKER,))  # a score pass, asked of one-output models only
TASKS = {t.name: t for t in (EMBED, TOKENS, SPARSE_EMBED, SCORE)}


def refusal(task: Task, kind: str) -> str:
    """Why a model of `kind` can't run `task`, as TEI says it."""
    if task is RERANK:
        return "model is not a re-ranker model"
    if task is SCORE:
        return "Model is not a classifier model"
    if task is SPARSE_EMBED:
        return "Model is not an embedding model with SPLADE pooling"
    if task is TOKENS and kind == SPARSE:
        return "`embed_all` is not available for SPLADE models"
    return "Model is not an embedding model"


def sigmoid(x: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-x.astype(np.float64)))).astype(np.float32)


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x.astype(np.float64) - x.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def activate(logits: np.ndarray) -> np.ndarray:
    """(n, labels) logits -> scores as TEI gives them: softmax over several labels, sigmoid
    of a single one (what CrossEncoder.predict gives with its default activation, and with
    apply_softmax for several labels)."""
    return softmax(logits) if logits.shape[-1] > 1 else sigmoid(logits)
