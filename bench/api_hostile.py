"""The embedding APIs and the HTTP server under the hostile inputs of issue 8 (D2, D3, D10)
while 16 clients keep embedding: for each input, the answer, the server's RSS growth and the
worst /health latency, next to their targets (RSS growth < 300 MB for any single request the
default limits allow; /health never stalls for more than 1 s; no 5xx, to the hostile client
or to the 16 others). Not a test: figures.

    .venv/bin/python bench/api_hostile.py [--clients 16] [--only ids,slowloris]

It starts its own `embedhub serve` (default settings) on a temporary data directory."""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from hub_hostile import MB, Watch, start  # bench/hub_hostile.py: the same watch and start

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
WORDS = "the of and to in is was for on that with as by at from his her an were are".split()


def prose(n_chars: int, seed: int = 0) -> str:
    words, size, i = [], 0, seed
    while size < n_chars:
        word = f"{WORDS[i % len(WORDS)]}{i % 997}"
        words.append(word)
        size += len(word) + 1
        i += 7
    return " ".join(words)


class Embedders:
    """`n` clients posting small embedding requests in a loop; counts their statuses."""

    def __init__(self, url: str, n: int) -> None:
        self.url, self.n = url, n
        self.statuses: Counter[int] = Counter()
        self.stop = threading.Event()

    def __enter__(self) -> Embedders:
        self.threads = [threading.Thread(target=self._run, args=(i,)) for i in range(self.n)]
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()

    def _run(self, i: int) -> None:
        session = requests.Session()
        k = 0
        while not self.stop.is_set():
            texts = [prose(200, seed=i * 100_000 + k * 4 + j) for j in range(4)]
            body = {"input": texts, "model": MODEL}
            r = session.post(f"{self.url}/v1/embeddings", json=body, timeout=120)
            self.statuses[r.status_code] += 1
            k += 1


def raw(url: str, data: bytes, hold: float = 0.0) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=120) as sock:
        sock.sendall(data)
        time.sleep(hold)
        got = b""
        while chunk := sock.recv(65536):
            got += chunk
    return got


def scenarios(url: str) -> list[tuple[str, Callable[[], str]]]:
    def post(path: str, body: object) -> str:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        r = requests.post(
            f"{url}{path}", data=data, headers={"Content-Type": "application/json"}, timeout=600
        )
        return str(r.status_code)

    def ids_990k() -> str:
        ids = b",".join([b"1"] * 990_000)
        return post("/v1/embeddings", b'{"model": "%s", "input": [%s]}' % (MODEL.encode(), ids))

    def ids_most() -> str:  # the largest token-id request the default limits let through
        return post(
            "/v1/embeddings", {"model": MODEL, "input": [[2000 + i] * 250 for i in range(1150)]}
        )

    def surrogates() -> str:
        paths = ["/embed", "/similarity", "/tokenize", "/v1/embeddings", f"/models/{MODEL}"]
        got = Counter(post(p, b'{"inputs": "\\ud800", "input": "\\ud800"}') for p in paths * 20)
        return " ".join(f"{k}x{v}" for k, v in sorted(got.items()))

    def headers_64mib() -> str:
        head = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (64 * MB) + b"\r\n\r\n"

        def one(_: int) -> str:
            try:
                return raw(url, head)[:12].decode()
            except (ConnectionResetError, BrokenPipeError):
                return "closed"

        with ThreadPoolExecutor(16) as pool:
            return " ".join(sorted(set(pool.map(one, range(16)))))

    def slowloris() -> str:
        def one(_: int) -> str:
            return raw(url, b"GET /health HTTP/1.1\r\nHost: x\r\n")[:12].decode() or "closed"

        with ThreadPoolExecutor(100) as pool:
            return " ".join(sorted(set(pool.map(one, range(100)))))

    return [
        ("ids: 990k token ids", ids_990k),
        ("ids: 1150 x 250 token ids (allowed)", ids_most),
        ("text: one 1.9 MB text to /embed", lambda: post("/embed", {"inputs": prose(1_900_000)})),
        (
            "text: 2048 x 900 chars",
            lambda: post("/v1/embeddings", {"input": [prose(900, s) for s in range(2048)]}),
        ),
        ("tokenize: 1.9 MB of 'a '", lambda: post("/tokenize", {"inputs": "a " * 950_000})),
        ("tokenize: 1.9 MB of prose", lambda: post("/tokenize", {"inputs": prose(1_900_000)})),
        ("json: lone surrogates x100", surrogates),
        ("headers: 16 x 64 MiB", headers_64mib),
        ("slowloris: 100 connections", slowloris),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--only", default="", help="scenarios whose name starts so, e.g. ids,text")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="embedhub-api-hostile-"))
    proc, url = start(data_dir)
    try:
        print(f"{'scenario':38} {'answer':22} {'RSS growth':>12} {'worst /health':>14}")
        with Embedders(url, args.clients) as embedders:
            for name, run in scenarios(url):
                if args.only and not name.startswith(tuple(args.only.split(","))):
                    continue
                with Watch(url, proc.pid) as w:
                    answer = run()
                growth = (w.peak - w.base) / MB
                print(f"{name:38} {answer:22} {growth:9.0f} MB {w.worst * 1000:11.0f} ms")
        print(f"{args.clients} embedding clients meanwhile: statuses {dict(embedders.statuses)}")
        print("targets: RSS growth < 300 MB, worst /health < 1000 ms, no 5xx anywhere")
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
