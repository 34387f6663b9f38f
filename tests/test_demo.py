"""`lookwright demo` end to end on a tiny synthetic run: synth -> load -> build -> checks -> generate."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest

from lookwright.cli import main
from lookwright.demo.pipeline import DemoPaths, sources_ready
from lookwright.demo.synth import SynthConfig
from lookwright.warehouse import DuckDBWarehouse

ROOT = Path(__file__).resolve().parents[1]


def _demo(capsys: pytest.CaptureFixture[str]) -> str:
    argv = ["demo", "--requests", "3000", "--days", "2", "--dir", "out", "--model", str(ROOT / "semantic")]
    with pytest.raises(SystemExit) as done:
        main(argv)
    err = capsys.readouterr().err
    assert done.value.code == 0, err
    return err


def test_demo_builds_checks_generates_and_reruns_safely(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    err = _demo(capsys)
    assert "sources: synthesized out/sources" in err
    # not a terminal: one plain line per step of every long phase, with the time so far
    lines = err.splitlines()
    assert _matching(lines, r"\[(\d+)/16\] synthesizing \S+ \(\d+ s\)") == 16
    assert "[16/16] synthesizing openslo/slos.yaml" in err
    assert _matching(lines, r"\[(\d+)/16\] loading \S+ \(\d+ s\)") == 16
    assert _matching(lines, r"\[\d+/(\d+)\] building \w+ \(\d+ s\)") >= 24
    assert _matching(lines, r"\[(\d+)/\1\] built \(\d+ s\)") == 1
    for step in ("running data-quality checks \\(\\d+ s\\)", "generating LookML and SQL: done in [\\d.]+ s",
                 "summarizing: done in [\\d.]+ s"):
        assert _matching(lines, step) == 1, step
    for title in ("rows per table", "cost per team (USD)", "top services by cost per request",
                  "top services by efficiency score", "data quality"):
        assert title in err
    manifest = json.loads(Path("out/sources/manifest.json").read_text(encoding="utf-8"))
    spans = manifest["counts"]["spans"]
    with DuckDBWarehouse("out/warehouse.duckdb") as w:
        assert w.query("SELECT COUNT(*) FROM fact_performance_requests") == [(spans,)]
        assert w.query("SELECT SUM(request_count) FROM fact_performance_metrics_hourly") == [(spans,)]
        assert w.query("SELECT SUM(request_count) FROM fact_performance_metrics_daily") == [(spans,)]
        assert w.query("SELECT COUNT(*) FROM dim_service") == [(21,)]  # 20 services + unattributed
        cost_in = w.query("SELECT (SELECT SUM(line_item_unblended_cost) FROM raw_aws_cur)"
                          " + (SELECT SUM(cost) FROM raw_gcp_billing)"
                          " + (SELECT SUM(cost_in_billing_currency) FROM raw_azure_cost)")[0][0]
        cost_out = w.query("SELECT SUM(total_cost) FROM fact_cost_hourly WHERE NOT is_estimated")[0][0]
        assert cost_out == pytest.approx(cost_in, abs=1e-6)
        methods = [m for (m,) in w.query("SELECT DISTINCT attribution_method FROM fact_cost_hourly ORDER BY 1")]
        assert {"tag", "usage_share", "activity", "estimate"} <= set(methods)
        assert cost_out == pytest.approx(812.28, abs=0.005)
        # the hours each provider's export has not reached yet are estimated, from the service's cost per request
        assert w.query("""SELECT cost_source, MIN(hour), MAX(hour), ROUND(SUM(total_cost), 2) FROM fact_cost_hourly
                          WHERE is_estimated GROUP BY 1 ORDER BY 1""") == [
            ("aws_cur", datetime(2025, 3, 4, 6), datetime(2025, 3, 4, 23), 245.59),
            ("azure_cost", datetime(2025, 3, 4, 0), datetime(2025, 3, 4, 23), 238.57),
            ("gcp_billing", datetime(2025, 3, 4, 18), datetime(2025, 3, 4, 23), 39.47)]
        # SLA columns from the service catalog's OpenSLO documents
        assert w.query("""SELECT service_name, sla_availability, sla_error_rate, sla_latency_p95_ms FROM dim_service
                          WHERE service_name IN ('checkout', 'reporting', 'unattributed') ORDER BY 1""") == [
            ("checkout", 0.995, 0.005, 540.0), ("reporting", 0.99, 0.01, 2700.0),
            ("unattributed", None, None, None)]
        failures = w.query("SELECT COUNT(*) FROM data_quality_results WHERE NOT passed AND severity = 'error'")
        assert failures == [(0,)]
        first = sorted(w.query("SELECT * FROM fact_cost_hourly"), key=repr)
    assert Path("generated_lookml").is_dir() and Path("sql/bigquery").is_dir()
    assert sources_ready(DemoPaths(Path("out")), SynthConfig(requests=3000, days=2))
    Path("out/warehouse.building.duckdb").write_text("left over from an interrupted run")
    err = _demo(capsys)
    assert "sources: reused out/sources" in err
    assert not Path("out/warehouse.building.duckdb").exists()
    with DuckDBWarehouse("out/warehouse.duckdb") as w:
        assert sorted(w.query("SELECT * FROM fact_cost_hourly"), key=repr) == first
        assert w.query("SELECT COUNT(DISTINCT run_id) FROM data_quality_results") == [(1,)]


def test_build_command_is_incremental_on_the_demo_warehouse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _demo(capsys)
    with pytest.raises(SystemExit) as done:
        main(["build", "--warehouse", "duckdb:out/warehouse.duckdb", "--model", str(ROOT / "semantic")])
    err = capsys.readouterr().err
    assert done.value.code == 0, err
    with DuckDBWarehouse("out/warehouse.duckdb") as w:
        loaded = w.query("SELECT MAX(loaded_at) FROM raw_service_slos")[0][0]
        day = f"{loaded:%Y-%m-%d} 00:00"  # the SLO documents' table is partitioned by their (wall-clock) load time
        assert build_rows(err) == [(*row[:2], day, *row[3:]) if row[2] == SLO_LOAD_DAY else row for row in DEMO_REBUILD]
        assert w.query("SELECT COUNT(*), SUM(request_count) FROM fact_performance_metrics_hourly") == [(3732, 7484)]


def _matching(lines: list[str], pattern: str) -> int:
    return sum(1 for line in lines if re.fullmatch(pattern, line))


def build_rows(err: str) -> list[tuple[str, str, str, str, str]]:
    """(table, mode, from, rows written, rows in table) of every row of the printed build table."""
    lines = [line.strip() for line in err.splitlines()]
    header = next(n for n, line in enumerate(lines) if line.startswith("┃ table") and "┃ mode" in line)
    end = next(n for n in range(header, len(lines)) if lines[n].startswith("└"))
    cells = [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines[header:end] if line.startswith("│")]
    return [(table, mode, since, written, rows) for table, mode, since, written, rows, _seconds in cells]


# `lookwright build` on the demo's warehouse (3,000 requests over 2 days, fixed seed): dimensions are
# rebuilt in full, every fact and rollup incrementally from its late-data window: the rows it rewrote, and
# the table's rows after. Cost facts go back to the first estimated hour (the 4th's Azure costs are not
# exported yet), so that estimates are replaced as soon as the bill lands. The daily profiles rewrite their
# newest day, before the dimensions that merge from them.
SLO_LOAD_DAY = "<the day the demo loaded the SLO documents>"
DEMO_REBUILD = [
    ("cost_daily_tags", "incremental", "2025-03-04 00:00", "14", "34"),
    ("dim_endpoint", "full", "", "199", "199"),
    ("dim_environment", "full", "", "3", "3"),
    ("dim_time", "full", "", "48", "48"),
    ("dim_user_segment", "full", "", "3", "3"),
    ("fact_log_events", "incremental", "2025-03-04 22:00", "10", "168"),
    ("fact_log_events_hourly", "incremental", "2025-03-04 22:00", "9", "151"),
    ("fact_performance_requests", "incremental", "2025-03-04 22:00", "158", "7,484"),
    ("fact_performance_metrics_hourly", "incremental", "2025-03-04 22:00", "88", "3,732"),
    ("fact_performance_metrics_daily", "incremental", "2025-03-03 00:00", "982", "982"),
    ("fact_performance_service_daily", "incremental", "2025-03-03 00:00", "40", "40"),
    ("fact_performance_service_monthly", "incremental", "2025-02-01 00:00", "20", "20"),
    ("fact_performance_service_weekly", "incremental", "2025-02-24 00:00", "20", "20"),
    ("fact_resource_metrics_hourly", "incremental", "2025-03-04 22:00", "90", "2,160"),
    ("fact_rum_events", "incremental", "2025-03-04 22:00", "58", "1,139"),
    ("fact_rum_hourly", "incremental", "2025-03-04 22:00", "58", "1,082"),
    ("mv_performance_realtime", "incremental", "2025-03-04 23:56", "2", "47"),  # the newest 90 minutes
    ("query_log_daily_services", "incremental", "2025-03-04 00:00", "20", "40"),
    ("region_daily_prices", "incremental", "2025-03-04 00:00", "17", "42"),
    ("resource_daily_latest", "incremental", "2025-03-04 00:00", "102", "247"),
    ("dim_resource", "full", "", "145", "145"),
    ("slo_daily_targets", "incremental", SLO_LOAD_DAY, "20", "20"),  # its newest load day
    ("span_daily_profile", "incremental", "2025-03-04 00:00", "28", "56"),
    ("dim_region", "full", "", "6", "6"),
    ("bridge_service_resource", "incremental", "2025-03-04 00:00", "175", "461"),  # its newest day
    ("dim_service", "full", "", "21", "21"),
    ("fact_cost_hourly", "incremental", "2025-03-04 00:00", "1,466", "4,380"),
    ("fact_cost_service_daily", "incremental", "2025-03-03 00:00", "40", "40"),
    ("fact_cost_service_monthly", "incremental", "2025-02-01 00:00", "20", "20"),
    ("fact_performance_cost_joined", "incremental", "2025-03-04 00:00", "1,143", "3,106"),
    ("bridge_trace_cost", "incremental", "2025-03-04 00:00", "1,502", "3,000"),
]


def test_planted_incidents_are_found_again_at_the_demo_density(tmp_path: Path) -> None:
    """At the default demo's requests per hour (800,000 over 14 days; here one day of it), every incident
    synth planted is found again in the built tables, nothing else is, and the summary says what happened.
    (The default 14-day demo finds its four too: bench/README.md.)"""
    from lookwright.demo.pipeline import build_warehouse, ensure_sources, find_incidents
    from lookwright.model.compile import load_model

    config = SynthConfig(days=1, requests=round(SynthConfig.requests / SynthConfig.days))
    paths = DemoPaths(tmp_path)
    ensure_sources(paths, config, lambda _: None)
    model = load_model(ROOT / "semantic")
    build_warehouse(paths, model, lambda _: None, lambda *_: None)
    planted = json.loads((paths.sources / "incidents.json").read_text(encoding="utf-8"))
    with DuckDBWarehouse(paths.warehouse) as w:
        found = find_incidents(w, model)
    assert [(i["service"], i["region"], i["start"], i["end"], i["kind"]) for i in planted] == PLANTED
    assert [(f.service, f.region, f.first_hour, f.last_hour, f.what) for f in found] == FOUND
    assert all(f.cost_per_1k is not None and f.normal_cost_per_1k is not None for f in found)


PLANTED = [
    ("checkout", "us-east-1", "2025-03-03T21:00:00Z", "2025-03-03T23:00:00Z", "latency_spike"),
    ("accounts", "eastus", "2025-03-03T21:00:00Z", "2025-03-03T23:00:00Z", "error_burst"),
    ("feature-flags", "eastus", "2025-03-03T21:00:00Z", "2025-03-04T00:00:00Z", "latency_spike"),
    ("orders", "us-east-1", "2025-03-03T21:00:00Z", "2025-03-04T00:00:00Z", "error_burst"),
]
# a run found can be shorter than the one planted: an hour under 20 requests or under the 5x / +10 points is not flagged
FOUND = [
    ("accounts", "eastus", "2025-03-03 21:00", "22:59", "errors 15% vs 0.7% normally"),
    ("checkout", "us-east-1", "2025-03-03 21:00", "21:59", "p95 5.2x normal (2,429 ms vs 467 ms)"),
    ("feature-flags", "eastus", "2025-03-03 21:00", "22:59", "p95 6.4x normal (241 ms vs 38 ms)"),
    ("orders", "us-east-1", "2025-03-03 21:00", "23:59", "errors 15% vs 1.1% normally"),
]
