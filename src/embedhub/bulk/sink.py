"""Where results land: rows with vectors go into parts of `shard_rows` rows, each committed
durably before the next starts; rows already in the output are marked as still wanted;
rows without text are counted and named in the report."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from embedhub.bulk.errors import BulkError
from embedhub.bulk.plan import (
    DUPLICATE,
    EMBEDDED,
    EMPTY,
    KEY_COLUMN,
    STATE_COLUMN,
    UNCHANGED,
    DoneSet,
)
from embedhub.bulk.store import PartWriter, WorkDir

SCHEMA_KEY = "output_schema"


@dataclass
class Counts:
    rows: int = 0
    embedded: int = 0
    duplicates: int = 0
    unchanged: int = 0
    skipped: int = 0
    skipped_ids: list[str] = field(default_factory=list)  # the first few, for the report
    retries: int = 0  # remote requests retried
    stream_seconds: float = 0.0  # from the first batch read to the last part committed


class Sink:
    def __init__(
        self,
        work: WorkDir,
        done: DoneSet,
        *,
        run: int,
        id_column: str,
        embedding_column: str,
        shard_rows: int,
    ) -> None:
        self.work, self.done, self.run = work, done, run
        self.id_column, self.embedding_column = id_column, embedding_column
        self.shard_rows = shard_rows
        self.counts = Counts()
        self.schema: pa.Schema | None = _stored_schema(work)
        self._writer: PartWriter | None = None
        self._keys: list[int] = []
        self._ids: list[str] = []

    @property
    def current_part(self) -> str:
        return self._writer.path.name if self._writer else "-"

    def consume(self, result: pa.Table) -> int:
        """Take one batch of results; returns how many rows it embedded."""
        result = result.rename_columns(
            [self.embedding_column if n == "__embedding" else n for n in result.column_names]
        )
        states = result.column(STATE_COLUMN).to_numpy()
        keys = result.column(KEY_COLUMN).to_numpy()
        self._check_schema(result.drop_columns([KEY_COLUMN, STATE_COLUMN]).schema)
        self._count(result, states)
        again = self.done.mark(keys[states == UNCHANGED])
        if len(again):
            self._duplicate(result, keys, again[0])
        new = np.isin(states, (EMBEDDED, DUPLICATE))
        if new.any():
            self._write(result.filter(pa.array(new)))
        return int(new.sum())

    def close(self) -> None:
        """Commit the last part, and mark every row the input still has."""
        if self._writer is not None:
            self._commit()
        self.work.mark_seen(self.done.seen_keys(), self.run)

    def abandon(self) -> None:
        if self._writer is not None:
            self._writer.abandon()
            self._writer = None

    # --- internals ------------------------------------------------------------------------
    def _count(self, result: pa.Table, states: np.ndarray) -> None:
        c = self.counts
        c.rows += len(states)
        c.embedded += int(np.isin(states, (EMBEDDED, DUPLICATE)).sum())
        c.duplicates += int((states == DUPLICATE).sum())
        c.unchanged += int((states == UNCHANGED).sum())
        empty = states == EMPTY
        c.skipped += int(empty.sum())
        if empty.any() and len(c.skipped_ids) < 10:
            ids = result.column(self.id_column).filter(pa.array(empty)).to_pylist()
            c.skipped_ids.extend(str(i) for i in ids[: 10 - len(c.skipped_ids)])

    def _write(self, table: pa.Table) -> None:
        while table.num_rows:
            if self._writer is None:
                self._writer = PartWriter(self.work, self.work.next_part(), self.schema)
            room = self.shard_rows - self._writer.rows
            head, table = table.slice(0, room), table.slice(room)
            self._keys.extend(head.column(KEY_COLUMN).to_pylist())
            self._ids.extend(_strings(head.column(self.id_column)))
            self._writer.write(head.drop_columns([KEY_COLUMN, STATE_COLUMN]))
            if self._writer.rows >= self.shard_rows:
                self._commit()

    def _commit(self) -> None:
        writer = self._writer
        assert writer is not None
        writer.finish()  # durable under its final name before it is recorded
        self.work.commit_part(writer.part, self._keys, self._ids, self.run)
        self._writer, self._keys, self._ids = None, [], []

    def _check_schema(self, schema: pa.Schema) -> None:
        schema = schema.remove_metadata()
        if self.schema is None:
            self.schema = schema
            self.work.set_meta(SCHEMA_KEY, schema.serialize().to_pybytes().hex())
        elif not schema.equals(self.schema):
            raise BulkError(
                f"{self.work.root.parent}: an earlier run wrote columns\n  {_fmt(self.schema)}\n"
                f"this input gives\n  {_fmt(schema)}\nuse another --output or pass --overwrite"
            )

    def _duplicate(self, result: pa.Table, keys: np.ndarray, key: int) -> None:
        row = int(np.flatnonzero(keys == key)[0])
        raise BulkError(
            f"id {result.column(self.id_column)[row].as_py()!r} appears more than once in the "
            f"input; --id-column must be unique"
        )


def _stored_schema(work: WorkDir) -> pa.Schema | None:
    hexed = work.meta(SCHEMA_KEY)
    if hexed is None or not work.part_numbers():
        return None
    return pa.ipc.read_schema(pa.py_buffer(bytes.fromhex(hexed)))


def _strings(column: pa.ChunkedArray) -> list[str]:
    if not pa.types.is_string(column.type):
        column = pc.cast(column, pa.string())
    return column.to_pylist()


def _fmt(schema: pa.Schema) -> str:
    return ", ".join(f"{f.name}: {f.type}" for f in schema)


def rewrite_stale(work: WorkDir, run: int, id_column: str) -> int:
    """Drop rows the input no longer has from their parts; returns rows removed."""
    removed = 0
    for part, live in work.stale_parts(run):
        source = pq.read_table(work.part_path(part))
        # typed: a part none of whose rows live on (all re-embedded) has an empty `live`
        wanted = pa.array(sorted(live), type=pa.string())
        keep = pc.is_in(_as_string_array(source.column(id_column)), wanted)
        kept = source.filter(keep)
        if kept.num_rows:
            new = work.next_part()
            writer = PartWriter(work, new, source.schema)
            writer.write(kept)
            writer.finish()
            removed += work.replace_part(part, new, kept.num_rows, run)
        else:
            removed += work.replace_part(part, None, 0, run)
    return removed


def _as_string_array(column: pa.ChunkedArray) -> pa.ChunkedArray:
    return column if pa.types.is_string(column.type) else pc.cast(column, pa.string())
