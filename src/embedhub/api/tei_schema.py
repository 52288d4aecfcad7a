"""text-embeddings-inference's request and response bodies, field for field (TEI's
docs/openapi.json), plus embedhub's `model` (which of several served models) and `dimensions`.

Response models only document /openapi.json: the routes write their JSON with orjson."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, RootModel

from embedhub.api.fields import FAIL_FAST, Texts, TokenIdBatches, TokenIds
from embedhub.api.hf_inference import SimilarityInputs

# TEI's TruncationDirection is serde's "Left" / "Right"; clients write "left" / "right" too.
Direction = Literal["left", "right", "Left", "Right"]
# TEI's Input: one text or token-id list, or a list of them.
Input = str | TokenIds | Annotated[list[str | TokenIds], FAIL_FAST]
MODEL = Field(None, description="embedhub: which served model (default: the first)")
PROMPT = Field(None, description="a key of the model's sentence-transformers `prompts`")


class _Options(BaseModel):
    model: str | None = MODEL
    truncate: bool | None = Field(None, description="cut inputs over the model's length")
    truncation_direction: Direction = "right"


class EmbedRequest(_Options):
    inputs: Input
    normalize: bool = True
    prompt_name: str | None = PROMPT
    dimensions: int | None = Field(None, description="keep the first d components (Matryoshka)")


class EmbedSparseRequest(_Options):
    inputs: Input
    prompt_name: str | None = PROMPT


class EmbedAllRequest(EmbedSparseRequest):
    pass


class SimilarityParameters(BaseModel):
    truncate: bool | None = None
    truncation_direction: Direction = "right"
    prompt_name: str | None = PROMPT


class SimilarityRequest(BaseModel):
    inputs: SimilarityInputs
    parameters: SimilarityParameters | None = None
    model: str | None = MODEL
    # Before TEI grew `parameters`, embedhub took these at the root: still taken.
    truncate: bool | None = None
    truncation_direction: Direction | None = None
    prompt_name: str | None = None


class TokenizeRequest(BaseModel):
    inputs: str | Texts
    model: str | None = MODEL
    add_special_tokens: bool = True
    prompt_name: str | None = PROMPT


class DecodeRequest(BaseModel):
    ids: TokenIds | TokenIdBatches
    model: str | None = MODEL
    skip_special_tokens: bool = True


class RerankRequest(_Options):
    query: str
    texts: Texts
    raw_scores: bool = False
    return_text: bool = False


class PredictRequest(_Options):
    # A text; a pair [text, text]; or a batch of [text] and [text, text] lists.
    inputs: str | Texts | Annotated[list[Texts], FAIL_FAST]
    raw_scores: bool = False


class VertexRequest(BaseModel):
    instances: Annotated[list[dict[str, Any]], FAIL_FAST]


# --- responses, for /openapi.json ------------------------------------------------------------
class EmbedResponse(RootModel[list[list[float]]]):
    pass


class EmbedAllResponse(RootModel[list[list[list[float]]]]):
    pass


class SparseValue(BaseModel):
    index: int
    value: float


class EmbedSparseResponse(RootModel[list[list[SparseValue]]]):
    pass


class SimilarityResponse(RootModel[list[float]]):
    pass


class SimpleToken(BaseModel):
    id: int
    text: str
    special: bool
    start: int | None = Field(description="byte offset in the input; null for special tokens")
    stop: int | None


class TokenizeResponse(RootModel[list[list[SimpleToken]]]):
    pass


class DecodeResponse(RootModel[list[str]]):
    pass


class Rank(BaseModel):
    index: int
    score: float
    text: str | None = Field(None, description="the text, when return_text was true")


class RerankResponse(RootModel[list[Rank]]):
    pass


class Prediction(BaseModel):
    score: float
    label: str


class PredictResponse(RootModel[list[Prediction] | list[list[Prediction]]]):
    pass


class VertexResponse(BaseModel):
    predictions: list[Any]


class EmbeddingModel(BaseModel):
    pooling: str


class ClassifierModel(BaseModel):
    id2label: dict[str, str]
    label2id: dict[str, int]


class Info(BaseModel):
    model_id: str
    served_model_name: str
    model_sha: str | None
    model_dtype: str
    model_type: dict[Literal["embedding", "classifier", "reranker"], Any]
    max_concurrent_requests: int
    max_input_length: int
    max_batch_tokens: int
    max_batch_requests: int | None
    max_client_batch_size: int
    auto_truncate: bool
    tokenization_workers: int
    version: str
    sha: str | None
    docker_label: str | None
    runtime: str = Field(description="embedhub: what runs the model (openvino, onnx, torch)")
    precision: str
    quality: dict[str, Any] | None
    embedding_dimension: int
    models: list[dict[str, Any]] = Field(description="embedhub: every served model")
