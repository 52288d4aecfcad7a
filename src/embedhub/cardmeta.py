"""The machine-readable part of an embedding dataset's card: an `embedhub:` block in the
README's YAML header saying how the vectors were made, so that search embeds a query the same
way (same model, same prompt) and knows which column holds the vectors.

`embedhub embed` writes it; search reads it back. Both go through this one module. Fields this
version does not know are kept as they are (`extra`), so a card written by a newer embedhub
reads back and writes out again unchanged.

    embedhub:
      model: sentence-transformers/all-MiniLM-L6-v2
      dimension: 384
      embedding_column: embedding
      normalized: true        # unit-length vectors (null: unknown, e.g. a remote service)
      precision: float32      # how each vector element is stored
      prompt_name: null       # the model prompt the rows were embedded with, if any
      query_prompt_name: null # the prompt a search query should be embedded with
      text: text              # the text column, or the template that built the text
      id_column: id
      runtime: openvino       # the model runtime that computed the vectors (null: unknown)
      model_precision: fp32   # the model's arithmetic: fp32 (exact) or int8 (quantized)
      quality: null           # int8: the quality report the vectors were made under
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

BLOCK = "embedhub"
PRECISIONS = ("float32",)


class CardMetaError(ValueError):
    """The card's `embedhub:` block is there but unusable; the message says which field."""


@dataclass(frozen=True)
class EmbeddingMeta:
    model: str
    dimension: int
    embedding_column: str = "embedding"
    normalized: bool | None = None
    precision: str = "float32"
    prompt_name: str | None = None
    query_prompt_name: str | None = None
    text: str | None = None
    id_column: str | None = None
    # How the vectors were computed: a reader can tell exact fp32 vectors from int8 ones and
    # see the int8 quality report (mean cosine to fp32, top-10 agreement) they passed.
    runtime: str | None = None
    model_precision: str | None = None
    quality: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        return {**out, **self.extra}

    @classmethod
    def from_dict(cls, data: object) -> EmbeddingMeta:
        if not isinstance(data, dict):
            raise CardMetaError(f"the card's `{BLOCK}:` block must be a mapping, got {data!r}")
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        values = {k: v for k, v in data.items() if k in known}
        for name in ("model", "embedding_column"):
            if name in values and not (isinstance(values[name], str) and values[name]):
                raise CardMetaError(f"`{BLOCK}.{name}` must be a non-empty string")
        if "model" not in values:
            raise CardMetaError(f"`{BLOCK}.model` is missing")
        dim = values.get("dimension")
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
            raise CardMetaError(f"`{BLOCK}.dimension` must be a positive integer, got {dim!r}")
        if values.get("precision", "float32") not in PRECISIONS:
            raise CardMetaError(
                f"`{BLOCK}.precision` {values['precision']!r} is not one of {', '.join(PRECISIONS)}"
            )
        extra = {k: v for k, v in data.items() if k not in known}
        return cls(**values, extra=extra)


def meta_from_card_data(card_data: dict[str, Any] | None) -> EmbeddingMeta | None:
    """The block from a card's parsed YAML header; None when the card has none."""
    if not card_data or BLOCK not in card_data:
        return None
    return EmbeddingMeta.from_dict(card_data[BLOCK])


def card_data_of(readme: str) -> dict[str, Any]:
    """The parsed YAML header of a README (empty when it has none), parsed the way the Hub's
    own client parses it."""
    from huggingface_hub import RepoCard

    try:
        return RepoCard(readme, ignore_metadata_errors=True).data.to_dict()
    except Exception:  # the client raises ValueError, yaml errors and others on bad headers
        return {}
