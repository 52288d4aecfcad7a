"""Cutting an over-long text down before it is tokenized, when truncation would drop the rest.

Why: tokenizers truncate only after tokenizing the whole text, and a 2 MB text took ~10 s
and ~250 MB to tokenize (all-MiniLM-L6-v2's tokenizer, one core) for a model that reads its
first 256 tokens. So a text much longer than the model reads is first cut at whitespace to a
piece of a few thousand characters (its start, or its end for left truncation); if that
piece alone has more tokens than the model reads, truncating the piece gives exactly the
tokens truncating the whole text would (pre-tokenizers split at whitespace, so the words of
the piece are tokenized as they are in the text). A piece with too few tokens (a text mostly
whitespace) is tried again larger, up to the whole text."""

from __future__ import annotations

from collections.abc import Callable

# Characters per token to try first: English averages ~4-5, so 16 leaves room for long
# words and markup while keeping the piece small.
CHARS_PER_TOKEN = 16
_WHITESPACE = (" ", "\n", "\t", "\r")


def piece(text: str, chars: int, side: str) -> str | None:
    """At most `chars` characters of `text` from the side truncation keeps, cut at
    whitespace; None when the text is no longer than that or has no whitespace to cut at."""
    if len(text) <= chars:
        return None
    if side == "left":
        starts = [i for c in _WHITESPACE if (i := text.find(c, len(text) - chars)) != -1]
        return text[min(starts) :] if starts else None
    ends = [text.rfind(c, 0, chars) for c in _WHITESPACE]
    end = max(ends)
    return text[:end] if end > 0 else None


def cut_for_model(
    texts: list[str],
    limit: int,
    side: str,
    count: Callable[[list[str]], list[int]],
    chars_per_token: int = CHARS_PER_TOKEN,
) -> tuple[list[str], list[int], set[int]]:
    """(texts to tokenize, their token counts, indices of texts that were cut). A cut text's
    count is that of its piece: more than `limit`, and less than the whole text's."""
    out, counts = list(texts), [0] * len(texts)
    cut: set[int] = set()
    pending = list(range(len(texts)))
    chars = limit * chars_per_token
    while pending:
        trial = {i: piece(texts[i], chars, side) for i in pending}
        got = count([trial[i] or texts[i] for i in pending])
        retry = []
        for i, n in zip(pending, got, strict=True):
            tried = trial[i]
            if tried is not None and n <= limit:
                retry.append(i)  # too few tokens to stand for the text: a larger piece
                continue
            counts[i] = n
            if tried is not None:
                out[i] = tried
                cut.add(i)
        pending = retry
        chars *= 8
    return out, counts, cut
