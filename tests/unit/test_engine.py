"""The engine without HTTP: ordering, dedup, cache, options, admission (429), failures, with a
tiny fake backend; and the same engine on the real sentence-transformers backend."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from embedhub.backends.base import PASS
from embedhub.engine import Engine, EngineObserver, plan_workers
from embedhub.engine.errors import EngineError
from embedhub.engine.errors import EngineErrorKind as Kind
from embedhub.engine.jobs import Job
from embedhub.types import EmbedOptions, ModelInfo


def raw_vector(text: str) -> np.ndarray:
    h = sum(map(ord, text))
    return np.array([len(text), h % 7 + 1, h % 5 + 1, 2.0], dtype=np.float32)


class FakeBackend:
    call_overhead_tokens = 0

    def __init__(self) -> None:
        self.info = ModelInfo("fake/model", 4, 8, True, {"query": "query: "})
        self.vocab_size = 100
        self.special_ids = frozenset()
        self.calls: list[tuple[list[str], str, str | None]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.fail = False

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(t.split()) + 2 for t in texts]

    def embed(self, texts, *, truncation_side="right", prompt=None, counts=None) -> np.ndarray:
        assert self.gate.wait(10)
        self.calls.append((list(texts), truncation_side, prompt))
        if self.fail:
            raise RuntimeError("boom")
        return np.stack([raw_vector(t) for t in texts])


class Recorder(EngineObserver):
    def __init__(self) -> None:
        self.rejected_count = 0
        self.withdrawn_count = 0
        self.hits = 0
        self.waits: list[float] = []

    def rejected(self) -> None:
        self.rejected_count += 1

    def cache_hits(self, n: int) -> None:
        self.hits += n

    def queue_wait(self, seconds: float) -> None:
        self.waits.append(seconds)

    def withdrawn(self, n: int) -> None:
        self.withdrawn_count += n


def unit(rows) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.fixture
def backend():
    return FakeBackend()


@pytest.fixture(params=[1, 2], ids=["1-worker", "2-workers"])
def engine(backend, request):
    e = Engine(
        backend,
        max_batch_tokens=64,
        max_concurrent_requests=2,
        cache_size=100,
        workers=request.param,
    )
    e.observer = Recorder()
    e.start()
    yield e
    backend.gate.set()
    e.stop()


def test_vectors_in_input_order_and_duplicates_embedded_once(engine, backend):
    texts = ["b b", "a", "c c c", "a", "b b"]
    result = asyncio.run(engine.embed(texts, EmbedOptions()))
    np.testing.assert_allclose(result.vectors, unit([raw_vector(t) for t in texts]), rtol=1e-6)
    embedded = [t for call in backend.calls for t in call[0]]
    assert sorted(embedded) == ["a", "b b", "c c c"]
    assert result.token_counts == [4, 3, 5, 3, 4]
    assert engine.observer.waits and engine.observer.waits[0] >= 0


def test_options_normalize_dimensions_prompt_and_side(engine, backend):
    raw = asyncio.run(engine.embed(["x y"], EmbedOptions(normalize=False)))
    np.testing.assert_array_equal(raw.vectors, [raw_vector("x y")])
    cut = asyncio.run(engine.embed(["x y"], EmbedOptions(dimensions=2)))
    np.testing.assert_allclose(cut.vectors, unit([raw_vector("x y")[:2]]), rtol=1e-6)
    asyncio.run(engine.embed(["x y"], EmbedOptions(truncation_direction="left")))
    asyncio.run(engine.embed(["x y"], EmbedOptions(prompt_name="query")))
    assert backend.calls == [(["x y"], "right", None), (["x y"], "left", None)] + [
        (["x y"], "right", "query: ")
    ]


def test_cache_hits_and_bypass(engine, backend):
    asyncio.run(engine.embed(["p", "q"], EmbedOptions()))
    again = asyncio.run(engine.embed(["q", "p"], EmbedOptions()))
    assert again.cache_hits == 2 and engine.observer.hits == 2

    def embedded() -> list[str]:
        return sorted(t for call in backend.calls for t in call[0])

    assert embedded() == ["p", "q"]
    fresh = asyncio.run(engine.embed(["q", "p"], EmbedOptions(use_cache=False)))
    assert fresh.cache_hits == 0 and embedded() == ["p", "p", "q", "q"]
    np.testing.assert_array_equal(fresh.vectors, again.vectors)


def test_validation_errors_name_the_limit(engine):
    with pytest.raises(EngineError) as info:
        asyncio.run(
            engine.embed(["one two three four five six seven"], EmbedOptions(truncate=False))
        )
    assert info.value.kind is Kind.VALIDATION
    assert "9 tokens" in info.value.message and "limit is 8" in info.value.message
    for bad in (0, 5):
        with pytest.raises(EngineError, match="between 1 and 4") as info:
            asyncio.run(engine.embed(["x"], EmbedOptions(dimensions=bad)))
        assert info.value.kind is Kind.VALIDATION
    with pytest.raises(EngineError, match="not one of this model's prompts"):
        asyncio.run(engine.embed(["x"], EmbedOptions(prompt_name="passage")))
    # None of these left a permit behind: two requests still fit at once.
    assert engine._admitted == 0


def test_overloaded_is_refused_at_once_then_admitted_again(engine, backend):
    backend.gate.clear()

    async def scenario():
        first = asyncio.create_task(engine.embed(["slow one"], EmbedOptions()))
        second = asyncio.create_task(engine.embed(["slow two"], EmbedOptions()))
        await asyncio.sleep(0.05)
        assert not first.done() and not second.done()
        with pytest.raises(EngineError) as info:
            await engine.embed(["third"], EmbedOptions())
        assert info.value.kind is Kind.OVERLOADED
        assert "limit is 2" in info.value.message
        backend.gate.set()
        results = await asyncio.gather(first, second)
        after = await engine.embed(["third"], EmbedOptions())
        return results, after

    (first, second), after = asyncio.run(scenario())
    np.testing.assert_allclose(first.vectors, unit([raw_vector("slow one")]), rtol=1e-6)
    np.testing.assert_allclose(second.vectors, unit([raw_vector("slow two")]), rtol=1e-6)
    np.testing.assert_allclose(after.vectors, unit([raw_vector("third")]), rtol=1e-6)
    assert engine.observer.rejected_count == 1
    assert engine._admitted == 0


def test_backend_failure_fails_the_request_not_the_engine(engine, backend):
    backend.fail = True
    with pytest.raises(EngineError) as info:
        asyncio.run(engine.embed(["will fail"], EmbedOptions()))
    assert info.value.kind is Kind.BACKEND and "boom" in info.value.message
    backend.fail = False
    assert engine.healthy
    ok = asyncio.run(engine.embed(["fine"], EmbedOptions()))
    np.testing.assert_allclose(ok.vectors, unit([raw_vector("fine")]), rtol=1e-6)


def test_embed_blocking_from_many_threads(engine):
    engine.max_concurrent_requests = 100
    texts = [f"text number {i} " + "w " * (i % 5) for i in range(50)]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda t: engine.embed_blocking([t], EmbedOptions()), texts))
    for t, r in zip(texts, results, strict=True):
        np.testing.assert_allclose(r.vectors, unit([raw_vector(t)]), rtol=1e-6)


def test_job_finished_before_bind_still_resolves():
    # The worker can finish a job between embed()'s `remaining` check and bind().
    job = Job(1, 1)
    job.remaining = 0
    job.finish()

    async def wait():
        return await asyncio.wait_for(job.bind(asyncio.get_running_loop()), 2)

    asyncio.run(wait())


def test_stop_ends_the_worker(backend):
    e = Engine(backend).start()
    assert e.healthy
    e.stop()
    assert not e.healthy


def test_idle_workers_share_one_large_request(backend):
    """One request of eight same-length texts on an idle engine: each worker runs half."""
    e = Engine(backend, workers=2).start()
    try:
        deadline = time.monotonic() + 10
        while e._idle < 2:  # both workers are waiting for input
            assert time.monotonic() < deadline
            time.sleep(0.01)
        threads: list[str] = []
        embed = backend.embed

        def recording(texts, **kw):  # type: ignore[no-untyped-def]
            threads.append(threading.current_thread().name)
            return embed(texts, **kw)

        backend.embed = recording
        backend.gate.clear()  # hold the first pass, so the split can't cascade
        texts = [f"text {c}" for c in "abcdefgh"]
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(e.embed_blocking, texts, EmbedOptions())
            while len(threads) < 2:
                assert time.monotonic() < deadline, threads
                time.sleep(0.01)
            backend.gate.set()
            result = pending.result(timeout=10)
    finally:
        backend.gate.set()
        e.stop()
    np.testing.assert_allclose(result.vectors, unit([raw_vector(t) for t in texts]), rtol=1e-6)
    assert sorted(len(call[0]) for call in backend.calls) == [4, 4]
    assert len(set(threads)) == 2


def test_a_pass_is_alone_only_when_it_is_all_the_work(backend):
    """The engine tells the backend (backends.base.PASS) when a pass is all the work there
    is, one input with nothing else running or waiting: a runtime may then use every thread.
    The halves of a two-input request split over both workers are not alone."""
    e = Engine(backend, workers=2).start()
    seen: list[tuple[int, bool]] = []
    embed = backend.embed

    def recording(texts, **kw):  # type: ignore[no-untyped-def]
        seen.append((len(texts), PASS.alone))
        return embed(texts, **kw)

    backend.embed = recording
    try:
        deadline = time.monotonic() + 10
        while e._idle < 2:  # both workers are waiting for input
            assert time.monotonic() < deadline
            time.sleep(0.01)
        e.embed_blocking(["one"], EmbedOptions())
        assert seen == [(1, True)]
        seen.clear()
        backend.gate.clear()  # hold the first half, so both halves are handed out at once
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(e.embed_blocking, ["a b", "c d"], EmbedOptions())
            while len(seen) < 2:
                assert time.monotonic() < deadline, seen
                time.sleep(0.01)
            backend.gate.set()
            pending.result(timeout=10)
    finally:
        backend.gate.set()
        e.stop()
    assert seen == [(1, False), (1, False)]


def test_plan_workers():
    assert plan_workers(threads=2, workers=0) == (2, 1)
    assert plan_workers(threads=8, workers=0) == (2, 4)
    assert plan_workers(threads=1, workers=0) == (1, 1)
    assert plan_workers(threads=4, workers=1) == (1, 4)
    assert plan_workers(threads=2, workers=4) == (4, 1)  # more workers than threads: one each


# --- the real backend ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_engine(model_dir):
    from embedhub.backends import load_backend
    from embedhub.config import DEFAULT_MODEL_ID
    from embedhub.types import ModelSpec

    # As `embedhub serve` runs it: two workers calling one backend at once.
    workers, threads = plan_workers(threads=2)
    spec = ModelSpec(DEFAULT_MODEL_ID, str(model_dir))
    backend = load_backend(spec, threads=threads, workers=workers)
    e = Engine(backend, max_batch_tokens=1024, max_concurrent_requests=64, workers=workers).start()
    yield e
    e.stop()


def test_real_backend_concurrent_requests_equal_reference(real_engine, reference_model):
    long = "A long sentence about embeddings and batching. " * 40
    requests_ = [
        ["short", "a bit longer sentence here"],
        [long, "tiny"],
        ["Hi!", long + " tail", "middle length text for the batch"],
        ["short", "Hi!"],
    ]

    async def run_all():
        return await asyncio.gather(*(real_engine.embed(t, EmbedOptions()) for t in requests_))

    results = asyncio.run(run_all())
    for texts, result in zip(requests_, results, strict=True):
        diff = np.abs(result.vectors - reference_model.encode(texts)).max()
        assert diff < 1e-5, diff
        assert result.token_counts == [
            min(len(reference_model.tokenizer(t)["input_ids"]), 256) for t in texts
        ]


def test_openvino_runs_a_lone_pass_on_every_thread(real_engine, reference_model):
    """The default runtime with two workers: a pass the engine says is alone takes the graph
    compiled with every thread, with the same vectors; any other pass, or one that starts
    while a wide one runs, takes its own one-thread stream."""
    run = real_engine.backend._run
    assert run.wide is not None
    wide_passes = []
    start = run._start
    run._start = lambda alone: wide_passes.append(start(alone)) or wide_passes[-1]
    try:
        lone = asyncio.run(real_engine.embed(["Hi!"], EmbedOptions())).vectors
        two = asyncio.run(real_engine.embed(["Hi!", "A longer text"], EmbedOptions())).vectors
    finally:
        run._start = start
    assert wide_passes[0]
    assert np.abs(lone - reference_model.encode(["Hi!"])).max() < 1e-5
    assert np.abs(two - reference_model.encode(["Hi!", "A longer text"])).max() < 1e-5
    assert run._start(True)  # alone: wide
    assert not run._start(True)  # while a wide pass runs: its stream
    run._end()
    run._end()
    assert not run._start(False)
    run._end()


def test_real_backend_left_truncation_and_raw_vectors(real_engine, reference_model):
    text = "Cats purr on the mat. " * 60 + "Markets fell on rate news. " * 60
    left = asyncio.run(real_engine.embed([text], EmbedOptions(truncation_direction="left")))
    reference_model.tokenizer.truncation_side = "left"
    try:
        expected = reference_model.encode([text])
    finally:
        reference_model.tokenizer.truncation_side = "right"
    assert np.abs(left.vectors - expected).max() < 1e-5
    raw = asyncio.run(real_engine.embed(["Hi!"], EmbedOptions(normalize=False)))
    norm = np.linalg.norm(raw.vectors[0])
    assert abs(norm - 1) > 0.1
    assert np.abs(raw.vectors[0] / norm - reference_model.encode("Hi!")).max() < 1e-5


def test_a_cancelled_request_leaves_nothing_waiting(backend):
    e = Engine(backend, workers=1)
    e.observer = Recorder()
    e.start()
    backend.gate.clear()  # the worker holds the first request's pass

    async def scenario():
        first = asyncio.create_task(e.embed(["first"], EmbedOptions()))
        while e.queue_size:  # until the worker has taken it
            await asyncio.sleep(0.01)
        second = asyncio.create_task(e.embed(["two a", "two b", "two c"], EmbedOptions()))
        while e.queue_size < 3:
            await asyncio.sleep(0.01)
        second.cancel()
        with pytest.raises(asyncio.CancelledError):
            await second
        assert e.queue_size == 0
        backend.gate.set()
        return await first

    try:
        first = asyncio.run(scenario())
    finally:
        backend.gate.set()
        e.stop()
    np.testing.assert_allclose(first.vectors, unit([raw_vector("first")]), rtol=1e-6)
    assert [t for call in backend.calls for t in call[0]] == ["first"]
    assert e.observer.withdrawn_count == 3
    assert e._admitted == 0
