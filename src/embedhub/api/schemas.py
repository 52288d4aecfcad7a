"""The bodies /openapi.json documents for every embedding route: each API's error shape (what
api/errors.py really writes) and the 200 answers of the HF and OpenAI routes (the TEI ones are
in tei_schema.py). Documentation only: the routes write their JSON themselves."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, RootModel


def ok(model: Any, description: str = "Success") -> dict[int | str, dict[str, Any]]:
    """A route's documented 200 answer (`responses=` of a route decorator)."""
    return {200: {"model": model, "description": description}}


class HfError(BaseModel):
    error: str = Field(description="what went wrong and what to do about it")


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class OpenAIError(BaseModel):
    error: OpenAIErrorDetail


class TeiError(BaseModel):
    error: str
    error_type: Literal["Unhealthy", "Backend", "Overloaded", "Validation", "Tokenizer", "Empty"]


class CohereError(BaseModel):
    message: str = Field(description="what went wrong and what to do about it")


class FeatureExtraction(RootModel[list[float] | list[list[float]]]):
    """One vector for a string input, a list of vectors for a list."""


class Similarities(RootModel[list[float]]):
    pass


class OpenAIEmbedding(BaseModel):
    object: Literal["embedding"]
    index: int
    embedding: list[float] | str = Field(description="floats, or base64 little-endian float32")


class OpenAIUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class OpenAIEmbeddings(BaseModel):
    object: Literal["list"]
    data: list[OpenAIEmbedding]
    model: str
    usage: OpenAIUsage


class OpenAIModel(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class OpenAIModels(BaseModel):
    object: Literal["list"]
    data: list[OpenAIModel]
