"""Reading what the map draws from a dataset's Parquet files: the embedding matrix, a short
text per row for hovering, and a few columns to colour by."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from embedhub.hub import reading
from embedhub.web.repodata import Repo

LABEL_CHARS = 160
MAX_COLOR_COLUMNS = 6
MAX_CATEGORIES = 24
PREFERRED = ("embedding", "embeddings", "vector", "emb")


class NoEmbedding(ValueError):
    """The split has no column of float vectors."""


@dataclass
class Columns:
    embedding: str
    label: str | None
    colors: list[str] = field(default_factory=list)


def _is_vector(t: pa.DataType) -> bool:
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return pa.types.is_floating(t.value_type)
    return False


def pick_columns(schema: pa.Schema) -> Columns:
    vectors = [f.name for f in schema if _is_vector(f.type)]
    if not vectors:
        raise NoEmbedding(
            "This split has no embedding column (a column of float vectors), so there is no "
            "map to draw. Datasets made with `embedhub embed` have one."
        )
    preferred = [name for name in PREFERRED if name in vectors]
    embedding = preferred[0] if preferred else vectors[0]
    strings = [
        f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
    ]
    label = "text" if "text" in strings else (strings[0] if strings else None)
    plain = [
        f.name
        for f in schema
        if f.name not in (embedding, label) and not pa.types.is_nested(f.type)
    ]
    return Columns(embedding, label, plain[:MAX_COLOR_COLUMNS])


def schema_of(repo: Repo, path: str) -> pa.Schema:
    entry = repo.entry(path)
    if entry is None:
        raise FileNotFoundError(path)
    with reading.open_file(repo.hub, repo.rid, repo.git, entry) as f:
        return pq.ParquetFile(f).schema_arrow


def read_table(repo: Repo, paths: list[str], columns: list[str]) -> pa.Table:
    tables = []
    for path in paths:
        entry = repo.entry(path)
        if entry is None:
            raise FileNotFoundError(path)
        with reading.open_file(repo.hub, repo.rid, repo.git, entry) as f:
            tables.append(pq.read_table(f, columns=columns))
    return pa.concat_tables(tables, promote_options="default") if tables else pa.table({})


def vectors(table: pa.Table, column: str) -> np.ndarray:
    col = table.column(column).combine_chunks()
    if col.null_count:
        raise NoEmbedding(f"Column {column!r} has empty rows; every row needs a vector")
    lengths = pc.list_value_length(col).to_numpy(zero_copy_only=False)
    if len(lengths) and (lengths.min() != lengths.max() or lengths[0] == 0):
        raise NoEmbedding(f"Column {column!r} holds vectors of different lengths")
    flat = pc.list_flatten(col).to_numpy(zero_copy_only=False).astype(np.float32)
    return flat.reshape(len(col), -1 if len(col) else 0)


def labels(table: pa.Table, column: str | None) -> list[str]:
    if column is None:
        return [f"row {i}" for i in range(table.num_rows)]
    return [(v or "")[:LABEL_CHARS] for v in table.column(column).to_pylist()]


def color_column(values: list[Any]) -> dict[str, Any] | None:
    """Categories (few distinct values) as codes, or numbers scaled into [0, 1]; None when the
    column does neither (e.g. an id: all distinct, not numbers)."""
    distinct = sorted({v for v in values if v is not None}, key=str)
    if 1 < len(distinct) <= MAX_CATEGORIES:
        index = {v: i for i, v in enumerate(distinct)}
        codes = [index.get(v, 0) for v in values]
        return {"kind": "category", "categories": [str(v) for v in distinct], "values": codes}
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if len(numbers) == len(values) and len(distinct) > 1:
        low, high = float(min(numbers)), float(max(numbers))
        scaled = [round((float(v) - low) / (high - low), 4) for v in numbers]
        return {"kind": "number", "range": [low, high], "values": scaled}
    return None
