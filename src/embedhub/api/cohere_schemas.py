"""The 200 bodies /openapi.json documents for the Cohere routes (api/cohere.py, api/rerank.py):
Cohere's own shapes, as its client reads them. Documentation only: the routes write their
JSON themselves."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class CohereApiVersion(BaseModel):
    version: Literal["1", "2"]


class CohereBilledUnits(BaseModel):
    input_tokens: int | None = Field(None, description="tokens embedded (embed)")
    search_units: int | None = Field(None, description="one per query (rerank)")


class CohereMeta(BaseModel):
    api_version: CohereApiVersion
    billed_units: CohereBilledUnits


class CohereEmbeddingsByType(BaseModel):
    """One list per type asked for, a vector per text."""

    float_: list[list[float]] | None = Field(None, alias="float")
    int8: list[list[int]] | None = Field(None, description="-128..127")
    uint8: list[list[int]] | None = Field(None, description="0..255")
    binary: list[list[int]] | None = Field(None, description="packed bits minus 128")
    ubinary: list[list[int]] | None = Field(None, description="packed bits, 0..255")
    base64: list[str] | None = Field(None, description="little-endian float32, base64")


class CohereEmbedByType(BaseModel):
    id: str
    response_type: Literal["embeddings_by_type"]
    embeddings: CohereEmbeddingsByType
    texts: list[str]
    meta: CohereMeta


class CohereEmbedFloats(BaseModel):
    """v1 without `embedding_types`."""

    id: str
    response_type: Literal["embeddings_floats"]
    embeddings: list[list[float]]
    texts: list[str]
    meta: CohereMeta


class CohereRerankResult(BaseModel):
    index: int = Field(description="the document's position in the request")
    relevance_score: float = Field(description="in [0, 1]")
    document: dict[str, Any] | None = Field(None, description="with return_documents")


class CohereRerank(BaseModel):
    id: str
    results: list[CohereRerankResult] = Field(description="most relevant first")
    meta: CohereMeta
