"""The load ledger: one row per file loaded, written by the loader in the transaction that writes its rows.

A build reads it instead of the raw tables to know what was loaded since it last ran (the newest
`loaded_at`) and which event times those loads touched (the earliest and latest value of the raw
table's partition column among the rows loaded, and among the rows of the file they replaced), so
late-data windows are computed without reading any raw partition, and bound as constants.

The ledger is created with a baseline row (`raw_table` `*`): the newest `loaded_at` over every raw
table at that moment. Rows loaded before it (by an older lookwright) are not in the ledger: a build
whose previous build saw less than the baseline reads the raw tables as before, once.
Raw tables are written by the loaders; a row written into one by other means must be recorded here
too (`record_load`), or builds will not see it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from lookwright.warehouse.base import Params, TypedNull, Warehouse, naive_utc
from lookwright.warehouse.sources.schema import RAW_PARTITIONS

LEDGER = "lookwright_loads"
LEDGER_COLUMNS = (("raw_table", "STRING"), ("source_file", "STRING"), ("loaded_at", "TIMESTAMP"),
                  ("first_event", "TIMESTAMP"), ("last_event", "TIMESTAMP"), ("row_count", "INT64"))
BASELINE = "*"  # raw_table of the row recording what the raw tables held when the ledger was created
_DUCKDB_TYPES = {"STRING": "VARCHAR", "INT64": "BIGINT", "TIMESTAMP": "TIMESTAMP"}


def qualified(warehouse: Warehouse, name: str) -> str:
    """A raw-side table as the warehouse's SQL names it."""
    qualify: Callable[[str], str] | None = getattr(warehouse, "qualify", None)
    return name if qualify is None or warehouse.dialect != "bigquery" else f"`{qualify(name)}`"


def event_column(table: str) -> str:
    """The raw table's event time: its partition column (its load time for the SLO documents)."""
    return RAW_PARTITIONS[table]


def ledger_ddl(warehouse: Warehouse) -> str:
    types: dict[str, str] = {} if warehouse.dialect == "bigquery" else _DUCKDB_TYPES
    columns = ", ".join(f"{name} {types.get(kind, kind)}" for name, kind in LEDGER_COLUMNS)
    return f"CREATE TABLE IF NOT EXISTS {qualified(warehouse, LEDGER)} ({columns})"


def ensure_ledger(warehouse: Warehouse) -> None:
    """Create the ledger if it does not exist, with its baseline: the newest load in any raw table
    there is (one read of each, once; none on a new warehouse)."""
    if warehouse.table_exists(LEDGER):
        return
    existing = sorted(table for table in RAW_PARTITIONS if warehouse.table_exists(table))
    warehouse.execute(ledger_ddl(warehouse))
    newest = None
    if existing:
        parts = " UNION ALL ".join(f"SELECT MAX(loaded_at) AS t FROM {qualified(warehouse, t)}" for t in existing)
        newest = warehouse.query(f"SELECT MAX(t) FROM ({parts}) AS loads")[0][0]
    with warehouse.transaction():
        warehouse.execute(*_insert(warehouse, BASELINE, None, naive_utc(newest), None, None, None))


def _insert(warehouse: Warehouse, table: str, source_file: str | None, loaded_at: datetime | str | None,
            first: datetime | None, last: datetime | None, rows: int | None) -> tuple[str, Params]:
    """The INSERT of one ledger row; `loaded_at` a value or a SQL expression (str)."""
    null = TypedNull("TIMESTAMP")
    names = ", ".join(name for name, _ in LEDGER_COLUMNS)
    at = loaded_at if isinstance(loaded_at, str) else "?"
    values: list[Any] = [table, source_file if source_file is not None else TypedNull("STRING")]
    if not isinstance(loaded_at, str):
        values.append(null if loaded_at is None else loaded_at)
    values += [null if first is None else first, null if last is None else last,
               TypedNull("INT64") if rows is None else rows]
    return (f"INSERT INTO {qualified(warehouse, LEDGER)} ({names}) VALUES (?, ?, {at}, ?, ?, ?)", values)


def previous_range(warehouse: Warehouse, table: str, source_file: str) -> tuple[datetime, datetime] | None:
    """The event times the file's rows now in the raw table span, from its earlier loads' ledger rows
    (None: never loaded since the ledger exists, so its rows may be anywhere)."""
    rows = warehouse.query(f"SELECT MIN(first_event), MAX(last_event) FROM {qualified(warehouse, LEDGER)}"
                           " WHERE raw_table = ? AND source_file = ?", [table, source_file])
    first, last = (naive_utc(rows[0][0]), naive_utc(rows[0][1])) if rows else (None, None)
    return None if first is None or last is None else (first, last)


def replace_predicate(table: str, span: tuple[datetime, datetime] | None) -> tuple[str, list[Any]]:
    """The extra WHERE (and its parameters) bounding the DELETE of a file's earlier rows to the
    partitions they are in (nothing when unknown: every partition)."""
    if span is None:
        return "", []
    column = event_column(table)
    bound = "CAST(? AS DATE)" if column in DATE_COLUMNS else "?"
    return f" AND {column} >= {bound} AND {column} <= {bound}", [span[0], span[1]]


DATE_COLUMNS = frozenset({"usage_date"})  # raw event columns of type DATE


def record_load(warehouse: Warehouse, table: str, source_file: str, loaded_at: datetime | str,
                loaded: tuple[datetime | None, datetime | None, int], replaced: tuple[datetime, datetime] | None,
                ) -> tuple[str, Params]:
    """The INSERT of a load's ledger row: its event times span the rows loaded and those replaced."""
    first, last, count = loaded
    if replaced is not None:
        first = replaced[0] if first is None else min(first, replaced[0])
        last = replaced[1] if last is None else max(last, replaced[1])
    return _insert(warehouse, table, source_file, loaded_at, first, last, count)


def stage_span(warehouse: Warehouse, table: str, stage: str, where: str = "") -> tuple[datetime | None, datetime | None, int]:
    """The earliest and latest event time and the count of the rows a load stages (the SLO
    documents, partitioned by their load time, have no event time of their own)."""
    column = event_column(table)
    if column == "loaded_at":
        rows = warehouse.query(f"SELECT COUNT(*) FROM {stage}{where}")
        return None, None, int(rows[0][0])
    rows = warehouse.query(f"SELECT MIN(CAST({column} AS TIMESTAMP)), MAX(CAST({column} AS TIMESTAMP)), COUNT(*)"
                           f" FROM {stage}{where}")
    return naive_utc(rows[0][0]), naive_utc(rows[0][1]), int(rows[0][2])


def loads_since(warehouse: Warehouse, qualified_ledger: str, since: datetime) -> dict[str, datetime | None]:
    """raw table -> the earliest event time of the rows loaded (or replaced) after `since`."""
    rows = warehouse.query(f"SELECT raw_table, MIN(first_event) FROM {qualified_ledger}"
                           f" WHERE loaded_at > ? AND raw_table <> '{BASELINE}' GROUP BY raw_table", [since])
    return {str(table): naive_utc(first) for table, first in rows}
