"""From input batches to what gets embedded: the text of each row, its id, and the hashes
that make a run resumable.

A row's *content hash* is sha256(model key, text): the same text under the same model never
needs embedding twice. Its *key* (64 bits of a hash of id + content hash) says "this row, with
this text, is already in the output"; a changed text under the same id gets a new key."""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from embedhub.bulk.errors import BulkError

ROW_COLUMN = "__row"  # row number in the whole input, added by the reader
ID_COLUMN = "id"  # the output's id column when no --id-column is given


@dataclass(frozen=True)
class TextSpec:
    column: str | None
    template: str | None
    id_column: str | None
    embedding_column: str
    model_key: str  # model id + normalisation: a different one means different vectors

    def fields(self) -> list[str]:
        if self.template is None:
            return [self.column or "text"]
        names = [name for _, name, _, _ in string.Formatter().parse(self.template) if name]
        if not names:
            raise BulkError(f"--template {self.template!r} names no column (use {{column}})")
        return list(dict.fromkeys(names))


def check_columns(spec: TextSpec, schema: pa.Schema, where: str) -> None:
    """Fail before any work when a flag names a column the input does not have."""
    have = set(schema.names)
    listing = ", ".join(schema.names)
    for name in spec.fields():
        if name not in have:
            flag = "--template" if spec.template else "--column"
            raise BulkError(f"{where}: {flag} names column {name!r}; the columns are {listing}")
    if spec.id_column is not None and spec.id_column not in have:
        raise BulkError(f"{where}: --id-column {spec.id_column!r} is not a column ({listing})")
    if spec.id_column is None and ID_COLUMN in have:
        raise BulkError(
            f"{where}: the input already has an {ID_COLUMN!r} column; pass --id-column "
            f"{ID_COLUMN} to use it as the row id"
        )
    if spec.embedding_column in have:
        raise BulkError(
            f"{where}: the input already has a column {spec.embedding_column!r}; pick another "
            "name with --embedding-column"
        )


@dataclass
class Annotated:
    """One batch ready to embed: output columns, texts (None = skip), ids, keys, hashes."""

    table: pa.Table  # the original columns (+ "id" when the row number is the id)
    texts: list[str | None]
    ids: list[str]
    hashes: list[bytes | None]
    keys: np.ndarray  # int64, one per row

    @property
    def num_rows(self) -> int:
        return self.table.num_rows


def annotate(batch: pa.RecordBatch | pa.Table, spec: TextSpec, where: str) -> Annotated:
    table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
    texts = _texts(table, spec)
    ids = _ids(table, spec, where)
    if spec.id_column is None:  # the row number becomes the visible id
        table = table.rename_columns(
            [ID_COLUMN if n == ROW_COLUMN else n for n in table.column_names]
        )
    else:
        table = table.drop_columns([ROW_COLUMN])
    prefix = spec.model_key.encode() + b"\0"
    hashes = [None if t is None else hashlib.sha256(prefix + t.encode()).digest() for t in texts]
    keys = np.fromiter((row_key(i, h) for i, h in zip(ids, hashes, strict=True)), np.int64)
    return Annotated(table, texts, ids, hashes, keys)


def row_key(row_id: str, content: bytes | None) -> int:
    digest = hashlib.blake2b(row_id.encode() + b"\0" + (content or b""), digest_size=8)
    return int.from_bytes(digest.digest(), "little", signed=True)


def _texts(table: pa.Table, spec: TextSpec) -> list[str | None]:
    """The text per row; None where it is missing or only whitespace (reported, skipped)."""
    if spec.template is None:
        values = _as_strings(table.column(spec.column or "text")).to_pylist()
        return [v if v is not None and v.strip() else None for v in values]
    names = spec.fields()
    columns = {n: _as_strings(table.column(n)).to_pylist() for n in names}
    out: list[str | None] = []
    for i in range(table.num_rows):
        row = {n: columns[n][i] for n in names}
        if all(v is None or not v.strip() for v in row.values()):
            out.append(None)
        else:
            out.append(spec.template.format_map({k: v or "" for k, v in row.items()}))
    return out


def _as_strings(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column
    try:
        return pc.cast(column, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise BulkError(f"the text column holds {column.type}, which is not text") from exc


def _ids(table: pa.Table, spec: TextSpec, where: str) -> list[str]:
    if spec.id_column is None:
        return [str(v) for v in table.column(ROW_COLUMN).to_pylist()]
    values = _as_strings(table.column(spec.id_column)).to_pylist()
    if None in values:
        row = table.column(ROW_COLUMN)[values.index(None)].as_py()
        raise BulkError(f"{where}: row {row} has no value in --id-column {spec.id_column!r}")
    return values
