"""The raw tables' column contract, read from their CREATE TABLE text (DuckDB's or BigQuery's), for any dialect.

It takes the text, not the table name, so it does not import the loaders that own the text."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

# DuckDB type in a raw table's DDL -> the BigQuery type of the same column
BIGQUERY_TYPES = {
    "VARCHAR": "STRING", "INTEGER": "INT64", "BIGINT": "INT64", "UBIGINT": "INT64", "DOUBLE": "FLOAT64",
    "BOOLEAN": "BOOL", "TIMESTAMP": "TIMESTAMP", "DATE": "DATE", "JSON": "JSON",
    **{bigquery: bigquery for bigquery in ("STRING", "INT64", "FLOAT64", "BOOL")},
}
# raw table -> the column it is partitioned by on BigQuery (by day)
RAW_PARTITIONS = {
    "raw_spans": "start_time", "raw_aws_cur": "line_item_usage_start_date",
    "raw_gcp_billing": "usage_start_time", "raw_azure_cost": "usage_date", "raw_db_query_log": "log_timestamp",
    "raw_cloudwatch_metrics": "metric_timestamp", "raw_app_logs": "log_timestamp", "raw_rum_beacons": "beacon_timestamp",
    "raw_service_slos": "loaded_at",
}
_COLUMN = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s+([A-Z][A-Z0-9]*)(\s+NOT NULL)?\s*,?\s*(--.*)?$")


@dataclass(frozen=True)
class RawColumn:
    name: str
    type: str  # BigQuery type
    required: bool


@functools.cache
def raw_columns(create_sql: str) -> tuple[RawColumn, ...]:
    """The columns of a raw table's CREATE TABLE, in order, with their BigQuery types."""
    columns = []
    for line in create_sql.splitlines()[1:]:
        match = _COLUMN.match(line)
        if match is not None:
            columns.append(RawColumn(match[1], BIGQUERY_TYPES[match[2]], bool(match[3])))
    return tuple(columns)


def bigquery_raw_ddl(table: str, create_sql: str, qualified: str) -> str:
    """CREATE TABLE IF NOT EXISTS for BigQuery: BigQuery types, partitioned by day of its time column."""
    raw = raw_columns(create_sql)
    columns = ",\n".join(f"  {c.name} {c.type}{' NOT NULL' if c.required else ''}" for c in raw)
    column = RAW_PARTITIONS[table]
    kind = next(c.type for c in raw if c.name == column)
    partition = column if kind == "DATE" else f"DATE({column})"
    return f"CREATE TABLE IF NOT EXISTS {qualified} (\n{columns}\n)\nPARTITION BY {partition}"


def stage_columns(create_sql: str) -> tuple[tuple[str, str], ...]:
    """The columns of a raw table's BigQuery stage table: its columns but source_file and loaded_at."""
    return tuple((c.name, c.type) for c in raw_columns(create_sql) if c.name not in ("source_file", "loaded_at"))
