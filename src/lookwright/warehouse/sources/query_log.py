"""Loads per-service database query logs (JSON lines) into raw_db_query_log."""

from __future__ import annotations

from lookwright.warehouse.base import Warehouse
from lookwright.warehouse.sources.base import Source
from lookwright.warehouse.sources.tabular import (
    finish_stage,
    integer_sql,
    number_sql,
    parsed_check,
    required_check,
    stage_json_rows,
    timestamp_sql,
)

TABLE = "raw_db_query_log"

CREATE_SQL = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    log_timestamp TIMESTAMP NOT NULL,         -- `timestamp`, UTC: start of the logged interval
    service VARCHAR NOT NULL,
    database_resource_id VARCHAR NOT NULL,    -- the shared database's cloud resource id
    query_count BIGINT NOT NULL,
    total_duration_ms DOUBLE NOT NULL,
    source_file VARCHAR NOT NULL,
    source_line INTEGER NOT NULL,
    loaded_at TIMESTAMP NOT NULL
)"""

COLUMNS: dict[str, str] = {
    "log_timestamp": "r.timestamp",
    "service": "r.service",
    "database_resource_id": "r.database_resource_id",
    "query_count": "r.query_count",
    "total_duration_ms": "r.total_duration_ms",
}
_STRUCTURE = (
    '{"timestamp":"VARCHAR","service":"VARCHAR","database_resource_id":"VARCHAR",'
    '"query_count":"VARCHAR","total_duration_ms":"VARCHAR"}'
)
_COUNT = integer_sql("query_count")


def stage(warehouse: Warehouse, path: str) -> None:
    """Stage every log line, typed, with the first problem of each bad one."""
    stage_json_rows(warehouse, path, _STRUCTURE, COLUMNS)
    ts = timestamp_sql("log_timestamp")
    duration = number_sql("total_duration_ms")
    typed = (
        f"{ts} AS log_timestamp, trim(service) AS service,"
        f" trim(database_resource_id) AS database_resource_id,"
        f" {_COUNT} AS query_count, {duration} AS total_duration_ms"
    )
    checks = [
        *(required_check(name) for name in COLUMNS),
        parsed_check("log_timestamp", ts, "timestamp"),
        parsed_check("query_count", _COUNT, "integer"),
        parsed_check("total_duration_ms", duration, "number"),
        (f"{_COUNT} < 0 OR {duration} < 0", "'negative query_count or total_duration_ms'"),
    ]
    finish_stage(warehouse, typed, checks)


SOURCE = Source("query-log", TABLE, "database query log, JSON lines per service", stage,
                frozenset({"timestamp", "service", "database_resource_id", "query_count", "total_duration_ms"}))
