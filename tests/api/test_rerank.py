"""Cohere/Jina-style rerank (`/v2/rerank`, `/v1/rerank`) through the official `cohere` client and
raw HTTP, on the tiny random cross-encoder of tests/kinds.py: scores equal
CrossEncoder.predict on the same files, in Cohere's shape; bad input is a precise 4xx in
Cohere's `{"message"}` shape."""

from __future__ import annotations

import cohere
import numpy as np
import pytest
import requests

from .helpers import MODEL_ID, assert_close, auth

QUERY = "What is the capital of the United States?"
DOCS = [
    "Carson City is the capital city of the American state of Nevada.",
    "The Commonwealth of the Northern Mariana Islands is a group of islands in the Pacific.",
    "Washington, D.C. is the capital of the United States.",
    "Capital punishment has existed in the United States since before it was a country.",
    "North Dakota's capital is Bismarck.",
]


@pytest.fixture(scope="module")
def cross_encoder(tiny_models):
    from sentence_transformers import CrossEncoder

    return CrossEncoder(str(tiny_models["reranker"]), device="cpu")


@pytest.fixture(scope="module")
def variants_token(variants_server) -> str:
    return variants_server.token("cohere-rerank", write=False)


@pytest.fixture(scope="module")
def co(variants_server, variants_token) -> cohere.ClientV2:
    return cohere.ClientV2(api_key=variants_token, base_url=variants_server.url)


def predict(cross_encoder, query: str, docs: list[str]) -> np.ndarray:
    return np.asarray(cross_encoder.predict([(query, d) for d in docs]))


def test_v2_client_rerank_equals_cross_encoder(co, cross_encoder):
    r = co.rerank(model="reranker", query=QUERY, documents=DOCS, top_n=3)
    expected = predict(cross_encoder, QUERY, DOCS)
    order = np.argsort(-expected, kind="stable")[:3]
    assert [x.index for x in r.results] == order.tolist()
    assert_close([x.relevance_score for x in r.results], expected[order])
    assert all(0 <= x.relevance_score <= 1 for x in r.results)
    assert r.id and r.meta.api_version.version == "2"


def test_v1_client_rerank_returns_documents(variants_server, variants_token, cross_encoder):
    co1 = cohere.Client(api_key=variants_token, base_url=variants_server.url)
    objects = [{"text": d, "source": f"doc{i}"} for i, d in enumerate(DOCS)]
    r = co1.rerank(model="reranker", query=QUERY, documents=objects, return_documents=True)
    expected = predict(cross_encoder, QUERY, DOCS)
    assert [x.index for x in r.results] == np.argsort(-expected, kind="stable").tolist()
    for x in r.results:
        assert x.document.text == DOCS[x.index]
        assert x.document.model_extra["source"] == f"doc{x.index}"  # the object, as sent
    plain = co1.rerank(model="reranker", query=QUERY, documents=DOCS, top_n=1)
    assert plain.results[0].document is None and plain.meta.api_version.version == "1"


def test_jina_style_request_without_a_model(variants_server, variants_token, cross_encoder):
    # No model named: the server's reranker, though the default model embeds.
    body = {"query": QUERY, "documents": DOCS[:3], "top_n": 2, "return_documents": True}
    r = requests.post(f"{variants_server.url}/v1/rerank", headers=auth(variants_token), json=body)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    expected = predict(cross_encoder, QUERY, DOCS[:3])
    assert [x["index"] for x in results] == np.argsort(-expected, kind="stable")[:2].tolist()
    assert [x["document"] for x in results] == [{"text": DOCS[x["index"]]} for x in results]


def test_v1_rank_fields_rank_on_those_fields(variants_server, variants_token, cross_encoder):
    docs = [{"title": "Capitals", "text": DOCS[2], "id": "a"}, {"title": "Law", "text": DOCS[3]}]
    body = {"query": QUERY, "documents": docs, "rank_fields": ["title", "text"]}
    r = requests.post(f"{variants_server.url}/v1/rerank", headers=auth(variants_token), json=body)
    assert r.status_code == 200, r.text
    ranked = [f"title: {d['title']}\ntext: {d['text']}" for d in docs]
    scores = {x["index"]: x["relevance_score"] for x in r.json()["results"]}
    assert_close([scores[0], scores[1]], predict(cross_encoder, QUERY, ranked))


def test_max_tokens_per_doc_cuts_each_document(co, cross_encoder):
    doc = "the quick brown fox jumps over the lazy dog"  # one token per word
    r = co.rerank(model="reranker", query=QUERY, documents=[doc], max_tokens_per_doc=3)
    expected = predict(cross_encoder, QUERY, ["the quick brown"])
    assert_close([r.results[0].relevance_score], expected)


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"query": QUERY, "documents": []}, 400, "`documents` cannot be empty"),
        ({"query": QUERY}, 400, "`documents` cannot be empty"),
        ({"query": QUERY, "documents": ["x"] * 10_000}, 422, "batch size 10000 > maximum"),
        ({"query": "", "documents": DOCS}, 400, "`query` must be a non-empty string"),
        ({"documents": DOCS}, 400, "`query` must be a non-empty string"),
        ({"query": QUERY, "documents": DOCS, "top_n": 0}, 422, "`top_n` must be 1 or more"),
        ({"query": QUERY, "documents": [{"title": "x"}]}, 422, "has no string field 'text'"),
        ({"query": QUERY, "documents": [3]}, 422, "`documents`[0] must be a string or an object"),
        ({"query": QUERY, "documents": ["x", ""]}, 400, "`documents`[1] is an empty string"),
        ({"query": QUERY, "documents": DOCS, "max_tokens_per_doc": 0}, 422, "1 or more"),
        (
            {"query": QUERY, "documents": DOCS, "model": "prompted"},
            400,
            "is an embedding model and can't rerank; served models that can: reranker",
        ),
    ],
)
def test_bad_rerank_input_is_a_precise_4xx(variants_server, variants_token, body, status, fragment):
    body = {"model": "reranker", **body}
    r = requests.post(f"{variants_server.url}/v2/rerank", headers=auth(variants_token), json=body)
    assert r.status_code == status, r.text
    assert set(r.json()) == {"message"} and fragment in r.json()["message"], r.text


def test_a_server_without_a_reranker_says_so(server, token):
    co = cohere.ClientV2(api_key=token, base_url=server.url)
    with pytest.raises(cohere.BadRequestError) as info:
        co.rerank(model=MODEL_ID, query=QUERY, documents=DOCS)
    assert "can't rerank; served models that can: none" in info.value.body["message"]


def test_embedding_on_a_reranker_is_refused(co):
    with pytest.raises(cohere.BadRequestError) as info:
        co.embed(model="reranker", input_type="search_query", texts=["x"])
    assert "'reranker' is a reranker model and can't embed" in info.value.body["message"]
