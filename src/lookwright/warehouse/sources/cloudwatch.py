"""Loads CloudWatch Metric Streams output (as Firehose writes it) into raw_cloudwatch_metrics.

JSON output format: each line is one data point of one metric: metric_stream_name, account_id,
region, namespace, metric_name, dimensions {name: value}, timestamp (epoch milliseconds), value
{count, sum, max, min, and any extra statistics}, unit. The extra statistics (p99, TM(25%:75%),
...) are kept in `value_statistics`.

OpenTelemetry 1.0.0 and 0.7.0 output formats (length-delimited protobuf): see cloudwatch_otel.
Which format a file is: `.binpb` / `.pb` are protobuf, `.json` / `.jsonl` JSON lines; any other
name (Firehose writes none unless its stream sets a file extension) is read by its first bytes.
A GZIP file (Firehose's GZIP compression) is decompressed first.
"""

from __future__ import annotations

import gzip
import shutil
import tempfile
import zlib
from pathlib import Path

from lookwright.errors import InputError
from lookwright.warehouse.base import Warehouse
from lookwright.warehouse.sources import cloudwatch_otel
from lookwright.warehouse.sources.base import Source, new_field_warnings
from lookwright.warehouse.sources.tabular import (
    finish_stage,
    integer_sql,
    number_sql,
    parsed_check,
    required_check,
    stage_json_rows,
)

TABLE = "raw_cloudwatch_metrics"

CREATE_SQL = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    metric_stream_name VARCHAR,
    account_id VARCHAR,
    region VARCHAR NOT NULL,                 -- AWS region of the metric
    namespace VARCHAR NOT NULL,              -- AWS/EC2, CWAgent, ...
    metric_name VARCHAR NOT NULL,            -- CPUUtilization, NetworkIn, procstat_cpu_usage, ...
    dimensions JSON,                         -- {{"InstanceId": "i-...", ...}}
    metric_timestamp TIMESTAMP NOT NULL,     -- `timestamp` (epoch ms), UTC: start of the period
    value_count DOUBLE NOT NULL,             -- value.count: samples in the period
    value_sum DOUBLE NOT NULL,
    value_max DOUBLE,
    value_min DOUBLE,
    value_statistics JSON,                   -- the whole `value` object (extra statistics too)
    unit VARCHAR,                            -- MetricDatum unit: Percent, Bytes, Count, ...
    source_file VARCHAR NOT NULL,
    source_line INTEGER NOT NULL,
    loaded_at TIMESTAMP NOT NULL
)"""

COLUMNS: dict[str, str] = {
    "metric_stream_name": "r.metric_stream_name",
    "account_id": "r.account_id",
    "region": "r.region",
    "namespace": "r.namespace",
    "metric_name": "r.metric_name",
    "dimensions": "r.dimensions",
    "metric_timestamp": "r.timestamp",
    "value_count": "json_extract_string(r.value, '$.count')",
    "value_sum": "json_extract_string(r.value, '$.sum')",
    "value_max": "json_extract_string(r.value, '$.max')",
    "value_min": "json_extract_string(r.value, '$.min')",
    "value_statistics": "r.value",
    "unit": "r.unit",
}
_STRUCTURE = (
    '{"metric_stream_name":"VARCHAR","account_id":"VARCHAR","region":"VARCHAR","namespace":"VARCHAR",'
    '"metric_name":"VARCHAR","dimensions":"JSON","timestamp":"VARCHAR",'
    '"value":"JSON","unit":"VARCHAR"}'
)
KNOWN = frozenset({"metric_stream_name", "account_id", "region", "namespace", "metric_name",
                   "dimensions", "timestamp", "value", "unit"})
_REQUIRED = ["region", "namespace", "metric_name", "metric_timestamp", "value_count", "value_sum"]
_TEXT = ["metric_stream_name", "account_id", "region", "namespace", "metric_name", "unit"]


def _epoch_ms(column: str) -> str:
    return f"make_timestamp(CAST({integer_sql(column)} AS BIGINT) * 1000)"


PROTOBUF_SUFFIXES = (".binpb", ".pb")
JSON_SUFFIXES = (".json", ".jsonl")
GZIP_MAGIC = b"\x1f\x8b"


def _head(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(64)
    except OSError as error:
        raise InputError(f"{path}: cannot read: {error.strerror or error}") from error


def output_format(path: str) -> str:
    """`json` or `opentelemetry`: from the file's extension, else from its first bytes."""
    suffix = Path(path).suffix.lower()
    if suffix in PROTOBUF_SUFFIXES:
        return "opentelemetry"
    if suffix in JSON_SUFFIXES:
        return "json"
    return "json" if cloudwatch_otel.looks_like_json(_head(path)) else "opentelemetry"


def stage(warehouse: Warehouse, path: str) -> list[str] | None:
    """Stage every data point, typed, with the first problem of each bad one (either output format).

    A GZIP-compressed file (Firehose's CompressionFormat GZIP, `.gz`) is decompressed first; its format
    is then that of its name without `.gz`, or its first bytes."""
    if _head(path)[:2] != GZIP_MAGIC:
        return _stage(warehouse, path, path)
    with tempfile.TemporaryDirectory(prefix="lookwright-cloudwatch-") as folder:
        name = Path(path).name
        inner = Path(folder) / (name[:-3] if name.lower().endswith(".gz") else name)
        try:
            with gzip.open(path, "rb") as compressed, open(inner, "wb") as plain:
                shutil.copyfileobj(compressed, plain)
        except (OSError, EOFError, zlib.error) as error:
            raise InputError(f"{path}: not a readable GZIP file: {error}") from error
        return _stage(warehouse, inner.as_posix(), path)


def _stage(warehouse: Warehouse, path: str, shown: str) -> list[str] | None:
    """Stage a plain file; `shown` is the file's name in messages (the .gz a temporary file came from)."""
    if output_format(path) == "opentelemetry":
        return cloudwatch_otel.stage(warehouse, path, stage_json, shown)
    stage_json(warehouse, path)
    if shown == path:
        return None  # the loader checks the file's fields
    return [warning.replace(path, shown, 1) for warning in new_field_warnings(warehouse, SOURCE, path)]


def stage_json(warehouse: Warehouse, path: str) -> None:
    """Stage the JSON output format: every line one data point."""
    stage_json_rows(warehouse, path, _STRUCTURE, COLUMNS)
    ts = _epoch_ms("metric_timestamp")
    numbers = {name: number_sql(name) for name in ("value_count", "value_sum", "value_max", "value_min")}
    dimensions = "CASE WHEN json_valid(dimensions) AND json_type(dimensions) = 'OBJECT' THEN CAST(dimensions AS JSON) END"
    typed = ", ".join([
        f"{ts} AS metric_timestamp",
        *(f"{sql} AS {name}" for name, sql in numbers.items()),
        f"{dimensions} AS dimensions",
        ("CASE WHEN json_valid(value_statistics) AND json_type(value_statistics) = 'OBJECT'"
        " THEN CAST(value_statistics AS JSON) END AS value_statistics"),
        *(f"nullif(trim({name}), '') AS {name}" for name in _TEXT),
    ])
    checks = [
        *(required_check(name) for name in _REQUIRED),
        parsed_check("metric_timestamp", integer_sql("metric_timestamp"), "epoch milliseconds"),
        *(parsed_check(name, sql, "number") for name, sql in numbers.items()),
        (f"{numbers['value_count']} < 0", "'negative value.count'"),
        (f"{numbers['value_min']} > {numbers['value_max']}", "'value.min greater than value.max'"),
        ("coalesce(trim(dimensions), '') NOT IN ('', 'null') AND " + f"({dimensions}) IS NULL",
         "'dimensions is not a JSON object'"),
    ]
    finish_stage(warehouse, typed, checks)


SOURCE = Source("cloudwatch", TABLE, "CloudWatch Metric Streams output (Firehose): JSON, one data point per"
                " line, or OpenTelemetry 1.0.0 / 0.7.0 length-delimited protobuf",
                stage, KNOWN)
