"""A CloudWatch metric stream in the OpenTelemetry 1.0.0 format loaded into BigQuery (the bqemulator): checked
locally like on DuckDB, its good rows sent by a load job, the same rows as the JSON format's, warnings kept."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("google.cloud.bigquery", reason="google-cloud-bigquery is not installed")

from bq_emulator import Emulator, bq_emulator_fixture  # noqa: F401
from test_cloudwatch_otel import FIXTURES, GOOD

from lookwright.warehouse import DuckDBWarehouse
from lookwright.warehouse.bigquery import BigQueryWarehouse
from lookwright.warehouse.sources import load

PROJECT, DATASET = "lw-ci", "metric_streams"
COLUMNS = ("metric_stream_name, account_id, region, namespace, metric_name, metric_timestamp, value_count,"
           " value_sum, value_max, value_min, unit")


@pytest.fixture(scope="module")
def bq(bq_emulator: Emulator) -> Iterator[BigQueryWarehouse]:
    with BigQueryWarehouse(PROJECT, DATASET, endpoint=bq_emulator.endpoint, timeout_s=30) as wh:
        wh.client.create_dataset(f"{PROJECT}.{DATASET}")
        yield wh


def _rows(w: BigQueryWarehouse, name: str) -> list[tuple[object, ...]]:
    return sorted(w.query(f"SELECT {COLUMNS}, source_line FROM `{PROJECT}.{DATASET}.raw_cloudwatch_metrics`"
                          " WHERE source_file = @f", {"f": name}), key=str)


def test_opentelemetry_stream_reaches_bigquery_like_the_json_format(bq: BigQueryWarehouse, tmp_path: Path) -> None:
    otel_path = tmp_path / "metrics.binpb"
    otel_path.write_bytes(GOOD)
    json_path = FIXTURES / "cloudwatch" / "metrics.json"
    otel, as_json = load(bq, "cloudwatch", otel_path), load(bq, "cloudwatch", json_path)
    assert (otel.rows_loaded, otel.bad_rows, otel.warnings) == (3, [], [])
    with DuckDBWarehouse(":memory:") as local:  # the JSON file's bad rows and warnings, as on DuckDB
        expected = load(local, "cloudwatch", json_path)
    assert (as_json.rows_loaded, as_json.bad_rows, as_json.warnings) == (3, expected.bad_rows, expected.warnings)
    otel_rows, json_rows = _rows(bq, otel.file), _rows(bq, as_json.file)
    assert [row[:-1] for row in otel_rows] == [row[:-1] for row in json_rows]
    assert sorted(row[-1] for row in otel_rows) == [1, 1, 2]  # the record, not a line
