"""The `where` filter of `/filter` and semantic search: parsed by a real SQL parser (sqlglot,
DuckDB dialect, as the Hub's dataset viewer evaluates it with DuckDB), checked against an
allow-list of node types and the split's columns, and compiled into a pyarrow compute
expression. No SQL is ever built from it or run: the text never reaches a query engine.

Allowed: comparisons (= <> != > >= < <=) between a column and a literal (or two columns),
combined with AND, OR, NOT and parentheses, as the dataset-viewer documents; also IS [NOT]
NULL, IN (literals) and [NOT] LIKE / ILIKE on text."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

# pyarrow.dataset is not imported here: it pulls in pandas (~0.5 s of a server's start); the
# first filter pays for it instead (Table.filter imports it).
MAX_WHERE_LENGTH = 4096
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    exp.EQ: lambda a, b: a == b,
    exp.NEQ: lambda a, b: a != b,
    exp.GT: lambda a, b: a > b,
    exp.GTE: lambda a, b: a >= b,
    exp.LT: lambda a, b: a < b,
    exp.LTE: lambda a, b: a <= b,
}


class WhereError(ValueError):
    """A `where` value that can't be used; the message says why, for the client."""


@dataclass(frozen=True)
class Where:
    expression: pc.Expression
    columns: tuple[str, ...]  # the columns it reads


def compile_where(where: str, schema: pa.Schema) -> Where:
    """The filter as a pyarrow expression over `schema`'s columns."""
    if len(where) > MAX_WHERE_LENGTH:
        raise WhereError(f"Parameter 'where' is longer than {MAX_WHERE_LENGTH} characters")
    # The Hub refuses comments and statement separators outright; so do we (they could only
    # hide part of the condition from whoever reads the URL).
    if any(s in where for s in (";", "--", "/*", "*/")):
        raise WhereError("Parameter 'where' contains invalid symbols")
    try:
        tree = sqlglot.parse_one(where, read="duckdb", into=exp.Condition)
    except (ParseError, TokenError):
        raise WhereError(
            "Parameter 'where' is invalid: expected a condition such as "
            "age>30 AND (name='Simone' OR children=0)"
        ) from None
    compiler = _Compiler(schema)
    expression = compiler.condition(tree)
    return Where(expression, tuple(dict.fromkeys(compiler.used)))


def matching_rows(table: pa.Table, where: Where) -> np.ndarray:
    """Row numbers of `table` that the filter keeps, in order."""
    numbered = table.select(list(where.columns)).append_column(
        "__row", pa.array(np.arange(table.num_rows, dtype=np.int64))
    )
    try:
        kept = numbered.filter(where.expression)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise WhereError(f"Parameter 'where' can't be evaluated on this split: {exc}") from None
    return kept.column("__row").to_numpy()


class _Compiler:
    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self.used: list[str] = []

    # sqlglot's node attributes (left, right, this) are typed loosely and differently across
    # its releases: nodes are taken as Any here and checked with isinstance.
    def condition(self, node: Any) -> pc.Expression:
        if isinstance(node, exp.Paren):
            return self.condition(node.this)
        if isinstance(node, exp.And):
            return self.condition(node.left) & self.condition(node.right)
        if isinstance(node, exp.Or):
            return self.condition(node.left) | self.condition(node.right)
        if isinstance(node, exp.Not):
            return ~self.condition(node.this)
        if type(node) in _COMPARE:
            left, right = self.operand(node.left), self.operand(node.right)
            left, right = self._align(left, right, node)
            return _COMPARE[type(node)](left[0], right[0])
        if isinstance(node, exp.Is):
            return self._is_null(node)
        if isinstance(node, exp.In):
            return self._in(node)
        if isinstance(node, (exp.Like, exp.ILike)):
            return self._like(node)
        if isinstance(node, exp.Column) and self._column_type(node) == pa.bool_():
            return pc.field(self._column_name(node))  # `WHERE flag` on a boolean column
        raise WhereError(f"Parameter 'where': {_describe(node)} is not allowed here")

    # --- operands: (expression, arrow type or None for a literal, python value) ------------
    def operand(self, node: exp.Expression) -> tuple[pc.Expression, pa.DataType | None, object]:
        if isinstance(node, exp.Paren):
            return self.operand(node.this)
        if isinstance(node, exp.Column):
            name = self._column_name(node)
            return pc.field(name), self.schema.field(name).type, None
        value = _literal(node)
        return pc.scalar(value), None, value

    def _align(self, left, right, node):
        """Both sides in one type: a literal takes its column's type, as DuckDB casts it."""
        if left[1] is None and right[1] is None:
            raise WhereError(f"Parameter 'where': {node.sql()} compares no column")
        if left[1] is not None and right[1] is not None:
            for side in (left, right):
                self._comparable(side[1], node)
            if _kind(left[1]) != _kind(right[1]):
                raise WhereError(
                    f"Parameter 'where': {node.sql()} compares columns of types {left[1]} and "
                    f"{right[1]}"
                )
            return left, right
        column, literal = (left, right) if left[1] is not None else (right, left)
        cast = self._cast(literal[2], column[1], node)
        return (column, cast) if column is left else (cast, column)

    def _cast(self, value: object, type_: pa.DataType, node: exp.Expression):
        self._comparable(type_, node)
        if value is None:
            return pc.scalar(pa.scalar(None, type_)), type_, None
        numeric = pa.types.is_integer(type_) or pa.types.is_floating(type_)
        if pa.types.is_string(type_) or pa.types.is_large_string(type_):
            if not isinstance(value, str):
                raise WhereError(
                    f"Parameter 'where': {node.sql()} compares a text column with "
                    f"{value!r}; quote the value: '{value}'"
                )
        elif pa.types.is_boolean(type_) and not isinstance(value, bool):
            raise WhereError(
                f"Parameter 'where': {node.sql()} compares a boolean column with "
                f"{value!r}; use true or false"
            )
        elif numeric and isinstance(value, bool):
            raise WhereError(f"Parameter 'where': {node.sql()} compares a number with {value}")
        if numeric and isinstance(value, (int, float)):
            # Keep the literal's own value: 2.5 against an integer column is not 2.
            return pc.scalar(value), type_, value
        try:
            return pc.scalar(pa.scalar(value).cast(type_)), type_, value
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            raise WhereError(
                f"Parameter 'where': {value!r} can't be compared with a column of type {type_} "
                f"({node.sql()})"
            ) from None

    def _comparable(self, type_: pa.DataType, node: exp.Expression) -> None:
        if pa.types.is_nested(type_) or pa.types.is_binary(type_):
            raise WhereError(
                f"Parameter 'where': {node.sql()} compares a {type_} column; only numbers, text, "
                "booleans, dates and times can be compared"
            )

    def _is_null(self, node: exp.Is) -> pc.Expression:
        if not isinstance(node.expression, exp.Null) or not isinstance(node.this, exp.Column):
            raise WhereError("Parameter 'where': IS is only allowed as `column IS [NOT] NULL`")
        return pc.field(self._column_name(node.this)).is_null()

    def _in(self, node: exp.In) -> pc.Expression:
        if not isinstance(node.this, exp.Column) or node.args.get("query") or not node.expressions:
            raise WhereError("Parameter 'where': IN is only allowed as `column IN (value, ...)`")
        column = self.operand(node.this)
        values = [self._cast(_literal(v), column[1], node)[2] for v in node.expressions]
        return pc.field(self._column_name(node.this)).isin(values)

    def _like(self, node: exp.Like | exp.ILike) -> pc.Expression:
        if not isinstance(node.this, exp.Column):
            raise WhereError("Parameter 'where': LIKE is only allowed as `column LIKE 'pattern'`")
        type_ = self._column_type(node.this)
        pattern = _literal(node.expression)
        if not (pa.types.is_string(type_) or pa.types.is_large_string(type_)):
            raise WhereError(f"Parameter 'where': LIKE needs a text column ({node.sql()})")
        if not isinstance(pattern, str):
            raise WhereError(f"Parameter 'where': LIKE needs a quoted pattern ({node.sql()})")
        return pc.match_like(
            pc.field(self._column_name(node.this)),
            pattern,
            ignore_case=isinstance(node, exp.ILike),
        )

    def _column_name(self, node: exp.Column) -> str:
        if node.table or not isinstance(node.this, exp.Identifier):
            raise WhereError(f"Parameter 'where': {node.sql()} must be a plain column name")
        name = node.this.name
        names = self.schema.names
        if name in names:
            self.used.append(name)
            return name
        # Unquoted identifiers are case-insensitive in DuckDB, which the Hub uses.
        folded = [n for n in names if n.lower() == name.lower()]
        if len(folded) == 1 and not node.this.quoted:
            self.used.append(folded[0])
            return folded[0]
        raise WhereError(
            f"Parameter 'where': no column {name!r} in this split; its columns are "
            f"{', '.join(names)}"
        )

    def _column_type(self, node: exp.Column) -> pa.DataType:
        return self.schema.field(self._column_name(node)).type


def _literal(node: exp.Expression) -> object:
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        value = _literal(node.this)
        return -value  # type: ignore[operator]
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        text = node.this
        try:
            return int(text)
        except ValueError:
            try:
                return float(text)
            except ValueError:
                raise WhereError(f"Parameter 'where': {text!r} is not a number") from None
    raise WhereError(
        f"Parameter 'where': {_describe(node)} is not allowed; use a column name, "
        "a number, a quoted string, true, false or null"
    )


def _kind(type_: pa.DataType) -> str:
    if pa.types.is_integer(type_) or pa.types.is_floating(type_) or pa.types.is_decimal(type_):
        return "number"
    if pa.types.is_string(type_) or pa.types.is_large_string(type_):
        return "text"
    return str(type_)


def _describe(node: exp.Expression) -> str:
    if isinstance(node, (exp.Subquery, exp.Select, exp.Query)):
        return "a subquery"
    if isinstance(node, exp.Func):
        return f"the function {node.sql()!r}"
    return repr(node.sql()[:200])
