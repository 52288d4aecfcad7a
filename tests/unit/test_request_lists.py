"""Every list a client sends stops validating at its first bad element (api/fields.py):
pydantic would otherwise build an error per element and per union member, which for 600k
strings sent as token ids took 15 s of the event loop and 1.5 GB."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from embedhub.api.hf_inference import HFRequest
from embedhub.api.openai_api import EmbeddingsRequest
from embedhub.api.rerank import CohereRerankRequest
from embedhub.api.tei_schema import (
    DecodeRequest,
    EmbedRequest,
    PredictRequest,
    RerankRequest,
    TokenizeRequest,
    VertexRequest,
)

N = 50_000
INTS_THEN_TEXTS = [1] + ["a"] * N
TEXTS_THEN_INTS = ["a"] + [1] * N

CASES = [
    (EmbeddingsRequest, {"input": INTS_THEN_TEXTS}),
    (EmbeddingsRequest, {"input": TEXTS_THEN_INTS}),
    (EmbeddingsRequest, {"input": [[1, 2]] + [[True]] * N}),
    (EmbedRequest, {"inputs": [None] * N}),
    (EmbedRequest, {"inputs": [[1, "a"]] * N}),
    (TokenizeRequest, {"inputs": TEXTS_THEN_INTS}),
    (DecodeRequest, {"ids": INTS_THEN_TEXTS}),
    (DecodeRequest, {"ids": [[1]] + [["a"]] * N}),
    (RerankRequest, {"query": "q", "texts": TEXTS_THEN_INTS}),
    (PredictRequest, {"inputs": [["a"]] + [[1]] * N}),
    (VertexRequest, {"instances": [1] * N}),
    (HFRequest, {"inputs": {"source_sentence": "a", "sentences": TEXTS_THEN_INTS}}),
    (CohereRerankRequest, {"query": "q", "documents": ["d"], "rank_fields": TEXTS_THEN_INTS}),
]


@pytest.mark.parametrize(("model", "body"), CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_a_long_bad_list_is_one_error_per_union_member(model: type[BaseModel], body: dict):
    with pytest.raises(ValidationError) as caught:
        model.model_validate(body)
    assert caught.value.error_count() <= 8  # one per member tried, never one per element


def test_good_lists_still_validate():
    assert EmbeddingsRequest.model_validate({"input": [[1, 2], [3]]}).input == [[1, 2], [3]]
    assert EmbeddingsRequest.model_validate({"input": ["a", "b"]}).input == ["a", "b"]
    assert EmbedRequest.model_validate({"inputs": ["a", [1, 2]]}).inputs == ["a", [1, 2]]
    with pytest.raises(ValidationError):  # strict: true is not token id 1
        EmbeddingsRequest.model_validate({"input": [True]})
