"""sentence-transformers on torch: the reference runtime, so vectors equal `encode()`."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from embedhub.backends.base import IdDecoder, LoadOptions
from embedhub.models import resolve_model
from embedhub.types import ModelInfo, ModelSpec


def load(spec: ModelSpec, options: LoadOptions) -> SentenceTransformersBackend:
    """The runtime's entry point (see embedhub.backends.RUNTIMES)."""
    model, info, _ = load_sentence_transformer(spec, threads=options.threads)
    return SentenceTransformersBackend(model, info)


class SentenceTransformersBackend:
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
        self._torch = torch
        self.info = info
        # A private copy of the tokenizer for counting: the model's own one changes its
        # truncation/padding state on every call, and fast tokenizers refuse concurrent use.
        self._counter = model.tokenizer.backend_tokenizer.__class__.from_str(
            model.tokenizer.backend_tokenizer.to_str()
        )
        self._counter.no_truncation()
        self._counter.no_padding()
        self._decode = IdDecoder(self._counter)
        self.vocab_size = int(self._counter.get_vocab_size(with_added_tokens=True))
        self.special_ids = frozenset(model.tokenizer.all_special_ids)
        self._count_lock = threading.Lock()
        # The model's tokenizer is reconfigured on every call (truncation side, padding), so
        # one call at a time; the forward pass itself is safe to run from several threads.
        self._tokenize_lock = threading.Lock()

    def count_tokens(self, texts: list[str]) -> list[int]:
        with self._count_lock:
            encodings = self._counter.encode_batch(texts)
        return [len(e.ids) for e in encodings]

    def decode(self, batches: list[list[int]]) -> list[str]:
        with self._count_lock:
            return self._decode(batches)

    def tokenize(self, texts: list[str]) -> list[list[tuple[int, str, int, int]]]:
        with self._count_lock:
            encodings = self._counter.encode_batch(texts)
        return [
            [
                (i, tok, start, stop)
                for i, tok, (start, stop) in zip(e.ids, e.tokens, e.offsets, strict=True)
            ]
            for e in encodings
        ]

    def embed(
        self,
        texts: list[str],
        *,
        truncation_side: str = "right",
        prompt: str | None = None,
        counts: Sequence[int] | None = None,  # not needed: the model's tokenizer runs here
    ) -> np.ndarray:
        with self._tokenize_lock:
            tokenizer = self._raw.tokenizer
            tokenizer.truncation_side = truncation_side
            try:
                features = self._raw.preprocess(texts, prompt=prompt)
            finally:
                tokenizer.truncation_side = "right"
        with self._torch.inference_mode():
            out = self._raw(features)["sentence_embedding"]
        return out.float().numpy()


def load_sentence_transformer(spec: ModelSpec, *, threads: int = 0) -> tuple[Any, ModelInfo, Path]:
    """(the SentenceTransformer, what it is, the folder it came from)."""
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    # A quiet start: no "Loading SentenceTransformer model" line, no weight-loading progress
    # bar (embedhub logs one line per loaded model itself).
    logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
    transformers.utils.logging.disable_progress_bar()

    torch.set_num_threads(threads or os.cpu_count() or 1)
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


def _pooling_mode(modules: list) -> str:
    for module in modules:
        if type(module).__name__ == "Pooling":
            config = module.get_config_dict() if hasattr(module, "get_config_dict") else {}
            return str(config.get("pooling_mode", "mean"))
    return "none"
