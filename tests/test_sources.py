"""Loaders: exact rows and bad rows from hand-made export files, atomicity and idempotent reloads."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from lookwright.commands.warehouse import load as load_command
from lookwright.errors import InputError
from lookwright.warehouse import DuckDBWarehouse
from lookwright.warehouse.sources import RAW_TABLES, SOURCES, LoadReport, create_raw_tables, load

FIXTURES = Path(__file__).parent / "fixtures" / "sources"


@pytest.fixture
def warehouse() -> Iterator[DuckDBWarehouse]:
    with DuckDBWarehouse(":memory:") as opened:
        yield opened


def bad(report: LoadReport) -> list[tuple[int, str]]:
    return [(row.line, row.reason) for row in report.bad_rows]


def test_registry_covers_every_kind_and_table(warehouse: DuckDBWarehouse) -> None:
    assert sorted(SOURCES) == ["app-logs", "azure-cost", "cloudwatch", "cur", "gcp-billing", "openslo", "otlp",
                               "query-log", "rum"]
    assert sorted(RAW_TABLES) == [
        "raw_app_logs", "raw_aws_cur", "raw_azure_cost", "raw_cloudwatch_metrics", "raw_db_query_log",
        "raw_gcp_billing", "raw_rum_beacons", "raw_service_slos", "raw_spans",
    ]
    create_raw_tables(warehouse)
    for table in RAW_TABLES:
        assert warehouse.columns(table)[-3:] == ["source_file", "source_line", "loaded_at"]


def test_otlp_spans_and_bad_rows(warehouse: DuckDBWarehouse) -> None:
    report = load(warehouse, "otlp", FIXTURES / "otlp" / "traces.jsonl")
    assert report.table == "raw_spans"
    assert report.rows_loaded == 3
    assert bad(report) == [
        (2, "invalid JSON"),
        (3, "resourceSpans[0].scopeSpans[0].spans[1]: missing spanId"),
        (3, "resourceSpans[0].scopeSpans[0].spans[2]: invalid traceId"),
        (3, "resourceSpans[0].scopeSpans[0].spans[3]: invalid startTimeUnixNano"),
        (3, "resourceSpans[0].scopeSpans[0].spans[4]: endTimeUnixNano before startTimeUnixNano"),
        (5, "resourceSpans[0].scopeSpans[0].spans[0]: missing service.name"),
        (6, "not an ExportTraceServiceRequest: no resourceSpans array"),
    ]
    assert {row.file for row in report.bad_rows} == {str((FIXTURES / "otlp" / "traces.jsonl").resolve())}
    root = warehouse.query_dicts(
        "SELECT * EXCLUDE (source_file, loaded_at) FROM raw_spans WHERE span_id = 'eee19b7ec3c1b174'"
    )[0]
    assert root == {
        "trace_id": "5b8efff798038103d269b633813fc60c", "span_id": "eee19b7ec3c1b174",
        "parent_span_id": None, "name": "GET /api/cart/{id}", "kind": 2,
        "start_time_unix_nano": 1741003200000000000, "end_time_unix_nano": 1741003200125500000,
        "start_time": datetime(2025, 3, 3, 12, 0), "end_time": datetime(2025, 3, 3, 12, 0, 0, 125500),
        "duration_ms": 125.5, "status_code": 1, "status_message": None,
        "scope_name": "io.opentelemetry.http", "service_name": "checkout", "cloud_provider": "aws",
        "cloud_region": "us-east-1", "deployment_environment": "production",
        "host_name": "ip-10-0-0-1", "k8s_pod_name": "checkout-7d9f-abcde", "container_id": "c0ffee01",
        "http_route": "/api/cart/{id}", "http_request_method": "GET",
        "http_response_status_code": 200, "http_request_body_size": 0,
        "http_response_body_size": 1532, "enduser_id": "u-42", "session_id": "s-9",
        "user_segment": "pro",
        "span_attributes": (
            '{"http.route":"/api/cart/{id}","http.request.method":"GET",'
            '"http.response.status_code":200,"http.request.body.size":0,'
            '"http.response.body.size":1532,"enduser.id":"u-42","session.id":"s-9",'
            '"user.segment":"pro"}'
        ),
        "resource_attributes": (
            '{"service.name":"checkout","cloud.provider":"aws","cloud.region":"us-east-1",'
            '"deployment.environment":"production","host.name":"ip-10-0-0-1",'
            '"k8s.pod.name":"checkout-7d9f-abcde","container.id":"c0ffee01"}'
        ),
        "source_line": 1,
    }
    assert warehouse.query(
        "SELECT span_id, parent_span_id, kind, status_code, span_attributes FROM raw_spans"
        " WHERE source_line <> 1 OR parent_span_id IS NOT NULL ORDER BY span_id"
    ) == [
        ("b7ad6b7169203331", None, 2, 2,
         ('{"http.route":"/api/pay","http.request.method":"POST",'
          '"http.response.status_code":503,"user.segment":"enterprise"}')),
        ("eee19b7ec3c1b175", "eee19b7ec3c1b174", 3, 0,
         '{"db.system":"postgresql","sample.ratio":0.5,"cache.hit":false}'),
    ]


def test_cur_csv_legacy_headers(warehouse: DuckDBWarehouse) -> None:
    report = load(warehouse, "cur", FIXTURES / "cur" / "cur_legacy.csv")
    assert report.rows_loaded == 4
    assert bad(report) == [
        (6, "invalid timestamp in line_item_usage_start_date: not-a-date"),
        (7, "invalid number in line_item_unblended_cost: twelve"),
        (8, "malformed CSV row: missing columns"),
        (9, "missing line_item_product_code"),
        (10, "line_item_usage_end_date before line_item_usage_start_date"),
    ]
    assert warehouse.query(
        "SELECT * EXCLUDE (source_file, loaded_at) FROM raw_aws_cur ORDER BY source_line"
    ) == [
        (datetime(2025, 3, 3, 0), datetime(2025, 3, 3, 1), 0.096, "AmazonEC2", "BoxUsage:m5.large",
         None, "i-0abc", 1.0, "us-east-1", "checkout", "production", "web", "CC-100", 2),
        (datetime(2025, 3, 3, 0), datetime(2025, 3, 3, 1), 0.045, "AmazonEC2", "NatGateway-Hours",
         None, "nat-0123", 1.0, "us-east-1", None, None, None, None, 3),
        (datetime(2025, 3, 3, 0), datetime(2025, 3, 3, 1), 0.5, "AmazonRDS",
         "InstanceUsage:db.r5.xlarge", None, "arn:aws:rds:us-east-1:123456789012:db:shared-pg", 1.0,
         "us-east-1", None, None, None, None, 4),
        (datetime(2025, 3, 3, 1), datetime(2025, 3, 3, 2), 0.0225, "AWSELB", "LoadBalancerUsage", None,
         "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/edge/1", 1.0,
         "eu-west-1", None, None, None, None, 11),
    ]


def test_cur_parquet(warehouse: DuckDBWarehouse) -> None:
    report = load(warehouse, "cur", FIXTURES / "cur" / "cur.parquet")
    assert report.rows_loaded == 2
    assert bad(report) == [(3, "line_item_usage_end_date before line_item_usage_start_date")]
    assert warehouse.query(
        "SELECT line_item_usage_start_date, line_item_unblended_cost, resource_tags_user_service,"
        " resource_tags_user_team, product_region, source_line FROM raw_aws_cur ORDER BY source_line"
    ) == [
        (datetime(2025, 3, 3, 0), 0.192, "checkout", "commerce", "us-east-1", 1),
        (datetime(2025, 3, 3, 0), 1.04, None, "platform", "us-east-1", 2),
    ]


def test_azure_cost_csv(warehouse: DuckDBWarehouse) -> None:
    report = load(warehouse, "azure-cost", FIXTURES / "azure_cost" / "azure.csv")
    assert report.rows_loaded == 3
    assert bad(report) == [
        (5, "invalid date in usage_date: 13/45/2025"),
        (6, 'invalid Tags JSON in tags: {"service": broken'),
        (7, "missing meter_category"),
    ]
    assert warehouse.query(
        "SELECT usage_date, meter_category, cost_in_billing_currency, quantity, tags, tag_service,"
        " tag_environment, tag_team, tag_cost_center, source_line FROM raw_azure_cost ORDER BY source_line"
    ) == [
        (date(2025, 3, 3), "Virtual Machines", 4.608, 24.0,
         '{"service":"catalog","environment":"production","team":"storefront","cost_center":"CC-200"}',
         "catalog", "production", "storefront", "CC-200", 2),
        (date(2025, 3, 3), "SQL Database", 12.5, 24.0, None, None, None, None, None, 3),
        (date(2025, 3, 3), "Bandwidth", 0.25, 12.5, '{"service": "catalog","environment": "staging"}',
         "catalog", "staging", None, None, 4),
    ]


def test_gcp_billing_json_lines(warehouse: DuckDBWarehouse) -> None:
    report = load(warehouse, "gcp-billing", FIXTURES / "gcp_billing" / "billing.jsonl")
    assert report.rows_loaded == 2
    assert bad(report) == [
        (3, "invalid JSON"),
        (4, "not a JSON object"),
        (5, "invalid number in cost: n/a"),
        (6, 'invalid labels: {"service":"x"}'),
        (7, "missing service_description"),
    ]
    assert warehouse.query(
        "SELECT * EXCLUDE (source_file, loaded_at) FROM raw_gcp_billing ORDER BY source_line"
    ) == [
        ("Compute Engine", "N2 Instance Core running in Americas", datetime(2025, 3, 3, 0),
         datetime(2025, 3, 3, 1), 0.0971, "USD", 3600.0, "seconds", "lw-prod", "us-central1",
         "projects/lw-prod/zones/us-central1-a/instances/search-1",
         '{"service":"search","environment":"production","team":"discovery","cost_center":"CC-300"}',
         "search", "production", "discovery", "CC-300", 1),
        ("Cloud SQL", "Cloud SQL for PostgreSQL: Regional - vCPU", datetime(2025, 3, 3, 0),
         datetime(2025, 3, 3, 1), 0.35, "USD", 2.0, "hour", "lw-prod", "us-central1",
         "projects/lw-prod/instances/shared-pg", None, None, None, None, None, 2),
    ]


def test_gcp_billing_csv(warehouse: DuckDBWarehouse) -> None:
    report = load(warehouse, "gcp-billing", FIXTURES / "gcp_billing" / "billing.csv")
    assert report.rows_loaded == 1
    assert bad(report) == [(3, "invalid timestamp in usage_start_time: yesterday")]
    assert warehouse.query(
        "SELECT service_description, cost, usage_amount, location_region, labels, label_service,"
        " source_line FROM raw_gcp_billing"
    ) == [("Cloud Run", 0.012, 500.0, "europe-west1", '{"service":"notify"}', "notify", 2)]


def test_query_log(warehouse: DuckDBWarehouse) -> None:
    report = load(warehouse, "query-log", FIXTURES / "query_log" / "queries.jsonl")
    assert report.rows_loaded == 2
    assert bad(report) == [
        (3, "invalid integer in query_count: 1.5"),
        (4, "missing service"),
        (5, "invalid timestamp in log_timestamp: 03/03/2025 00:00"),
        (6, "negative query_count or total_duration_ms"),
        (7, "invalid JSON"),
    ]
    database = "arn:aws:rds:us-east-1:123456789012:db:shared-pg"
    assert warehouse.query(
        "SELECT * EXCLUDE (source_file, loaded_at) FROM raw_db_query_log ORDER BY source_line"
    ) == [
        (datetime(2025, 3, 3), "checkout", database, 1200, 3456.5, 1),
        (datetime(2025, 3, 3), "orders", database, 300, 900.0, 2),
    ]


def test_reload_replaces_instead_of_duplicating(warehouse: DuckDBWarehouse) -> None:
    path = FIXTURES / "cur" / "cur_legacy.csv"
    load(warehouse, "cur", path)
    again = load(warehouse, "cur", path)
    assert again.rows_loaded == 4
    assert warehouse.query("SELECT count(*) FROM raw_aws_cur") == [(4,)]


def test_unreadable_file_lands_nothing_and_keeps_earlier_rows(
    warehouse: DuckDBWarehouse, tmp_path: Path
) -> None:
    path = tmp_path / "queries.jsonl"
    shutil.copy(FIXTURES / "query_log" / "queries.jsonl", path)
    load(warehouse, "query-log", path)
    good_line = path.read_bytes().splitlines()[0]
    # Valid lines first, then bytes that are not UTF-8: the file fails mid-way.
    path.write_bytes(good_line + b"\n" + good_line + b"\n" + b'{"service":"\xff\xfe"}\n')
    with pytest.raises(InputError) as caught:
        load(warehouse, "query-log", path)
    assert "could not read content of file" in str(caught.value)
    assert str(caught.value).startswith(f"{path.resolve()}: cannot load as query-log:")
    assert warehouse.query("SELECT count(*), sum(query_count) FROM raw_db_query_log") == [(2, 1500)]


def test_csv_missing_required_column_is_an_input_error(
    warehouse: DuckDBWarehouse, tmp_path: Path
) -> None:
    path = tmp_path / "cur.csv"
    path.write_text("line_item_usage_start_date,line_item_unblended_cost\n2025-03-03T00:00:00Z,1\n")
    with pytest.raises(InputError) as caught:
        load(warehouse, "cur", path)
    assert str(caught.value) == (
        f"{path.resolve()}: missing required column(s): line_item_usage_end_date, line_item_product_code"
    )
    assert warehouse.table_exists("raw_aws_cur") is False


def test_unknown_kind(warehouse: DuckDBWarehouse) -> None:
    with pytest.raises(InputError) as caught:
        load(warehouse, "splunk", FIXTURES / "cur" / "cur.parquet")
    assert str(caught.value) == (
        "unknown source kind 'splunk': expected one of otlp, cur, gcp-billing, azure-cost, query-log, cloudwatch,"
        " app-logs, rum, openslo"
    )


def test_load_command_prints_counts_and_bad_rows(tmp_path: Path) -> None:
    url = f"duckdb:{tmp_path / 'w.duckdb'}"
    path = FIXTURES / "query_log" / "queries.jsonl"
    result = CliRunner().invoke(load_command, ["--source", "query-log", "--warehouse", url, str(path)])
    assert result.exit_code == 0, result.output
    assert "5 bad rows were not loaded; first 5:" in result.output
    assert f"  {path.resolve()}:3: invalid integer in query_count: 1.5" in result.output
    with DuckDBWarehouse(tmp_path / "w.duckdb") as warehouse:
        assert warehouse.query("SELECT count(*) FROM raw_db_query_log") == [(2,)]


def test_openslo_objectives_and_bad_documents(warehouse: DuckDBWarehouse) -> None:
    path = FIXTURES / "openslo" / "slos.yaml"
    report = load(warehouse, "openslo", path)
    assert (report.table, report.rows_loaded) == ("raw_service_slos", 3)
    # at the line of each bad document's `kind:`; the Service document is not an SLO and is skipped
    assert bad(report) == [
        (69, "apiVersion 'openslo/v1alpha' is not openslo/v1"),
        (76, "missing target"),
        (87, "objective op 'below' is not one of lte, lt, gte, gt"),
        (98, "budgetingMethod None is not one of Occurrences, Timeslices, RatioTimeslices"),
    ]
    assert warehouse.query(
        "SELECT * EXCLUDE (source_file, loaded_at) FROM raw_service_slos ORDER BY source_line, target"
    ) == [
        ("checkout", "checkout-availability", "availability", "ratioMetric", "Occurrences", "28d", "three nines",
         None, None, 0.999, 10),
        ("checkout", "checkout-latency", "latency", "ref", "Timeslices", "7d", "fast", "lte", 400.0, 0.99, 42),
        ("checkout", "checkout-latency", "latency", "ref", "Timeslices", "7d", "not slow", "lt", 900.0, 0.999, 42),
    ]


def test_openslo_file_that_is_not_yaml_loads_nothing(warehouse: DuckDBWarehouse, tmp_path: Path) -> None:
    path = tmp_path / "slos.yaml"
    shutil.copy(FIXTURES / "openslo" / "slos.yaml", path)
    load(warehouse, "openslo", path)
    path.write_text(path.read_text(encoding="utf-8") + "---\nkind: SLO\nspec: [unclosed\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load(warehouse, "openslo", path)
    assert str(caught.value) == (f"{path.resolve()}:109: not valid YAML (did not find expected ',' or ']'); "
                                 "an OpenSLO file is YAML documents separated by ---")
    assert warehouse.query("SELECT count(*) FROM raw_service_slos") == [(3,)]  # the earlier load stays
