"""The shipped int8/uint8 output ranges and Cohere's input types, without a server."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from embedhub.api.cohere import prompt_for
from embedhub.backends.calibration import HERE, shipped_calibration, shipped_ranges
from embedhub.engine.quantized import Calibration, quantize
from embedhub.errors import EmbedhubError
from embedhub.models import DEFAULT_MODEL_ID


def test_shipped_ranges_belong_to_the_shipped_corpus_and_model(reference_model):
    found = shipped_ranges(DEFAULT_MODEL_ID)
    assert found is not None
    # A changed corpus needs the ranges made again (scripts/make_quantization_ranges.py).
    corpus = (HERE / "calibration.txt").read_bytes()
    assert found["corpus_sha256"] == hashlib.sha256(corpus).hexdigest()
    calibration = Calibration.shipped(DEFAULT_MODEL_ID)
    assert calibration is not None and sorted(calibration.ranges) == [32, 64, 128, 256, 384]
    # Calibration texts' vectors lie within the ranges (their min and max over the corpus).
    sample = shipped_calibration()[::50]
    vectors = reference_model.encode(sample)
    low, high = calibration.ranges[384]
    assert np.all(vectors >= low - 1e-6) and np.all(vectors <= high + 1e-6)
    probe = reference_model.encode(calibration.probe_texts)
    assert np.abs(probe - calibration.probe_vectors).max() < 1e-5


def test_short_model_name_finds_the_ranges():
    assert Calibration.shipped("all-MiniLM-L6-v2") is not None
    assert Calibration.shipped("someone/else") is None


def test_int8_without_ranges_is_refused_by_quantize():
    with pytest.raises(ValueError, match="needs calibrated ranges"):
        quantize(np.ones((2, 8), np.float32), "int8")


@pytest.mark.parametrize(
    ("input_type", "prompts", "expected"),
    [
        ("search_query", {"query": "q: ", "document": ""}, "query"),
        ("search_query", {"search_query": "search_query: ", "query": ""}, "search_query"),
        ("search_document", {"document": "", "passage": "p: "}, "document"),  # as encode_document
        ("search_document", {"passage": "p: "}, "passage"),
        ("classification", {"query": "q: "}, None),
        ("clustering", {"clustering": "c: "}, "clustering"),
        (None, {"query": "q: "}, None),
    ],
)
def test_input_type_to_prompt_name(input_type, prompts, expected):
    assert prompt_for(input_type, prompts) == expected


def test_unknown_input_type_is_refused():
    with pytest.raises(EmbedhubError, match="is not one of search_query"):
        prompt_for("search", {})
