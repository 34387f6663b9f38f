"""Data-quality checks: stored results, exit codes, failing-check messages."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fixtures.build.raw import MODEL, T0, cur, insert, run, span, warehouse

from lookwright.cli import main
from lookwright.errors import CheckFailed
from lookwright.warehouse import DuckDBWarehouse
from lookwright.warehouse.quality import CheckResult, CheckRun, ensure_passed, run_checks


def _built(path: Path | str = ":memory:") -> DuckDBWarehouse:
    w = warehouse(path)
    insert(w, "raw_spans", [span(f"t{i}", f"s{i}", T0 + timedelta(minutes=i)) for i in range(3)])
    insert(w, "raw_aws_cur", [cur(T0, 1.5, service="checkout", environment="production")])
    run(w)
    return w


def test_every_check_passes_and_is_stored() -> None:
    w = _built()
    result = run_checks(w, MODEL)
    assert result.failures == ()
    # this warehouse loads no logs, RUM, CloudWatch rows, query logs or SLO documents: their facts and
    # profiles are empty, a warning each
    assert [(r.table, r.check_name) for r in result.warnings] == [
        ("fact_log_events", "not_empty"), ("fact_resource_metrics_hourly", "not_empty"), ("fact_rum_events", "not_empty"),
        ("query_log_daily_services", "not_empty"), ("slo_daily_targets", "not_empty")]
    names = {r.check_name for r in result.results}
    assert {"requests_unique_span", "requests_duration_in_range", "cost_unique_grain",
            "cost_daily_availability", "cost_conserved_per_day", "dim_service__required_not_null"} <= names
    stored = w.query('SELECT run_id, table_name, check_name, severity, failing, passed FROM data_quality_results'
                     " WHERE check_name = 'cost_conserved_per_day'")
    assert stored == [(result.run_id, "fact_cost_hourly", "cost_conserved_per_day", "error", 0, True)]
    assert w.query("SELECT COUNT(*) FROM data_quality_results") == [(len(result.results),)]
    run_checks(w, MODEL)
    assert w.query("SELECT COUNT(DISTINCT run_id) FROM data_quality_results") == [(2,)]


def test_failing_checks_name_the_check_and_offending_count() -> None:
    w = _built()
    w.execute("INSERT INTO fact_performance_requests SELECT * FROM fact_performance_requests WHERE span_id = 's1'")
    w.execute("UPDATE fact_performance_requests SET duration_ms = 400000 WHERE span_id = 's2'")
    w.execute("UPDATE fact_cost_hourly SET total_cost = total_cost + 0.01")
    result = run_checks(w, MODEL)
    failing = {(r.table, r.check_name): r.failing for r in result.failures}
    assert failing == {
        ("fact_performance_requests", "requests_unique_span"): 1,
        ("fact_performance_requests", "requests_duration_in_range"): 1,
        ("fact_cost_hourly", "cost_conserved_per_day"): 1,
    }
    with pytest.raises(CheckFailed) as caught:
        ensure_passed(result)
    assert str(caught.value) == (
        "3 data-quality checks failed: fact_performance_requests.requests_unique_span (1 failing),"
        " fact_performance_requests.requests_duration_in_range (1 failing),"
        " fact_cost_hourly.cost_conserved_per_day (1 failing)")


def test_warnings_do_not_fail() -> None:
    run = CheckRun("r", T0, (CheckResult("fact_performance_requests", "requests_volume_jump", "warning", 2),))
    assert run.warnings == run.results and run.failures == ()
    ensure_passed(run)


def test_checks_command_exits_1_on_a_failing_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "wh.duckdb"
    _built(path).close()
    url = f"duckdb:{path}"
    with pytest.raises(SystemExit) as ok:
        main(["checks", "--warehouse", url, "--model", str(Path(__file__).parents[1] / "semantic")])
    assert ok.value.code == 0
    with warehouse(path) as w:
        w.execute("INSERT INTO fact_performance_requests SELECT * FROM fact_performance_requests")
    with pytest.raises(SystemExit) as failed:
        main(["checks", "--warehouse", url, "--model", str(Path(__file__).parents[1] / "semantic")])
    assert failed.value.code == 1
    err = capsys.readouterr().err
    assert "error: 1 data-quality check failed: fact_performance_requests.requests_unique_span (3 failing)" in err
    assert "FAIL" in err



def test_a_warehouse_built_from_nothing_fails_its_checks() -> None:
    """Building on empty raw tables used to pass every row-level check (issue 9)."""
    w = warehouse()
    run(w)
    result = run_checks(w, MODEL)
    assert [(r.table, r.check_name) for r in result.failures] == [("lookwright_build_state", "facts_not_all_empty")]
