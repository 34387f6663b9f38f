"""A table's physical layout (columns and types, partitioning, clustering, options) and how two differ.

What the model wants comes from its IR; what the warehouse has is what lookwright last applied,
recorded in `lookwright_table_layout` on both warehouses: DuckDB has no partitioning, clustering
or retention to read back, and the BigQuery emulator misreports some of it (no clustering, no
field of `PARTITION BY DATE(ts)`, JSON as STRING), so one recorded truth serves both. A table
no layout was recorded for (built before layouts were recorded) is taken to have the model's
options and the types of the model's columns of the same name.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from lookwright.errors import WarehouseError
from lookwright.model.ir import TableIR

LAYOUT_TABLE = "lookwright_table_layout"
LAYOUT_COLUMNS = (("table_name", "STRING"), ("layout", "STRING"))
UNKNOWN = "UNKNOWN"  # the type of a column of an unrecorded table that the model no longer has

# (from, to) model column types whose every value converts without loss; anything becomes STRING.
_WIDENINGS = frozenset({
    ("INT64", "NUMERIC"), ("INT64", "BIGNUMERIC"), ("INT64", "FLOAT64"),
    ("NUMERIC", "BIGNUMERIC"), ("NUMERIC", "FLOAT64"),
    ("DATE", "DATETIME"), ("DATE", "TIMESTAMP"),
})
_NOT_TO_STRING = frozenset({"SKETCH", "JSON", "BYTES", UNKNOWN})


@dataclass(frozen=True)
class Layout:
    """Everything about a table that its DDL fixes."""

    columns: tuple[tuple[str, str], ...]  # (name, model column type), in order
    partition: str | None  # "column/granularity" ("_PARTITIONTIME/day" for ingestion time)
    cluster_by: tuple[str, ...]
    expiration_days: int | None  # partition_expiration_days (only a partitioned table has one)
    require_partition_filter: bool
    description: str
    definition: str = ""  # fingerprint of the SQL a full build of the table runs ("": not recorded)

    def to_json(self) -> str:
        return json.dumps({
            "columns": [list(c) for c in self.columns], "partition": self.partition,
            "cluster_by": list(self.cluster_by), "expiration_days": self.expiration_days,
            "require_partition_filter": self.require_partition_filter, "description": self.description,
            "definition": self.definition,
        }, sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Layout:
        data = json.loads(text)
        return cls(tuple((str(n), str(t)) for n, t in data["columns"]), data["partition"],
                   tuple(data["cluster_by"]), data["expiration_days"], bool(data["require_partition_filter"]),
                   str(data["description"]), str(data.get("definition", "")))


def fingerprint(sql: str) -> str:
    """A short stable fingerprint of a table's defining SQL."""
    return hashlib.sha256(sql.encode()).hexdigest()[:16]


def model_layout(table: TableIR, definition: str = "") -> Layout:
    """The layout the model's DDL for the table gives it (with the fingerprint of its defining SQL)."""
    partition = None
    if table.partition is not None:
        column = "_PARTITIONTIME" if table.partition.ingestion else table.partition.column
        partition = f"{column}/{table.partition.granularity}"
    return Layout(
        columns=tuple((c.name, c.type) for c in table.columns),
        partition=partition,
        cluster_by=tuple(table.cluster_by),
        expiration_days=table.retention_days if partition is not None else None,
        require_partition_filter=table.require_partition_filter and partition is not None,
        description=table.description or table.name,
        definition=definition,
    )


def unrecorded_layout(table: TableIR, live_columns: Sequence[str]) -> Layout:
    """The layout assumed for an existing table no layout was recorded for."""
    wanted = model_layout(table)
    types = dict(wanted.columns)
    columns = tuple((name, types.get(name, UNKNOWN)) for name in live_columns)
    return Layout(columns, wanted.partition, wanted.cluster_by, wanted.expiration_days,
                  wanted.require_partition_filter, wanted.description)


@dataclass(frozen=True)
class LayoutChange:
    """How the warehouse's table differs from the model's."""

    table: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    retyped: tuple[tuple[str, str, str], ...] = ()  # (column, type now, type wanted)
    reordered: bool = False
    repartitioned: bool = False
    reclustered: bool = False
    options: bool = False  # expiration, require_partition_filter or description
    redefined: bool = False  # the SQL defining its rows changed (a transform template, a rollup metric)

    @property
    def needs_new_table(self) -> bool:
        """A change only a new table (staged and swapped in) can make."""
        return bool(self.removed or self.retyped or self.repartitioned)

    @property
    def columns_changed(self) -> bool:
        return bool(self.added or self.removed or self.retyped or self.reordered)

    @property
    def rebuilds(self) -> bool:
        """Its rows must be recomputed: rebuilt into a twin (keeping the history its sources lost)."""
        return self.columns_changed or self.needs_new_table or self.redefined

    @property
    def any(self) -> bool:
        return self.columns_changed or self.repartitioned or self.reclustered or self.options or self.redefined


def diff(table: str, have: Layout, wanted: Layout) -> LayoutChange:
    """What must change for the table to have the wanted layout."""
    now = dict(have.columns)
    new = dict(wanted.columns)
    kept = [name for name, _ in have.columns if name in new]
    return LayoutChange(
        table=table,
        added=tuple(name for name, _ in wanted.columns if name not in now),
        removed=tuple(name for name, _ in have.columns if name not in new),
        retyped=tuple((name, now[name], new[name]) for name in kept if now[name] != new[name]),
        reordered=kept != [name for name, _ in wanted.columns if name in now],
        repartitioned=have.partition != wanted.partition,
        reclustered=have.cluster_by != wanted.cluster_by,
        options=(have.expiration_days, have.require_partition_filter, have.description)
        != (wanted.expiration_days, wanted.require_partition_filter, wanted.description),
        redefined=bool(have.definition and wanted.definition and have.definition != wanted.definition),
    )


def convertible(old: str, new: str) -> bool:
    """Whether every value of model type `old` converts to `new` without loss."""
    return old == new or (old, new) in _WIDENINGS or (new == "STRING" and old not in _NOT_TO_STRING)


LOSSY_HINT = ("give the new column another name (the old one is then dropped with its values),"
              " or change the type back")


def lossy(table: str, column: str, old: str, new: str) -> str | None:
    """What is wrong with keeping the history of a column retyped from `old` to `new`, if anything."""
    if convertible(old, new):
        return None
    return f"table {table}, column {column}: its history cannot be kept, {old} does not convert to {new} without loss"


def kept_column(table: str, column: str, old: str, new: str, cast: str) -> str:
    """The expression copying a kept column's history into its new type (`cast` is the target SQL type)."""
    if old == new:
        return column
    problem = lossy(table, column, old, new)
    if problem is not None:
        raise WarehouseError(f"{problem}; {LOSSY_HINT}")
    return f"CAST({column} AS {cast})"
