"""Where vectors come from: the in-process engine, or a remote HF-Inference-style service.
Both take a list of texts and give back an (n, d) float32 array in the same order."""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
import requests

from embedhub.bulk.errors import BulkError
from embedhub.memory import release_freed_memory
from embedhub.types import EMBEDDING, EmbedOptions, ModelSpec

if TYPE_CHECKING:
    from embedhub.config import Settings


@dataclass(frozen=True)
class EmbedderInfo:
    model_id: str
    dimension: int
    normalized: bool | None  # None: whatever the remote service does
    source: str  # "in-process", or the service URL
    runtime: str | None = None  # None: whatever the remote service runs
    precision: str | None = None
    quality: dict | None = None  # int8: the quality report the vectors were served under


class Embedder(Protocol):
    info: EmbedderInfo

    def embed(self, texts: list[str]) -> np.ndarray: ...

    def close(self) -> None: ...


class LocalEmbedder:
    """The engine on all cores: it batches by token budget with similar lengths together,
    so one call per input batch is enough. The model runs as `settings` say (runtime,
    precision, threads, graph cache: what `embedhub serve` takes; None: from the EMBEDHUB_*
    variables)."""

    def __init__(
        self,
        spec: ModelSpec,
        *,
        settings: Settings | None = None,
        threads: int | None = None,
        max_batch_tokens: int = 8192,
    ):
        from embedhub.backends import RuntimeSettingError, configured_backend
        from embedhub.config import settings_from_env
        from embedhub.engine import Engine
        from embedhub.models import ModelNotFound

        settings = settings or settings_from_env()
        try:
            backend = configured_backend(
                spec, settings, threads=settings.threads if threads is None else threads
            )
        except (ModelNotFound, RuntimeSettingError) as exc:
            raise BulkError(str(exc)) from exc
        if backend.info.kind != EMBEDDING:  # a reranker or SPLADE model makes no vectors here
            raise BulkError(
                f"{spec.model_id} is a {backend.info.kind} model; bulk embedding needs an "
                "embedding (sentence-transformers) model"
            )
        # The bulk job dedupes by content hash itself; the engine's cache would only cost memory.
        self.engine = Engine(backend, max_batch_tokens=max_batch_tokens, cache_size=0).start()
        m = backend.info
        quality = None if m.quality is None else m.quality.as_dict()
        self.info = EmbedderInfo(
            m.model_id, m.dimension, m.normalizes, "in-process", m.runtime, m.precision, quality
        )

    def embed(self, texts: list[str]) -> np.ndarray:
        vectors = self.engine.embed_blocking(texts, EmbedOptions(use_cache=False)).vectors
        # Every batch has other tensor shapes, and glibc keeps the freed blocks of each in its
        # arenas: without this RSS creeps up with input size.
        release_freed_memory()
        return vectors

    def close(self) -> None:
        self.engine.stop()


class RemoteEmbedder:
    """`POST {url}/pipeline/feature-extraction/{model}` with {"inputs": [...]}: embedhub or any
    service speaking the HF Inference API. 429 and 5xx are retried with backoff, honouring
    Retry-After; requests run a few at a time so the server can batch them together."""

    def __init__(
        self,
        url: str,
        model_id: str,
        *,
        token: str | None = None,
        request_size: int = 64,
        concurrency: int = 4,
        max_retries: int = 8,
        timeout: float = 300.0,
    ) -> None:
        self.endpoint = f"{url.rstrip('/')}/pipeline/feature-extraction/{model_id}"
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self.request_size = request_size
        self.max_retries = max_retries
        self.retries = 0  # 429/5xx/connection retries, reported in the summary
        self.timeout = timeout
        self.pool = ThreadPoolExecutor(concurrency, thread_name_prefix="embed-remote")
        probe = self._post(["dimension probe"])
        self.info = EmbedderInfo(model_id, probe.shape[1], None, url)

    def embed(self, texts: list[str]) -> np.ndarray:
        chunks = [texts[i : i + self.request_size] for i in range(0, len(texts), self.request_size)]
        return np.concatenate(list(self.pool.map(self._post, chunks)))

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.session.close()

    def _post(self, texts: list[str]) -> np.ndarray:
        for attempt in range(self.max_retries + 1):
            try:
                r = self.session.post(self.endpoint, json={"inputs": texts}, timeout=self.timeout)
            except requests.ConnectionError as exc:
                if attempt == self.max_retries:
                    raise BulkError(f"{self.endpoint}: cannot connect: {exc}") from exc
                self.retries += 1
                time.sleep(_backoff(attempt, None))
                continue
            if r.status_code == 429 or r.status_code >= 500:
                if attempt < self.max_retries:
                    self.retries += 1
                    time.sleep(_backoff(attempt, r.headers.get("Retry-After")))
                    continue
            if r.status_code != 200:
                raise BulkError(f"{self.endpoint}: HTTP {r.status_code}: {r.text[:300]}")
            return _vectors(r.json(), len(texts), self.endpoint)
        raise AssertionError("unreachable")


def _backoff(attempt: int, retry_after: str | None) -> float:
    if retry_after:
        try:
            return min(float(retry_after), 60.0)
        except ValueError:
            pass  # an HTTP date: fall back to our own schedule
    return min(0.5 * 2**attempt, 30.0) * (0.5 + random.random() / 2)


def _vectors(body: object, n: int, where: str) -> np.ndarray:
    try:
        vectors = np.asarray(body, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise BulkError(f"{where}: the response is not a list of vectors") from exc
    if vectors.ndim == 3:  # token embeddings from a model without pooling: not sentence vectors
        raise BulkError(f"{where}: returned one vector per token; use a sentence-embedding model")
    if vectors.ndim != 2 or vectors.shape[0] != n:
        raise BulkError(f"{where}: expected {n} vectors, got shape {vectors.shape}")
    return vectors
