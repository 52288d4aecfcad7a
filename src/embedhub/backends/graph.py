"""The pipeline every graph runtime (ONNX Runtime, OpenVINO) shares: tokenize with the model's
fast tokenizer, pad into numpy arrays, run the transformer graph, pool in numpy. No torch on
this path: torch loads the model only once per model, to convert it and read its parts
(backends/parts.py), which later starts read from the cache.

Tokenization happens once per input: `count_tokens` (which the engine calls when a request
arrives) keeps each text's encoding without special tokens, and `embed` only truncates it and
adds the special tokens, exactly as the tokenizer's own pipeline does (`Tokenizer.post_process`:
truncate, then the template), so the ids are those `encode()` feeds the model."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np
from tokenizers import Encoding, Tokenizer

from embedhub.backends.base import TokenCount
from embedhub.backends.heads import Head
from embedhub.backends.parts import ModelParts
from embedhub.backends.tokens import list_tokens
from embedhub.types import Token

# feeds (input name -> int64 array) -> token embeddings (n, seq, hidden) float32
Runner = Callable[[dict[str, np.ndarray]], np.ndarray]


class GraphBackend:
    def __init__(
        self,
        runtime: str,
        parts: ModelParts,
        run: Runner,
        inputs: Sequence[str],
        *,
        call_overhead_tokens: int = 16,  # ~1 ms per call on 2 cores (ONNX Runtime, measured)
    ) -> None:
        """`parts`: the model's tokenizer and head (backends/parts.py); `run`: the
        transformer graph; `inputs`: the names it takes."""
        self.head: Head = parts.head
        self.runtime = runtime
        self.call_overhead_tokens = call_overhead_tokens
        self.info = dataclasses.replace(parts.info, runtime=runtime)
        self._run = run
        self._inputs = tuple(inputs)
        self._plain = _tokenizer(parts.tokenizer)  # no truncation, no special tokens: counting
        self._specials = self._plain.num_special_tokens_to_add(False)
        length = parts.info.max_seq_length
        self._truncating = {
            side: _tokenizer(parts.tokenizer, length, side) for side in ("right", "left")
        }
        self._pad_id = parts.pad_id
        self._pad_left = parts.pad_left
        self.vocab_size = int(self._plain.get_vocab_size(with_added_tokens=True))
        self.special_ids = parts.special_ids

    # --- tokens ------------------------------------------------------------------------------
    def count_tokens(self, texts: list[str]) -> list[int]:
        encodings = self._plain.encode_batch(texts, add_special_tokens=False)
        return [TokenCount(len(e.ids) + self._specials, e) for e in encodings]

    def decode(self, batches: list[list[int]], skip_special_tokens: bool = True) -> list[str]:
        return self._plain.decode_batch(batches, skip_special_tokens=skip_special_tokens)

    def tokenize(self, texts: list[str], add_special_tokens: bool = True) -> list[list[Token]]:
        return list_tokens(self._plain, texts, add_special_tokens)

    # --- vectors -----------------------------------------------------------------------------
    def embed(
        self,
        texts: list[str],
        *,
        truncation_side: str = "right",
        prompt: str | None = None,
        counts: Sequence[int] | None = None,
    ) -> np.ndarray:
        tokens, mask = self._token_vectors(texts, truncation_side, prompt, counts)
        return self.head(tokens, mask)

    def embed_tokens(
        self,
        texts: list[str],
        *,
        truncation_side: str = "right",
        prompt: str | None = None,
        counts: Sequence[int] | None = None,
    ) -> list[np.ndarray]:
        """Each text's token vectors (special tokens included, padding left out)."""
        tokens, mask = self._token_vectors(texts, truncation_side, prompt, counts)
        keep = mask.astype(bool)
        return [np.ascontiguousarray(tokens[i][keep[i]]) for i in range(len(texts))]

    def _token_vectors(
        self, texts: list[str], side: str, prompt: str | None, counts: Sequence[int] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The graph's (n, seq, hidden) output for `texts` and its (n, seq) attention mask."""
        kept = [getattr(c, "encoding", None) for c in counts] if counts else []
        raw: list[Encoding] = [e for e in kept if e is not None]
        if len(raw) != len(texts):  # not counted by this backend: tokenize here
            prefixed = [prompt + t for t in texts] if prompt else texts
            raw = self._plain.encode_batch(prefixed, add_special_tokens=False)
        tokenizer = self._truncating[side]
        encodings = [tokenizer.post_process(e) for e in raw]
        feeds = self.feeds(encodings)
        tokens = self._run({name: feeds[name] for name in self._inputs})
        return tokens, feeds["attention_mask"]

    def graph_inputs(self, texts: list[str]) -> list[dict[str, np.ndarray]]:
        """One graph input per text, unpadded: what a quantizer's calibration reads."""
        tokenizer = self._truncating["right"]
        out = []
        for e in self._plain.encode_batch(texts, add_special_tokens=False):
            feeds = self.feeds([tokenizer.post_process(e)])
            out.append({name: feeds[name] for name in self._inputs})
        return out

    def feeds(self, encodings: list[Encoding]) -> dict[str, np.ndarray]:
        """Padded int64 arrays, as the model's tokenizer pads a batch (to its longest input)."""
        n, seq = len(encodings), max(len(e.ids) for e in encodings)
        ids = np.full((n, seq), self._pad_id, dtype=np.int64)
        mask = np.zeros((n, seq), dtype=np.int64)
        types = np.zeros((n, seq), dtype=np.int64)
        for row, e in enumerate(encodings):
            k = len(e.ids)
            at = slice(seq - k, seq) if self._pad_left else slice(0, k)
            ids[row, at] = e.ids
            mask[row, at] = 1
            types[row, at] = e.type_ids
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def _tokenizer(source: str, max_length: int = 0, side: str = "right") -> Tokenizer:
    """A private copy of the model's fast tokenizer. The model's own one is reconfigured on
    every call; these copies are configured once and then only read, so threads can share
    them."""
    tokenizer = Tokenizer.from_str(source)
    tokenizer.no_padding()
    if max_length:
        tokenizer.enable_truncation(max_length, direction=side)
    else:
        tokenizer.no_truncation()
    return tokenizer
