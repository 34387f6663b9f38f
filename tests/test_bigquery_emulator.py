"""BigQueryWarehouse and the generated BigQuery SQL, run against the bqemulator BigQuery emulator."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from needs import missing

if importlib.util.find_spec("google.cloud.bigquery") is None:
    missing("google-cloud-bigquery is not installed: pip install -e '.[dev]'")

from bq_emulator import Emulator, bq_emulator_fixture, free_port  # noqa: F401
from google.cloud import bigquery

from lookwright.errors import WarehouseError
from lookwright.model.compile import load_model
from lookwright.model.ir import SemanticModel
from lookwright.sqlgen.render import SqlRenderer
from lookwright.warehouse import open_warehouse
from lookwright.warehouse.bigquery import BigQueryWarehouse, parse_url

ROOT = Path(__file__).resolve().parents[1]
PROJECT, DATASET = "perf-cost-prod", "observability"  # where the flagship model's tables live
REQUESTS, HOURLY, DAILY = "fact_performance_requests", "fact_performance_metrics_hourly", "fact_performance_metrics_daily"
FLAGSHIP_TABLES = 31
CHECKS = 47  # rows the committed sql/bigquery/checks files return
EMULATOR = "bqemulator 1.4.0"

# trace, span, timestamp, service, endpoint, region, duration_ms, status, is_error, request B, response B
ROWS = [
    ("t1", "s1", "2026-11-01 10:05:00", "svc-a", "ep-1", "eu", 100.0, 200, False, 10, 20),
    ("t1", "s2", "2026-11-01 10:15:00", "svc-a", "ep-1", "eu", 300.0, 503, True, 30, 40),
    ("t2", "s1", "2026-11-01 10:45:00", "svc-a", "ep-1", "eu", 200.0, 200, False, 20, 30),
    ("t3", "s1", "2026-11-01 11:05:00", "svc-b", None, "us", 50.0, 200, False, 5, 6),
    ("t4", "s1", "2026-11-02 09:30:00", "svc-a", "ep-1", "eu", 400.0, 500, True, 40, 50),
]
# hour, service, endpoint, region, environment, requests, errors, duration sum, max, request B, response B
HOURLY_ROWS = [
    (datetime(2026, 11, 1, 10, tzinfo=UTC), "svc-a", "ep-1", "eu", "prod", 3, 1, 600.0, 300.0, 60, 90),
    (datetime(2026, 11, 1, 11, tzinfo=UTC), "svc-b", None, "us", "prod", 1, 0, 50.0, 50.0, 5, 6),
    (datetime(2026, 11, 2, 9, tzinfo=UTC), "svc-a", "ep-1", "eu", "prod", 1, 1, 400.0, 400.0, 40, 50),
]
HOURLY_COLUMNS = ("hour, service_key, endpoint_key, region_key, environment_key, request_count, error_count,"
                  " duration_sum_ms, duration_max_ms, request_bytes_total, response_bytes_total")


def _literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str):
        return f"'{value}'"
    return repr(value)


def insert_requests_sql(rows: list[tuple[Any, ...]], host: str = "hand-made") -> str:
    values = []
    for trace, span, ts, service, endpoint, region, duration, status, error, req, resp in rows:
        hour = ts[:13] + ":00:00"
        time_key = int(ts[:4] + ts[5:7] + ts[8:10] + ts[11:13])
        literals = [_literal(v) for v in (trace, span)]
        literals += [f"TIMESTAMP '{ts}+00'", f"TIMESTAMP '{hour}+00'", f"DATE '{ts[:10]}'"]
        literals += [_literal(v) for v in (time_key, service, endpoint, region, "prod", duration, status,
                                           error, req, resp, host)]
        values.append("(" + ", ".join(literals) + ")")
    return (f"INSERT INTO {REQUESTS} (trace_id, span_id, timestamp, hour, date, time_key, service_key,"
            " endpoint_key, region_key, environment_key, duration_ms, http_status_code, is_error,"
            " request_size_bytes, response_size_bytes, host_name)\nVALUES " + ",\n".join(values))


# The representative 2·γ^b / (γ + 1) of the sketch bucket b = ceil(ln v / ln γ) holding each value,
# γ = 1.005 / 0.995, worked out by hand once (not from lookwright.sqlgen.dialects, so they cannot move with it).
SKETCH = {50.0: 50.15008078795971, 200.0: 199.3439302194523, 300.0: 300.3760057072916,
          400.0: 401.43172091055726}


def sketch_value(value: float) -> float:
    """The pinned representative of the sketch bucket holding `value`."""
    return SKETCH[value]


@pytest.fixture(scope="module")
def model() -> SemanticModel:
    return load_model(ROOT / "semantic")


@pytest.fixture(scope="module")
def renderer(model: SemanticModel) -> SqlRenderer:
    return SqlRenderer(model, "bigquery")


@pytest.fixture(scope="module")
def warehouse(bq_emulator: Emulator, renderer: SqlRenderer) -> Iterator[BigQueryWarehouse]:
    """The flagship tables created from the generated DDL, with the hand-made request rows."""
    with BigQueryWarehouse(PROJECT, DATASET, endpoint=bq_emulator.endpoint, timeout_s=30) as wh:
        wh.client.create_dataset(f"{PROJECT}.{DATASET}")
        for table in renderer.model.tables.values():
            wh.execute(renderer.ddl(table))
        wh.execute(insert_requests_sql(ROWS))
        yield wh


def hourly_contents(wh: BigQueryWarehouse) -> list[tuple[Any, ...]]:
    return wh.query(f"SELECT {HOURLY_COLUMNS} FROM {HOURLY} ORDER BY hour, service_key")


def test_generated_ddl_creates_every_flagship_table(warehouse: BigQueryWarehouse, model: SemanticModel) -> None:
    assert len(model.tables) == FLAGSHIP_TABLES
    for table in model.tables.values():
        assert warehouse.table_exists(table.name), table.name
        assert warehouse.columns(table.name) == [c.name for c in table.columns], table.name
    assert warehouse.table_exists(f"{PROJECT}.{DATASET}.{REQUESTS}")
    assert (warehouse.table_exists("no_such_table"), warehouse.columns("no_such_table")) == (False, [])


def test_generated_ddl_keeps_types_partitioning_and_expiry(warehouse: BigQueryWarehouse) -> None:
    daily = warehouse.client.get_table(f"{PROJECT}.{DATASET}.{DAILY}").time_partitioning
    assert (daily.type_, daily.field, daily.expiration_ms) == ("DAY", "date", 3650 * 86_400_000)
    table = warehouse.client.get_table(f"{PROJECT}.{DATASET}.{REQUESTS}")
    assert (table.time_partitioning.type_, table.time_partitioning.expiration_ms) == ("DAY", 90 * 86_400_000)
    assert table.description == "One row per span from OpenTelemetry traces, deduplicated on trace_id + span_id."
    kinds = {field.name: (field.field_type, field.mode) for field in table.schema}
    assert kinds["trace_id"] == ("STRING", "REQUIRED")
    assert kinds["timestamp"] == ("TIMESTAMP", "REQUIRED")
    sketch = next(f for f in warehouse.client.get_table(f"{PROJECT}.{DATASET}.{HOURLY}").schema
                  if f.name == "duration_sketch")
    assert (sketch.field_type, sketch.mode, [(f.name, f.field_type) for f in sketch.fields]) == (
        "RECORD", "REPEATED", [("bucket", "INTEGER"), ("n", "INTEGER")])


@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason=f"{EMULATOR} reports a JSON column as STRING in tables.get")
def test_generated_ddl_keeps_json_columns(warehouse: BigQueryWarehouse) -> None:
    table = warehouse.client.get_table(f"{PROJECT}.{DATASET}.{REQUESTS}")
    kinds = {field.name: (field.field_type, field.mode) for field in table.schema}
    assert kinds["span_attributes"] == kinds["resource_attributes"] == ("JSON", "NULLABLE")


@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason=f"{EMULATOR} ignores CLUSTER BY in CREATE TABLE: clustering_fields is None")
def test_generated_ddl_clusters(warehouse: BigQueryWarehouse) -> None:
    table = warehouse.client.get_table(f"{PROJECT}.{DATASET}.{REQUESTS}")
    assert table.clustering_fields == ["service_key", "endpoint_key", "hour"]


@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason=f"{EMULATOR} drops the column of PARTITION BY DATE(hour): "
                   "time_partitioning.field is None, where BigQuery reports 'hour'")
def test_generated_ddl_partitions_by_date_of_a_timestamp(warehouse: BigQueryWarehouse) -> None:
    partitioning = warehouse.client.get_table(f"{PROJECT}.{DATASET}.{HOURLY}").time_partitioning
    assert (partitioning.type_, partitioning.field) == ("DAY", "hour")


def test_generated_hourly_rollup_counts_the_hand_made_rows(
        warehouse: BigQueryWarehouse, renderer: SqlRenderer) -> None:
    rollup = renderer.rollup_select(renderer.model.tables[HOURLY], windowed=False)
    rows = warehouse.query_dicts(f"SELECT * FROM ({rollup}) ORDER BY hour, service_key")
    got = [tuple(row[c.strip()] for c in HOURLY_COLUMNS.split(",")) for row in rows]
    assert got == HOURLY_ROWS
    first = rows[0]
    assert (first["error_rate"], first["duration_avg_ms"], first["requests_per_second"]) == (1 / 3, 200.0, 3 / 3600)
    assert (first["request_bytes_avg"], first["response_bytes_avg"]) == (20.0, 30.0)
    assert first["duration_p50_ms"] == pytest.approx(sketch_value(200.0), rel=1e-12)
    assert first["duration_p99_ms"] == pytest.approx(sketch_value(300.0), rel=1e-12)
    assert abs(first["duration_p50_ms"] / 200.0 - 1) < 0.005
    assert sum(b["n"] for b in first["duration_sketch"]) == 3


def test_generated_hourly_incremental_merge_is_idempotent(
        warehouse: BigQueryWarehouse, renderer: SqlRenderer) -> None:
    warehouse.execute(f"DELETE FROM {HOURLY} WHERE TRUE")
    merge = renderer.incremental(renderer.model.tables[HOURLY])
    window = {"window_start": datetime(1970, 1, 1, tzinfo=UTC)}
    warehouse.execute(merge, window)
    first = hourly_contents(warehouse)
    warehouse.execute(merge, window)
    assert hourly_contents(warehouse) == first == HOURLY_ROWS


def test_daily_rollup_merges_the_hourly_sketches(warehouse: BigQueryWarehouse, renderer: SqlRenderer) -> None:
    hourly = renderer.model.tables[HOURLY]
    columns = ", ".join(c.name for c in hourly.columns)
    warehouse.execute(f"DELETE FROM {HOURLY} WHERE TRUE")
    warehouse.execute(f"INSERT INTO {HOURLY} ({columns})\n{renderer.rollup_select(hourly, windowed=False)}")
    assert hourly_contents(warehouse) == HOURLY_ROWS
    daily = renderer.rollup_select(renderer.model.tables[DAILY], windowed=False)
    rows = warehouse.query(f"SELECT date, service_key, request_count, error_count, duration_sum_ms,"
                           f" duration_max_ms, duration_p50_ms FROM ({daily}) ORDER BY date, service_key")
    assert [row[:6] for row in rows] == [
        (date(2026, 11, 1), "svc-a", 3, 1, 600.0, 300.0),
        (date(2026, 11, 1), "svc-b", 1, 0, 50.0, 50.0),
        (date(2026, 11, 2), "svc-a", 1, 1, 400.0, 400.0),
    ]
    assert [row[6] for row in rows] == pytest.approx(
        [sketch_value(200.0), sketch_value(50.0), sketch_value(400.0)], rel=1e-12)


def test_generated_checks_count_failing_rows(warehouse: BigQueryWarehouse, renderer: SqlRenderer) -> None:
    duplicate = [("t3", "s1", "2026-11-01 11:06:00", "svc-b", None, "us", 400000.0, 200, False, 5, 6)]
    warehouse.execute(insert_requests_sql(duplicate, host="duplicate"))
    try:
        got = warehouse.query(renderer.checks(renderer.model.tables[REQUESTS]))
    finally:
        warehouse.execute(f"DELETE FROM {REQUESTS} WHERE host_name = 'duplicate'")
    assert sorted(got) == [
        ("fact_performance_requests__required_not_null", "error", 0),
        ("requests_duration_in_range", "error", 1),
        ("requests_unique_span", "error", 1),
        ("requests_volume_jump", "warning", 0),
    ]
    after = warehouse.query(renderer.checks(renderer.model.tables[REQUESTS]))
    assert sorted(failing for _, _, failing in after) == [0, 0, 0, 0]


def test_every_committed_check_file_runs(warehouse: BigQueryWarehouse) -> None:
    files = sorted((ROOT / "sql" / "bigquery" / "checks").glob("*.sql"))
    results = [row for path in files for row in warehouse.query(path.read_text())]
    assert (len(files), len(results)) == (FLAGSHIP_TABLES, CHECKS)
    assert [row for row in results if row[2] != 0] == []


@pytest.fixture
def scratch(warehouse: BigQueryWarehouse) -> Iterator[str]:
    warehouse.execute("CREATE TABLE lw_scratch (k INT64, v STRING)")
    yield "lw_scratch"
    warehouse.execute("DROP TABLE lw_scratch")


def test_parameters_positional_and_named(warehouse: BigQueryWarehouse) -> None:
    assert warehouse.query("SELECT ? + 1, ?, ?", [41, "x", True]) == [(42, "x", True)]
    moment = datetime(2026, 11, 1, 10, 5, tzinfo=UTC)
    assert warehouse.query_dicts("SELECT @at AS at, @day AS day, @ratio * 2 AS twice",
                                 {"at": moment, "day": date(2026, 11, 1), "ratio": 0.25}) == [
        {"at": moment, "day": date(2026, 11, 1), "twice": 0.5}]
    typed_null = bigquery.ScalarQueryParameter(None, "INT64", None)
    assert warehouse.query("SELECT ? IS NULL", [typed_null]) == [(True,)]
    with pytest.raises(WarehouseError, match=r"^cannot infer the BigQuery type of a NULL parameter: pass lookwright"):
        warehouse.query("SELECT ?", [None])
    from lookwright.warehouse.base import TypedNull

    assert warehouse.query("SELECT @t IS NULL", {"t": TypedNull("TIMESTAMP")}) == [(True,)]
    naive = datetime(2026, 11, 1, 10, 5)  # lookwright's naive datetimes are UTC: bound as TIMESTAMP
    assert warehouse.query("SELECT @at", {"at": naive}) == [(naive.replace(tzinfo=UTC),)]


def test_errors_name_the_statement_first_line(warehouse: BigQueryWarehouse) -> None:
    with pytest.raises(WarehouseError) as bad_column:
        warehouse.query("-- a comment\nSELECT no_such_column\nFROM dim_region")
    assert str(bad_column.value).startswith("SELECT no_such_column: 400 Query execution failed: Binder Error:")
    with pytest.raises(WarehouseError) as missing:
        warehouse.execute("DELETE FROM no_such_table WHERE TRUE")
    assert str(missing.value).startswith(
        "DELETE FROM no_such_table WHERE TRUE (table perf-cost-prod.observability.no_such_table):"
        " 404 Not found: Table perf-cost-prod")


def test_transaction_commits(warehouse: BigQueryWarehouse, scratch: str) -> None:
    with warehouse.transaction():
        warehouse.execute(f"INSERT INTO {scratch} VALUES (1, 'a')")
        assert warehouse.query(f"SELECT k FROM {scratch}") == [(1,)]  # the transaction reads its own write
        warehouse.execute(f"INSERT INTO {scratch} VALUES (2, 'b')")
    assert warehouse.query(f"SELECT k, v FROM {scratch} ORDER BY k") == [(1, "a"), (2, "b")]
    with warehouse.transaction():  # the session is reused
        warehouse.execute(f"DELETE FROM {scratch} WHERE k = 1")
    assert warehouse.query(f"SELECT k FROM {scratch}") == [(2,)]


def test_transaction_rolls_back_when_the_block_raises(warehouse: BigQueryWarehouse, scratch: str) -> None:
    warehouse.execute(f"INSERT INTO {scratch} VALUES (1, 'kept')")
    with pytest.raises(ValueError, match="stop"), warehouse.transaction():
        warehouse.execute(f"INSERT INTO {scratch} VALUES (2, 'dropped')")
        warehouse.execute(f"DELETE FROM {scratch} WHERE k = 1")
        raise ValueError("stop")
    assert warehouse.query(f"SELECT k, v FROM {scratch}") == [(1, "kept")]


def test_transaction_rolls_back_a_failing_statement(warehouse: BigQueryWarehouse, scratch: str) -> None:
    with pytest.raises(WarehouseError, match=r"^INSERT INTO lw_scratch VALUES \('x', 1, 2\) \(table perf-cost-prod.observability"
                       r".lw_scratch\): 400 "), \
            warehouse.transaction():
        warehouse.execute(f"INSERT INTO {scratch} VALUES (3, 'dropped')")
        warehouse.execute(f"INSERT INTO {scratch} VALUES ('x', 1, 2)")
    assert warehouse.query(f"SELECT COUNT(*) FROM {scratch}") == [(0,)]
    with warehouse.transaction():  # the warehouse is usable again
        warehouse.execute(f"INSERT INTO {scratch} VALUES (4, 'kept')")
    assert warehouse.query(f"SELECT k FROM {scratch}") == [(4,)]


def test_statements_after_a_failure_in_the_transaction_are_refused(
        warehouse: BigQueryWarehouse, scratch: str) -> None:
    warehouse.begin()
    warehouse.execute(f"INSERT INTO {scratch} VALUES (5, 'dropped')")
    with pytest.raises(WarehouseError, match=r"^SELECT no_such_column FROM lw_scratch: 400 "):
        warehouse.query(f"SELECT no_such_column FROM {scratch}")
    with pytest.raises(WarehouseError, match=r"^INSERT INTO lw_scratch VALUES \(6, 'x'\): refused, the open "
                       r"transaction failed and BigQuery rolled it back; call rollback\(\)$"):
        warehouse.execute(f"INSERT INTO {scratch} VALUES (6, 'x')")
    with pytest.raises(WarehouseError, match="^COMMIT TRANSACTION: a statement of the transaction failed"):
        warehouse.commit()
    assert warehouse.query(f"SELECT COUNT(*) FROM {scratch}") == [(0,)]


def test_row_count_is_the_tables_metadata_after_dml_transactions_and_loads(
        warehouse: BigQueryWarehouse, scratch: str, tmp_path: Path) -> None:
    """numRows from tables.get (no job): every committed row, none of a transaction rolled back.
    The test launcher makes bqemulator answer numRows as BigQuery does (tests/bq_emulator.py)."""
    start = len(warehouse.sent)
    assert warehouse.row_count(scratch) == 0
    warehouse.execute(f"INSERT INTO {scratch} VALUES (1, 'a'), (2, 'b')")
    assert warehouse.row_count(scratch) == 2
    with warehouse.transaction():
        warehouse.execute(f"DELETE FROM {scratch} WHERE k = 1")
        warehouse.execute(f"INSERT INTO {scratch} VALUES (3, 'c'), (4, 'd')")
    assert warehouse.row_count(scratch) == 3
    warehouse.begin()
    warehouse.execute(f"INSERT INTO {scratch} VALUES (5, 'e')")
    warehouse.rollback()
    warehouse.execute(f"MERGE {scratch} AS t USING (SELECT 9 AS k, 'z' AS v) AS s ON t.k = s.k"
                      " WHEN NOT MATCHED THEN INSERT (k, v) VALUES (s.k, s.v)")
    assert warehouse.row_count(scratch) == 4
    assert warehouse.query(f"SELECT COUNT(*) FROM {scratch}") == [(4,)]
    rows = tmp_path / "rows.json"
    rows.write_text('{"k": 1}\n{"k": 2}\n', encoding="utf-8")
    warehouse.load_json("lw_loaded", rows, (("k", "INT64"),))
    warehouse.execute("INSERT INTO lw_loaded (k) VALUES (3)")
    assert warehouse.row_count("lw_loaded") == 3
    warehouse.execute("DROP TABLE lw_loaded")
    counted = [s.sql for s in warehouse.sent[start:] if "COUNT(" in s.sql]
    assert counted == [f"SELECT COUNT(*) FROM {scratch}"]  # the test's own: row_count sends no job
    with pytest.raises(WarehouseError, match=f"^counting the rows of {PROJECT}.{DATASET}.no_such_table: no such table$"):
        warehouse.row_count("no_such_table")


def test_the_emulator_is_known_by_its_client_and_its_dry_runs_report_no_bytes(warehouse: BigQueryWarehouse) -> None:
    """Its client sends no credentials (BigQuery answers no such call); the emulator answers every
    dry run with totalBytesProcessed "0", which is no measure of anything: bytes unknown."""
    assert warehouse.emulator is True
    assert warehouse.client.query(f"SELECT * FROM {REQUESTS}", job_config=bigquery.QueryJobConfig(
        dry_run=True, default_dataset=f"{PROJECT}.{DATASET}")).total_bytes_processed == 0
    assert warehouse.dry_run(f"SELECT * FROM {REQUESTS}") is None


def test_a_change_an_ingestion_time_table_cannot_take_is_refused_before_anything_is_written(
        bq_emulator: Emulator, tmp_path: Path) -> None:
    """The emulator would run CREATE OR REPLACE TABLE ... PARTITION BY _PARTITIONDATE AS SELECT;
    BigQuery refuses it (test_bigquery_model_rules), so prepare does, before any twin or record."""
    from test_bigquery_model_rules import DOCUMENTED, INGESTED, ingestion_partitioned

    from lookwright.warehouse.build import (
        INGESTION_HINT,
        TransformRenderer,
        prepare,
        recorded_layouts,
    )

    with BigQueryWarehouse(PROJECT, "ingestion", endpoint=bq_emulator.endpoint, timeout_s=60) as wh:
        wh.client.create_dataset(f"{PROJECT}.ingestion")
        renderer = TransformRenderer(wh.target(load_model(ROOT / "semantic")), "bigquery")
        prepare(wh, renderer)
        recorded = recorded_layouts(wh, renderer)
        start = len(wh.sent)
        with pytest.raises(WarehouseError) as refused:
            prepare(wh, TransformRenderer(wh.target(ingestion_partitioned(tmp_path)), "bigquery"))
        assert str(refused.value) == (f"table {INGESTED}: its partitioning changed, which takes a new table, and"
                                      f" {DOCUMENTED}\nnothing was changed; {INGESTION_HINT}")
        sent = [s.sql.split("(")[0].strip() for s in wh.sent[start:] if not s.sql.startswith("SELECT")]
        assert all(s.startswith(("CREATE TABLE IF NOT EXISTS", "CREATE OR REPLACE FUNCTION")) for s in sent), sent
        assert recorded_layouts(wh, renderer) == recorded and not wh.table_exists(f"{INGESTED}__lw_next")


def test_transaction_misuse_is_refused(warehouse: BigQueryWarehouse) -> None:
    with pytest.raises(WarehouseError, match="^COMMIT TRANSACTION: no transaction is open"):
        warehouse.commit()
    with pytest.raises(WarehouseError, match="^ROLLBACK TRANSACTION: no transaction is open"):
        warehouse.rollback()
    with warehouse.transaction(), pytest.raises(WarehouseError, match="^BEGIN TRANSACTION: a transaction is"):
        warehouse.begin()


def test_open_warehouse_url_reaches_the_emulator(bq_emulator: Emulator, warehouse: BigQueryWarehouse) -> None:
    with open_warehouse(f"bigquery:{PROJECT}.{DATASET}@{bq_emulator.endpoint}") as opened:
        assert isinstance(opened, BigQueryWarehouse)
        assert (opened.project, opened.dataset, opened.dialect) == (PROJECT, DATASET, "bigquery")
        assert opened.query(f"SELECT COUNT(*) FROM {REQUESTS}") == [(len(ROWS),)]


def test_parse_url() -> None:
    assert parse_url("bigquery:perf-cost-prod.observability") == ("perf-cost-prod", "observability", None)
    assert parse_url("bigquery:example.com:proj.ds@http://127.0.0.1:9050") == (
        "example.com:proj", "ds", "http://127.0.0.1:9050")
    for url, message in [
        ("bigquery:observability", "names no PROJECT.DATASET"),
        ("bigquery:p.", "names no PROJECT.DATASET"),
        ("bigquery:p.d@127.0.0.1:9050", "the endpoint after @ must start with http:// or https://"),
        ("bq:p.d", "unsupported warehouse URL"),
    ]:
        with pytest.raises(WarehouseError, match=message):
            parse_url(url)
    with pytest.raises(WarehouseError, match="names no PROJECT.DATASET"):
        open_warehouse("bigquery:nodataset")


def test_unreachable_endpoint_is_a_warehouse_error() -> None:
    started = time.monotonic()
    with BigQueryWarehouse(PROJECT, DATASET, endpoint=f"http://127.0.0.1:{free_port()}", timeout_s=2) as wh, \
            pytest.raises(WarehouseError, match=r"^SELECT 1: "):
        wh.query("SELECT 1")
    assert time.monotonic() - started < 10
