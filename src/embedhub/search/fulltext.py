"""Full-text search over a split's text columns (`/search`), with SQLite FTS5: BM25 ranking
and the Porter stemmer, as the Hub's dataset viewer does with DuckDB's FTS extension (which
would have to be downloaded at run time; FTS5 ships inside Python's sqlite3).

The index is an artefact like the others: built into a temporary file, renamed into place,
then described by its sidecar. The user's query never becomes FTS5 syntax: it is cut into
words and each word is matched as a quoted term, so operators, column filters and quotes in
the query are just text."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pyarrow as pa

from embedhub.search.artefacts import publish, temp_path, verified

INDEX = "fulltext.sqlite"
MAX_TERMS = 32
_WORD = re.compile(r"\w+", re.UNICODE)


def text_columns(schema: pa.Schema) -> list[str]:
    """String columns, and lists of strings (a list's items are searched as one text)."""
    out = []
    for f in schema:
        t = f.type
        if pa.types.is_list(t) or pa.types.is_large_list(t):
            t = t.value_type
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            out.append(f.name)
    return out


def match_expression(query: str) -> str | None:
    """The FTS5 expression for a user's query: any of its words (as the Hub's BM25 search
    matches any term), each quoted; None when the query has no word at all."""
    words = list(dict.fromkeys(w.lower() for w in _WORD.findall(query)))[:MAX_TERMS]
    if not words:
        return None
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in words)


class FullText:
    def __init__(self, path: Path) -> None:
        self.path = path

    def search(self, query: str, offset: int, length: int) -> tuple[list[int], int]:
        """(row numbers of the matches in [offset, offset+length), ordered by row number as
        the Hub orders them; the number of matching rows)."""
        expr = match_expression(query)
        if expr is None:
            return [], 0
        con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        try:
            total = con.execute("SELECT count(*) FROM fts WHERE fts MATCH ?", (expr,)).fetchone()
            rows = con.execute(
                "SELECT rowid FROM fts WHERE fts MATCH ? ORDER BY rowid LIMIT ? OFFSET ?",
                (expr, length, offset),
            ).fetchall()
        finally:
            con.close()
        return [r[0] for r in rows], int(total[0])


def open_fulltext(folder: Path, rows: pa.Table) -> FullText | None:
    """The split's full-text index, built on first use; None when it has no text column."""
    columns = text_columns(rows.schema)
    if not columns:
        return None
    final = folder / INDEX
    if verified(final) is None:
        _build(final, rows, columns)
    return FullText(final)


def _build(final: Path, rows: pa.Table, columns: list[str]) -> None:
    tmp = temp_path(final)
    try:
        con = sqlite3.connect(tmp)
        con.execute("PRAGMA journal_mode=OFF")
        con.execute("PRAGMA synchronous=OFF")
        names = ", ".join(f"c{i}" for i in range(len(columns)))
        # Contentless: the rows themselves are in rows.arrow; only the index is kept here.
        con.execute(
            f"CREATE VIRTUAL TABLE fts USING fts5({names}, content='', "
            "tokenize='porter unicode61 remove_diacritics 2')"
        )
        marks = ", ".join("?" for _ in range(len(columns) + 1))
        at = 0
        for batch in rows.select(columns).to_batches(4096):
            values = [_texts(batch.column(i)) for i in range(len(columns))]
            con.executemany(
                f"INSERT INTO fts(rowid, {names}) VALUES ({marks})",
                zip(range(at, at + batch.num_rows), *values, strict=True),
            )
            at += batch.num_rows
        con.commit()
        con.close()
        publish(tmp, final, {"columns": columns, "rows": at})
    finally:
        tmp.unlink(missing_ok=True)


def _texts(array: pa.Array) -> list[str | None]:
    values = array.to_pylist()
    if pa.types.is_list(array.type) or pa.types.is_large_list(array.type):
        return [" ".join(v for v in row if v) if row else None for row in values]
    return values
