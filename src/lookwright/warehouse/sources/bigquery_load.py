"""Loading an export file into BigQuery: parse and check it locally, then one load job and one transaction."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from lookwright.errors import WarehouseError
from lookwright.warehouse.base import Warehouse
from lookwright.warehouse.duckdb import DuckDBWarehouse
from lookwright.warehouse.sources import ledger
from lookwright.warehouse.sources.base import (
    STAGE_TABLE,
    BadRow,
    LoadReport,
    Source,
    source_name,
    stage_file,
)
from lookwright.warehouse.sources.schema import stage_columns


class Loader(Protocol):
    """What a warehouse offers to load a local newline-delimited JSON file into a new table."""

    def qualify(self, name: str) -> str: ...

    def load_json(self, table: str, path: Path, columns: tuple[tuple[str, str], ...]) -> None: ...


def load_bigquery_file(warehouse: Warehouse, source: Source, path: Path, create_sql: str) -> LoadReport:
    """Load one file into BigQuery: parsed and checked by the same staging SQL on a local DuckDB, its
    good rows sent by a load job into a stage table, and the raw table changed in one transaction
    (DELETE the file's earlier rows, INSERT the staged ones)."""
    name = source_name(path)
    return load_into_bigquery(warehouse, source, name, create_sql, lambda local: stage_file(local, source, name))


def load_into_bigquery(warehouse: Warehouse, source: Source, name: str, create_sql: str,
                       stage: Callable[[DuckDBWarehouse], list[str]]) -> LoadReport:
    """Stage the file on a local DuckDB, load its good rows into `_lw_stage_<table>`, then swap them in."""
    loader: Any = warehouse
    table = source.table
    stage_table = f"_lw_stage_{table}"
    columns = stage_columns(create_sql)
    names = ", ".join(column for column, _ in columns)
    with DuckDBWarehouse(":memory:") as local, tempfile.TemporaryDirectory(prefix="lookwright-load-") as folder:
        warnings = stage(local)
        rows_path = Path(folder) / "rows.jsonl"
        local.execute(f"COPY (SELECT {names} FROM {STAGE_TABLE} WHERE bad_reason IS NULL ORDER BY source_line)"
                      f" TO '{rows_path.as_posix()}' (FORMAT JSON)")
        loaded = int(local.query(f"SELECT count(*) FROM {STAGE_TABLE} WHERE bad_reason IS NULL")[0][0])
        loaded_span = ledger.stage_span(local, table, STAGE_TABLE, " WHERE bad_reason IS NULL")
        bad = local.query(f"SELECT source_line, bad_reason FROM {STAGE_TABLE} WHERE bad_reason IS NOT NULL"
                          " ORDER BY source_line, bad_reason")
        warehouse.execute(create_sql)  # DDL outside the transaction
        raw_names = f"{names}, source_file, loaded_at"
        target, staged = f"`{loader.qualify(table)}`", f"`{loader.qualify(stage_table)}`"
        try:
            loader.load_json(stage_table, rows_path, columns)
        except WarehouseError:  # the raw table is untouched; no stage table is left behind
            _drop_quietly(warehouse, staged)
            raise
    try:
        ledger.ensure_ledger(warehouse)  # DDL outside the transaction
        with warehouse.transaction():
            replaced = ledger.previous_range(warehouse, table, name)
            bounded, bounds = ledger.replace_predicate(table, replaced)  # only the partitions its rows are in
            warehouse.execute(f"DELETE FROM {target} WHERE source_file = ?{bounded}", [name, *bounds])
            loaded_at = datetime.now(UTC).replace(microsecond=0)
            warehouse.execute(f"INSERT INTO {target} ({raw_names})\nSELECT {names}, @source_file AS source_file,"
                              f" @loaded_at AS loaded_at FROM {staged}",
                              {"source_file": name, "loaded_at": loaded_at})
            warehouse.execute(*ledger.record_load(warehouse, table, name, loaded_at.replace(tzinfo=None),
                                                  loaded_span, replaced))
    finally:
        warehouse.execute(f"DROP TABLE IF EXISTS {staged}")
    return LoadReport(name, table, loaded, [BadRow(name, int(line), str(reason)) for line, reason in bad], warnings)


def _drop_quietly(warehouse: Warehouse, table: str) -> None:
    """Drop a stage table after a failed load; a failure to drop must not hide the load's error."""
    try:
        warehouse.execute(f"DROP TABLE IF EXISTS {table}")
    except WarehouseError:
        pass
