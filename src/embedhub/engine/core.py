"""The engine: one per model, shared by every route and by bulk embedding.

Requests are split into inputs that wait in one pool; worker threads take forward passes
(token budget, similar lengths) from it and run the backend off the event loop. Admission is
bounded: past `max_concurrent_requests` a request is refused at once (Overloaded), never queued
without end. The engine knows no HTTP.

Why more than one worker: a server's passes are small (a few inputs each), and on small passes a
runtime's intra-op threads sit idle much of the time (tiny ops, plus the Python work around each
call). Two workers with one thread each keep both cores busy: the same 468 server-sized passes
took 6.2 s that way and 8.2 s on one worker with two threads (all-MiniLM-L6-v2, ONNX Runtime,
2 cores)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from embedhub.backends.base import Backend
from embedhub.engine.batching import pick_batch, split_by_length
from embedhub.engine.cache import EmbeddingCache
from embedhub.engine.cut import cut_for_model
from embedhub.engine.errors import EngineError, EngineErrorKind
from embedhub.engine.observer import EngineObserver
from embedhub.types import EmbedOptions, EmbedResult, ModelInfo, Timings, Token

# Tokenizing this many characters (or decoding this many token ids) takes a few milliseconds;
# a request with more is tokenized on a worker thread, so one large body never holds up the
# event loop (and /health) while small requests skip the hand-off.
OFF_LOOP_SIZE = 16_384


@dataclass
class _Input:
    text: str
    tokens: int
    group: tuple  # (truncation side, prompt)
    seq: int
    job: _Job
    slots: list[int]  # positions in the job's output (duplicates share one input)
    counted: int  # what the backend's count_tokens gave: may carry its tokenization back
    enqueued: float = field(default_factory=time.perf_counter)


class _Job:
    """One request's inputs; completes when every input has a vector."""

    def __init__(self, n: int, dim: int, remaining: int) -> None:
        self.vectors = np.empty((n, dim), dtype=np.float32)
        self.remaining = remaining
        self.error: BaseException | None = None
        self.timings = Timings()
        self._lock = threading.Lock()  # workers finish this job's inputs concurrently
        self._done = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._future: asyncio.Future | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future:
        self._loop = loop
        self._future = loop.create_future()
        # The worker may have finished between the caller's `remaining` check and this bind;
        # its finish() then saw no loop to wake, so resolve here or the request never returns.
        if self._done.is_set():
            self._future.set_result(None)
        return self._future

    def settle(
        self, queue_seconds: float, inference_seconds: float, error: BaseException | None
    ) -> bool:
        """One input is done (its vector written, or `error`); True when it was the last."""
        with self._lock:
            self.timings.queue_seconds = max(self.timings.queue_seconds, queue_seconds)
            self.timings.inference_seconds = max(self.timings.inference_seconds, inference_seconds)
            if error is not None:
                self.error = error
            self.remaining -= 1
            return self.remaining == 0

    def finish(self) -> None:
        self._done.set()
        if self._loop is not None and self._future is not None:
            self._loop.call_soon_threadsafe(self._resolve)

    def _resolve(self) -> None:
        if self._future is not None and not self._future.done():
            self._future.set_result(None)

    def wait(self) -> None:
        self._done.wait()


class Engine:
    def __init__(
        self,
        backend: Backend,
        *,
        max_batch_tokens: int = 8192,
        max_concurrent_requests: int = 512,
        max_request_tokens: int | None = None,
        cache_size: int = 0,
        workers: int = 1,
        observer: EngineObserver | None = None,
    ) -> None:
        """`max_request_tokens`: the most tokens one call may bring (None: no limit, for
        in-process callers such as bulk embedding, which size their own batches).
        `workers`: forward passes run at once. The backend must be safe to call from that
        many threads and sized for it (see `plan_workers`)."""
        self.backend = backend
        self.max_batch_tokens = max_batch_tokens
        self.max_concurrent_requests = max_concurrent_requests
        self.max_request_tokens = max_request_tokens
        self.cache = EmbeddingCache(cache_size)
        self.observer = observer or EngineObserver()
        self._waiting: list[_Input] = []
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._admitted = 0
        self._admit_lock = threading.Lock()
        self.workers = max(1, workers)
        self._threads: list[threading.Thread] = []
        self._idle = 0  # workers waiting for input
        self._overhead = getattr(backend, "call_overhead_tokens", 0)
        self._stopping = False

    @property
    def info(self) -> ModelInfo:
        return self.backend.info

    @property
    def healthy(self) -> bool:
        return bool(self._threads) and all(t.is_alive() for t in self._threads)

    @property
    def queue_size(self) -> int:
        return len(self._waiting)

    def start(self) -> Engine:
        if not self._threads:
            self._threads = [
                threading.Thread(
                    target=self._run, name=f"engine[{self.info.model_id}]#{n}", daemon=True
                )
                for n in range(self.workers)
            ]
            for t in self._threads:
                t.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout=30)

    # --- the two ways in --------------------------------------------------------------------
    async def embed(self, texts: list[str], options: EmbedOptions) -> EmbedResult:
        with self._permit():
            job, counts, hits = await self._prepare_async(texts, options)
            if job.remaining:
                try:
                    await asyncio.shield(job.bind(asyncio.get_running_loop()))
                except asyncio.CancelledError:  # the caller gave up (client disconnected)
                    self._withdraw(job)
                    raise
            return self._result(job, counts, hits, options)

    def embed_blocking(self, texts: list[str], options: EmbedOptions) -> EmbedResult:
        """For callers on ordinary threads (bulk embedding). Not for the event loop."""
        with self._permit():
            job, counts, hits = self._prepare(texts, options)
            if job.remaining:
                job.wait()
            return self._result(job, counts, hits, options)

    # --- admission ---------------------------------------------------------------------------
    def _permit(self) -> _Permit:
        return _Permit(self)

    def _acquire(self) -> None:
        with self._admit_lock:
            if self._admitted >= self.max_concurrent_requests:
                self.observer.rejected()
                raise EngineError(
                    EngineErrorKind.OVERLOADED,
                    f"Model is overloaded: {self._admitted} requests in flight, the limit is "
                    f"{self.max_concurrent_requests} (--max-concurrent-requests); retry shortly",
                )
            self._admitted += 1

    def _release(self) -> None:
        with self._admit_lock:
            self._admitted -= 1

    # --- preparing inputs --------------------------------------------------------------------
    async def _prepare_async(
        self, texts: list[str], options: EmbedOptions
    ) -> tuple[_Job, list[int], int]:
        if sum(map(len, texts)) <= OFF_LOOP_SIZE:
            return self._prepare(texts, options)
        done = asyncio.get_running_loop().run_in_executor(None, self._prepare, texts, options)
        try:
            return await asyncio.shield(done)
        except asyncio.CancelledError:
            # The client left while its inputs were tokenized: once they are queued, take
            # them back out, as embed() does for a job that waits.
            done.add_done_callback(self._withdraw_prepared)
            raise

    def _withdraw_prepared(self, done: asyncio.Future) -> None:
        if not done.cancelled() and done.exception() is None:
            self._withdraw(done.result()[0])

    def _prepare(self, texts: list[str], options: EmbedOptions) -> tuple[_Job, list[int], int]:
        info = self.info
        dims = options.dimensions
        if dims is not None and not 1 <= dims <= info.dimension:
            raise EngineError(
                EngineErrorKind.VALIDATION,
                f"dimensions must be between 1 and {info.dimension}, got {dims}",
                param="dimensions",
            )
        prompt = self.prompt(options.prompt_name)
        limit = info.max_seq_length
        t0 = time.perf_counter()
        # Texts far longer than the model reads are cut first (see engine/cut.py); the piece
        # stands for its text from here on (same tokens, so the same vector and cache entry).
        # The prompt's characters bound its tokens, so a piece proven long enough holds
        # `limit` tokens of the text itself whichever side is kept.
        texts, raw_counts, cut = cut_for_model(
            texts,
            limit + len(prompt),
            options.truncation_direction,
            lambda pieces: self.count_tokens([prompt + t for t in pieces] if prompt else pieces),
        )
        tokenize_seconds = time.perf_counter() - t0
        if not options.truncate:
            for i, n in enumerate(raw_counts):
                if n > limit:
                    many = f"more than {n}" if i in cut else str(n)
                    raise EngineError(
                        EngineErrorKind.VALIDATION,
                        f"Input {i} is too long: {many} tokens, the model's limit is {limit} "
                        "(send truncate=true to cut it)",
                        param="input",
                    )
        counts = [min(n, limit) for n in raw_counts]
        total = sum(counts)
        if self.max_request_tokens is not None and total > self.max_request_tokens:
            raise EngineError(
                EngineErrorKind.VALIDATION,
                f"The request has {total} tokens (after truncation to {limit} per input); "
                f"the limit is {self.max_request_tokens} per request (--max-request-tokens): "
                "send fewer inputs per request",
                param="input",
            )
        group = (options.truncation_direction, prompt or None)
        pending: dict[str, _Input] = {}
        job = _Job(len(texts), info.dimension, 0)
        job.timings.tokenize_seconds = tokenize_seconds
        hits = 0
        for i, text in enumerate(texts):
            cached = self.cache.get((text, group)) if options.use_cache else None
            if cached is not None:
                job.vectors[i] = cached
                hits += 1
            elif text in pending:  # the same text twice in one request is embedded once
                pending[text].slots.append(i)
            else:
                seq = next(self._seq)
                pending[text] = _Input(text, counts[i], group, seq, job, [i], raw_counts[i])
        if hits:
            self.observer.cache_hits(hits)
        job.remaining = len(pending)
        if pending:
            with self._cond:
                self._waiting.extend(pending.values())
                self.observer.queue_size(len(self._waiting))
                self._cond.notify()
        return job, counts, hits

    def prompt(self, prompt_name: str | None) -> str:
        """The text a named prompt prepends ("" for none); Validation for a name the model
        lacks."""
        if prompt_name is None:
            return ""
        prompts = self.info.prompts
        if prompt_name not in prompts:
            names = ", ".join(sorted(prompts)) or "none"
            raise EngineError(
                EngineErrorKind.VALIDATION,
                f"prompt_name {prompt_name!r} is not one of this model's prompts ({names})",
                param="prompt_name",
            )
        return prompts[prompt_name]

    # --- the tokenizer, for routes that ask about tokens --------------------------------------
    @property
    def vocab_size(self) -> int:
        return self.backend.vocab_size

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Tokens of each text, special tokens included, before truncation."""
        with _tokenizer_errors():
            return self.backend.count_tokens(texts)

    def decode(self, batches: list[list[int]]) -> list[str]:
        """Token ids of this model's tokenizer back to text that tokenizes to the same ids:
        special tokens the tokenizer adds itself ([CLS] ... [SEP]) are dropped from the ends,
        any other ([UNK], [MASK]) is kept."""
        with _tokenizer_errors():
            return self.backend.decode(batches)

    def tokenize(self, texts: list[str], prompt_name: str | None = None) -> list[list[Token]]:
        """Each text's tokens (after the named prompt), special tokens included, untruncated.
        Counted first: a token is a few hundred bytes of Python objects, so a request with
        more than `max_request_tokens` is refused before they are made."""
        prompt = self.prompt(prompt_name)
        specials = self.backend.special_ids
        prompted = [prompt + t for t in texts]
        most = self.max_request_tokens
        if most is not None:
            # Counted on pieces where a text is long (engine/cut.py): enough to refuse it. The
            # piece is small against the limit (2 characters a token, the densest text), so a
            # text can be refused long before all of it is tokenized.
            _, counts, cut = cut_for_model(prompted, most, "right", self.count_tokens, 2)
            total = sum(counts)
            if cut or total > most:
                raise EngineError(
                    EngineErrorKind.VALIDATION,
                    f"The inputs have {'more than ' if cut else ''}{total} tokens; the limit is "
                    f"{most} per request (--max-request-tokens): send fewer or shorter inputs",
                    param="inputs",
                )
        with _tokenizer_errors():
            encoded = self.backend.tokenize(prompted)
        return [
            [Token(i, text, start, stop, i in specials) for i, text, start, stop in tokens]
            for tokens in encoded
        ]

    def _withdraw(self, job: _Job) -> None:
        """Drop a cancelled job's inputs that still wait, so nobody computes vectors no one
        will read; inputs already in a forward pass finish harmlessly."""
        with self._cond:
            kept = [w for w in self._waiting if w.job is not job]
            dropped = len(self._waiting) - len(kept)
            self._waiting = kept
            self.observer.queue_size(len(kept))
        if dropped:
            self.observer.withdrawn(dropped)

    # --- finishing ---------------------------------------------------------------------------
    def _result(
        self, job: _Job, counts: list[int], hits: int, options: EmbedOptions
    ) -> EmbedResult:
        if job.error is not None:
            raise job.error
        if hits < len(counts):  # something went through the queue
            self.observer.queue_wait(job.timings.queue_seconds)
        vectors = job.vectors
        if options.dimensions is not None:
            vectors = vectors[:, : options.dimensions]
        normalize = self.info.normalizes if options.normalize is None else options.normalize
        if normalize:
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = vectors / np.maximum(norms, 1e-12)  # what torch's F.normalize does
        return EmbedResult(np.ascontiguousarray(vectors, np.float32), counts, job.timings, hits)

    # --- the worker --------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                self._idle += 1
                while not self._waiting and not self._stopping:
                    self._cond.wait()
                self._idle -= 1
                if self._stopping:
                    return
                batch = self._take()
                self.observer.queue_size(len(self._waiting))
            self._run_batch(batch)

    def _take(self) -> list[_Input]:
        """The next forward pass (call with the lock held): of the batch around the oldest input,
        the part of similar length that holds it. The other parts stay waiting, to be joined by
        inputs that arrive meanwhile. While another worker is idle it is left a share of the
        pass, so one large request still uses every worker."""
        waiting = self._waiting
        chosen = pick_batch(waiting, self.max_batch_tokens)
        parts = split_by_length([waiting[i].tokens for i in chosen], self._overhead)
        oldest = min(range(len(chosen)), key=lambda j: waiting[chosen[j]].seq)
        part = next(p for p in parts if oldest in p)
        take = sorted((chosen[j] for j in part), key=lambda i: waiting[i].seq)
        if self._idle and len(take) > 1:
            take = take[: -(-len(take) // (self._idle + 1))]  # ceil: the oldest stays ours
        taken = set(take)
        self._waiting = [w for i, w in enumerate(waiting) if i not in taken]
        if self._waiting and self._idle:
            self._cond.notify()
        return [waiting[i] for i in take]

    def _run_batch(self, batch: list[_Input]) -> None:
        start = time.perf_counter()
        side, prompt = batch[0].group
        try:
            vectors = self.backend.embed(
                [b.text for b in batch],
                truncation_side=side,
                prompt=prompt,
                counts=[b.counted for b in batch],
            )
            error = None
        except Exception as exc:  # the model failed: every waiting request gets the error
            vectors = None
            error = EngineError(EngineErrorKind.BACKEND, f"Model inference failed: {exc}")
        seconds = time.perf_counter() - start
        self.observer.batch(len(batch), max(b.tokens for b in batch) * len(batch), seconds)
        for row, item in enumerate(batch):
            if vectors is not None:
                item.job.vectors[item.slots] = vectors[row]
                self.cache.put((item.text, item.group), vectors[row])
            if item.job.settle(start - item.enqueued, seconds, error):
                item.job.finish()


@contextlib.contextmanager
def _tokenizer_errors() -> Iterator[None]:
    """A text the tokenizer can't take (e.g. a lone surrogate) is the client's error."""
    try:
        yield
    except EngineError:
        raise
    except Exception as exc:
        message = f"The tokenizer refused the input: {exc}"
        raise EngineError(EngineErrorKind.TOKENIZER, message) from exc


def plan_workers(threads: int = 0, workers: int = 0) -> tuple[int, int]:
    """(workers, runtime threads per worker) for `threads` CPU threads in all (0: one per
    core) and `workers` forward passes at once (0: two, when there are two threads to give)."""
    total = threads or os.cpu_count() or 1
    workers = workers or (2 if total >= 2 else 1)
    return workers, max(1, total // workers)


class _Permit:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __enter__(self) -> None:
        self.engine._acquire()

    def __exit__(self, *exc: object) -> None:
        self.engine._release()
