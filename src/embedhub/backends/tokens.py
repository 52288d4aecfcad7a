"""The tokenizer questions every backend answers the same way (count, list, decode), on a
private copy of the model's fast tokenizer.

Why a copy: the model's own tokenizer is reconfigured on every forward pass (truncation side,
padding), and a fast tokenizer refuses to be used from two threads while that happens."""

from __future__ import annotations

import threading
from typing import Any

from tokenizers import Tokenizer

from embedhub.types import Token

# A text, or a (query, text) pair for a cross-encoder.
TextOrPair = str | tuple[str, str]


def plain_copy(hf_tokenizer: Any) -> Tokenizer:
    """The model's fast tokenizer without truncation or padding."""
    tokenizer = Tokenizer.from_str(hf_tokenizer.backend_tokenizer.to_str())
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def list_tokens(
    tokenizer: Tokenizer, texts: list[str], add_special_tokens: bool
) -> list[list[Token]]:
    """Each text's tokens, untruncated: id, vocabulary text, character span, and whether the
    tokenizer added it (its special-tokens mask, as TEI reads it)."""
    encodings = tokenizer.encode_batch(texts, add_special_tokens=add_special_tokens)
    return [
        [
            Token(i, tok, start, stop, bool(special))
            for i, tok, (start, stop), special in zip(
                e.ids, e.tokens, e.offsets, e.special_tokens_mask, strict=True
            )
        ]
        for e in encodings
    ]


class TokenizerCopy:
    """Counting, listing and decoding for a backend that runs the model's own tokenizer in
    its forward pass (the torch backends). Thread-safe."""

    def __init__(self, hf_tokenizer: Any) -> None:
        self._tokenizer = plain_copy(hf_tokenizer)
        self._lock = threading.Lock()
        self.vocab_size = int(self._tokenizer.get_vocab_size(with_added_tokens=True))
        self.special_ids = frozenset(hf_tokenizer.all_special_ids)

    def count_tokens(self, texts: list[TextOrPair]) -> list[int]:
        with self._lock:
            encodings = self._tokenizer.encode_batch(texts)
        return [len(e.ids) for e in encodings]

    def decode(self, batches: list[list[int]], skip_special_tokens: bool = True) -> list[str]:
        with self._lock:
            return self._tokenizer.decode_batch(batches, skip_special_tokens=skip_special_tokens)

    def tokenize(self, texts: list[str], add_special_tokens: bool = True) -> list[list[Token]]:
        with self._lock:
            return list_tokens(self._tokenizer, texts, add_special_tokens)


class TokenMethods:
    """The tokenizer half of the Backend protocol, for torch backends: set `_tokens`."""

    _tokens: TokenizerCopy

    @property
    def vocab_size(self) -> int:
        return self._tokens.vocab_size

    @property
    def special_ids(self) -> frozenset[int]:
        return self._tokens.special_ids

    def count_tokens(self, texts: list[TextOrPair]) -> list[int]:
        return self._tokens.count_tokens(texts)

    def decode(self, batches: list[list[int]], skip_special_tokens: bool = True) -> list[str]:
        return self._tokens.decode(batches, skip_special_tokens)

    def tokenize(self, texts: list[str], add_special_tokens: bool = True) -> list[list[Token]]:
        return self._tokens.tokenize(texts, add_special_tokens)
