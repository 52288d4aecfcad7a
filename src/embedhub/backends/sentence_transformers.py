"""sentence-transformers on torch: the reference runtime, so vectors equal `encode()`."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from embedhub.backends.base import LoadOptions
from embedhub.backends.tokens import TokenizerCopy, TokenMethods
from embedhub.models import resolve_model
from embedhub.types import ModelInfo, ModelSpec


def load(spec: ModelSpec, options: LoadOptions) -> SentenceTransformersBackend:
    """The runtime's entry point (see embedhub.backends.RUNTIMES)."""
    model, info, _ = load_sentence_transformer(spec, threads=options.threads)
    return SentenceTransformersBackend(model, info)


class SentenceTransformersBackend(TokenMethods):
    # The fixed cost of one forward pass in padded tokens' worth, measured on a 2-core Xeon
    # with all-MiniLM-L6-v2 (~5.5 ms per call at ~10k tokens/s); the engine splits batches
    # so that padding never costs more than an extra call.
    call_overhead_tokens = 48
    runtime = "torch"

    def __init__(self, model, info: ModelInfo) -> None:  # model: SentenceTransformer
        import torch
        from sentence_transformers import SentenceTransformer

        modules = list(model)
        normalizes = type(modules[-1]).__name__ == "Normalize"
        # The same weights without the final Normalize: the engine normalises (or not, when a
        # client asks for raw vectors), in float32 exactly as Normalize does.
        self._raw = SentenceTransformer(modules=modules[:-1], device="cpu") if normalizes else model
        self._raw.max_seq_length = model.max_seq_length
        self._raw.eval()
        self.info = info
        self._tokens = TokenizerCopy(model.tokenizer)
        self._forward = TorchForward(self._raw, torch)

    def embed(
        self,
        texts: list[str],
        *,
        truncation_side: str = "right",
        prompt: str | None = None,
        counts: Sequence[int] | None = None,  # not needed: the model's tokenizer runs here
    ) -> np.ndarray:
        out = self._forward(texts, truncation_side, prompt)["sentence_embedding"]
        return out.float().numpy()

    def embed_tokens(
        self,
        texts: list[str],
        *,
        truncation_side: str = "right",
        prompt: str | None = None,
        counts: Sequence[int] | None = None,
    ) -> list[np.ndarray]:
        """Each text's token vectors (the transformer's last hidden state, special tokens
        included, padding left out), as `encode(output_value="token_embeddings")` gives."""
        out = self._forward(texts, truncation_side, prompt)
        return unpadded(out["token_embeddings"], out["attention_mask"])


class TorchForward:
    """One forward pass of a sentence-transformers model (any of SentenceTransformer,
    CrossEncoder, SparseEncoder), truncating from the side asked for. Thread-safe: the
    model's tokenizer is reconfigured on every call (truncation side, padding), so one
    tokenization at a time; the forward pass itself is safe to run from several threads."""

    def __init__(self, model: Any, torch: Any) -> None:
        self._model = model
        self._torch = torch
        self._lock = threading.Lock()

    def __call__(self, inputs: list, side: str, prompt: str | None = None) -> dict[str, Any]:
        with self._lock:
            tokenizer = self._model.tokenizer
            tokenizer.truncation_side = side
            try:
                features = self._model.preprocess(inputs, prompt=prompt)
            finally:
                tokenizer.truncation_side = "right"
        with self._torch.inference_mode():
            return self._model(features)


def unpadded(tokens: Any, mask: Any) -> list[np.ndarray]:
    """(n, seq, hidden) token vectors and their (n, seq) mask -> each row's real tokens."""
    tokens = tokens.float().numpy() if hasattr(tokens, "numpy") else np.asarray(tokens)
    keep = (mask.numpy() if hasattr(mask, "numpy") else np.asarray(mask)).astype(bool)
    return [np.ascontiguousarray(tokens[i][keep[i]], dtype=np.float32) for i in range(len(keep))]


def load_sentence_transformer(spec: ModelSpec, *, threads: int = 0) -> tuple[Any, ModelInfo, Path]:
    """(the SentenceTransformer, what it is, the folder it came from)."""
    from sentence_transformers import SentenceTransformer

    quiet_torch(threads)
    path = resolve_model(spec)
    model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    modules = list(model)
    dimension, max_seq_length = model.get_embedding_dimension(), model.max_seq_length
    if dimension is None or max_seq_length is None:
        raise ValueError(f"{spec.model_id}: the model states no embedding dimension or length")
    info = ModelInfo(
        model_id=spec.model_id,
        dimension=int(dimension),
        max_seq_length=int(max_seq_length),
        normalizes=type(modules[-1]).__name__ == "Normalize",
        prompts={k: v or "" for k, v in (model.prompts or {}).items()},
        pooling=_pooling_mode(modules),
    )
    return model, info, path


def quiet_torch(threads: int) -> None:
    """torch with `threads` threads (0: one per core), and a quiet start: no "Loading
    SentenceTransformer model" line, no weight-loading progress bar (embedhub logs one line
    per loaded model itself)."""
    import torch
    import transformers

    logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
    transformers.utils.logging.disable_progress_bar()
    torch.set_num_threads(threads or os.cpu_count() or 1)


def _pooling_mode(modules: list) -> str:
    for module in modules:
        if type(module).__name__ == "Pooling":
            config = module.get_config_dict() if hasattr(module, "get_config_dict") else {}
            return str(config.get("pooling_mode", "mean"))
    return "none"
