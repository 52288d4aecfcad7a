"""Remote mode (`--url`) against a real `embedhub serve`, and `--push` to its hub."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from bulk_helpers import assert_vectors_match, load_output, run_embed, sample_texts, summary_of


def _input(tmp_path: Path, n: int = 80) -> Path:
    path = tmp_path / "corpus.jsonl"
    path.write_text(
        "".join(
            json.dumps({"id": f"r{i}", "body": t}) + "\n" for i, t in enumerate(sample_texts(n))
        )
    )
    return path


def test_remote_matches_encode(tmp_path, server, reference_model):
    path = _input(tmp_path)
    s = summary_of(
        run_embed(
            tmp_path / "h",
            str(path),
            "--column",
            "body",
            "--id-column",
            "id",
            "--output",
            str(tmp_path / "out"),
            "--url",
            server.url,
            "--token",
            server.token("alice"),
            "--json",
        )
    )
    assert (s["mode"], s["embedded"], s["dimension"]) == ("remote", 80, 384)
    ds = load_output(tmp_path / "out")
    assert sorted(ds["id"]) == sorted(f"r{i}" for i in range(80))
    assert_vectors_match(ds, reference_model, text_of=lambda r: r["body"])


def test_remote_retries_429_and_needs_the_token(tmp_path, make_server, reference_model):
    """A server that admits one request at a time answers the rest 429 + Retry-After; the
    client waits and retries until every row is embedded. Without the token: a clear 401."""
    srv = make_server("--require-token", "--max-concurrent-requests", "1")
    path = _input(tmp_path, 120)
    common = [str(path), "--column", "body", "--id-column", "id", "--url", srv.url]
    denied = run_embed(tmp_path / "h", *common, "--output", str(tmp_path / "no"), check=False)
    assert denied.returncode != 0 and "401" in denied.stderr and "Traceback" not in denied.stderr
    s = summary_of(
        run_embed(
            tmp_path / "h",
            *common,
            "--output",
            str(tmp_path / "out"),
            "--token",
            srv.token("bob"),
            "--concurrency",
            "6",
            "--batch-rows",
            "120",
            "--json",
        )
    )
    assert s["embedded"] == 120 and s["retries"] > 0
    assert_vectors_match(
        load_output(tmp_path / "out"), reference_model, text_of=lambda r: r["body"]
    )


def test_push_lands_a_dataset_load_dataset_reads_from_the_hub(tmp_path, server):
    path = _input(tmp_path, 30)
    token = server.token("alice")
    online = {"HF_HUB_OFFLINE": "0", "HF_HOME": str(tmp_path / "hf")}  # the hub is the server
    s = summary_of(
        run_embed(
            tmp_path / "h",
            str(path),
            "--column",
            "body",
            "--id-column",
            "id",
            "--output",
            str(tmp_path / "out"),
            "--push",
            "alice/my_embeddings",
            "--endpoint",
            server.url,
            "--hub-token",
            token,
            "--json",
            env=online,
        )
    )
    assert s["pushed_to"].startswith("alice/my_embeddings@")
    # The hub clients read HF_ENDPOINT at import: load in a fresh interpreter.
    code = (
        "import json; from datasets import load_dataset;"
        "ds = load_dataset('alice/my_embeddings', split='train');"
        "print(json.dumps({'ids': list(ds['id']),"
        " 'emb': [list(map(float, e)) for e in ds['embedding']],"
        " 'files': sorted(__import__('huggingface_hub').list_repo_files("
        "'alice/my_embeddings', repo_type='dataset'))}))"
    )
    env = {
        **os.environ,
        "HF_ENDPOINT": server.url,
        "HF_HOME": str(tmp_path / "hf"),
        "HF_HUB_OFFLINE": "0",
        "HF_TOKEN": token,
    }
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    local = load_output(tmp_path / "out")
    assert got["ids"] == list(local["id"])
    assert np.abs(np.asarray(got["emb"]) - np.asarray(list(local["embedding"]))).max() == 0
    assert got["files"] == [
        ".gitattributes",
        "README.md",
        "data/train-00000-of-00001.parquet",
    ] or ".embedhub" not in " ".join(got["files"])


def test_push_without_a_write_token_fails_clearly(tmp_path, server):
    path = _input(tmp_path, 5)
    proc = run_embed(
        tmp_path / "h",
        str(path),
        "--column",
        "body",
        "--id-column",
        "id",
        "--output",
        str(tmp_path / "out"),
        "--push",
        "alice/denied",
        "--endpoint",
        server.url,
        "--hub-token",
        "not-a-token",
        check=False,
        env={"HF_HUB_OFFLINE": "0", "HF_HOME": str(tmp_path / "hf")},
    )
    assert proc.returncode != 0
    assert "--push alice/denied" in proc.stderr and "Traceback" not in proc.stderr
