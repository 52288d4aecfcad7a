"""Helpers for the bulk tests: sample texts, loading the output, and checks against
sentence-transformers' own `encode`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

WORDS = (
    "river mountain violin engine harvest lantern orbit velvet thunder meadow copper "
    "glacier whisper compass falcon ember prism harbor saddle quartz"
).split()


def sample_texts(n: int, *, words: int = 12, seed: int = 0) -> list[str]:
    """Distinct, varied sentences (lengths 3..words words), deterministic per seed."""
    rng = np.random.default_rng(seed)
    return [
        f"{i} " + " ".join(rng.choice(WORDS, size=int(rng.integers(3, words + 1))))
        for i in range(n)
    ]


def load_output(folder: Path):
    """The output as `datasets` loads a folder: the first proof that it is a real dataset."""
    from datasets import load_dataset

    return load_dataset(str(folder), split="train")


def assert_vectors_match(ds, reference_model, *, text_of=lambda row: row["text"]) -> None:
    rows = list(ds)
    texts = [text_of(r) for r in rows]
    expected = reference_model.encode(texts, convert_to_numpy=True)
    got = np.asarray([r["embedding"] for r in rows], dtype=np.float32)
    assert got.shape == expected.shape
    diff = float(np.abs(got - expected).max())
    assert diff < 1e-5, f"max abs diff {diff}"


def summary_of(proc) -> dict:
    """The one JSON object `--json` prints on stdout."""
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stdout
    return json.loads(lines[0])


def ids_in(folder: Path, column: str = "id") -> list:
    return pq.read_table(folder / "data", columns=[column]).column(column).to_pylist()


EMBEDHUB = [sys.executable, "-m", "embedhub"]


def run_embed(
    home: Path, *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """`python -m embedhub embed ARGS` as a real subprocess, with its own data dir."""
    proc = subprocess.run(
        [*EMBEDHUB, "embed", *args, "--data-dir", str(home)],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"embedhub embed {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
        )
    return proc
