"""Many clients at once: correct and in order under concurrency; 429 at once when overloaded."""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import requests

from .helpers import MODEL_ID, assert_close, assert_error, auth, metric

FE = f"/pipeline/feature-extraction/{MODEL_ID}"


def test_64_concurrent_requests_are_correct_and_in_order(server, token, reference_model):
    n = 64
    # Different lengths, so the engine batches them in several groups.
    texts = [f"Request {i}: " + "a few more words " * (i % 9) + f"ending {i}." for i in range(n)]
    expected = reference_model.encode(texts)
    barrier = threading.Barrier(n)
    session_headers = auth(token)

    def one(i: int):
        barrier.wait()
        # Each request carries its own text and its neighbour's, in a known order.
        body = {"inputs": [texts[i], texts[(i + 1) % n]]}
        r = requests.post(f"{server.url}{FE}", headers=session_headers, json=body, timeout=120)
        return i, r.status_code, r.json()

    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(one, range(n)))
    for i, status, body in results:
        assert status == 200, body
        assert_close(body, expected[[i, (i + 1) % n]])


def test_overload_answers_429_at_once_and_recovers(make_server, reference_model):
    srv = make_server("--max-concurrent-requests", "2", "--max-batch-tokens", "512")
    token = srv.token("loader", write=False)
    n = 24
    # Four ~256-token inputs per request, all different: each admitted request takes a while.
    texts = [
        [f"Client {i} text {j}: " + f"sentence {i} {j} has many words. " * 60 for j in range(4)]
        for i in range(n)
    ]
    barrier = threading.Barrier(n)

    def one(i: int):
        barrier.wait()
        start = time.perf_counter()
        if i % 2:  # half the clients speak OpenAI
            url, body = f"{srv.url}/v1/embeddings", {"model": MODEL_ID, "input": texts[i]}
        else:
            url, body = f"{srv.url}{FE}", {"inputs": texts[i]}
        r = requests.post(url, headers=auth(token), json=body, timeout=120)
        return i, r, time.perf_counter() - start

    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(one, range(n)))

    ok = [(i, r) for i, r, _ in results if r.status_code == 200]
    refused = [(i, r, t) for i, r, t in results if r.status_code == 429]
    assert len(ok) + len(refused) == n, [r.status_code for _, r, _ in results]
    assert ok and len(refused) >= n // 2, (len(ok), len(refused))
    slowest_ok = max(t for _, r, t in results if r.status_code == 200)
    for i, r, seconds in refused:
        style = "openai" if i % 2 else "hf"
        assert_error(r, 429, style, "overloaded", "--max-concurrent-requests")
        if style == "openai":
            assert r.json()["error"]["type"] == "rate_limit_error"
        assert r.headers["retry-after"] == "1"
        assert seconds < 2.0, seconds  # refused at once, not after waiting in a queue
    assert max(t for _, _, t in refused) < slowest_ok
    for i, r in ok:
        body = r.json()
        vectors = [d["embedding"] for d in body["data"]] if i % 2 else body
        assert_close(vectors, reference_model.encode(texts[i]))
    assert metric(srv.url, "embedhub_rejected_requests_total", model=MODEL_ID) == len(refused)
    hf_route = FE.replace(MODEL_ID, "{model_id:path}")
    assert metric(srv.url, "embedhub_requests_total", status="429") == len(refused)
    assert metric(srv.url, "embedhub_requests_total", route=hf_route, status="429") == len(
        [i for i, _, _ in refused if i % 2 == 0]
    )

    # Afterwards: healthy, and a normal request is served.
    assert requests.get(f"{srv.url}/health").status_code == 200
    r = requests.post(f"{srv.url}/embed", headers=auth(token), json={"inputs": ["after"]})
    assert r.status_code == 200
    assert_close(r.json(), reference_model.encode(["after"]))
    assert np.asarray(r.json()).shape == (1, 384)


def test_a_client_that_goes_away_has_its_waiting_inputs_dropped(make_server, reference_model):
    # One worker on one thread: 300 long inputs take many forward passes (~15 s).
    srv = make_server("--workers", "1", "--threads", "1", "--max-batch-tokens", "2048")
    token = srv.token("impatient", write=False)
    texts = [f"Text {i}: " + f"sentence {i} has quite a few words in it. " * 40 for i in range(300)]
    passed_before = metric(srv.url, "embedhub_batch_size_sum", model=MODEL_ID)

    host = urllib.parse.urlsplit(srv.url)
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
    body = json.dumps({"inputs": texts})
    conn.request("POST", FE, body, {"Content-Type": "application/json", **auth(token)})
    time.sleep(1.0)  # the first passes are running
    conn.close()  # the client gives up without reading the answer

    hf_route = FE.replace(MODEL_ID, "{model_id:path}")
    deadline = time.monotonic() + 60
    while metric(srv.url, "embedhub_requests_total", route=hf_route, status="499") < 1:
        assert time.monotonic() < deadline, "the disconnect was never noticed"
        time.sleep(0.2)
    withdrawn = metric(srv.url, "embedhub_withdrawn_inputs_total", model=MODEL_ID)
    assert withdrawn > 0
    # The pass running at the disconnect finishes; nothing else of that request is computed.
    while (
        metric(srv.url, "embedhub_batch_size_sum", model=MODEL_ID) - passed_before < 300 - withdrawn
    ):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    time.sleep(1.0)
    passed = metric(srv.url, "embedhub_batch_size_sum", model=MODEL_ID) - passed_before
    assert passed + withdrawn == 300, (passed, withdrawn)
    assert metric(srv.url, "embedhub_queue_size", model=MODEL_ID) == 0

    r = requests.post(f"{srv.url}{FE}", headers=auth(token), json={"inputs": ["still here"]})
    assert r.status_code == 200
    assert_close(r.json(), reference_model.encode(["still here"]))
