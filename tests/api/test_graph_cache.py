"""The converted-graph cache: a conversion killed half-way (kill -9) leaves nothing that a later
start loads, and servers starting together on one cache convert the model once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import requests
from servers import free_port, start_server, stop_server

from embedhub.backends.graphcache import cached_graph

ROUTE = "/pipeline/feature-extraction/sentence-transformers/all-MiniLM-L6-v2"


def test_a_failed_build_leaves_nothing_behind(tmp_path):
    def broken(out: Path) -> None:
        (out / "model.xml").write_text("<half")
        raise RuntimeError("converter crashed")

    with pytest.raises(RuntimeError, match="converter crashed"):
        cached_graph(tmp_path, "k", broken, "a test model")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.lock"]
    folder = cached_graph(tmp_path, "k", lambda out: (out / "model.xml").write_text("ok"), "x")
    assert (folder / "model.xml").read_text() == "ok"


def test_kill_during_conversion_then_two_servers_convert_once(tmp_path, reference_model):
    cache = tmp_path / "graphs"
    env = {**os.environ, "EMBEDHUB_ONNX_CACHE_DIR": str(cache)}
    cmd = [sys.executable, "-m", "embedhub", "serve", "--data-dir", str(tmp_path / "a")]
    proc = subprocess.Popen(
        [*cmd, "--port", str(free_port())],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        # The model's parts (tokenizer, head) are read first, then the graph is converted:
        # wait for a finished folder (the parts) and a half-written one (the graph).
        while not (_finished(cache) and list(cache.glob("*.tmp*"))):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.5)  # well inside it (it takes seconds)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    # The half-written folder is left, and no graph a start would load.
    assert list(cache.glob("*.tmp*"))
    assert not any((folder / "model.xml").exists() for folder in _finished(cache))

    os.environ["EMBEDHUB_ONNX_CACHE_DIR"], saved = str(cache), os.environ["EMBEDHUB_ONNX_CACHE_DIR"]
    try:
        servers = _start_together(tmp_path, 2)
    finally:
        os.environ["EMBEDHUB_ONNX_CACHE_DIR"] = saved
    try:
        logs = [s.log.read_text() for s in servers]
        said = [line for log in logs for line in log.splitlines() if "once, cached" in line]
        assert sum("converting sentence-transformers/all-MiniLM-L6-v2" in s for s in said) == 1, (
            said
        )
        assert not list(cache.glob("*.tmp*")), "the killed build's leftovers are swept"
        for s in servers:
            got = requests.post(s.url + ROUTE, json={"inputs": ["a kill -9 test"]}, timeout=60)
            want = reference_model.encode(["a kill -9 test"])
            assert np.abs(np.asarray(got.json()) - want).max() < 1e-5
    finally:
        for s in servers:
            stop_server(s)


def _finished(cache: Path) -> list[Path]:
    if not cache.is_dir():
        return []
    return [p for p in cache.iterdir() if p.is_dir() and ".tmp" not in p.name]


def _start_together(tmp_path: Path, n: int):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda i: start_server(tmp_path / f"s{i}"), range(n)))
