"""schemathesis against embedhub's own OpenAPI document and against TEI's (tests/api/vendor),
bounded: a few generated requests per route, schema-valid ones only. Every answer must be a
documented status with its documented body and content type, and never a 5xx.

Checks left out, and why (TEI itself fails them the same way):
- positive_data_acceptance: a request can fit the schema and still be refused (an empty text,
  an unknown prompt_name, a token id past the vocabulary, dimensions over the model's), as TEI
  refuses it; the schemas can't say so.
- on TEI's document, status_code_conformance is replaced by `tei_status`: TEI 1.7.1's document
  lacks statuses its own server sends (TEI_SERVER_STATUSES); any other status must be
  documented there."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance, status_code_conformance

from embedhub.api.app import api_routers, new_app

TEI_OPENAPI = Path(__file__).parent / "vendor" / "tei-openapi.json"
# TEI's routes that embedhub serves with TEI's semantics (/v1/embeddings is the OpenAI route,
# tested through embedhub's own document).
TEI_PATHS = r"^/(embed|embed_all|embed_sparse|rerank|predict|similarity|tokenize|decode)$"
TEI_GETS = r"^/(info|health|metrics)$"
EXAMPLES = 12  # per route: the whole file stays well under a minute on 2 cores


def _api_document() -> dict:
    """The embedding APIs' part of /openapi.json, built in-process (what the server serves,
    checked in test_the_served_document_is_this_one)."""
    app = new_app()
    for router in api_routers():
        app.include_router(router)
    return app.openapi()


def _operations(schema) -> list:
    return [result.ok() for result in schema.get_all_operations()]


OWN = schemathesis.openapi.from_dict(_api_document())
TEI = schemathesis.openapi.from_path(TEI_OPENAPI)
TEI_ROUTES = _operations(TEI.include(path_regex=TEI_PATHS)) + _operations(
    TEI.include(path_regex=TEI_GETS)
)


# Statuses TEI's server sends on every route though its 1.7.1 document lists them only on
# some: 400 for an empty batch, 413 for any Validation error (on /tokenize and /decode too,
# e.g. an unknown prompt_name). TEI's later documents list both on every route.
TEI_SERVER_STATUSES = {400: "Empty", 413: "Validation"}


@schemathesis.check
def tei_status(ctx, response, case) -> bool | None:
    """status_code_conformance, with the statuses TEI's own server sends beyond its document."""
    expected = TEI_SERVER_STATUSES.get(response.status_code)
    if expected is not None and response.json().get("error_type") == expected:
        return True
    return status_code_conformance(ctx, response, case)


def fuzz(operation, base_url: str, **checks) -> None:
    """EXAMPLES schema-valid requests to `operation`, each answer validated."""

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    @given(case=operation.as_strategy())
    def check(case) -> None:
        case.call_and_validate(base_url=base_url, timeout=60, **checks)

    check()


def label(operation) -> str:
    return operation.label


def test_the_served_document_is_this_one(server):
    served = requests.get(f"{server.url}/openapi.json").json()
    ours = _api_document()
    for path, methods in ours["paths"].items():
        assert served["paths"][path] == methods, path


@pytest.mark.parametrize("operation", _operations(OWN), ids=label)
def test_embedhub_answers_as_its_openapi_says(server, operation):
    fuzz(operation, server.url, excluded_checks=[positive_data_acceptance])


TEI_CHECKS = dict(
    excluded_checks=[positive_data_acceptance, status_code_conformance],
    additional_checks=[tei_status],
)


@pytest.mark.parametrize("operation", TEI_ROUTES, ids=label)
def test_embedding_model_answers_as_teis_openapi_says(server, operation):
    fuzz(operation, server.url, **TEI_CHECKS)


@pytest.mark.parametrize("operation", TEI_ROUTES, ids=label)
def test_reranker_answers_as_teis_openapi_says(kinds_server, operation):
    fuzz(operation, kinds_server.url, **TEI_CHECKS)
