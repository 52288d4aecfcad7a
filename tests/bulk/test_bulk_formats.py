"""Every input format, read by the library with the real model, loaded back by `datasets`,
vectors equal to sentence-transformers' `encode`."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from bulk_helpers import assert_vectors_match, load_output, sample_texts

from embedhub.bulk import JobConfig, run

N = 40


def _records() -> list[dict]:
    texts = sample_texts(N)
    return [{"doc": f"d{i}", "title": f"title {i}", "text": t} for i, t in enumerate(texts)]


def _write(path: Path, fmt: str, records: list[dict]) -> None:
    opener = gzip.open if path.name.endswith(".gz") else open
    if fmt in ("csv", "tsv"):
        with opener(path, "wt", newline="") as fh:
            writer = csv.DictWriter(fh, list(records[0]), delimiter="," if fmt == "csv" else "\t")
            writer.writeheader()
            writer.writerows(records)
    elif fmt == "json":
        with opener(path, "wt") as fh:
            json.dump(records, fh, indent=1)
    elif fmt == "jsonl":
        with opener(path, "wt") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in records)
    elif fmt == "text":
        with opener(path, "wt") as fh:
            fh.writelines(r["text"] + "\n" for r in records)
    elif fmt == "parquet":
        pq.write_table(pa.Table.from_pylist(records), path)


CASES = [
    ("data.csv", "csv"),
    ("data.tsv", "tsv"),
    ("data.json", "json"),
    ("data.jsonl", "jsonl"),
    ("data.parquet", "parquet"),
    ("data.txt", "text"),
    ("data.csv.gz", "csv"),
    ("data.tsv.gz", "tsv"),
    ("data.json.gz", "json"),
    ("data.jsonl.gz", "jsonl"),
    ("data.txt.gz", "text"),
]


@pytest.mark.parametrize(("name", "fmt"), CASES)
def test_each_format(tmp_path, embedder, reference_model, name, fmt):
    records = _records()
    _write(tmp_path / name, fmt, records)
    id_column = None if fmt == "text" else "doc"
    cfg = JobConfig(
        [str(tmp_path / name)],
        tmp_path / "out",
        id_column=id_column,
        quiet=True,
        batch_rows=16,
        shard_rows=15,
    )
    summary = run(cfg, embedder)
    assert (summary.embedded, summary.total_rows, summary.shards) == (N, N, 3)
    ds = load_output(tmp_path / "out")
    key = "id" if fmt == "text" else "doc"
    want = list(range(N)) if fmt == "text" else [r["doc"] for r in records]
    assert sorted(ds[key]) == sorted(want)
    assert ds.features["embedding"] == datasets.List(datasets.Value("float32"), length=384)
    assert_vectors_match(ds, reference_model)


def test_json_lines_in_a_dot_json_file(tmp_path, embedder, reference_model):
    _write(tmp_path / "lines.json", "jsonl", _records())
    summary = run(
        JobConfig([str(tmp_path / "lines.json")], tmp_path / "out", quiet=True, id_column="doc"),
        embedder,
    )
    assert summary.total_rows == N
    assert_vectors_match(load_output(tmp_path / "out"), reference_model)


def test_saved_dataset_folder_and_template(tmp_path, embedder, reference_model):
    """A `save_to_disk` folder (Arrow files), with --template joining two columns."""
    datasets.Dataset.from_list(_records()).save_to_disk(str(tmp_path / "saved"))
    cfg = JobConfig(
        [str(tmp_path / "saved")],
        tmp_path / "out",
        template="{title}: {text}",
        id_column="doc",
        quiet=True,
    )
    assert run(cfg, embedder).total_rows == N
    ds = load_output(tmp_path / "out")
    assert_vectors_match(ds, reference_model, text_of=lambda r: f"{r['title']}: {r['text']}")


def test_dataset_dict_folder_reads_every_split(tmp_path, embedder):
    records = _records()
    dd = datasets.DatasetDict(
        train=datasets.Dataset.from_list(records[:30]),
        test=datasets.Dataset.from_list(records[30:]),
    )
    dd.save_to_disk(str(tmp_path / "saved"))
    cfg = JobConfig([str(tmp_path / "saved")], tmp_path / "out", id_column="doc", quiet=True)
    assert run(cfg, embedder).total_rows == N
    only = JobConfig(
        [str(tmp_path / "saved")], tmp_path / "out2", id_column="doc", quiet=True, split="test"
    )
    assert run(only, embedder).total_rows == 10


def test_glob_of_files_and_folder_number_rows_across_files(tmp_path, embedder, reference_model):
    records = _records()
    (tmp_path / "in").mkdir()
    for k in range(4):
        _write(tmp_path / "in" / f"part{k}.parquet", "parquet", records[k * 10 : (k + 1) * 10])
    by_glob = run(
        JobConfig([str(tmp_path / "in" / "*.parquet")], tmp_path / "a", quiet=True), embedder
    )
    by_folder = run(JobConfig([str(tmp_path / "in")], tmp_path / "b", quiet=True), embedder)
    assert by_glob.total_rows == by_folder.total_rows == N
    ds = load_output(tmp_path / "a")
    assert sorted(ds["id"]) == list(range(N))  # row numbers run on across the files
    assert dict(zip(ds["id"], ds["doc"], strict=True)) == {i: f"d{i}" for i in range(N)}
    assert_vectors_match(ds, reference_model)


def test_missing_and_empty_texts_are_skipped_and_reported(tmp_path, embedder):
    records = _records()
    records[3]["text"] = ""
    records[7]["text"] = "   "
    records[9]["text"] = None
    _write(tmp_path / "data.jsonl", "jsonl", records)
    summary = run(
        JobConfig([str(tmp_path / "data.jsonl")], tmp_path / "out", id_column="doc", quiet=True),
        embedder,
    )
    assert (summary.skipped, summary.total_rows) == (3, N - 3)
    assert summary.skipped_ids == ["d3", "d7", "d9"]


def test_duplicate_texts_are_embedded_once(tmp_path, embedder, reference_model):
    texts = sample_texts(10)
    records = [{"text": texts[i % 10]} for i in range(35)]  # spread over several batches
    _write(tmp_path / "data.parquet", "parquet", records)
    summary = run(
        JobConfig([str(tmp_path / "data.parquet")], tmp_path / "out", quiet=True, batch_rows=8),
        embedder,
    )
    assert (summary.embedded, summary.duplicates, summary.total_rows) == (35, 25, 35)
    assert_vectors_match(load_output(tmp_path / "out"), reference_model)


def test_jsonl_gz_output_loads_with_the_same_vectors(tmp_path, embedder, reference_model):
    _write(tmp_path / "data.csv", "csv", _records())
    cfg = JobConfig(
        [str(tmp_path / "data.csv")],
        tmp_path / "out",
        id_column="doc",
        quiet=True,
        output_format="jsonl.gz",
        shard_rows=25,
    )
    assert run(cfg, embedder).shards == 2
    assert sorted(p.name for p in (tmp_path / "out" / "data").iterdir()) == [
        "train-00000-of-00002.jsonl.gz",
        "train-00001-of-00002.jsonl.gz",
    ]
    ds = load_output(tmp_path / "out")
    assert ds.features["embedding"] == datasets.List(datasets.Value("float32"), length=384)
    assert_vectors_match(ds, reference_model)


def test_parquet_loader_reads_the_shards_as_they_are(tmp_path, embedder):
    _write(tmp_path / "data.csv", "csv", _records())
    run(
        JobConfig(
            [str(tmp_path / "data.csv")],
            tmp_path / "out",
            id_column="doc",
            quiet=True,
            shard_rows=16,
        ),
        embedder,
    )
    files = sorted(str(p) for p in (tmp_path / "out" / "data").glob("*.parquet"))
    ds = datasets.load_dataset("parquet", data_files=files, split="train")
    assert ds.num_rows == N
    schema = pq.read_schema(files[0])
    assert schema.field("embedding").type == pa.list_(pa.float32(), 384)
    assert pq.ParquetFile(files[0]).metadata.row_group(0).column(0).compression == "ZSTD"


def test_one_run_per_output_folder(tmp_path):
    from embedhub.bulk import BulkError
    from embedhub.bulk.store import WorkDir

    held = WorkDir(tmp_path / "out")
    try:
        with pytest.raises(BulkError, match="another `embedhub embed` is writing"):
            WorkDir(tmp_path / "out")
    finally:
        held.close()
    WorkDir(tmp_path / "out").close()  # free again once the first run is done


def test_parts_not_recorded_before_a_crash_are_dropped_on_restart(tmp_path):
    """A run killed between the rename and the index commit leaves a part nobody recorded;
    the next run deletes it (its rows are embedded again), so no row can appear twice."""
    from embedhub.bulk.store import PartWriter, WorkDir

    work = WorkDir(tmp_path / "out")
    table = pa.table({"id": ["a"], "text": ["x"]})
    for part, record in ((0, True), (1, False)):
        writer = PartWriter(work, part, table.schema)
        writer.write(table)
        writer.finish()
        if record:
            work.commit_part(part, [1], ["a"], run=1)
    half = PartWriter(work, 2, table.schema)  # killed mid-write: only a .tmp exists
    half.write(table)
    work.close()
    work = WorkDir(tmp_path / "out")
    assert sorted(p.name for p in work.parts_dir.iterdir()) == ["part-000000.parquet"]
    assert work.part_numbers() == [0] and work.row_count() == 1
    work.close()
