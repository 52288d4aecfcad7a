"""Models that are not embedding models: a kind read from the model's folder, loaded on torch
whatever the runtime asked, and the engine's entry points equal to sentence-transformers'
CrossEncoder and SparseEncoder on the same local model."""

from __future__ import annotations

import asyncio
import logging

import numpy as np
import pytest

from embedhub.backends import load_backend
from embedhub.backends.kinds import model_kind
from embedhub.engine import Engine, EngineError, EngineErrorKind
from embedhub.types import CLASSIFIER, EMBEDDING, RERANKER, SPARSE, EmbedOptions, ModelSpec
from embedhub.types import ScoreOptions as Score

QUERY = "what do cats eat"
DOCS = ["Cats eat fish and meat.", "The stock market fell.", "Kittens drink milk", "x"]


def engine_for(path, runtime="torch") -> Engine:
    return Engine(load_backend(ModelSpec(f"test/{path.name}", str(path)), runtime=runtime)).start()


@pytest.fixture(scope="module")
def engines(tiny_models):
    made = {name: engine_for(path) for name, path in tiny_models.items()}
    yield made
    for e in made.values():
        e.stop()


def run(coro):
    return asyncio.run(coro)


def test_kind_is_read_from_the_folder(tiny_models, model_dir):
    assert model_kind(tiny_models["reranker"]) == RERANKER  # transformers' config.json
    assert model_kind(tiny_models["classifier"]) == CLASSIFIER  # CrossEncoder's save
    assert model_kind(tiny_models["sparse"]) == SPARSE  # SparseEncoder's save
    assert model_kind(model_dir) == EMBEDDING


def test_graph_runtime_asked_serves_torch_and_says_so(tiny_models, caplog):
    with caplog.at_level(logging.WARNING, logger="embedhub.backends"):
        backend = load_backend(ModelSpec("r", str(tiny_models["reranker"])), runtime="openvino")
    assert backend.runtime == "torch" and backend.info.runtime == "torch"
    assert backend.info.kind == RERANKER and backend.info.labels == ("LABEL_0",)
    assert "only the torch runtime runs" in caplog.text


def test_rerank_equals_cross_encoder_predict(engines, tiny_models):
    from sentence_transformers import CrossEncoder

    reference = CrossEncoder(str(tiny_models["reranker"]), device="cpu", local_files_only=True)
    pairs = [(QUERY, d) for d in DOCS]
    got = run(engines["reranker"].rerank(QUERY, DOCS, Score()))
    np.testing.assert_allclose(got.values, reference.predict(pairs), atol=1e-6)
    assert got.token_counts == [len(reference.tokenizer(QUERY, d)["input_ids"]) for d in DOCS]
    raw = run(engines["reranker"].rerank(QUERY, DOCS, Score(raw_scores=True)))
    identity = reference.predict(pairs, activation_fn=lambda x: x)
    np.testing.assert_allclose(raw.values, identity, atol=1e-6)


def test_predict_equals_cross_encoder_softmax(engines, tiny_models):
    from sentence_transformers import CrossEncoder

    path = tiny_models["classifier"]
    reference = CrossEncoder(str(path), device="cpu", local_files_only=True)
    assert engines["classifier"].info.labels == ("negative", "neutral", "positive")
    texts = ["I love it", "I hate it", "meh"]
    got = run(engines["classifier"].predict(texts, Score()))
    # CrossEncoder.predict takes a list of strings for one pair: single texts go one by one.
    expected = [reference.predict(t, apply_softmax=True) for t in texts]
    np.testing.assert_allclose(got.values, expected, atol=1e-6)
    pairs = [("a premise", "a hypothesis"), ("one", "two")]
    got = run(engines["classifier"].predict(pairs, Score()))
    np.testing.assert_allclose(got.values, reference.predict(pairs, apply_softmax=True), atol=1e-6)


def test_sparse_equals_sparse_encoder(engines, tiny_models):
    from sentence_transformers import SparseEncoder

    reference = SparseEncoder(str(tiny_models["sparse"]), device="cpu", local_files_only=True)
    texts = ["hello world", "sparse vectors over the vocabulary", "hello world"]
    expected = reference.encode(texts).to_dense().numpy()
    got = run(engines["sparse"].embed_sparse(texts, EmbedOptions()))
    for (indices, weights), row in zip(got.values, expected, strict=True):
        np.testing.assert_array_equal(indices, np.flatnonzero(row))
        np.testing.assert_allclose(weights, row[indices], atol=1e-6)
    assert 0 < len(got.values[0][0]) < engines["sparse"].info.dimension


def test_token_vectors_equal_encode(model_dir, reference_model):
    engine = engine_for(model_dir)
    try:
        texts = ["Hello world!", "a"]
        got = run(engine.embed_tokens(texts, EmbedOptions()))
        expected = reference_model.encode(texts, output_value="token_embeddings")
        for g, e in zip(got.values, expected, strict=True):
            np.testing.assert_allclose(g, e.numpy(), atol=1e-5)
    finally:
        engine.stop()


@pytest.mark.parametrize(
    ("model", "call", "message"),
    [
        ("reranker", lambda e: e.embed(["x"], EmbedOptions()), "Model is not an embedding model"),
        ("classifier", lambda e: e.rerank("q", ["x"], Score()), "model is not a re-ranker model"),
        ("sparse", lambda e: e.embed_tokens(["x"], EmbedOptions()), "`embed_all` is not"),
        ("sparse", lambda e: e.predict(["x"], Score()), "Model is not a classifier model"),
        ("reranker", lambda e: e.embed_sparse(["x"], EmbedOptions()), "with SPLADE pooling"),
    ],
)
def test_a_task_the_model_cannot_run_is_refused(engines, model, call, message):
    with pytest.raises(EngineError) as err:
        run(call(engines[model]))
    assert err.value.kind is EngineErrorKind.UNSUPPORTED
    assert message in err.value.message


def test_bulk_embedding_refuses_a_model_that_makes_no_vectors(tiny_models):
    from embedhub.bulk.embedders import LocalEmbedder
    from embedhub.bulk.errors import BulkError

    with pytest.raises(BulkError, match="is a sparse model; bulk embedding needs an embedding"):
        LocalEmbedder(ModelSpec("test/sparse", str(tiny_models["sparse"])))
