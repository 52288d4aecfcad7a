"""`embedhub embed --runtime --precision`: the same runtimes as `serve`, and an int8 dataset's
card carries the quality report its vectors were made under."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from bulk_helpers import EMBEDHUB, load_output, sample_texts, summary_of

from embedhub.cardmeta import card_data_of, meta_from_card_data


def _embed(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    # No timeout of 300 s here: the first int8 run of a session quantizes the model.
    proc = subprocess.run(
        [*EMBEDHUB, "embed", *args, "--data-dir", str(tmp_path / "home"), "--json"],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.timeout(1800)  # the first int8 run of a session quantizes the model
def test_int8_dataset_card_records_the_quality_report(tmp_path, reference_model):
    texts = sample_texts(40)
    src = tmp_path / "texts.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    out = tmp_path / "out"
    s = summary_of(_embed(tmp_path, str(src), "--output", str(out), "--precision", "int8"))
    assert s["embedded"] == 40
    card = (out / "README.md").read_text()
    assert "| runtime | openvino |" in card and "| precision | int8 |" in card
    row = next(line for line in card.splitlines() if line.startswith("| int8 quality |"))
    assert "top-10 neighbour agreement" in row and "calibration: shipped" in row
    # The machine-readable block says the same, for search and the web view.
    meta = meta_from_card_data(card_data_of(card))
    assert (meta.runtime, meta.model_precision) == ("openvino", "int8")
    assert meta.quality["calibration"] == "shipped" and meta.quality["mean_cosine"] >= 0.995

    ds = load_output(out)
    got = np.asarray(ds["embedding"], dtype=np.float64)
    want = reference_model.encode(list(ds["text"]))
    cosine = (got * want).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
    assert cosine.min() > 0.98 and np.abs(got - want).max() > 1e-5  # int8: close, not equal

    # Back to fp32: every row is embedded again (a dataset never mixes the two) and exact.
    s = summary_of(_embed(tmp_path, str(src), "--output", str(out), "--precision", "fp32"))
    assert s["embedded"] == 40
    card = (out / "README.md").read_text()
    assert "| precision | fp32 |" in card and "int8 quality" not in card
    meta = meta_from_card_data(card_data_of(card))
    assert (meta.model_precision, meta.quality) == ("fp32", None)
    ds = load_output(out)
    assert (
        np.abs(np.asarray(ds["embedding"]) - reference_model.encode(list(ds["text"]))).max() < 1e-5
    )


def test_bad_runtime_settings_are_one_line_and_exit_2(tmp_path):
    src = tmp_path / "texts.jsonl"
    src.write_text(json.dumps({"text": "x"}) + "\n")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    for args, message in (
        (["--precision", "int8", "--runtime", "onnx"], "int8 needs --runtime"),
        (["--precision", "int8", "--calibration", str(empty)], "no texts in it"),
    ):
        proc = subprocess.run(
            [*EMBEDHUB, "embed", str(src), "--output", str(tmp_path / "o"), *args]
            + ["--data-dir", str(tmp_path / "home")],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], proc.stderr
