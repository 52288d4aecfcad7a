"""`--ray`: the command starts a local Ray (2 CPUs) itself; Ray Data reads the files and an
actor pool embeds. The output must equal the in-process one, and resume must work the same."""

from __future__ import annotations

import gzip
import json

import numpy as np
from bulk_helpers import assert_vectors_match, load_output, run_embed, sample_texts, summary_of


def test_ray_output_equals_in_process_and_resumes(tmp_path, reference_model):
    texts = sample_texts(90)
    (tmp_path / "in").mkdir()
    with gzip.open(tmp_path / "in" / "a.jsonl.gz", "wt") as fh:  # rows 0..59
        fh.writelines(json.dumps({"text": t, "n": i}) + "\n" for i, t in enumerate(texts[:60]))
    (tmp_path / "in" / "b.txt").write_text("\n".join(texts[60:]) + "\n")  # rows 60..89
    common = ["--batch-rows", "16", "--shard-rows", "32", "--json"]
    ray_args = ["--ray", "--ray-cpus", "2", "--actors", "1"]
    local = summary_of(
        run_embed(
            tmp_path / "h", str(tmp_path / "in"), "--output", str(tmp_path / "local"), *common
        )
    )
    s = summary_of(
        run_embed(
            tmp_path / "h",
            str(tmp_path / "in"),
            "--output",
            str(tmp_path / "ray"),
            *common,
            *ray_args,
        )
    )
    assert s["mode"] == "ray" and s["embedded"] == local["embedded"] == 90
    by_ray, by_local = load_output(tmp_path / "ray"), load_output(tmp_path / "local")
    assert list(by_ray["id"]) == list(by_local["id"]) == list(range(90))
    assert list(by_ray["text"]) == texts
    diff = np.abs(np.asarray(list(by_ray["embedding"])) - np.asarray(list(by_local["embedding"])))
    assert diff.max() < 1e-5
    assert_vectors_match(by_ray, reference_model)
    # Append to the second file: Ray embeds only the new rows.
    with open(tmp_path / "in" / "b.txt", "a") as fh:
        fh.write("one more line about a lantern\nand a glacier\n")
    s = summary_of(
        run_embed(
            tmp_path / "h",
            str(tmp_path / "in"),
            "--output",
            str(tmp_path / "ray"),
            *common,
            *ray_args,
        )
    )
    assert (s["embedded"], s["unchanged"], s["total_rows"]) == (2, 90, 92)
    assert sorted(load_output(tmp_path / "ray")["id"]) == list(range(92))
