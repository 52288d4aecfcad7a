"""The OpenAI route as lenient as TEI: `model` may be left out (the default model), and
`--model-alias` lets clients that hard-code an OpenAI model name in (langchain's
OpenAIEmbeddings with its default, text-embedding-ada-002); other unknown names stay 404."""

from __future__ import annotations

import openai
import pytest
import requests
from langchain_openai import OpenAIEmbeddings
from openai import OpenAI

from .helpers import MODEL_ID, TEXTS, assert_close, assert_error, auth

ALIAS = "text-embedding-ada-002"


@pytest.fixture(scope="module")
def variants_token(variants_server) -> str:
    return variants_server.token("openai-aliases", write=False)


def test_model_may_be_left_out(server, token, reference_model):
    r = requests.post(f"{server.url}/v1/embeddings", headers=auth(token), json={"input": TEXTS})
    assert r.status_code == 200, r.text
    assert r.json()["model"] == MODEL_ID
    assert_close([d["embedding"] for d in r.json()["data"]], reference_model.encode(TEXTS))


def test_langchain_default_model_name_through_an_alias(
    variants_server, variants_token, reference_model
):
    # langchain's own advice for OpenAI-compatible servers: send text, not tiktoken ids
    # (tiktoken's ids are OpenAI's tokenizer's, and fetching its table needs the internet).
    embeddings = OpenAIEmbeddings(
        base_url=f"{variants_server.url}/v1",
        api_key=variants_token,
        check_embedding_ctx_length=False,
    )
    assert embeddings.model == ALIAS  # langchain's default, not set here
    assert_close(embeddings.embed_documents(TEXTS), reference_model.encode(TEXTS))
    assert_close(embeddings.embed_query("Hi!"), reference_model.encode("Hi!"))


def test_aliases_are_listed_and_unknown_names_stay_not_found(variants_server, variants_token):
    client = OpenAI(base_url=f"{variants_server.url}/v1", api_key=variants_token, max_retries=0)
    listed = {m.id: m for m in client.models.list().data}
    assert set(listed) == {"prompted", MODEL_ID, "reranker", ALIAS}
    assert listed[ALIAS].model_extra["alias_of"] == "prompted"
    with pytest.raises(openai.NotFoundError) as info:
        client.embeddings.create(model="text-embedding-3-small", input=["x"])
    assert f"aliases: {ALIAS}" in info.value.body["message"]


def test_token_ids_under_an_alias_are_refused(variants_server, variants_token):
    # What langchain sends by default: tiktoken ids, which would decode to other words here.
    r = requests.post(
        f"{variants_server.url}/v1/embeddings",
        headers=auth(variants_token),
        json={"model": ALIAS, "input": [[15339, 1917]]},
    )
    assert_error(r, 422, "openai", "holds token ids", "check_embedding_ctx_length=False")
