"""Source loaders: real export files -> raw_* tables, one transaction per file."""

from __future__ import annotations

from pathlib import Path

from lookwright.errors import InputError
from lookwright.warehouse.base import Warehouse
from lookwright.warehouse.sources import (
    app_logs,
    azure_cost,
    cloudwatch,
    cur,
    gcp_billing,
    otlp,
    query_log,
    rum,
)
from lookwright.warehouse.sources.base import BadRow, LoadReport, Source
from lookwright.warehouse.sources.base import load_file as _load_file

_MODULES = (otlp, cur, gcp_billing, azure_cost, query_log, cloudwatch, app_logs, rum)

SOURCES: dict[str, Source] = {module.SOURCE.kind: module.SOURCE for module in _MODULES}

# raw table name -> its CREATE TABLE statement (the column contract the transforms read)
RAW_TABLES: dict[str, str] = {module.TABLE: module.CREATE_SQL for module in _MODULES}


def create_raw_tables(warehouse: Warehouse) -> None:
    """Create every raw table that does not exist yet (on BigQuery in BigQuery types, partitioned by day)."""
    for table in RAW_TABLES:
        warehouse.execute(raw_ddl(warehouse, table))


def raw_ddl(warehouse: Warehouse, table: str) -> str:
    """CREATE TABLE IF NOT EXISTS of one raw table in the warehouse's dialect."""
    if warehouse.dialect != "bigquery":
        return RAW_TABLES[table]
    from lookwright.warehouse.sources.schema import bigquery_raw_ddl

    return bigquery_raw_ddl(table, f"`{getattr(warehouse, 'qualify', str)(table)}`")


def load(warehouse: Warehouse, kind: str, path: Path) -> LoadReport:
    """Load one file of a source kind; its earlier rows are replaced, all or nothing."""
    source = SOURCES.get(kind)
    if source is None:
        raise InputError(f"unknown source kind {kind!r}: expected one of {', '.join(SOURCES)}")
    return _load_file(warehouse, source, path, raw_ddl(warehouse, source.table))


__all__ = ["RAW_TABLES", "SOURCES", "BadRow", "LoadReport", "Source", "create_raw_tables", "load"]
