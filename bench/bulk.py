"""Bulk embedding benchmark: `embedhub embed` (a real subprocess, in-process engine and Ray)
against sentence-transformers' own `encode` on the same texts, in the same run.

Texts: real English prose that ships with Python (bench/corpus.py: the reference manual's
pydoc topics, then docstring paragraphs of the installed stdlib and site-packages).
Each side runs in its own subprocess so they never share cores, and peak RSS is per side.

    .venv/bin/python bench/bulk.py [N=20000] [--no-ray]
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from corpus import real_texts  # noqa: E402

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}

REFERENCE = """
import json, sys, time
from sentence_transformers import SentenceTransformer
from embedhub.models import bundled_model_path
texts = [json.loads(line)["text"] for line in open(sys.argv[1])]
model = SentenceTransformer(str(bundled_model_path()), device="cpu")
model.encode(texts[:64])  # warm-up, as the CLI's own start-up is not counted for it either
t = time.perf_counter()
model.encode(texts, batch_size=32)
print(json.dumps({"seconds": time.perf_counter() - t}))
"""


def _run(cmd: list[str]) -> tuple[dict, float, float]:
    """(last stdout line as JSON, wall seconds, peak RSS in GiB of this child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB, max over children
    rss = peak / 2**20 if peak > before else float("nan")  # only if this child set the max
    return json.loads(proc.stdout.strip().splitlines()[-1]), wall, rss


def main() -> None:
    n = int(next((a for a in sys.argv[1:] if a.isdigit()), 20000))
    texts = real_texts(n)
    chars = sorted(len(t) for t in texts)
    print(f"{n} texts from bench/corpus.py; chars median {chars[n // 2]}, max {chars[-1]}")
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.jsonl"
        corpus.write_text(
            "".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts))
        )
        ref, _, ref_rss = _run([sys.executable, "-c", REFERENCE, str(corpus)])
        ref_rate = n / ref["seconds"]
        print(f"encode():          {ref_rate:8.1f} texts/s  ({ref['seconds']:.1f}s, batch 32)")
        embed = [
            sys.executable,
            "-m",
            "embedhub",
            "embed",
            str(corpus),
            "--id-column",
            "id",
            "--json",
            "--quiet",
        ]
        s, wall, rss = _run([*embed, "--output", f"{tmp}/out"])
        _report("embed in-process", n, s, wall, rss, ref_rate)
        if "--no-ray" not in sys.argv:
            s, wall, rss = _run([*embed, "--output", f"{tmp}/ray", "--ray"])
            _report("embed --ray", n, s, wall, rss, ref_rate)
        print(f"peak RSS: encode() {ref_rss:.2f} GiB")


def _report(name: str, n: int, s: dict, wall: float, rss: float, ref_rate: float) -> None:
    stream = n / s["stream_seconds"]
    whole = n / wall
    print(
        f"{name + ':':18} {stream:8.1f} rows/s streaming ({stream / ref_rate:.2f}x encode), "
        f"{whole:.1f} rows/s whole command incl. start-up ({whole / ref_rate:.2f}x, {wall:.1f}s), "
        f"peak RSS {rss:.2f} GiB"
    )


if __name__ == "__main__":
    main()
