"""Cross-encoders (sentence-transformers' CrossEncoder: a transformer with a
sequence-classification head) on torch: a score per text or per (query, text) pair.

Only torch runs them: the graph runtimes export the transformer's token vectors, not a
classification head, so `load_backend` serves these models on torch whatever --runtime says
(and /info reports torch)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from embedhub.backends.base import LoadOptions
from embedhub.backends.kinds import labels, read_config
from embedhub.backends.sentence_transformers import TorchForward, quiet_torch
from embedhub.backends.tokens import TextOrPair, TokenizerCopy, TokenMethods
from embedhub.models import resolve_model
from embedhub.types import CLASSIFIER, RERANKER, ModelInfo, ModelSpec


def load(spec: ModelSpec, options: LoadOptions) -> CrossEncoderBackend:
    import torch
    from sentence_transformers import CrossEncoder

    quiet_torch(options.threads)
    path = resolve_model(spec)
    model = CrossEncoder(str(path), device="cpu", local_files_only=True)
    names = labels(read_config(path))
    if len(names) != model.num_labels:  # config.json without id2label: transformers' names
        names = tuple(f"LABEL_{i}" for i in range(model.num_labels))
    info = ModelInfo(
        model_id=spec.model_id,
        dimension=len(names),
        max_seq_length=int(model.max_seq_length),
        normalizes=False,
        prompts={k: v or "" for k, v in (model.prompts or {}).items()},
        pooling="none",
        kind=RERANKER if len(names) == 1 else CLASSIFIER,
        labels=names,
    )
    model.eval()
    return CrossEncoderBackend(info, TorchForward(model, torch), TokenizerCopy(model.tokenizer))


class CrossEncoderBackend(TokenMethods):
    call_overhead_tokens = 48  # a torch forward pass, as SentenceTransformersBackend
    runtime = "torch"

    def __init__(self, info: ModelInfo, forward: TorchForward, tokens: TokenizerCopy) -> None:
        self.info = info
        self._forward = forward
        self._tokens = tokens

    def score(
        self,
        inputs: list[TextOrPair],
        *,
        truncation_side: str = "right",
        prompt: str | None = None,
        counts: Sequence[int] | None = None,
    ) -> np.ndarray:
        """(n, labels) logits, before any activation: what `CrossEncoder.predict` computes
        before its activation function. Texts and pairs are not mixed in one call."""
        scores = self._forward(list(inputs), truncation_side, prompt)["scores"]
        scores = scores.float().numpy()
        return scores.reshape(len(inputs), -1)
