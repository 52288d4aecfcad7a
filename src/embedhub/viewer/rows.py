"""Rows and features in the dataset viewer's JSON shapes, and reading a page of rows straight
from a split's Parquet files (only the row groups the page touches are decoded)."""

from __future__ import annotations

import base64
import datetime
import decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from starlette.responses import Response

if TYPE_CHECKING:  # `datasets` takes a second to import: only when a page is read
    from datasets import Features

FIRST_ROWS_MAX_BYTES = 1_000_000  # /first-rows stays under this, as the Hub's does
FIRST_ROWS_MIN_ROWS = 10
CELL_MAX_CHARS = 100
PAGE_BATCH_ROWS = 1024  # rows decoded at a time when reading a page


def features_of(schema: pa.Schema, columns: list[str] | None = None) -> Features:
    """`datasets` features of the columns (all of them by default): the huggingface metadata
    a file written by `datasets` carries, else what the Arrow types say."""
    from datasets import Features

    features = Features.from_arrow_schema(schema)
    if columns is not None:
        features = Features({name: features[name] for name in columns})
    return features


def features_list(features: Features) -> list[dict[str, Any]]:
    return [
        {"feature_idx": i, "name": name, "type": feature}
        for i, (name, feature) in enumerate(features.to_dict().items())
    ]


def row_items(rows: list[dict], row_ids: list[int]) -> list[dict[str, Any]]:
    return [
        {"row_idx": int(i), "row": row, "truncated_cells": []}
        for i, row in zip(row_ids, rows, strict=True)
    ]


def json_response(content: Any, headers: dict[str, str] | None = None) -> Response:
    body = orjson.dumps(content, default=_json_default, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(body, media_type="application/json", headers=headers)


def _json_default(value: object) -> object:
    if isinstance(value, bytes):  # binary cells (images, audio) travel as base64 text
        return base64.b64encode(value).decode()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    raise TypeError(f"can't serialise {type(value).__name__}")


# --- reading pages from Parquet -----------------------------------------------------------
def num_rows(paths: list[Path]) -> int:
    return sum(pq.ParquetFile(p).metadata.num_rows for p in paths)


def read_page(paths: list[Path], offset: int, length: int) -> pa.Table | None:
    """Rows [offset, offset+length) of the split, decoding only the row groups they are in,
    and within a row group only up to the page's last row: a file written as one row group
    (pyarrow's default holds a million rows) would otherwise be decoded whole for each page
    (100 rows of a 100k x 384 file took 400 ms). None when the split has no such row."""
    pieces: list[pa.Table] = []
    start = 0  # row number of the current row group's first row
    end = offset + length
    for path in paths:
        pf = pq.ParquetFile(path)
        for g in range(pf.metadata.num_row_groups):
            n = pf.metadata.row_group(g).num_rows
            if start + n > offset and start < end:
                pieces.extend(_rows_of_group(pf, g, offset - start, end - start))
            start += n
            if start >= end:
                break
        if start >= end:
            break
    if not pieces:
        return None
    return pa.concat_tables(pieces)


def _rows_of_group(pf: pq.ParquetFile, group: int, lo: int, hi: int) -> list[pa.Table]:
    """Rows [lo, hi) of one row group (bounds may overrun it), read batch by batch and no
    further than `hi`."""
    out: list[pa.Table] = []
    at = 0  # the row group's row number of the batch's first row
    for batch in pf.iter_batches(batch_size=PAGE_BATCH_ROWS, row_groups=[group]):
        n = batch.num_rows
        if at + n > lo:
            first = max(lo - at, 0)
            out.append(pa.Table.from_batches([batch.slice(first, min(hi - at, n) - first)]))
        at += n
        if at >= hi:
            break
    return out


def first_rows_items(rows: list[dict]) -> tuple[list[dict[str, Any]], bool]:
    """The first rows within the size limit, as the Hub cuts them: fewer rows first (not
    below FIRST_ROWS_MIN_ROWS), then the biggest cells cut to short strings, named in
    `truncated_cells`. Returns (items, truncated)."""
    items = row_items(rows, list(range(len(rows))))
    truncated = False
    while len(items) > FIRST_ROWS_MIN_ROWS and _size(items) > FIRST_ROWS_MAX_BYTES:
        items.pop()
        truncated = True
    if _size(items) > FIRST_ROWS_MAX_BYTES:
        truncated = True
        for item in items:
            for name, value in item["row"].items():
                text = orjson.dumps(value, default=_json_default).decode()
                if len(text) > CELL_MAX_CHARS:
                    item["row"][name] = text[:CELL_MAX_CHARS]
                    item["truncated_cells"].append(name)
    return items, truncated


def _size(items: list[dict]) -> int:
    return len(orjson.dumps(items, default=_json_default))
