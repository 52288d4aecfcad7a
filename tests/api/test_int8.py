"""--precision int8: the quantized graph's quality report, recomputed here from served vectors,
and the gate that refuses a graph below it. The int8 graph is made once per test session
(tests/conftest.py shares one graph cache between every server and `embedhub embed`)."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
import requests
from servers import EMBEDHUB

from embedhub.backends.calibration import held_out

ROUTE = "/pipeline/feature-extraction/sentence-transformers/all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def int8_server(tmp_path_factory):
    from servers import start_server, stop_server

    srv = start_server(tmp_path_factory.mktemp("embedhub-int8"), "--precision", "int8", wait=1800)
    yield srv
    stop_server(srv)


def vectors(server, texts: list[str]) -> np.ndarray:
    r = requests.post(server.url + ROUTE, json={"inputs": texts}, timeout=600)
    assert r.status_code == 200, r.text
    v = np.asarray(r.json(), dtype=np.float64)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def neighbours(v: np.ndarray, k: int = 10) -> list[set[int]]:
    sims = v @ v.T
    np.fill_diagonal(sims, -np.inf)
    return [set(row[:k]) for row in np.argsort(-sims, axis=1)]


@pytest.mark.timeout(1800)  # the first int8 start of a session quantizes the model
def test_the_quality_report_is_what_the_served_vectors_show(int8_server, server):
    info = requests.get(f"{int8_server.url}/info", timeout=10).json()
    assert (info["runtime"], info["precision"], info["model_dtype"]) == ("openvino", "int8", "int8")
    report = info["quality"]
    listed = requests.get(f"{int8_server.url}/v1/models", timeout=10).json()["data"][0]
    assert listed["quality"] == report and listed["precision"] == "int8"
    assert report["calibration"] == "shipped" and report["queries"] >= 1000
    # The gate held: a served int8 graph passes the default gate.
    assert report["mean_cosine"] >= 0.995 and report["top10_agreement"] >= 0.95
    assert "int8 quality of sentence-transformers/all-MiniLM-L6-v2" in int8_server.log.read_text()

    texts = held_out()
    assert len(texts) == report["texts"]
    exact, int8 = vectors(server, texts), vectors(int8_server, texts)
    cosine = (exact * int8).sum(1)
    assert cosine.mean() == pytest.approx(report["mean_cosine"], abs=2e-4)
    assert cosine.min() == pytest.approx(report["min_cosine"], abs=2e-3)
    agree = np.mean(
        [len(a & b) / 10 for a, b in zip(neighbours(exact), neighbours(int8), strict=True)]
    )
    assert agree == pytest.approx(report["top10_agreement"], abs=0.01)
    assert cosine.mean() < 0.99999  # really quantized, not the fp32 graph under another name


@pytest.mark.timeout(1800)  # quantizes the model on the bad calibration
def test_a_bad_calibration_is_refused_by_the_gate(tmp_path):
    bad = tmp_path / "same.txt"
    bad.write_text("the same text\n" * 5)
    proc = _serve(tmp_path, "--precision", "int8", "--calibration", str(bad))
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("embedhub serve: int8 graph of sentence-transformers/all-MiniLM-L6-v2")
    assert "below the quality gate: mean cosine to fp32" in last
    assert "--min-quality" in last


def test_a_stricter_gate_refuses_the_cached_graph(int8_server, tmp_path):
    proc = _serve(tmp_path, "--precision", "int8", "--min-quality", "1,1")
    assert proc.returncode == 2, proc.stderr
    assert "below the quality gate" in proc.stderr and "converting" not in proc.stderr


def _serve(tmp_path, *args: str) -> subprocess.CompletedProcess:
    """`embedhub serve` that is expected to stop (no port is ever bound)."""
    cmd = [*EMBEDHUB, "serve", "--data-dir", str(tmp_path), "--port", "0", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=1500)
