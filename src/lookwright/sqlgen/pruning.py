"""Partition pruning read off ZetaSQL's resolved statement: which partitioned tables a statement
touches and whether each one's partition column is filtered by a constant or a query parameter.

BigQuery prunes only on a filter of the partition column against a constant expression, a query
parameter or a script variable ("Query partitioned tables"); `col >= (SELECT MAX(...) ...)` does
not prune. A predicate counts when one side is the partition column (bare, or under DATE(),
TIMESTAMP_TRUNC(), DATETIME_TRUNC(), CAST) and the other holds no column and no subquery.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

COMPARISONS = frozenset({"$greater_or_equal", "$greater", "$less", "$less_or_equal", "$equal", "$between", "$in"})
WRAPPERS = frozenset({"date", "timestamp_trunc", "datetime_trunc", "date_trunc", "timestamp", "$cast"})


@dataclass(frozen=True)
class TableAccess:
    """One partitioned table a statement reads or writes, and the constant bound on its partition column."""

    table: str
    column: str
    pruned: bool
    bounds: tuple[str, ...]  # e.g. ">= @window_start", ">= constant", ">= epoch (every partition)"


def _children(node: Any) -> Iterator[Any]:
    if isinstance(node, list | tuple):
        yield from node
    elif dataclasses.is_dataclass(node) and not isinstance(node, type):
        for field in dataclasses.fields(node):
            if field.name in ("signature", "type", "parse_location_range", "type_annotation_map"):
                continue
            yield getattr(node, field.name)


def _walk(node: Any) -> Iterator[Any]:
    stack = [node]
    while stack:
        current = stack.pop()
        if current is None or isinstance(current, str | int | float | bool):
            continue
        yield current
        stack.extend(_children(current))


def _kind(node: Any) -> str:
    return type(node).__name__


def _function(node: Any) -> str:
    name = str(getattr(getattr(node, "function", None), "name", ""))
    return name.removeprefix("ZetaSQL:")


def _column_id(node: Any) -> int | None:
    """The column id when the expression is a (wrapped) column reference."""
    while True:
        kind = _kind(node)
        if kind == "ResolvedColumnRef":
            return int(node.column.column_id)
        if kind == "ResolvedCast":
            node = node.expr
        elif kind == "ResolvedFunctionCall" and _function(node) in WRAPPERS and node.argument_list:
            node = node.argument_list[0]
        else:
            return None


def _constant(node: Any) -> bool:
    """No column reference and no subquery anywhere in the expression."""
    return not any(_kind(n) in ("ResolvedColumnRef", "ResolvedSubqueryExpr") for n in _walk(node))


TIME_KINDS = frozenset({"TYPE_DATE", "TYPE_TIMESTAMP", "TYPE_DATETIME"})
EPOCH = "epoch (every partition)"


def _epoch(node: Any) -> bool:
    """A DATE, TIMESTAMP or DATETIME literal at 1970-01-01 00:00: a read of every partition said so
    (`lookwright.sqlgen.render.every_partition`), which passes require_partition_filter but prunes nothing."""
    if _kind(node) != "ResolvedLiteral":
        return False
    kind = getattr(node.value.type.type_kind, "name", str(node.value.type.type_kind))
    value = node.value.value
    return kind in TIME_KINDS and not any((value.date_value, value.timestamp_value, value.datetime_value))


def _describe(node: Any) -> str:
    if _epoch(node):
        return EPOCH
    kinds = {_kind(n) for n in _walk(node)}
    if "ResolvedParameter" in kinds:
        names = sorted({f"@{n.name}" if n.name else "?" for n in _walk(node) if _kind(n) == "ResolvedParameter"})
        return ", ".join(names)
    return "constant"


def partition_access(resolved: Any, partitions: Mapping[str, str]) -> list[TableAccess]:
    """For every scan of a table in `partitions` (bare name -> partition column): pruned or not."""
    scans: dict[int, tuple[str, str]] = {}  # column id of a scanned partition column -> (table, column)
    scanned: list[tuple[str, str, set[int]]] = []
    written = {id(n.table_scan) for n in _walk(resolved) if _kind(n) == "ResolvedInsertStmt"}  # not read
    for node in _walk(resolved):
        if _kind(node) != "ResolvedTableScan" or id(node) in written:
            continue
        name = str(node.table.name).rpartition(".")[2]
        column = partitions.get(name)
        if column is None:
            continue
        ids = {int(c.column_id) for c in node.column_list if c.name == column}
        scanned.append((name, column, ids))
        for column_id in ids:
            scans[column_id] = (name, column)
    bounds: dict[int, list[str]] = {}
    for node in _walk(resolved):
        if _kind(node) != "ResolvedFunctionCall" or _function(node) not in COMPARISONS:
            continue
        arguments = list(node.argument_list)
        for position, argument in enumerate(arguments):
            referenced = _column_id(argument)
            others = arguments[:position] + arguments[position + 1:]
            if referenced is not None and referenced in scans and others and all(_constant(o) for o in others):
                operator = _function(node).removeprefix("$").replace("greater_or_equal", ">=")
                bounds.setdefault(referenced, []).append(f"{operator} {_describe(others[-1])}")
    accesses = []
    for name, column, ids in scanned:
        found = tuple(sorted({b for i in ids for b in bounds.get(i, [])}))
        accesses.append(TableAccess(name, column, bool(found), found))
    return accesses


def scanned_tables(resolved: Any) -> tuple[str, ...]:
    """Every table the statement reads (bare names, sorted; an INSERT's target is written, not read)."""
    written = {id(n.table_scan) for n in _walk(resolved) if _kind(n) == "ResolvedInsertStmt"}
    return tuple(sorted({str(n.table.name).rpartition(".")[2] for n in _walk(resolved)
                         if _kind(n) == "ResolvedTableScan" and id(n) not in written}))
