"""A split's data laid out for fast random access, built once from its Parquet files:

- `rows.arrow`: every column but the vector columns, an uncompressed Arrow IPC file that is
  memory-mapped (taking any 100 rows costs microseconds, not a Parquet row-group decode);
- `vectors-N.npy` + `norms-N.npy` per vector column: the raw float32 matrix (the exact index,
  memory-mapped) and each row's 1/norm (cosine scores without a normalised copy).

Each file is an artefact (see artefacts.py): complete and checked, or rebuilt."""

from __future__ import annotations

import os
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from embedhub.memory import drop_pages
from embedhub.search.artefacts import discard, publish, temp_path, verified

ROWS = "rows.arrow"
BATCH = 4096
SLICED_TAKE = 256  # up to this many rows are taken slice by slice (see View.take)
EPS = 1e-12  # what torch.nn.functional.normalize (and so semantic_search) divides by at least
HUGE = 1e30  # a row norm above this may overflow a float32 dot product
# A norm taken in float32 below this is right enough to compare with HUGE (a float32 sum of
# squares overflows from norms of ~1.8e19 on).
SAFE = 1e18


class ViewError(ValueError):
    """The split's files can't be laid out together (different columns across files)."""


def is_vector_type(type_: pa.DataType) -> bool:
    if not (pa.types.is_fixed_size_list(type_) or pa.types.is_list(type_)):
        return False
    return pa.types.is_floating(type_.value_type)


def vector_columns(schema: pa.Schema) -> list[str]:
    return [f.name for f in schema if is_vector_type(f.type)]


def split_schema(paths: list[Path]) -> pa.Schema:
    """The columns every file of the split shares; a file with other columns is an error."""
    schema = None
    for path in paths:
        s = pq.read_schema(path).remove_metadata()
        if schema is None:
            schema = s
        elif not s.equals(schema):
            raise ViewError(
                f"the split's files have different columns: {_names(schema)} vs {_names(s)}"
            )
    assert schema is not None
    return schema


@dataclass
class Vectors:
    column: str
    matrix: np.ndarray  # (rows, dim) float32, memory-mapped
    scale: np.ndarray  # (rows,) float32: 1/norm, 0 for a missing vector

    def __post_init__(self) -> None:
        # The matrix's file, for rows_of: where the matrix is a memory-mapped .npy file.
        # Only a whole .npy matrix as np.load maps it: native float32 rows, C order, running
        # to the end of the file (a slice of a memmap keeps its parent's offset).
        self._fd: int | None = None
        m = self.matrix
        if not (isinstance(m, np.memmap) and m.filename and m.dtype == np.dtype(np.float32)):
            return
        fd = os.open(m.filename, os.O_RDONLY)
        if m.flags.c_contiguous and m.offset + m.nbytes == os.fstat(fd).st_size:
            self._fd, self._offset = fd, m.offset
            weakref.finalize(self, os.close, fd)
        else:
            os.close(fd)

    @property
    def dim(self) -> int:
        return self.matrix.shape[1]

    def rows_of(self, ids: np.ndarray) -> np.ndarray:
        """The float32 rows `ids` (a copy), read from the matrix's file (pread) rather than
        through its mapping: a split served by its approximate index reads a few rows per
        query, and each touch of the mapping would map a page of the file into this process
        for good (a 2 MiB one where the kernel keeps the file's page cache in large folios, as
        it does here), until the 1.5 GB of a 1M-row matrix were resident again (see
        drop_resident)."""
        ids = np.asarray(ids, np.int64).reshape(-1)
        if self._fd is None or not len(ids):
            return np.array(self.matrix[ids], np.float32)
        if ids.min() < 0 or ids.max() >= self.matrix.shape[0]:
            raise IndexError(f"row index out of range (the matrix has {self.matrix.shape[0]})")
        size = self.dim * 4
        data = b"".join(os.pread(self._fd, size, self._offset + int(i) * size) for i in ids)
        return np.frombuffer(data, np.float32).reshape(len(ids), self.dim)

    def drop_resident(self) -> None:
        """Unmap the matrix's pages from this process (they stay in the page cache, and a
        later read maps them again): once a split's approximate index serves it, only its
        candidates' rows are read (rows_of), so the whole matrix need not stay resident.
        Best effort (memory.drop_pages)."""
        if self._fd is not None:
            drop_pages(self.matrix.ctypes.data, self.matrix.nbytes)

    def units(self, rows: slice | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the rows' unit vectors, contiguous float32, with odd rows zeroed; which rows are
        odd: non-finite values, or a norm that may overflow a float32 dot product). What the
        exact first pass encodes (its error bound relies on it) and the approximate index."""
        x = np.asarray(self.matrix[rows], np.float32)
        scale = np.asarray(self.scale[rows], np.float32)
        with np.errstate(all="ignore"):
            u = x * scale[:, None]
            # Norms in float32 first (einsum: no float64 copy of the rows, ~10x faster), and
            # in float64 only for rows whose float32 sum of squares may have overflowed.
            norms = np.sqrt(np.einsum("ij,ij->i", x, x))
            big = np.flatnonzero(~(norms < SAFE))
            norms[big] = np.linalg.norm(x[big].astype(np.float64), axis=1)
        bad = ~np.isfinite(u).all(axis=1) | ~(norms < HUGE) | ~np.isfinite(scale)
        u[bad] = 0
        return np.ascontiguousarray(u), bad


class View:
    """The opened artefacts of one split (at one commit)."""

    def __init__(
        self, folder: Path, schema: pa.Schema, rows: pa.Table, vectors: dict[str, Vectors]
    ) -> None:
        self.folder = folder
        self.schema = schema  # all columns, vector columns included, in file order
        self.rows = rows
        self.vectors = vectors

    @property
    def num_rows(self) -> int:
        return self.rows.num_rows

    def take(self, indices: list[int], vector_columns: Sequence[str] = ()) -> list[dict]:
        """Rows as dicts, in the order asked, columns in the split's order."""
        if 0 < len(indices) <= SLICED_TAKE:
            if not all(0 <= i < self.num_rows for i in indices):
                raise IndexError(f"row index out of range (the split has {self.num_rows} rows)")
            # One-row slices are zero-copy views of the memory-mapped file; `take` on a table
            # of many record batches does much more work (several times slower for 10 rows).
            table = pa.concat_tables([self.rows.slice(i, 1) for i in indices])
        else:
            table = self.rows.take(pa.array(indices, pa.int64()))
        out = table.to_pylist()
        for name in vector_columns:
            vec = self.vectors[name]
            values = vec.rows_of(np.asarray(indices, np.int64)).tolist()
            for row, i, value in zip(out, indices, values, strict=True):
                row[name] = value if vec.scale[i] > 0 else None
        names = set(table.column_names) | set(vector_columns)
        order = [f.name for f in self.schema if f.name in names]
        return [{name: row[name] for name in order} for row in out]


def open_view(folder: Path, paths: list[Path]) -> View:
    """Open the split's artefacts, building them first if any is missing or damaged."""
    folder.mkdir(parents=True, exist_ok=True)
    schema = split_schema(paths)
    info = verified(folder / ROWS)
    vectors = _open_vectors(folder, info) if info is not None else None
    if vectors is None:
        info = _build(folder, paths, schema)
        vectors = _open_vectors(folder, info)
        assert vectors is not None, "artefacts just built failed their check"
    rows = pa.ipc.open_file(pa.memory_map(str(folder / ROWS))).read_all()
    return View(folder, schema, rows, vectors)


def _open_vectors(folder: Path, info: dict) -> dict[str, Vectors] | None:
    out = {}
    for number, column in enumerate(info.get("vector_columns", [])):
        matrix_path, scale_path = _vector_paths(folder, number)
        if verified(matrix_path) is None or verified(scale_path) is None:
            return None
        matrix = np.load(matrix_path, mmap_mode="r")
        out[column] = Vectors(column, matrix, np.load(scale_path, mmap_mode="r"))
    return out


def _vector_paths(folder: Path, number: int) -> tuple[Path, Path]:
    return folder / f"vectors-{number}.npy", folder / f"norms-{number}.npy"


def _build(folder: Path, paths: list[Path], schema: pa.Schema) -> dict:
    """One pass over the files. A float-list column whose lengths turn out to differ is not a
    vector column after all: the pass starts again with it kept among the rows."""
    candidates = vector_columns(schema)
    while True:
        try:
            return _build_once(folder, paths, schema, candidates)
        except _Ragged as exc:
            candidates.remove(exc.column)


class _Ragged(Exception):
    def __init__(self, column: str) -> None:
        self.column = column


def _build_once(folder: Path, paths: list[Path], schema: pa.Schema, vec_cols: list[str]) -> dict:
    discard(folder / ROWS)  # the sidecar of rows.arrow goes last: it vouches for all
    total = sum(pq.ParquetFile(p).metadata.num_rows for p in paths)
    keep = [f.name for f in schema if f.name not in vec_cols]
    dims = {c: _dimension(paths, c) for c in vec_cols}
    rows_tmp = temp_path(folder / ROWS)
    outs = [_VectorOut(folder, n, c, dims[c], total) for n, c in enumerate(vec_cols)]
    try:
        out_schema = pa.schema([schema.field(n) for n in keep])
        with pa.OSFile(str(rows_tmp), "wb") as sink, pa.ipc.new_file(sink, out_schema) as writer:
            for path in paths:
                for batch in pq.ParquetFile(path).iter_batches(BATCH):
                    writer.write_batch(batch.select(keep))
                    for out in outs:
                        out.add(batch.column(out.column))
        for out in outs:
            out.publish()
        return publish(rows_tmp, folder / ROWS, {"columns": keep, "vector_columns": vec_cols})
    finally:
        rows_tmp.unlink(missing_ok=True)
        for out in outs:
            out.close()


class _VectorOut:
    """One vector column being written: the matrix straight into a memory-mapped .npy."""

    def __init__(self, folder: Path, number: int, column: str, dim: int, total: int) -> None:
        self.column, self.dim, self.total = column, dim, total
        self.final, self.scale_final = _vector_paths(folder, number)
        self.tmp, self.scale_tmp = temp_path(self.final), temp_path(self.scale_final)
        self.matrix = np.lib.format.open_memmap(self.tmp, "w+", np.float32, (total, dim))
        self.scale = np.empty(total, np.float32)
        self.at = 0

    def add(self, array: pa.Array) -> None:
        block, present = _block(array, self.dim, self.column)
        n = len(block)
        self.matrix[self.at : self.at + n] = block
        # einsum: the same sums of squares, ~2.5x faster than np.linalg.norm's temporaries
        norms = np.sqrt(np.einsum("ij,ij->i", block, block))
        self.scale[self.at : self.at + n] = np.where(present, 1 / np.maximum(norms, EPS), 0)
        self.at += n

    def publish(self) -> None:
        self.matrix.flush()
        self.matrix = None  # type: ignore[assignment]  # unmapped before the rename
        with open(self.scale_tmp, "wb") as f:  # a path not ending in .npy would get one added
            np.save(f, self.scale, allow_pickle=False)
        info = {"column": self.column, "rows": self.total, "dim": self.dim}
        publish(self.tmp, self.final, info)
        publish(self.scale_tmp, self.scale_final, info)

    def close(self) -> None:
        self.matrix = None  # type: ignore[assignment]
        self.tmp.unlink(missing_ok=True)
        self.scale_tmp.unlink(missing_ok=True)


def _dimension(paths: list[Path], column: str) -> int:
    type_ = pq.read_schema(paths[0]).field(column).type
    if pa.types.is_fixed_size_list(type_):
        return type_.list_size
    for path in paths:
        for batch in pq.ParquetFile(path).iter_batches(BATCH, columns=[column]):
            lengths = batch.column(0).value_lengths().drop_null()
            if len(lengths):
                return int(lengths[0].as_py())
    return 1  # no vector at all: a column of nulls, kept as a (useless) 1-d column


def _block(array: pa.Array, dim: int, column: str) -> tuple[np.ndarray, np.ndarray]:
    """(n x dim float32 with zeros for missing vectors, mask of rows that have one)."""
    if not pa.types.is_fixed_size_list(array.type):
        lengths = array.value_lengths().fill_null(dim).to_numpy(zero_copy_only=False)
        if (lengths != dim).any():
            raise _Ragged(column)
    if array.null_count == 0:  # the usual case: the values as they are (no copy for float32)
        values = array.flatten().to_numpy(zero_copy_only=False)
        return values.astype(np.float32, copy=False).reshape(-1, dim), np.ones(len(array), bool)
    present = ~np.asarray(array.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    block = np.zeros((len(array), dim), np.float32)
    if present.any():
        values = array.filter(pa.array(present)).flatten().to_numpy(zero_copy_only=False)
        block[present] = values.astype(np.float32, copy=False).reshape(-1, dim)
    return block, present


def _names(schema: pa.Schema) -> str:
    return ", ".join(f"{f.name}: {f.type}" for f in schema)
