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
import functools
import itertools
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from embedhub.backends.base import PASS, Backend
from embedhub.engine import tasks
from embedhub.engine.batching import pick_batch, split_by_length
from embedhub.engine.cache import EmbeddingCache
from embedhub.engine.cut import cut_for_model
from embedhub.engine.errors import EngineError, EngineErrorKind
from embedhub.engine.jobs import Input, Job
from embedhub.engine.observer import EngineObserver
from embedhub.engine.tasks import Task
from embedhub.types import (
    EmbedOptions,
    EmbedResult,
    ModelInfo,
    ScoreOptions,
    TaskResult,
    Token,
)

# Tokenizing this many characters (or decoding this many token ids) takes a few milliseconds;
# a request with more is tokenized on a worker thread, so one large body never holds up the
# event loop (and /health) while small requests skip the hand-off.
OFF_LOOP_SIZE = 16_384


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
        self._waiting: list[Input] = []
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

    # --- the ways in ------------------------------------------------------------------------
    async def embed(self, texts: list[str], options: EmbedOptions) -> EmbedResult:
        """Pooled embeddings (an EMBEDDING model), normalised as `options` say."""
        self._require(tasks.EMBED)
        with self._permit():
            job, counts, hits = await self._off_loop(self._prepare, texts, options)
            await self._wait(job)
            return self._result(job, counts, hits, options)

    def embed_blocking(self, texts: list[str], options: EmbedOptions) -> EmbedResult:
        """For callers on ordinary threads (bulk embedding). Not for the event loop."""
        self._require(tasks.EMBED)
        with self._permit():
            job, counts, hits = self._prepare(texts, options)
            if job.remaining:
                job.wait()
            return self._result(job, counts, hits, options)

    async def rerank(self, query: str, texts: list[str], options: ScoreOptions) -> TaskResult:
        """A relevance score for each (query, text) pair, in input order (a RERANKER model):
        the model's sigmoid, or its logit with `raw_scores`. Equal to CrossEncoder.predict."""
        result = await self._score(tasks.RERANK, [(query, t) for t in texts], options)
        result.values = result.values[:, 0]
        return result

    async def predict(
        self, inputs: list[str | tuple[str, str]], options: ScoreOptions
    ) -> TaskResult:
        """(n, labels) scores of texts or (text, text) pairs (a RERANKER or CLASSIFIER model):
        softmax over several labels, sigmoid of one, or logits with `raw_scores`."""
        return await self._score(tasks.SCORE, inputs, options)

    async def embed_sparse(self, texts: list[str], options: EmbedOptions) -> TaskResult:
        """(indices, weights) of each text's non-zero vocabulary entries (a SPARSE model)."""
        return await self._task(tasks.SPARSE_EMBED, texts, options)

    async def embed_tokens(self, texts: list[str], options: EmbedOptions) -> TaskResult:
        """Each text's (tokens, hidden) token vectors, special tokens included, not pooled
        or normalised (an EMBEDDING model)."""
        return await self._task(tasks.TOKENS, texts, options)

    def can(self, task: Task) -> bool:
        return self.info.kind in task.kinds

    def _require(self, task: Task) -> None:
        if not self.can(task):
            raise EngineError(EngineErrorKind.UNSUPPORTED, tasks.refusal(task, self.info.kind))

    async def _score(self, task: Task, inputs: list[Any], options: ScoreOptions) -> TaskResult:
        self._require(task)
        with self._permit():
            side = options.truncation_direction
            job, counts, _ = await self._off_loop(self._queue, task, inputs, options.truncate, side)
            await self._wait(job)
        self._check(job, counts)
        logits = np.stack(job.results).reshape(len(inputs), -1)
        scores = logits if options.raw_scores else tasks.activate(logits)
        return TaskResult(scores, counts, job.timings)

    async def _task(self, task: Task, texts: list[str], options: EmbedOptions) -> TaskResult:
        self._require(task)
        prompt = self.prompt(options.prompt_name) or None
        with self._permit():
            side = options.truncation_direction
            job, counts, _ = await self._off_loop(
                self._queue, task, texts, options.truncate, side, prompt
            )
            await self._wait(job)
        self._check(job, counts)
        return TaskResult(job.results, counts, job.timings)

    def _check(self, job: Job, counts: list[int]) -> None:
        """Raise the job's failure, else note how long it waited."""
        if job.error is not None:
            raise job.error
        self.observer.queue_wait(job.timings.queue_seconds)
        self.observer.finished(job.timings, counts)

    async def _off_loop(self, prepare: Any, *args: Any) -> tuple[Job, list[int], int]:
        """`prepare(*args)` (counting and queueing inputs) here when the inputs are small, else
        on a worker thread; a caller that leaves meanwhile has its queued inputs taken back."""
        items = next(a for a in args if isinstance(a, list))
        size = sum(len(x) if isinstance(x, str) else sum(map(len, x)) for x in items)
        if size <= OFF_LOOP_SIZE:
            return prepare(*args)
        loop = asyncio.get_running_loop()
        done = loop.run_in_executor(None, functools.partial(prepare, *args))
        try:
            return await asyncio.shield(done)
        except asyncio.CancelledError:
            done.add_done_callback(self._withdraw_prepared)
            raise

    def _withdraw_prepared(self, done: asyncio.Future) -> None:
        if not done.cancelled() and done.exception() is None:
            self._withdraw(done.result()[0])

    async def _wait(self, job: Job) -> None:
        if not job.remaining:
            return
        try:
            await asyncio.shield(job.bind(asyncio.get_running_loop()))
        except asyncio.CancelledError:  # the caller gave up (client disconnected)
            self._withdraw(job)
            raise

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
    def _prepare(self, texts: list[str], options: EmbedOptions) -> tuple[Job, list[int], int]:
        info = self.info
        dims = options.dimensions
        if dims is not None and not 1 <= dims <= info.dimension:
            raise EngineError(
                EngineErrorKind.VALIDATION,
                f"dimensions must be between 1 and {info.dimension}, got {dims}",
                param="dimensions",
            )
        prompt = self.prompt(options.prompt_name) or None
        side = options.truncation_direction
        return self._queue(
            tasks.EMBED, texts, options.truncate, side, prompt, use_cache=options.use_cache
        )

    def _queue(
        self,
        task: Task,
        items: list[Any],
        truncate: bool,
        side: str,
        prompt: str | None = None,
        *,
        use_cache: bool = False,
    ) -> tuple[Job, list[int], int]:
        """Count `items` (texts, or pairs for a score), refuse any too long when `truncate`
        is off, and queue the distinct ones (a cached embedding needs no pass). Returns the
        job, each item's token count after truncation, and the cache hits."""
        limit = self.info.max_seq_length
        t0 = time.perf_counter()
        cut: set[int] = set()
        if all(isinstance(item, str) for item in items):
            # Texts far longer than the model reads are cut first (see engine/cut.py); the
            # piece stands for its text from here on (same tokens, so the same vector and
            # cache entry). The prompt's characters bound its tokens, so a piece proven long
            # enough holds `limit` tokens of the text itself whichever side is kept.
            items, raw_counts, cut = cut_for_model(
                items,
                limit + len(prompt or ""),
                side,
                lambda ps: self.count_tokens([prompt + t for t in ps] if prompt else ps),
            )
        else:
            raw_counts = self.count_tokens(items)
        tokenize_seconds = time.perf_counter() - t0
        if not truncate:
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
        job = Job(len(items))
        job.timings.tokenize_seconds = tokenize_seconds
        pending: dict[Any, Input] = {}
        hits = 0
        for i, item in enumerate(items):
            group = (task.name, side, prompt, type(item).__name__)
            cached = self.cache.get((item, group)) if use_cache else None
            if cached is not None:
                job.results[i] = cached
                hits += 1
            elif item in pending:  # the same input twice in one request is run once
                pending[item].slots.append(i)
            else:
                seq = next(self._seq)
                pending[item] = Input(item, counts[i], group, seq, job, [i], raw_counts[i])
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

    def count_tokens(self, texts: list[Any]) -> list[int]:
        """Tokens of each text (or pair), special tokens included, before truncation."""
        with _tokenizer_errors():
            return self.backend.count_tokens(texts)

    def decode(self, batches: list[list[int]], skip_special_tokens: bool = True) -> list[str]:
        """Token ids of this model's tokenizer back to text. An id outside the vocabulary is
        a Tokenizer error (the tokenizer itself would silently drop it)."""
        vocab = self.vocab_size
        for i, ids in enumerate(batches):
            bad = [t for t in ids if not 0 <= t < vocab]
            if bad:
                raise EngineError(
                    EngineErrorKind.TOKENIZER,
                    f"ids[{i}] has token ids outside the model's vocabulary "
                    f"(0..{vocab - 1}): {bad[:5]}",
                    param="ids",
                )
        with _tokenizer_errors():
            return self.backend.decode(batches, skip_special_tokens)

    def texts_from_ids(self, batches: list[list[int]]) -> list[str]:
        """Token ids a client sends as input, as texts that tokenize to the same ids. The
        special tokens the tokenizer adds itself ([CLS] ... [SEP], as /tokenize gives them)
        are taken off the ends (tokenizing adds them again); any other ([UNK], [MASK]) stays
        in the text, where the tokenizer finds it again: dropping it would embed another
        input than the client sent."""
        head, tail = self._frame
        unframed = []
        for ids in batches:
            if head and ids[: len(head)] == head:
                ids = ids[len(head) :]
            if tail and len(ids) >= len(tail) and ids[-len(tail) :] == tail:
                ids = ids[: -len(tail)]
            unframed.append(ids)
        return self.decode(unframed, skip_special_tokens=False)

    @functools.cached_property
    def _frame(self) -> tuple[list[int], list[int]]:
        """The ids the tokenizer puts before and after every text."""
        tokens = self.backend.tokenize(["a"], True)[0]
        flags = [t.special for t in tokens]
        first = flags.index(False) if False in flags else len(flags)
        last = len(flags) - flags[::-1].index(False) if False in flags else len(flags)
        ids = [t.id for t in tokens]
        return ids[:first], ids[last:]

    def tokenize(
        self, texts: list[str], prompt_name: str | None = None, add_special_tokens: bool = True
    ) -> list[list[Token]]:
        """Each text's tokens (after the named prompt, whose tokens come first), untruncated;
        spans are character offsets into `prompt + text`."""
        prompt = self.prompt(prompt_name)
        prompted = [prompt + t for t in texts]
        most = self.max_request_tokens
        if most is not None:
            # A token is a few hundred bytes of Python objects: count first, on pieces where a
            # text is long (engine/cut.py; 2 characters a token, the densest text), so that a
            # request over the limit is refused before its tokens are made.
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
            return self.backend.tokenize(prompted, add_special_tokens)

    def _withdraw(self, job: Job) -> None:
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
    def _result(self, job: Job, counts: list[int], hits: int, options: EmbedOptions) -> EmbedResult:
        if job.error is not None:
            raise job.error
        if hits < len(counts):  # something went through the queue
            self.observer.queue_wait(job.timings.queue_seconds)
        self.observer.finished(job.timings, counts)
        dim = self.info.dimension
        vectors = np.stack(job.results) if job.results else np.empty((0, dim), np.float32)
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
                others_idle = self._idle == self.workers - 1
                PASS.alone = len(batch) == 1 and not self._waiting and others_idle
            self._run_batch(batch)

    def _take(self) -> list[Input]:
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

    def _run_batch(self, batch: list[Input]) -> None:
        start = time.perf_counter()
        task, side, prompt, _ = batch[0].group
        forward = getattr(self.backend, tasks.TASKS[task].method)
        try:
            outputs = forward(
                [b.item for b in batch],
                truncation_side=side,
                prompt=prompt,
                counts=[b.counted for b in batch],
            )
            error = None
        except Exception as exc:  # the model failed: every waiting request gets the error
            outputs = None
            error = EngineError(EngineErrorKind.BACKEND, f"Model inference failed: {exc}")
        seconds = time.perf_counter() - start
        self.observer.batch(len(batch), max(b.tokens for b in batch) * len(batch), seconds)
        for row, item in enumerate(batch):
            if outputs is not None:
                out = outputs[row]
                for slot in item.slots:
                    item.job.results[slot] = out
                if task == tasks.EMBED.name:
                    self.cache.put((item.item, item.group), out)
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
