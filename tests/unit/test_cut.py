"""engine/cut.py: a long text cut at whitespace before tokenizing gives the model exactly the
tokens the whole text, truncated, would give: from either side, with or without a prompt."""

from __future__ import annotations

import pytest
from tokenizers import Tokenizer

from embedhub.engine.cut import cut_for_model, piece

LIMIT = 256


@pytest.fixture(scope="module")
def tokenizers(model_dir):
    def make(side: str | None) -> Tokenizer:
        tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        tok.no_padding()
        if side:
            tok.enable_truncation(LIMIT, direction=side)
        else:
            tok.no_truncation()
        return tok

    return {"count": make(None), "right": make("right"), "left": make("left")}


def _count(tok: Tokenizer):
    return lambda texts: [len(e.ids) for e in tok.encode_batch(texts)]


TEXTS = [
    " ".join(f"word{i}, naïve café\tline" for i in range(3000)),  # long: cut
    "short text",  # not cut
    "a" * 20_000,  # no whitespace to cut at: tokenized whole
    "x " + " " * 50_000 + "end of it " * 10,  # mostly whitespace: the piece grows
]


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("prompt", ["", "query: "])
def test_pieces_give_the_same_tokens_as_the_whole_text(tokenizers, side, prompt):
    count = _count(tokenizers["count"])
    pieces, counts, cut = cut_for_model(
        TEXTS, LIMIT + len(prompt), side, lambda ts: count([prompt + t for t in ts])
    )
    assert cut == {0}  # only the long text with whitespace is cut
    assert len(pieces[0]) < len(TEXTS[0]) // 10
    assert counts[0] > LIMIT
    assert counts[1:] == count([prompt + t for t in TEXTS[1:]])
    truncating = tokenizers[side]
    whole = [e.ids for e in truncating.encode_batch([prompt + t for t in TEXTS])]
    assert [e.ids for e in truncating.encode_batch([prompt + t for t in pieces])] == whole


def test_piece_cuts_at_whitespace_on_the_kept_side():
    assert piece("aa bb cc dd", 7, "right") == "aa bb"
    assert piece("aa bb cc dd", 7, "left") == " cc dd"
    assert piece("aa bb", 10, "right") is None
    assert piece("aaaaaaaa", 4, "right") is None
