"""SPLADE models (sentence-transformers' SparseEncoder: a masked-LM head, then the maximum of
log(1 + relu) over the tokens) on torch: one weight per vocabulary entry, most of them zero.

Only torch runs them: the graph runtimes export the transformer's token vectors, not the MLM
head, so `load_backend` serves these models on torch whatever --runtime says (and /info
reports torch)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from embedhub.backends.base import LoadOptions
from embedhub.backends.sentence_transformers import TorchForward, quiet_torch
from embedhub.backends.tokens import TokenizerCopy, TokenMethods
from embedhub.models import resolve_model
from embedhub.types import SPARSE, ModelInfo, ModelSpec

# One sparse vector: the vocabulary indices with a non-zero weight, and those weights.
SparseVector = tuple[np.ndarray, np.ndarray]


def load(spec: ModelSpec, options: LoadOptions) -> SparseEncoderBackend:
    import torch
    from sentence_transformers import SparseEncoder

    quiet_torch(options.threads)
    path = resolve_model(spec)
    model = SparseEncoder(str(path), device="cpu", local_files_only=True)
    model.eval()
    tokens = TokenizerCopy(model.tokenizer)
    info = ModelInfo(
        model_id=spec.model_id,
        dimension=tokens.vocab_size,  # one weight per vocabulary entry
        max_seq_length=int(model.max_seq_length),
        normalizes=False,
        prompts={k: v or "" for k, v in (model.prompts or {}).items()},
        pooling="splade",
        kind=SPARSE,
    )
    return SparseEncoderBackend(info, TorchForward(model, torch), tokens)


class SparseEncoderBackend(TokenMethods):
    call_overhead_tokens = 48  # a torch forward pass, as SentenceTransformersBackend
    runtime = "torch"

    def __init__(self, info: ModelInfo, forward: TorchForward, tokens: TokenizerCopy) -> None:
        self.info = info
        self._forward = forward
        self._tokens = tokens

    def embed_sparse(
        self,
        texts: list[str],
        *,
        truncation_side: str = "right",
        prompt: str | None = None,
        counts: Sequence[int] | None = None,
    ) -> list[SparseVector]:
        """Each text's non-zero weights, as `SparseEncoder.encode` gives them."""
        out = self._forward(texts, truncation_side, prompt)["sentence_embedding"]
        dense = (out.to_dense() if out.is_sparse else out).float().numpy()
        found = []
        for row in dense:
            at = np.flatnonzero(row)
            found.append((at.astype(np.int64), row[at].astype(np.float32)))
        return found
