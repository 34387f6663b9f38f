"""Synthetic data: byte-identical for a seed, loadable with zero bad rows, with its planted quirks."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from lookwright.commands.warehouse import synth as synth_command
from lookwright.demo.synth import (
    SynthConfig,
    billed_hours,
    hourly_requests,
    planned_files,
    synthesize,
)
from lookwright.warehouse import DuckDBWarehouse
from lookwright.warehouse.sources import load

SMALL = SynthConfig(seed=11, days=2, requests=20_000)
KINDS = {"otlp": "otlp", "cur": "cur", "gcp_billing": "gcp-billing", "azure_cost": "azure-cost",
         "query_log": "query-log", "cloudwatch": "cloudwatch", "app_logs": "app-logs", "rum": "rum",
         "openslo": "openslo"}


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("synth") / "out"
    args = ["--seed", "11", "--days", "2", "--requests", "20000", str(outdir)]
    result = CliRunner().invoke(synth_command, args)
    assert result.exit_code == 0, result.output
    return outdir


@pytest.fixture(scope="module")
def loaded(small: Path) -> DuckDBWarehouse:
    warehouse = DuckDBWarehouse(":memory:")
    manifest = json.loads((small / "manifest.json").read_text())
    for entry in manifest["files"]:
        report = load(warehouse, KINDS[entry["kind"]], small / entry["path"])
        assert report.bad_rows == [], entry["path"]
        if entry["kind"] != "otlp":
            assert report.rows_loaded == entry["rows"], entry["path"]
    return warehouse


def test_same_seed_gives_identical_bytes(small: Path, tmp_path: Path) -> None:
    synthesize(tmp_path, SMALL)
    assert _tree(tmp_path) == _tree(small)


def test_another_seed_gives_other_data(small: Path, tmp_path: Path) -> None:
    synthesize(tmp_path, SynthConfig(seed=12, days=2, requests=20_000))
    first = "otlp/spans-2025-03-03.jsonl"
    assert (tmp_path / first).read_bytes() != (small / first).read_bytes()


def test_files_in_every_format(small: Path) -> None:
    assert sorted(_tree(small)) == [
        "azure_cost/azure-cost-2025-03-03.csv",  # the 4th's daily export is not out yet
        "cloudwatch/metrics-2025-03-03.json", "cloudwatch/metrics-2025-03-04.json",
        "cur/cur-2025-03-03.csv", "cur/cur-2025-03-04.parquet",
        "gcp_billing/billing-2025-03-03.jsonl", "gcp_billing/billing-2025-03-04.jsonl",
        "incidents.json", "logs/app-2025-03-03.log", "logs/app-2025-03-04.log", "manifest.json",
        "openslo/slos.yaml",
        "otlp/spans-2025-03-03.jsonl", "otlp/spans-2025-03-04.jsonl",
        "query_log/queries-2025-03-03.jsonl", "query_log/queries-2025-03-04.jsonl",
        "rum/beacons-2025-03-03.jsonl", "rum/beacons-2025-03-04.jsonl",
    ]


def test_each_otlp_line_is_one_export_request(small: Path) -> None:
    for path in sorted((small / "otlp").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            request = json.loads(line)
            assert list(request) == ["resourceSpans"]
            (resource_spans,) = request["resourceSpans"]
            (scope_spans,) = resource_spans["scopeSpans"]
            assert 1 <= len(scope_spans["spans"]) <= SMALL.spans_per_batch


def test_hourly_traffic_sums_and_peaks_in_the_afternoon() -> None:
    counts = hourly_requests(SynthConfig(seed=1, days=7, requests=100_000, start=date(2025, 3, 3)))
    assert sum(counts) == 100_000
    monday = counts[:24]
    assert monday.index(max(monday)) in {14, 15, 16}
    assert sum(counts[5 * 24 : 6 * 24]) < 0.7 * sum(counts[:24])  # Saturday vs Monday


def test_everything_loads_and_matches_the_manifest(small: Path, loaded: DuckDBWarehouse) -> None:
    counts = json.loads((small / "manifest.json").read_text())["counts"]
    spans, distinct = loaded.query(
        "SELECT count(*), count(DISTINCT (trace_id, span_id)) FROM raw_spans"
    )[0]
    assert spans == counts["spans"] + counts["duplicate_spans"]
    assert spans - distinct == counts["duplicate_spans"] > 0
    roots = loaded.query("SELECT count(DISTINCT trace_id) FROM raw_spans WHERE parent_span_id IS NULL")
    assert roots == [(counts["requests"],)]
    assert loaded.query("SELECT count(DISTINCT service_name) FROM raw_spans") == [(20,)]
    assert loaded.query(
        "SELECT count(DISTINCT (service_name, http_request_method, http_route)) FROM raw_spans"
        " WHERE parent_span_id IS NULL"
    ) == [(200,)]
    assert loaded.query(
        "SELECT DISTINCT cloud_provider || '/' || cloud_region AS r FROM raw_spans ORDER BY r"
    ) == [(r,) for r in ["aws/eu-west-1", "aws/us-east-1", "azure/eastus", "azure/westeurope",
            "gcp/europe-west1", "gcp/us-central1"]]


def test_late_spans_sit_in_the_next_hours_batch(small: Path, loaded: DuckDBWarehouse) -> None:
    counts = json.loads((small / "manifest.json").read_text())["counts"]
    late = loaded.query("""
        WITH lines AS (
            SELECT source_file, source_line, max(date_trunc('hour', start_time)) AS batch_hour
            FROM raw_spans GROUP BY ALL
        )
        SELECT count(DISTINCT (s.trace_id, s.span_id)) FROM raw_spans s JOIN lines USING (source_file, source_line)
        WHERE date_trunc('hour', s.start_time) = batch_hour - INTERVAL 1 HOUR
    """)[0][0]
    assert counts["late_spans"] > 0
    # A batch made only of late spans hides them from this view; nearly all are visible.
    assert 0.9 * counts["late_spans"] <= late <= counts["late_spans"]


def test_costs_have_tagged_untagged_and_shared_lines(loaded: DuckDBWarehouse) -> None:
    rows = loaded.query("""
        SELECT count(*) FILTER (WHERE resource_tags_user_service IS NOT NULL),
               count(*) FILTER (WHERE resource_tags_user_service IS NULL AND resource_tags_user_team IS NULL),
               count(*) FILTER (WHERE line_item_product_code IN ('AmazonRDS', 'AWSELB')
                                  AND resource_tags_user_service IS NULL)
        FROM raw_aws_cur
    """)[0]
    assert all(count > 0 for count in rows), rows
    # billing exports lag the 48 traffic hours: CUR by 18 h, the GCP export by 6 h, Azure's daily export by a day
    assert loaded.query(
        "SELECT count(DISTINCT date_trunc('hour', line_item_usage_start_date)),"
        " max(line_item_usage_start_date) FROM raw_aws_cur"
    ) == [(30, datetime(2025, 3, 4, 5))]
    assert loaded.query("SELECT count(*), max(usage_start_time) FROM raw_gcp_billing"
                        " WHERE service_description = 'Cloud SQL'") == [(42, datetime(2025, 3, 4, 17))]
    assert loaded.query("SELECT count(DISTINCT usage_date), max(usage_date) FROM raw_azure_cost") == [
        (1, date(2025, 3, 3))]
    assert loaded.query("SELECT max(start_time) >= TIMESTAMP '2025-03-04 23:00' FROM raw_spans") == [(True,)]


def test_cost_export_lag_per_provider() -> None:
    assert [billed_hours(SMALL, p) for p in ("aws", "gcp", "azure")] == [30, 42, 24]
    one_day = SynthConfig(days=1, requests=100)  # never more than half the run: something is billed
    assert [billed_hours(one_day, p) for p in ("aws", "gcp", "azure")] == [12, 18, 12]
    assert planned_files(SMALL) == 16 and planned_files(one_day) == 9


def test_slos_are_openslo_documents_per_service(small: Path, loaded: DuckDBWarehouse) -> None:
    import yaml

    documents = list(yaml.safe_load_all((small / "openslo" / "slos.yaml").read_text(encoding="utf-8")))
    assert len(documents) == 60 and {d["apiVersion"] for d in documents} == {"openslo/v1"}
    assert [d["kind"] for d in documents[:3]] == ["Service", "SLO", "SLO"]
    assert loaded.query("""
        SELECT service, sli, op, threshold_value, target FROM raw_service_slos
        WHERE service IN ('checkout', 'reporting') ORDER BY service, sli""") == [
        ("checkout", "availability", None, None, 0.995), ("checkout", "latency", "lte", 540.0, 0.99),
        ("reporting", "availability", None, None, 0.99), ("reporting", "latency", "lte", 2700.0, 0.99)]


def test_query_logs_match_database_spans(loaded: DuckDBWarehouse) -> None:
    assert loaded.query("""
        SELECT count(DISTINCT database_resource_id), min(query_count) > 0 FROM raw_db_query_log
    """) == [(3, True)]


def test_error_burst_is_visible_in_the_spans(small: Path, loaded: DuckDBWarehouse) -> None:
    incidents = json.loads((small / "incidents.json").read_text())
    assert [i["kind"] for i in incidents] == ["latency_spike", "error_burst", "latency_spike", "error_burst"]
    burst = incidents[1]
    inside, outside = loaded.query("""
        SELECT avg(CASE WHEN status_code = 2 THEN 1 ELSE 0 END) FILTER (WHERE start_time >= ?::TIMESTAMP AND start_time < ?::TIMESTAMP),
               avg(CASE WHEN status_code = 2 THEN 1 ELSE 0 END) FILTER (WHERE start_time < ?::TIMESTAMP OR start_time >= ?::TIMESTAMP)
        FROM raw_spans
        WHERE parent_span_id IS NULL AND service_name = ? AND cloud_region = ?
          AND deployment_environment = 'production'
    """, [burst["start"][:-1], burst["end"][:-1], burst["start"][:-1], burst["end"][:-1],
          burst["service"], burst["region"]])[0]
    assert inside > 0.15
    assert outside < 0.02


def _window(incident: dict[str, str], days_before: int = 0) -> list[str]:
    shift = f" - INTERVAL {days_before} DAY" if days_before else ""
    return [f"TIMESTAMP '{incident['start'][:-1]}'{shift}", f"TIMESTAMP '{incident['end'][:-1]}'{shift}"]


def test_telemetry_names_the_same_services_and_instances(loaded: DuckDBWarehouse) -> None:
    spans = {r[0] for r in loaded.query("SELECT DISTINCT service_name FROM raw_spans")}
    logs = {r[0] for r in loaded.query("SELECT DISTINCT service FROM raw_app_logs")}
    processes = {r[0] for r in loaded.query(
        "SELECT DISTINCT json_extract_string(dimensions, '$.process_name') FROM raw_cloudwatch_metrics"
        " WHERE namespace = 'CWAgent'")}
    assert logs == spans
    assert processes == {"web-gateway", "checkout", "payments", "orders", "inventory", "auth"}  # AWS, not serverless
    instances = {r[0] for r in loaded.query(
        "SELECT DISTINCT json_extract_string(dimensions, '$.InstanceId') FROM raw_cloudwatch_metrics")}
    billed = {r[0] for r in loaded.query(
        "SELECT DISTINCT line_item_resource_id FROM raw_aws_cur WHERE line_item_usage_type LIKE 'BoxUsage%'")}
    assert instances == billed and len(instances) == 45
    assert all(i.startswith("i-") and len(i) == 19 for i in instances)
    # every log line in a trace points at a span that exists
    assert loaded.query("""
        SELECT count(*) FROM raw_app_logs l LEFT JOIN raw_spans s USING (trace_id, span_id)
        WHERE l.trace_id IS NOT NULL AND s.span_id IS NULL""") == [(0,)]
    per_view = loaded.query("""
        SELECT count(*) FILTER (WHERE metric_name = 'TTFB'), count(*) FILTER (WHERE metric_name = 'LCP'),
               count(*) FILTER (WHERE metric_name = 'CLS') FROM raw_rum_beacons""")[0]
    assert per_view[0] == per_view[1] == per_view[2] > 0


def test_incidents_are_visible_in_logs_metrics_and_rum(small: Path, loaded: DuckDBWarehouse) -> None:
    spike, burst = json.loads((small / "incidents.json").read_text())[:2]
    assert (spike["service"], spike["region"], burst["service"]) == ("auth", "us-east-1", "web-gateway")
    errors = """SELECT count(*) FILTER (WHERE level = 'error') FROM raw_app_logs
                WHERE service = ? AND log_timestamp >= {} AND log_timestamp < {}"""
    during = loaded.query(errors.format(*_window(burst)), [burst["service"]])[0][0]
    day_before = loaded.query(errors.format(*_window(burst, 1)), [burst["service"]])[0][0]
    assert during >= 5 and day_before <= 1, (during, day_before)
    cpu = """SELECT avg(value_sum / value_count) FROM raw_cloudwatch_metrics
             WHERE metric_name = 'CPUUtilization' AND metric_timestamp >= {} AND metric_timestamp < {}
               AND json_extract_string(dimensions, '$.InstanceId') IN (
                 SELECT DISTINCT json_extract_string(dimensions, '$.InstanceId') FROM raw_cloudwatch_metrics
                 WHERE json_extract_string(dimensions, '$.process_name') = ? AND region = ?)"""
    assert loaded.query(cpu.format(*_window(spike)), ["auth", "us-east-1"])[0][0] > 1.5 * loaded.query(
        cpu.format(*_window(spike, 1)), ["auth", "us-east-1"])[0][0]
    lcp = """SELECT quantile_disc(metric_value, 0.75) FROM raw_rum_beacons
             WHERE metric_name = 'TTFB' AND page_path = '/sessions' AND cloud_region = ?
               AND beacon_timestamp >= {} AND beacon_timestamp < {}"""
    assert loaded.query(lcp.format(*_window(spike)), ["us-east-1"])[0][0] > 3 * loaded.query(
        lcp.format(*_window(spike, 1)), ["us-east-1"])[0][0]
