"""`embedhub embed` as a user runs it: a real subprocess, the real model, real files."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from bulk_helpers import (
    EMBEDHUB,
    assert_vectors_match,
    ids_in,
    load_output,
    run_embed,
    sample_texts,
    summary_of,
)


def _csv(path: Path, texts: list[str], start: int = 0, mode: str = "w") -> None:
    with open(path, mode, newline="") as fh:
        w = csv.writer(fh)
        if mode == "w":
            w.writerow(["key", "body", "lang"])
        w.writerows([f"k{start + i}", t, "en"] for i, t in enumerate(texts))


def _embed(tmp_path: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run_embed(tmp_path / "home", *args, check=check)


def test_csv_to_dataset_with_json_summary(tmp_path, reference_model):
    texts = sample_texts(50)
    _csv(tmp_path / "reviews.csv", texts)
    proc = _embed(
        tmp_path,
        str(tmp_path / "reviews.csv"),
        "--column",
        "body",
        "--id-column",
        "key",
        "--output",
        str(tmp_path / "out"),
        "--json",
    )
    s = summary_of(proc)
    assert (s["embedded"], s["skipped"], s["total_rows"], s["dimension"]) == (50, 0, 50, 384)
    assert s["rows_per_second"] > 0
    ds = load_output(tmp_path / "out")
    assert ds.column_names == ["key", "body", "lang", "embedding"]
    assert_vectors_match(ds, reference_model, text_of=lambda r: r["body"])
    card = (tmp_path / "out" / "README.md").read_text()
    for fact in (
        "sentence-transformers/all-MiniLM-L6-v2",
        "| dimension | 384 |",
        "L2-normalised",
        "| rows | 50 |",
        "embedhub embed",
        "--column body",
    ):
        assert fact in card


def test_plain_progress_lines_and_summary_on_stderr(tmp_path):
    _csv(tmp_path / "in.csv", sample_texts(20))
    proc = _embed(
        tmp_path,
        str(tmp_path / "in.csv"),
        "--column",
        "body",
        "--id-column",
        "key",
        "--output",
        str(tmp_path / "out"),
    )
    assert proc.stdout == ""
    assert "embedded 20 rows" in proc.stderr and "rows/s" in proc.stderr


def test_kill_9_then_resume_gives_every_row_exactly_once(tmp_path, reference_model):
    n = 600
    texts = [t + " " + " ".join(sample_texts(6, seed=i)) for i, t in enumerate(sample_texts(n))]
    _csv(tmp_path / "in.csv", texts)
    out = tmp_path / "out"
    args = [
        str(tmp_path / "in.csv"),
        "--column",
        "body",
        "--id-column",
        "key",
        "--output",
        str(out),
        "--shard-rows",
        "20",
        "--batch-rows",
        "20",
        "--json",
    ]
    for wanted_parts in (2, 8):  # kill early, then again after the resumed run made progress
        proc = subprocess.Popen(
            [*EMBEDHUB, "embed", *args, "--data-dir", str(tmp_path / "h")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        parts = out / ".embedhub" / "parts"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if parts.is_dir() and len(list(parts.glob("*.parquet"))) >= wanted_parts:
                break
            time.sleep(0.005)
        assert proc.poll() is None, "the run ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert not (out / "README.md").exists()  # nothing published looks complete
    s = summary_of(_embed(tmp_path, *args))
    assert s["unchanged"] >= 8 * 20 - 20 and s["unchanged"] + s["embedded"] == n
    ids = ids_in(out, "key")
    assert sorted(ids) == sorted(f"k{i}" for i in range(n))  # every row, exactly once
    assert not list((out / ".embedhub" / "parts").glob("*.tmp"))
    assert_vectors_match(load_output(out), reference_model, text_of=lambda r: r["body"])


def test_appended_and_changed_rows_are_the_only_ones_embedded(tmp_path, reference_model):
    _csv(tmp_path / "in.csv", sample_texts(30))
    args = [
        str(tmp_path / "in.csv"),
        "--column",
        "body",
        "--id-column",
        "key",
        "--output",
        str(tmp_path / "out"),
        "--json",
        "--shard-rows",
        "10",
    ]
    assert summary_of(_embed(tmp_path, *args))["embedded"] == 30
    _csv(tmp_path / "in.csv", sample_texts(5, seed=7), start=30, mode="a")
    s = summary_of(_embed(tmp_path, *args))
    assert (s["embedded"], s["unchanged"], s["total_rows"]) == (5, 30, 35)
    # Change one row's text and drop another: one re-embedded, one removed.
    rows = list(csv.reader(open(tmp_path / "in.csv")))
    rows[3][1] = "a completely different sentence"
    del rows[5]
    with open(tmp_path / "in.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    s = summary_of(_embed(tmp_path, *args))
    assert (s["embedded"], s["removed"], s["total_rows"]) == (1, 2, 34)
    ds = load_output(tmp_path / "out")
    assert sorted(ds["key"]) == sorted(r[0] for r in rows[1:])
    assert_vectors_match(ds, reference_model, text_of=lambda r: r["body"])


def test_row_numbers_are_ids_without_an_id_column(tmp_path):
    (tmp_path / "docs.txt").write_text("first line\n\nthird line\n")
    s = summary_of(
        _embed(tmp_path, str(tmp_path / "docs.txt"), "--output", str(tmp_path / "out"), "--json")
    )
    assert (s["skipped"], s["skipped_ids"], s["total_rows"]) == (1, ["1"], 2)
    assert sorted(ids_in(tmp_path / "out")) == [0, 2]


# --- bad inputs: a clear error naming the file and the problem, nothing published -----------
def _fails(tmp_path: Path, *args: str) -> str:
    out = tmp_path / "out"
    proc = _embed(tmp_path, *args, "--output", str(out), check=False)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert not (out / "README.md").exists() and not (out / "data").exists()
    return proc.stderr


def test_missing_column(tmp_path):
    _csv(tmp_path / "in.csv", sample_texts(3))
    err = _fails(tmp_path, str(tmp_path / "in.csv"), "--column", "text")
    assert "in.csv" in err and "'text'" in err and "key, body, lang" in err


def test_missing_template_column(tmp_path):
    _csv(tmp_path / "in.csv", sample_texts(3))
    err = _fails(
        tmp_path, str(tmp_path / "in.csv"), "--template", "{title}: {body}", "--id-column", "key"
    )
    assert "in.csv" in err and "'title'" in err


def test_dangling_link(tmp_path):
    (tmp_path / "in.csv").symlink_to(tmp_path / "gone.csv")
    err = _fails(tmp_path, str(tmp_path / "in.csv"), "--column", "body")
    assert "in.csv" in err and "no such file" in err


def test_corrupt_gzip(tmp_path):
    (tmp_path / "in.csv.gz").write_bytes(b"this is not gzip at all")
    err = _fails(tmp_path, str(tmp_path / "in.csv.gz"), "--column", "body")
    assert "in.csv.gz" in err and "gzipped CSV" in err


def test_wrong_format(tmp_path):
    _csv(tmp_path / "in.parquet", sample_texts(3))  # CSV text behind a .parquet name
    err = _fails(tmp_path, str(tmp_path / "in.parquet"), "--column", "body")
    assert "in.parquet" in err and "Parquet" in err


def test_unknown_suffix(tmp_path):
    (tmp_path / "in.xlsx").write_bytes(b"PK\x03\x04")
    err = _fails(tmp_path, str(tmp_path / "in.xlsx"), "--column", "body")
    assert "in.xlsx" in err and "unknown input format" in err


def test_empty_file(tmp_path):
    (tmp_path / "in.jsonl").write_bytes(b"")
    err = _fails(tmp_path, str(tmp_path / "in.jsonl"), "--column", "body")
    assert "in.jsonl" in err and "empty" in err


def test_header_only_csv(tmp_path):
    (tmp_path / "in.csv").write_text("key,body\n")
    err = _fails(tmp_path, str(tmp_path / "in.csv"), "--column", "body")
    assert "in.csv" in err and "no rows" in err


def test_bad_row_late_in_the_file_leaves_no_dataset(tmp_path):
    """An error found mid-stream (after parts were written) still publishes nothing."""
    good = [{"body": t} for t in sample_texts(3000)]
    (tmp_path / "in.jsonl").write_text(
        "".join(f'{{"body": "{r["body"]}"}}\n' for r in good) + '{"body": "broken\n'
    )
    err = _fails(tmp_path, str(tmp_path / "in.jsonl"), "--column", "body", "--batch-rows", "256")
    assert "in.jsonl" in err and "JSON" in err


def test_duplicate_ids(tmp_path):
    pq.write_table(
        pa.table({"key": ["a", "b", "a"], "body": ["x", "y", "z"]}), tmp_path / "in.parquet"
    )
    err = _fails(tmp_path, str(tmp_path / "in.parquet"), "--column", "body", "--id-column", "key")
    assert "'a'" in err and "unique" in err


def test_output_folder_that_is_not_ours(tmp_path):
    _csv(tmp_path / "in.csv", sample_texts(3))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "precious.txt").write_text("keep me")
    proc = _embed(
        tmp_path,
        str(tmp_path / "in.csv"),
        "--column",
        "body",
        "--output",
        str(tmp_path / "out"),
        check=False,
    )
    assert proc.returncode != 0 and "not made by `embedhub embed`" in proc.stderr
    assert (tmp_path / "out" / "precious.txt").read_text() == "keep me"
