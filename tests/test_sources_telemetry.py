"""CloudWatch Metric Streams, Fluent Bit logs and web-vitals beacons: exact rows, bad rows, new fields."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from lookwright.commands.warehouse import load as load_command
from lookwright.warehouse import DuckDBWarehouse
from lookwright.warehouse.sources import LoadReport, load

FIXTURES = Path(__file__).parent / "fixtures" / "sources"


@pytest.fixture
def warehouse() -> Iterator[DuckDBWarehouse]:
    with DuckDBWarehouse(":memory:") as opened:
        yield opened


def bad(report: LoadReport) -> list[tuple[int, str]]:
    return [(row.line, row.reason) for row in report.bad_rows]


def new_fields(path: Path, kind: str, fields: str) -> list[str]:
    return [(f"{path.resolve()}: {len(fields.split(', '))} field(s) the {kind} loader does not know: {fields};"
            " the known fields were loaded and these were ignored (update the loader if they matter)")]


def test_cloudwatch_metric_stream_json(warehouse: DuckDBWarehouse) -> None:
    path = FIXTURES / "cloudwatch" / "metrics.json"
    report = load(warehouse, "cloudwatch", path)
    assert (report.table, report.rows_loaded) == ("raw_cloudwatch_metrics", 3)
    assert bad(report) == [
        (3, "invalid JSON"),
        (4, "invalid epoch milliseconds in metric_timestamp: yesterday"),
        (7, "dimensions is not a JSON object"),
        (8, "negative value.count"),
        (9, "missing value_sum"),
        (10, "value.min greater than value.max"),
        (11, "not a JSON object"),
    ]
    # a field the format does not have (line 10) is a warning, never a failed load
    assert report.warnings == new_fields(path, "cloudwatch", "stream_arn")
    rows = warehouse.query_dicts(
        "SELECT * EXCLUDE (source_file, loaded_at) FROM raw_cloudwatch_metrics ORDER BY source_line")
    assert rows[0] == {
        "metric_stream_name": "lw-stream", "account_id": "123456789012", "region": "us-east-1",
        "namespace": "AWS/EC2", "metric_name": "CPUUtilization",
        "dimensions": '{"InstanceId":"i-0a1b2c3d4e5f60718"}', "metric_timestamp": datetime(2025, 3, 3, 12, 0),
        "value_count": 5.0, "value_sum": 212.5, "value_max": 61.0, "value_min": 30.5,
        "value_statistics": '{"count":5.0,"sum":212.5,"max":61.0,"min":30.5,"p99":60.8}',
        "unit": "Percent", "source_line": 1,
    }
    assert [(r["namespace"], r["metric_name"], r["metric_timestamp"], r["source_line"]) for r in rows[1:]] == [
        ("AWS/EC2", "NetworkOut", datetime(2025, 3, 3, 12, 0), 2),
        ("CWAgent", "procstat_cpu_usage", datetime(2025, 3, 3, 12, 1), 6),
    ]


def test_fluent_bit_and_fluentd_log_lines(warehouse: DuckDBWarehouse) -> None:
    path = FIXTURES / "app_logs" / "app.log"
    report = load(warehouse, "app-logs", path)
    assert (report.table, report.rows_loaded) == ("raw_app_logs", 4)
    assert bad(report) == [
        (4, "missing service"),
        (5, "invalid timestamp in log_timestamp: soon"),
        (6, "invalid trace_id: abc"),
        (7, "invalid JSON"),
        (8, "not a JSON object"),
    ]
    assert report.warnings == new_fields(path, "app-logs", "request_id")
    assert warehouse.query("SELECT * EXCLUDE (source_file, loaded_at) FROM raw_app_logs ORDER BY source_line") == [
        (datetime(2025, 3, 3, 12, 0, 0, 250000), "checkout", "error", "payment declined",
         "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174", "production", "ip-10-0-0-1",
         "checkout-7d9f-abcde", "stderr", 1),
        (datetime(2025, 3, 3, 12, 0, 1, 500000), "checkout", "info", "GET /api/carts 200", None, None, None,
         None, "checkout-7d9f-abcde", None, 2),
        (datetime(2025, 3, 3, 12, 0, 2), "checkout", "warning", "slow query", None, None, None, None, None, None, 3),
        (datetime(2025, 3, 3, 11, 0, 9), "payments", "fatal", "out of memory", "4bf92f3577b34da6a3ce929d0e0e4736",
         "00f067aa0ba902b7", None, None, None, None, 9),
    ]


def test_web_vitals_beacons(warehouse: DuckDBWarehouse) -> None:
    path = FIXTURES / "rum" / "beacons.jsonl"
    report = load(warehouse, "rum", path)
    assert (report.table, report.rows_loaded) == ("raw_rum_beacons", 4)
    assert bad(report) == [
        (4, "negative value"),
        (5, "unknown web-vitals metric: SPEED"),
        (6, "missing page_path"),
        (7, "invalid number in metric_value: fast"),
        (8, "unknown rating: great"),
        (10, "invalid JSON"),
    ]
    assert report.warnings == new_fields(path, "rum", "debug_device_memory")
    assert warehouse.query("""
        SELECT beacon_timestamp, page_path, metric_name, metric_value, rating, metric_id, cloud_region, source_line
        FROM raw_rum_beacons ORDER BY source_line""") == [
        (datetime(2025, 3, 3, 12, 0, 0, 100000), "/checkout", "TTFB", 182.4, "good",
         "v4-1741003199912-8126337218391", "us-east-1", 1),
        (datetime(2025, 3, 3, 12, 0, 2, 400000), "/checkout", "LCP", 2310.5, "good",
         "v4-1741003199912-3372183918126", "us-east-1", 2),
        (datetime(2025, 3, 3, 12, 0, 31), "/checkout", "CLS", 0.12, "needs-improvement",
         "v4-1741003199912-1839181263372", "us-east-1", 3),
        (datetime(2025, 3, 3, 12, 0, 45), "/", "INP", 96.0, "good", "v4-6", None, 9),
    ]


def test_a_cur_file_with_a_new_column_loads_with_a_warning(warehouse: DuckDBWarehouse, tmp_path: Path) -> None:
    lines = (FIXTURES / "cur" / "cur_legacy.csv").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "cur_new_column.csv"
    extended = [lines[0] + ",carbon/EmissionsKgCo2e"] + [line + ",0.4" if line else line for line in lines[1:]]
    path.write_text("\n".join(extended) + "\n", encoding="utf-8")
    report = load(warehouse, "cur", path)
    original = load(warehouse, "cur", FIXTURES / "cur" / "cur_legacy.csv")
    assert original.warnings == []  # every column is of a known CUR family
    assert (report.rows_loaded, bad(report)) == (original.rows_loaded, bad(original)) == (4, bad(original))
    assert report.warnings == new_fields(path, "cur", "carbon/EmissionsKgCo2e")


def test_load_command_prints_new_field_warnings(tmp_path: Path) -> None:
    path = FIXTURES / "rum" / "beacons.jsonl"
    url = f"duckdb:{tmp_path / 'w.duckdb'}"
    result = CliRunner().invoke(load_command, ["--source", "rum", "--warehouse", url, str(path)])
    assert result.exit_code == 0, result.output
    assert "6 bad rows were not loaded; first 6:" in result.output
    assert "warning: " + new_fields(path, "rum", "debug_device_memory")[0] in " ".join(result.output.split())
