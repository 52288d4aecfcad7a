"""What every wire format shares: the app's context, auth for inference, model lookup, input
checks, options, and fast JSON with timing headers."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from fastapi import Request
from starlette.responses import Response

from embedhub.api.metrics import Metrics
from embedhub.api.routing import raises
from embedhub.auth import authenticate
from embedhub.config import Settings
from embedhub.db import Database
from embedhub.engine import Engine, EngineError, EngineErrorKind
from embedhub.engine.core import OFF_LOOP_SIZE
from embedhub.engine.quantized import Calibrations
from embedhub.errors import EmbedhubError, Kind
from embedhub.types import EmbedOptions, EmbedResult, TaskResult


@dataclass
class ApiContext:
    settings: Settings
    engines: dict[str, Engine]  # first one is the default model
    db: Database
    metrics: Metrics
    # int8/uint8 output ranges per model, checked against the served weights on first use
    calibrations: Calibrations = dataclasses.field(default_factory=Calibrations)

    @property
    def default_engine(self) -> Engine:
        return next(iter(self.engines.values()))

    @property
    def aliases(self) -> dict[str, str]:
        """--model-alias: another name -> a served model's id (or short name)."""
        return dict(self.settings.model_aliases)

    def engine(self, model_id: str | None) -> Engine:
        if not model_id:
            return self.default_engine
        model_id = self.aliases.get(model_id, model_id)
        found = self.engines.get(model_id)
        if found is None:  # "all-MiniLM-L6-v2" names "sentence-transformers/all-MiniLM-L6-v2"
            matches = [e for mid, e in self.engines.items() if mid.split("/")[-1] == model_id]
            found = matches[0] if len(matches) == 1 else None
        if found is None:
            served = ", ".join(self.engines)
            aliases = ", ".join(self.aliases) or "none (--model-alias NAME=MODEL adds one)"
            raise EmbedhubError(
                Kind.NOT_FOUND,
                f"Model {model_id!r} is not served here; served models: {served}; "
                f"aliases: {aliases}",
                code="model_not_found",
                param="model",
            )
        return found


T = TypeVar("T")


async def off_loop(fn: Callable[..., T], *args: Any, size: int) -> T:
    """`fn(*args)` on a worker thread when `size` (characters, token ids) says it is more
    than a few milliseconds of CPU, else here on the event loop."""
    if size <= OFF_LOOP_SIZE:
        return fn(*args)
    return await asyncio.to_thread(fn, *args)


async def texts_from_token_ids(
    engine: Engine, batches: list[list[int]], max_tokens: int, field: str
) -> list[str]:
    """Token-id inputs (OpenAI's and TEI's) as texts to embed, with the work bounded before
    any is done: the ids are counted against the request's token limit as sent, checked
    against the vocabulary, and each input cut to what the model reads (decoding 990k ids and
    tokenizing the result again once took 20 s and 3 GB), then decoded off the event loop
    when there are many (`Engine.texts_from_ids` keeps [UNK] and other special tokens)."""
    total = sum(map(len, batches))
    if total > max_tokens:
        raise EmbedhubError(
            Kind.VALIDATION,
            f"`{field}` has {total} token ids; the limit is {max_tokens} per request "
            "(--max-request-tokens): send fewer per request",
            param=field,
        )
    vocab = engine.vocab_size
    for i, ids in enumerate(batches):
        if not ids:
            raise EmbedhubError(
                Kind.EMPTY, f"`{field}`[{i}] is an empty list of token ids", param=field
            )
        bad = [t for t in ids if not 0 <= t < vocab]
        if bad:  # what the tokenizer would refuse: its kind of error (TEI's "Tokenizer")
            raise EngineError(
                EngineErrorKind.TOKENIZER,
                f"`{field}`[{i}] has token ids outside the "
                f"model's vocabulary (0..{vocab - 1}): {bad[:5]}",
                param=field,
            )
    # Truncation keeps the start (the right side is cut), so ids past what the model reads
    # can't change the vector.
    longest = engine.info.max_seq_length
    return await off_loop(engine.texts_from_ids, [ids[:longest] for ids in batches], size=total)


def context(request: Request) -> ApiContext:
    return request.app.state.ctx


@raises(401)
async def require_inference_auth(request: Request) -> None:
    """Dependency for inference routes: a bad token is always 401; no token is fine only while
    bound to loopback with --require-token off."""
    ctx = context(request)
    _require_token(ctx, request, ctx.settings.inference_needs_token)


async def require_metadata_auth(request: Request) -> None:
    """Dependency for what describes the server (/info, /metrics, the API description): as
    inference, unless --public-metadata leaves it open."""
    ctx = context(request)
    _require_token(ctx, request, ctx.settings.metadata_needs_token)


def _require_token(ctx: ApiContext, request: Request, needed: bool) -> None:
    token = authenticate(ctx.db, request)
    if token is None and needed:
        raise EmbedhubError(
            Kind.UNAUTHORIZED,
            "Authorization header is required: send 'Authorization: Bearer <token>' "
            "(create one with `embedhub token create NAME`)",
            headers={"WWW-Authenticate": 'Bearer realm="embedhub"'},
        )


def as_texts(inputs: Any, max_inputs: int, field: str = "inputs") -> tuple[list[str], bool]:
    """(texts, was_single_string). Empty input is 400, anything not a string 422."""
    single = isinstance(inputs, str)
    texts = [inputs] if single else inputs
    if not isinstance(texts, list):
        raise EmbedhubError(
            Kind.VALIDATION, f"`{field}` must be a string or a list of strings", param=field
        )
    if not texts:
        raise EmbedhubError(Kind.EMPTY, f"`{field}` cannot be empty", param=field)
    check_batch_size(len(texts), max_inputs, field)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise EmbedhubError(
                Kind.VALIDATION,
                f"`{field}`[{i}] must be a string, got {type(text).__name__}",
                param=field,
            )
        if not text:
            raise EmbedhubError(Kind.EMPTY, f"`{field}`[{i}] is an empty string", param=field)
    return texts, single


def check_batch_size(n: int, max_inputs: int, field: str = "inputs") -> None:
    if n > max_inputs:
        raise EmbedhubError(
            Kind.TOO_MANY_INPUTS,
            f"batch size {n} > maximum allowed batch size {max_inputs} (--max-client-batch-size)",
            param=field,
        )


def truncation_side(value: str | None) -> str:
    side = (value or "right").lower()
    if side not in ("right", "left"):
        raise EmbedhubError(
            Kind.VALIDATION,
            f"truncation_direction must be 'right' or 'left', got {value!r}",
            param="truncation_direction",
        )
    return side


def use_cache_header(request: Request, body_value: bool | None) -> bool:
    if body_value is not None:
        return body_value
    header = request.headers.get("x-use-cache")
    return header is None or header.strip().lower() not in ("0", "false", "no")


def options(
    *,
    normalize: bool | None = None,
    truncate: bool | None = None,
    truncation_direction: str | None = None,
    prompt_name: str | None = None,
    dimensions: int | None = None,
    use_cache: bool = True,
) -> EmbedOptions:
    return EmbedOptions(
        normalize=normalize,
        truncate=True if truncate is None else truncate,
        truncation_direction=truncation_side(truncation_direction),
        prompt_name=prompt_name,
        dimensions=dimensions,
        use_cache=use_cache,
    )


def timing_headers(
    result: EmbedResult | TaskResult, *, chars: int | None = None, started: float | None = None
) -> dict[str, str]:
    """The headers TEI (and the HF Inference API) put on an answer: where and how long it
    was computed, on how many characters and tokens. `started`: the request's arrival
    (time.perf_counter), for x-compute-time; `chars`: the characters of the inputs."""
    t = result.timings
    ms = lambda s: str(int(round(s * 1000)))  # noqa: E731
    headers = {
        "x-compute-type": "cpu",  # embedhub runs its models on the CPU
        "x-tokenization-time": ms(t.tokenize_seconds),
        "x-queue-time": ms(t.queue_seconds),
        "x-inference-time": ms(t.inference_seconds),
        "x-compute-tokens": str(sum(result.token_counts)),
        "x-cache-hits": str(getattr(result, "cache_hits", 0)),
    }
    if started is not None:
        headers["x-compute-time"] = ms(time.perf_counter() - started)
    if chars is not None:
        headers["x-compute-characters"] = str(chars)
    return headers


def json_response(content: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY),
        media_type="application/json",
        headers=headers,
    )


async def compare(
    engine: Engine,
    source: str,
    sentences: list[str],
    opts: EmbedOptions,
    max_inputs: int,
    started: float | None = None,
) -> Response:
    """Sentence similarity (HF and TEI alike): the cosine of `source` with each sentence, as
    the dot product of vectors the engine normalised (whatever `opts` said about that)."""
    if not sentences:
        raise EmbedhubError(Kind.EMPTY, "`sentences` cannot be empty", param="sentences")
    # The source sentence doesn't count against the client batch limit.
    texts, _ = as_texts([source, *sentences], max_inputs + 1, field="sentences")
    result = await engine.embed(texts, dataclasses.replace(opts, normalize=True))
    v = result.vectors
    headers = timing_headers(result, chars=sum(map(len, texts)), started=started)
    return json_response((v[1:] @ v[0]).astype(float).tolist(), headers)
