"""Loads application logs as Fluent Bit / Fluentd write them (JSON lines) into raw_app_logs.

One JSON object per line: the time under `date` (Fluent Bit's json_date_key: epoch seconds or
ISO 8601), `time` (Fluentd's time_key) or `@timestamp`; the text under `message`, `msg` or `log`;
the level under `level` or `severity`; the service under `service`, `service.name`, the
Kubernetes label `app.kubernetes.io/name` or the container name; `trace_id` / `span_id` (also
`traceId` / `spanId`) when the line was written inside a traced request.
"""

from __future__ import annotations

from lookwright.warehouse.base import Warehouse
from lookwright.warehouse.sources.base import Source
from lookwright.warehouse.sources.tabular import (
    finish_stage,
    parsed_check,
    required_check,
    stage_json_rows,
    timestamp_sql,
)

TABLE = "raw_app_logs"

CREATE_SQL = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    log_timestamp TIMESTAMP NOT NULL,        -- UTC
    service VARCHAR NOT NULL,
    level VARCHAR,                           -- debug, info, warning, error or fatal (else as written, lower case)
    message VARCHAR,
    trace_id VARCHAR,                        -- 32 lower-case hex digits, when the line is in a trace
    span_id VARCHAR,                         -- 16 lower-case hex digits
    environment VARCHAR,
    host_name VARCHAR,
    pod_name VARCHAR,
    stream VARCHAR,                          -- stdout / stderr
    source_file VARCHAR NOT NULL,
    source_line INTEGER NOT NULL,
    loaded_at TIMESTAMP NOT NULL
)"""

_K8S = '{"pod_name":"VARCHAR","container_name":"VARCHAR","host":"VARCHAR","namespace_name":"VARCHAR","labels":"JSON"}'
_STRUCTURE = (
    '{"date":"VARCHAR","time":"VARCHAR","@timestamp":"VARCHAR","timestamp":"VARCHAR",'
    '"message":"VARCHAR","msg":"VARCHAR","log":"VARCHAR","level":"VARCHAR","severity":"VARCHAR",'
    '"service":"VARCHAR","service.name":"VARCHAR","environment":"VARCHAR","host":"VARCHAR",'
    '"hostname":"VARCHAR","stream":"VARCHAR","trace_id":"VARCHAR","span_id":"VARCHAR",'
    f'"traceId":"VARCHAR","spanId":"VARCHAR","kubernetes":{_K8S}}}'
)
COLUMNS: dict[str, str] = {
    "log_timestamp": 'coalesce(r."date", r."time", r."@timestamp", r."timestamp")',
    "service": (
        "coalesce(r.service, r.\"service.name\","
        " json_extract_string(r.kubernetes.labels, '$.\"app.kubernetes.io/name\"'), r.kubernetes.container_name)"
    ),
    "level": "coalesce(r.level, r.severity)",
    "message": "coalesce(r.message, r.msg, r.log)",
    "trace_id": "coalesce(r.trace_id, r.traceId)",
    "span_id": "coalesce(r.span_id, r.spanId)",
    "environment": "r.environment",
    "host_name": "coalesce(r.kubernetes.host, r.host, r.hostname)",
    "pod_name": "r.kubernetes.pod_name",
    "stream": "r.stream",
}
KNOWN = frozenset({
    "date", "time", "timestamp", "message", "msg", "log", "level", "severity", "service",
    "service_name", "environment", "host", "hostname", "stream", "trace_id", "span_id", "kubernetes",
    "logger", "thread", "pid", "tag",
})
_LEVELS = {
    "debug": ("debug", "trace"), "info": ("info", "information", "notice"),
    "warning": ("warn", "warning"), "error": ("err", "error"),
    "fatal": ("fatal", "critical", "crit", "alert", "emerg", "emergency", "panic"),
}


def _timestamp(column: str) -> str:
    """Epoch seconds (Fluent Bit's default `date`) or an ISO 8601 text, as a UTC TIMESTAMP."""
    epoch = f"make_timestamp(CAST(round(TRY_CAST(trim({column}) AS DOUBLE) * 1e6) AS BIGINT))"
    return (f"CASE WHEN regexp_full_match(trim({column}), '[0-9]+(\\.[0-9]*)?') THEN {epoch}"
            f" ELSE {timestamp_sql(column)} END")


def _level(column: str) -> str:
    cases = " ".join(
        f"WHEN lower(trim({column})) IN ({', '.join(repr(alias) for alias in aliases)}) THEN '{name}'"
        for name, aliases in _LEVELS.items()
    )
    return f"CASE {cases} ELSE nullif(lower(trim({column})), '') END"


def _hex_id(column: str, digits: int) -> tuple[str, str]:
    return (
        f"nullif(trim({column}), '') IS NOT NULL AND NOT regexp_full_match(lower(trim({column})), '[0-9a-f]{{{digits}}}')",
        f"'invalid {column}: ' || {column}",
    )


def stage(warehouse: Warehouse, path: str) -> None:
    """Stage every log line, typed, with the first problem of each bad one."""
    stage_json_rows(warehouse, path, _STRUCTURE, COLUMNS)
    ts = _timestamp("log_timestamp")
    text = ["service", "message", "environment", "host_name", "pod_name", "stream"]
    typed = ", ".join([
        f"{ts} AS log_timestamp",
        f"{_level('level')} AS level",
        "nullif(lower(trim(trace_id)), '') AS trace_id",
        "nullif(lower(trim(span_id)), '') AS span_id",
        *(f"nullif(trim({name}), '') AS {name}" for name in text),
    ])
    checks = [
        required_check("log_timestamp"),
        required_check("service"),
        parsed_check("log_timestamp", ts, "timestamp"),
        _hex_id("trace_id", 32),
        _hex_id("span_id", 16),
    ]
    finish_stage(warehouse, typed, checks)


SOURCE = Source("app-logs", TABLE, "application logs as Fluent Bit / Fluentd write them, JSON lines", stage, KNOWN)
