"""Finding input files and streaming them as Arrow record batches, never loading one whole.

Formats: CSV, TSV, JSON (an array of objects, or JSON Lines), JSON Lines, Parquet, plain text
(one document a line) and folders written by `datasets.save_to_disk`; any text format may be
gzip-compressed. pyarrow does the parsing; only JSON arrays and text lines are cut by hand,
because pyarrow has no streaming reader for them."""

from __future__ import annotations

import glob
import gzip
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from embedhub.bulk.config import TEXT_COLUMN
from embedhub.bulk.errors import BulkError

_SUFFIXES = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".txt": "text",
    ".text": "text",
    ".arrow": "arrow",
}
_BLOCK = 1 << 20  # bytes pyarrow parses at once; bounds memory per batch


@dataclass(frozen=True)
class InputFile:
    path: Path
    format: str
    gzipped: bool = False

    def __str__(self) -> str:
        return str(self.path)


# --- finding files ----------------------------------------------------------------------------
def discover(
    inputs: list[str], *, input_format: str | None = None, split: str | None = None
) -> list[InputFile]:
    """Files, folders and glob patterns -> input files in a stable order."""
    found: list[InputFile] = []
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_dir():
            found.extend(_from_folder(path, input_format, split))
        elif path.exists():
            found.append(detect(path, input_format))
        elif path.is_symlink():
            raise BulkError(f"{item}: no such file (a link to {path.readlink()}, which is gone)")
        else:
            matches = [m for m in sorted(glob.glob(item, recursive=True)) if Path(m).exists()]
            if not matches:
                raise BulkError(f"{item}: no such file, folder or matching files")
            found.extend(f for m in matches for f in discover([m], input_format=input_format))
    if not found:
        raise BulkError(f"{' '.join(inputs)}: no input files found")
    return found


def detect(path: Path, input_format: str | None = None) -> InputFile:
    name = path.name.lower()
    gzipped = name.endswith(".gz")
    stem = name[:-3] if gzipped else name
    fmt = input_format or _SUFFIXES.get(Path(stem).suffix)
    if fmt is None:
        known = ", ".join(sorted(_SUFFIXES))
        raise BulkError(
            f"{path}: unknown input format {Path(stem).suffix or '(no suffix)'!r}; "
            f"expected one of {known} (optionally .gz), or pass --input-format"
        )
    if fmt in ("parquet", "arrow") and gzipped:
        raise BulkError(f"{path}: {fmt} files are compressed inside; do not gzip them")
    return InputFile(path, fmt, gzipped)


def _from_folder(folder: Path, input_format: str | None, split: str | None) -> list[InputFile]:
    if (folder / "dataset_dict.json").exists():  # DatasetDict.save_to_disk
        splits = json.loads((folder / "dataset_dict.json").read_text())["splits"]
        if split is not None and split not in splits:
            raise BulkError(f"{folder}: no split {split!r} (splits: {', '.join(splits)})")
        chosen = [split] if split else splits
        return [f for s in chosen for f in _from_folder(folder / s, input_format, None)]
    if (folder / "state.json").exists():  # Dataset.save_to_disk
        state = json.loads((folder / "state.json").read_text())
        return [InputFile(folder / f["filename"], "arrow") for f in state["_data_files"]]
    # Hidden and underscore paths are skipped (as `datasets` does): a work dir, .git, _SUCCESS.
    # Without --input-format only known suffixes count, so a README beside the data is fine.
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and not any(part.startswith((".", "_")) for part in p.relative_to(folder).parts)
        and (input_format is not None or _known(p))
    )
    if not files:
        raise BulkError(f"{folder}: the folder holds no files of a known format")
    return [detect(p, input_format) for p in files]


def _known(path: Path) -> bool:
    name = path.name.lower().removesuffix(".gz")
    return Path(name).suffix in _SUFFIXES


# --- reading ----------------------------------------------------------------------------------
Counter = Callable[[int], None]


def read_batches(
    f: InputFile,
    batch_rows: int,
    schema: pa.Schema | None = None,
    count_bytes: Counter | None = None,
) -> Iterator[pa.RecordBatch]:
    """Record batches of at most `batch_rows` rows, typed as `schema` (when given) so every
    file of one run produces the same columns."""
    try:
        for batch in _rebatch(_raw_batches(f, schema, count_bytes, batch_rows), batch_rows):
            yield conform(batch, schema, f) if schema is not None else batch
    except BulkError:
        raise
    except (pa.ArrowException, OSError, ValueError, EOFError) as exc:
        raise BulkError(f"{f}: cannot read as {_label(f)}: {_short(exc)}") from exc


def probe(f: InputFile) -> pa.Schema:
    """The file's columns, read from its first batch; fails early on a file that is empty,
    unreadable or not in the format its name says."""
    if not f.path.exists():
        raise BulkError(f"{f}: no such file")
    try:
        if f.path.stat().st_size == 0:
            raise BulkError(f"{f}: the file is empty")
        first = next(iter(read_batches(f, 1024)), None)
    except PermissionError as exc:
        raise BulkError(f"{f}: cannot open: {exc.strerror}") from exc
    if first is None or first.num_rows == 0:
        raise BulkError(f"{f}: the file has no rows")
    return first.schema


def _raw_batches(
    f: InputFile, schema: pa.Schema | None, count_bytes: Counter | None, batch_rows: int
) -> Iterator[pa.RecordBatch]:
    if f.format == "parquet":
        batches = pq.ParquetFile(f.path).iter_batches(batch_rows)
        yield from _counted_by_rows(f, batches, count_bytes)
    elif f.format == "arrow":
        with pa.memory_map(str(f.path)) as source:
            yield from _counted_by_rows(f, pa.ipc.open_stream(source), count_bytes)
    else:
        with _open_binary(f, count_bytes) as raw:
            yield from _TEXT_READERS[f.format](raw, schema)


def _counted_by_rows(f: InputFile, batches, count_bytes: Counter | None):
    """Parquet and Arrow files are read by row; progress gets the matching share of bytes."""
    size = f.path.stat().st_size
    total = _row_count(f)
    for batch in batches:
        if count_bytes is not None and total:
            count_bytes(size * batch.num_rows // total)
        yield batch


def _row_count(f: InputFile) -> int:
    if f.format == "parquet":
        return pq.ParquetFile(f.path).metadata.num_rows
    with pa.memory_map(str(f.path)) as source:
        return sum(b.num_rows for b in pa.ipc.open_stream(source))


def row_count(f: InputFile) -> int | None:
    """Rows in a file when known without parsing it (Parquet, Arrow), else None."""
    return _row_count(f) if f.format in ("parquet", "arrow") else None


class _CountingFile(io.RawIOBase):
    """Reports bytes as they are read from disk (before gunzip), for progress and ETA."""

    def __init__(self, path: Path, count: Counter | None) -> None:
        self._file = open(path, "rb")
        self._count = count

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self._file.readinto(buffer)
        if n and self._count is not None:
            self._count(n)
        return n

    def close(self) -> None:
        self._file.close()
        super().close()


def _open_binary(f: InputFile, count_bytes: Counter | None) -> io.BufferedIOBase:
    raw = io.BufferedReader(_CountingFile(f.path, count_bytes), _BLOCK)
    return gzip.GzipFile(fileobj=raw, mode="rb") if f.gzipped else raw


def _csv(delimiter: str):
    def read(raw, schema: pa.Schema | None) -> Iterator[pa.RecordBatch]:
        types = {n.name: n.type for n in schema} if schema is not None else None
        reader = pacsv.open_csv(
            raw,
            read_options=pacsv.ReadOptions(block_size=_BLOCK),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(column_types=types),
        )
        yield from reader

    return read


def _jsonl(raw, schema: pa.Schema | None) -> Iterator[pa.RecordBatch]:
    options = pajson.ParseOptions(explicit_schema=schema) if schema is not None else None
    yield from pajson.open_json(raw, pajson.ReadOptions(block_size=_BLOCK), options)


def _json(raw, schema: pa.Schema | None) -> Iterator[pa.RecordBatch]:
    """A .json file is either one array of objects or JSON Lines; the first byte tells.
    `peek` looks without consuming, so the chosen reader sees the whole file."""
    if raw.peek(_BLOCK)[:_BLOCK].lstrip(b"\xef\xbb\xbf \t\r\n")[:1] != b"[":
        yield from _jsonl(raw, schema)
        return
    text = io.TextIOWrapper(raw, encoding="utf-8-sig")
    for rows in _chunks(_json_array(text), 4096):
        yield pa.RecordBatch.from_pylist(rows, schema=schema)


_SEPARATORS = re.compile(r"[\s,]*")


def _json_array(text: io.TextIOBase) -> Iterator[dict]:
    """Objects of a top-level JSON array, decoded one at a time from a growing buffer."""
    decoder = json.JSONDecoder()
    buf, eof = text.read(_BLOCK), False
    pos = buf.index("[") + 1  # the caller saw that the first non-blank character is "["
    while True:
        pos = _SEPARATORS.match(buf, pos).end()  # type: ignore[union-attr]
        if pos < len(buf) and buf[pos] == "]":
            return
        try:
            if pos == len(buf):
                raise json.JSONDecodeError("need more", buf, pos)
            obj, pos = decoder.raw_decode(buf, pos)
        except json.JSONDecodeError:
            if eof:
                raise
            more = text.read(_BLOCK)
            eof = not more
            buf, pos = buf[pos:] + more, 0
            continue
        if not isinstance(obj, dict):
            raise ValueError(f"expected an array of objects, found a {type(obj).__name__}")
        yield obj


def _text(raw, schema: pa.Schema | None) -> Iterator[pa.RecordBatch]:
    lines = (line.rstrip("\r\n") for line in io.TextIOWrapper(raw, encoding="utf-8"))
    for chunk in _chunks(lines, 4096):
        yield pa.record_batch({TEXT_COLUMN: pa.array(chunk, pa.string())})


_TEXT_READERS = {
    "csv": _csv(","),
    "tsv": _csv("\t"),
    "jsonl": _jsonl,
    "json": _json,
    "text": _text,
}


def _chunks(items, n: int) -> Iterator[list]:
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) == n:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _rebatch(batches, n: int) -> Iterator[pa.RecordBatch]:
    """Batches of exactly `n` rows (the last may be shorter), whatever size the reader cut."""
    pending: list[pa.RecordBatch] = []
    size = 0
    for batch in batches:
        pending.append(batch)
        size += batch.num_rows
        if size >= n:
            table = pa.Table.from_batches(pending).combine_chunks()
            whole = size - size % n
            yield from table.slice(0, whole).to_batches(max_chunksize=n)
            pending = table.slice(whole).to_batches()
            size -= whole
    if size:
        yield from pa.Table.from_batches(pending).combine_chunks().to_batches(max_chunksize=n)


# --- one schema for all files -----------------------------------------------------------------
def unify(files: list[InputFile], schemas: list[pa.Schema]) -> pa.Schema:
    """One schema every file's batches are cast to; all-null columns become strings."""
    try:
        schema = pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        names = ", ".join(str(f) for f in files)
        raise BulkError(f"{names}: the files' columns do not agree: {_short(exc)}") from exc
    fields = [pa.field(fl.name, pa.string()) if pa.types.is_null(fl.type) else fl for fl in schema]
    return pa.schema(fields)


def conform(batch: pa.RecordBatch, schema: pa.Schema, f: InputFile) -> pa.RecordBatch:
    columns = []
    for field in schema:
        i = batch.schema.get_field_index(field.name)
        column = batch.column(i) if i >= 0 else pa.nulls(batch.num_rows, field.type)
        try:
            columns.append(column.cast(field.type) if column.type != field.type else column)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise BulkError(
                f"{f}: column {field.name!r} holds {column.type}, other rows or files "
                f"hold {field.type}: {_short(exc)}"
            ) from exc
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def _label(f: InputFile) -> str:
    names = {"text": "plain text", "arrow": "a datasets Arrow file", "jsonl": "JSON Lines"}
    return ("gzipped " if f.gzipped else "") + names.get(f.format, f.format.upper())


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
