"""Bulk embedding benchmark: `embedhub embed` (a real subprocess, in-process engine on every
runtime x precision, and Ray) against sentence-transformers' own `encode` on the same texts,
in the same run.

Texts: real English prose that ships with Python (bench/corpus.py: the reference manual's
pydoc topics, then docstring paragraphs of the installed stdlib and site-packages).
Each side runs in its own subprocess so they never share cores, and peak RSS is per side.

    .venv/bin/python bench/bulk.py [N=20000] [--no-ray] [--variant openvino:int8 ...]

The graphs are converted (and int8 quantized) once into a cache shared by every run here
before anything is timed, so the numbers are the embedding phase, as a second run sees it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).parent))
from corpus import real_texts

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
VARIANTS = ("torch:fp32", "onnx:fp32", "openvino:fp32", "openvino:int8")

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
    """(last stdout line as JSON, wall seconds, peak RSS in GiB of the process and everything
    it started: Ray's raylet, workers and actors count too)."""
    t = time.perf_counter()
    proc = psutil.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss(proc))
        time.sleep(1.0)  # polling costs CPU the measured process would otherwise get
    wall = time.perf_counter() - t
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1]), wall, peak / 2**30


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    try:
        for p in [proc, *proc.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
    except psutil.Error:
        pass
    return total


def _variants() -> list[str]:
    args = sys.argv[1:]
    chosen = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--variant"]
    bad = [v for v in chosen if v not in VARIANTS]
    if bad:
        raise SystemExit(f"unknown variant(s) {bad}; choose from {', '.join(VARIANTS)}")
    return chosen or list(VARIANTS)


def main() -> None:
    n = int(next((a for a in sys.argv[1:] if a.isdigit()), 20000))
    texts = real_texts(n)
    chars = sorted(len(t) for t in texts)
    print(f"{n} texts from bench/corpus.py; chars median {chars[n // 2]}, max {chars[-1]}")
    with tempfile.TemporaryDirectory() as tmp:
        ENV["EMBEDHUB_ONNX_CACHE_DIR"] = f"{tmp}/graphs"
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
        warm = Path(tmp) / "warm.jsonl"
        warm.write_text(json.dumps({"id": 0, "text": "warm-up"}) + "\n")
        for variant in _variants():
            runtime, precision = variant.split(":")
            flags = ["--runtime", runtime, "--precision", precision]
            # Convert (and quantize) into the shared cache first: not part of the timing.
            _run([*embed[:4], str(warm), *embed[5:], *flags, "--output", f"{tmp}/warm-{variant}"])
            s, wall, rss = _run([*embed, *flags, "--output", f"{tmp}/out-{variant}"])
            _report(f"embed {runtime} {precision}", n, s, wall, rss, ref_rate)
            if precision == "int8":
                card = (Path(tmp) / f"out-{variant}" / "README.md").read_text()
                print("  " + next(ln for ln in card.splitlines() if "top-10" in ln).strip())
        if "--no-ray" not in sys.argv:
            s, wall, rss = _run([*embed, "--output", f"{tmp}/ray", "--ray"])
            _report("embed --ray", n, s, wall, rss, ref_rate)
        print(f"peak RSS: encode() {ref_rss:.2f} GiB")


def _report(name: str, n: int, s: dict, wall: float, rss: float, ref_rate: float) -> None:
    stream = n / s["stream_seconds"]
    whole = n / wall
    print(
        f"{name + ':':24} {stream:8.1f} rows/s streaming ({stream / ref_rate:.2f}x encode), "
        f"{whole:.1f} rows/s whole command incl. start-up ({whole / ref_rate:.2f}x, {wall:.1f}s), "
        f"peak RSS {rss:.2f} GiB"
    )


if __name__ == "__main__":
    main()
