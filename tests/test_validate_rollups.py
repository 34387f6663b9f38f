"""`validate rollups`: rollups recomputed from raw rows; planted rollup mistakes are caught exactly."""

from __future__ import annotations

import json
import math
import shutil
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fixtures.build.raw import MODEL, ROOT, T0, cur, insert, key, run, span, warehouse

from lookwright.checks.rollups import (
    Aggregate,
    Mismatch,
    Percentile,
    PerSecond,
    Ratio,
    Sketch,
    TableResult,
    key_expression,
    render_json,
    resolve,
    validate_rollups,
    values_match,
)
from lookwright.cli import main
from lookwright.errors import CheckFailed
from lookwright.model.compile import load_model
from lookwright.sqlgen.dialects import DIALECTS
from lookwright.warehouse import DuckDBWarehouse

DUCKDB = DIALECTS["duckdb"]
DAILY = "fact_performance_metrics_daily"
HOURLY = "fact_performance_metrics_hourly"
SERVICE = "fact_performance_service_daily"
COST = "fact_cost_service_daily"
LOGS, RUM = "fact_log_events_hourly", "fact_rum_hourly"  # empty here: no log lines or beacons
LONG = ["fact_cost_service_monthly", "fact_performance_service_monthly", "fact_performance_service_weekly"]
ROLLUPS = [COST, LONG[0], LOGS, DAILY, HOURLY, SERVICE, LONG[1], LONG[2], RUM, "mv_performance_realtime"]  # the model's rollup tables, in the order they are validated
# checkout GET /api/carts: a skewed small hour (18 fast, 2 slow) then a busy even hour
SKEWED_HOUR = [10.0 + i for i in range(18)] + [500.0, 520.0]
BUSY_HOUR = [10.0 + 0.5 * ((i * 37) % 100) for i in range(100)]
CHECKOUT_DAY = SKEWED_HOUR + BUSY_HOUR
METRICS = ("request_count", "error_count", "error_rate", "duration_sum_ms", "duration_avg_ms",
           "duration_max_ms", "duration_sketch", "duration_p50_ms", "duration_p75_ms", "duration_p90_ms",
           "duration_p95_ms", "duration_p99_ms", "duration_p999_ms", "requests_per_second",
           "request_bytes_total", "response_bytes_total", "request_bytes_avg", "response_bytes_avg")
SERVICE_METRICS = {
    "request_count": "additive", "error_count": "additive", "error_rate": "ratio", "duration_sum_ms": "additive",
    "duration_avg_ms": "ratio", "duration_max_ms": "additive", "duration_sketch": "sketch",
    "duration_p50_ms": "percentile", "duration_p95_ms": "percentile", "duration_p99_ms": "percentile",
    "requests_per_second": "per_second", "response_bytes_total": "additive",
}
COST_METRICS = ("compute_cost", "storage_cost", "network_cost", "database_cost", "other_cost", "total_cost",
                "estimated_hours")


def compared(mismatches: tuple[Mismatch, ...]) -> tuple[tuple[object, ...], ...]:
    """(keys, metric, rollup value, raw value) of each mismatch, in order."""
    return tuple((m.keys, m.metric, m.rollup, m.raw) for m in mismatches)


def nearest_rank(values: list[float], fraction: float) -> float:
    return sorted(values)[math.ceil(fraction * len(values)) - 1]


def scenario(path: Path | str = ":memory:") -> DuckDBWarehouse:
    """2 checkout hours (20 + 100 requests) and 3 payments requests without a route, built.

    One tagged AWS cost line ($2 for checkout) covers the first hour; the second checkout hour has no
    AWS cost line, so it is estimated: 100 requests x $2 / 20 requests = $10.
    """
    w = warehouse(path)
    rows = [span(f"a{i}", f"a{i}", T0 + timedelta(seconds=10 * i), d) for i, d in enumerate(SKEWED_HOUR)]
    rows += [span(f"b{i}", f"b{i}", T0 + timedelta(hours=1, seconds=30 * i), d) for i, d in enumerate(BUSY_HOUR)]
    rows += [span(f"p{i}", f"p{i}", T0 + timedelta(minutes=i), 40.0 + i, service="payments", route=None,
                  status=500 if i == 0 else 200) for i in range(3)]
    insert(w, "raw_spans", rows)
    insert(w, "raw_aws_cur", [cur(T0, 2.0, service="checkout", environment="production")])
    run(w)
    return w


def checkout_keys(w: DuckDBWarehouse, period: tuple[str, Any]) -> tuple[tuple[str, Any], ...]:
    return (period, ("service_key", key(w, "checkout")), ("endpoint_key", key(w, "checkout|GET|/api/carts")),
            ("region_key", key(w, "aws:us-east-1")), ("environment_key", key(w, "production")))


def by_name(report: Any) -> dict[str, TableResult]:
    return {t.table: t for t in report.tables}


def counts(report_table: Any) -> dict[str, tuple[str, int, int]]:
    return {m.metric: (m.kind, m.compared, m.mismatches) for m in report_table.metrics}


def replace_daily(w: DuckDBWarehouse, column: str, hourly_expression: str) -> None:
    """Overwrite a daily column with an aggregate of the hourly rows: the classic rollup mistakes."""
    keys = ("service_key", "endpoint_key", "region_key", "environment_key")
    join = " AND ".join(f"d.{k} IS NOT DISTINCT FROM h.{k}" for k in keys)
    w.execute(f"UPDATE {DAILY} AS d SET {column} = h.value FROM ("
              f" SELECT CAST(hour AS DATE) AS date, {', '.join(keys)}, {hourly_expression} AS value"
              f" FROM {HOURLY} GROUP BY ALL) AS h WHERE d.date = h.date AND {join}")


def test_every_rollup_column_resolves_to_its_meaning_on_the_root_rows() -> None:
    daily = MODEL.tables[DAILY]
    count = Aggregate("count", "*")
    assert resolve(MODEL, daily, "request_count", DUCKDB) == count
    assert resolve(MODEL, daily, "error_count", DUCKDB) == Aggregate("count_if", "is_error")
    assert resolve(MODEL, daily, "duration_max_ms", DUCKDB) == Aggregate("max", "duration_ms")
    assert resolve(MODEL, daily, "duration_avg_ms", DUCKDB) == Ratio(Aggregate("sum", "duration_ms"), count, None)
    assert resolve(MODEL, daily, "requests_per_second", DUCKDB) == PerSecond(count, 86400)
    assert resolve(MODEL, MODEL.tables[HOURLY], "requests_per_second", DUCKDB) == PerSecond(count, 3600)
    assert resolve(MODEL, daily, "duration_sketch", DUCKDB) == Sketch("duration_ms")
    assert resolve(MODEL, daily, "duration_p999_ms", DUCKDB) == Percentile("duration_ms", 0.999)
    assert key_expression(MODEL, daily, "date", DUCKDB) == "CAST(date_trunc('hour', timestamp) AS DATE)"
    assert key_expression(MODEL, daily, "region_key", DUCKDB) == "region_key"


def test_a_clean_build_passes_with_exact_counts() -> None:
    w = scenario()
    report = validate_rollups(MODEL, w)
    assert [t.table for t in report.tables] == ROLLUPS
    tables = by_name(report)
    daily, hourly, service, cost = tables[DAILY], tables[HOURLY], tables[SERVICE], tables[COST]
    assert (daily.groups_compared, daily.groups_outside_raw, daily.mismatches) == (2, 0, ())
    assert (hourly.groups_compared, hourly.groups_outside_raw, hourly.mismatches) == (3, 0, ())
    assert list(counts(daily)) == list(METRICS)
    percentiles = [m for m in METRICS if m.endswith("_ms") and m.startswith("duration_p")]
    for name, (kind, compared, mismatches) in counts(daily).items():
        assert (compared, mismatches) == ((1, 0) if name in percentiles else (2, 0)), name
    for name, (kind, compared, mismatches) in counts(hourly).items():
        assert (compared, mismatches) == ((1, 0) if name in percentiles else (3, 0)), name
    kinds = {kind for kind, _, _ in counts(daily).values()}
    assert kinds == {"additive", "ratio", "per_second", "sketch", "percentile"}
    assert counts(daily)["duration_sketch"][0] == "sketch" and counts(daily)["error_rate"][0] == "ratio"
    # per service per day: checkout (120 requests) and payments (3, below min_group for percentiles)
    assert (service.root, service.groups_compared, service.groups_outside_raw, service.mismatches) == (
        "fact_performance_requests", 2, 0, ())
    assert counts(service) == {name: (kind, 1 if kind == "percentile" else 2, 0)
                               for name, kind in SERVICE_METRICS.items()}
    assert w.query(f"SELECT service_key, request_count, error_count, duration_max_ms, list_sum(list_transform("
                   f"duration_sketch, lambda s: s.n)) FROM {SERVICE} ORDER BY request_count DESC") == [
        (key(w, "checkout"), 120, 0, 520.0, 120), (key(w, "payments"), 3, 1, 42.0, 3)]
    # per service per day of cost: only checkout has cost, $2 tagged + $10 estimated in one day
    assert (cost.root, cost.groups_compared, cost.groups_outside_raw, cost.mismatches) == (
        "fact_cost_hourly", 1, 0, ())
    assert counts(cost) == {name: ("additive", 1, 0) for name in COST_METRICS}
    assert w.query(f"SELECT date, service_key, compute_cost, total_cost, other_cost, estimated_hours"
                   f" FROM {COST}") == [(T0.date(), key(w, "checkout"), 12.0, 12.0, 0.0, 1)]


def test_min_group_and_tolerance_decide_which_percentiles_pass() -> None:
    w = scenario()
    small = validate_rollups(MODEL, w, min_group=20, tables=[HOURLY]).tables[0]
    assert counts(small)["duration_p95_ms"] == ("percentile", 2, 0)
    # the sketch is only within 0.5 %: a zero tolerance reports it, the sketch's own bound does not
    exact = validate_rollups(MODEL, w, tolerance=0.0, tables=[DAILY]).tables[0]
    assert counts(exact)["duration_p95_ms"] == ("percentile", 1, 1)
    assert counts(validate_rollups(MODEL, w, tolerance=0.005, tables=[DAILY]).tables[0])["duration_p95_ms"] == (
        "percentile", 1, 0)


@pytest.mark.parametrize("hourly_aggregate", ["MAX", "AVG"])
def test_percentile_of_percentiles_is_caught(hourly_aggregate: str) -> None:
    w = scenario()
    replace_daily(w, "duration_p95_ms", f"{hourly_aggregate}(duration_p95_ms)")
    tables = by_name(validate_rollups(MODEL, w))
    daily, hourly = tables[DAILY], tables[HOURLY]
    planted = w.query(f"SELECT duration_p95_ms FROM {DAILY} WHERE endpoint_key IS NOT NULL")[0][0]
    hourly_p95 = [r[0] for r in w.query(f"SELECT duration_p95_ms FROM {HOURLY} WHERE endpoint_key IS NOT NULL"
                                        " ORDER BY hour")]
    assert hourly_p95[0] == pytest.approx(nearest_rank(SKEWED_HOUR, 0.95), rel=0.005)  # 500: the 19th of 20
    expected = max(hourly_p95) if hourly_aggregate == "MAX" else sum(hourly_p95) / 2
    assert planted == pytest.approx(expected, rel=1e-12)
    raw = nearest_rank(CHECKOUT_DAY, 0.95)
    assert raw == 57.5
    assert compared(daily.mismatches) == (
        (checkout_keys(w, ("date", T0.date())), "duration_p95_ms", planted, raw),)
    origin = MODEL.tables[DAILY].origin  # an Issue at the rollup table's YAML line
    assert (daily.mismatches[0].file, daily.mismatches[0].line, daily.mismatches[0].code) == (origin.file, origin.line,
                                                                                              "rollups")
    assert counts(daily)["duration_p95_ms"] == ("percentile", 1, 1)
    assert hourly.mismatches == () and tables[SERVICE].mismatches == () and tables[COST].mismatches == ()


def test_average_of_averages_is_caught() -> None:
    w = scenario()
    replace_daily(w, "duration_avg_ms", "AVG(duration_avg_ms)")
    tables = by_name(validate_rollups(MODEL, w))
    assert [name for name, table in tables.items() if table.mismatches] == [DAILY]
    daily = tables[DAILY]
    averages = (sum(SKEWED_HOUR) / 20 + sum(BUSY_HOUR) / 100) / 2
    # payments has a single hour, so its average of averages happens to be right: only checkout
    assert len(daily.mismatches) == 1
    mismatch = daily.mismatches[0]
    assert (mismatch.keys, mismatch.metric) == (checkout_keys(w, ("date", T0.date())), "duration_avg_ms")
    assert mismatch.rollup == pytest.approx(averages, rel=1e-12) and averages == pytest.approx(51.2)
    assert mismatch.raw == pytest.approx(sum(CHECKOUT_DAY) / 120, rel=1e-12)
    assert counts(daily)["duration_avg_ms"] == ("ratio", 2, 1)


def test_missing_and_extra_groups_are_mismatches() -> None:
    w = scenario()
    w.execute(f"DELETE FROM {HOURLY} WHERE hour = ? AND endpoint_key IS NOT NULL", [T0])
    w.execute(f"INSERT INTO {HOURLY} (hour, service_key, request_count) VALUES (?, 'ghost', 7)",
              [T0 + timedelta(hours=2)])
    hourly = validate_rollups(MODEL, w, tables=[HOURLY]).tables[0]
    ghost = ((("hour", T0 + timedelta(hours=2)), ("service_key", "ghost"), ("endpoint_key", None),
              ("region_key", None), ("environment_key", None)))
    assert compared(hourly.mismatches) == (
        (checkout_keys(w, ("hour", T0)), "group", "missing", 20),
        (ghost, "group", "present", 0),
    )
    assert hourly.groups_compared == 4 and counts(hourly)["request_count"] == ("additive", 2, 0)


def test_rollup_rows_older_than_the_raw_rows_are_not_compared() -> None:
    w = scenario()
    w.execute(f"INSERT INTO {DAILY} (date, service_key, request_count) VALUES (?, 'old', 7)",
              [T0.date() - timedelta(days=200)])
    daily = validate_rollups(MODEL, w, tables=[DAILY]).tables[0]
    assert (daily.groups_outside_raw, daily.groups_compared, daily.mismatches) == (1, 2, ())


def test_a_column_without_a_raw_meaning_is_skipped_with_its_reason(tmp_path: Path) -> None:
    directory = tmp_path / "semantic"
    shutil.copytree(ROOT / "semantic", directory)
    performance = directory / "performance.yml"
    line = "        - {name: duration_max_ms, agg: max, sql: duration_ms}\n"
    assert performance.read_text().count(line) == 1
    performance.write_text(performance.read_text().replace(
        line, line + "        - {name: any_host, agg: any_value, sql: host_name}\n"))
    model = load_model(directory)
    w = warehouse()
    insert(w, "raw_spans", [span(f"a{i}", f"a{i}", T0 + timedelta(seconds=10 * i), d)
                            for i, d in enumerate(SKEWED_HOUR)])
    run(w, model)
    hourly = validate_rollups(model, w, tables=[HOURLY]).tables[0]
    skipped = next(m for m in hourly.metrics if m.metric == "any_host")
    assert (skipped.kind, skipped.compared, skipped.mismatches) == ("skipped", 0, 0)
    assert skipped.reason == "any_value is not determined by the raw rows"
    assert hourly.mismatches == () and counts(hourly)["request_count"] == ("additive", 1, 0)
    entry = json.loads(render_json(validate_rollups(model, w, tables=[HOURLY])))["tables"][0]["metrics"][6]
    assert entry == {"metric": "any_host", "kind": "skipped", "compared": 0, "mismatches": 0,
                     "reason": "any_value is not determined by the raw rows"}


def _cli(*args: str) -> int:
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    return int(exit_.value.code or 0)


def test_cli_exit_codes_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "warehouse.duckdb"
    scenario(path).close()
    arguments = ("validate", "rollups", "--warehouse", f"duckdb:{path}", "--model", str(ROOT / "semantic"))
    assert _cli(*arguments) == 0
    out = capsys.readouterr()
    assert "fact_performance_metrics_daily (2 groups, from fact_performance_requests)" in out.out
    assert "fact_performance_service_daily (2 groups, from fact_performance_requests)" in out.out
    assert "fact_cost_service_daily (1 group, from fact_cost_hourly)" in out.out
    # 1 cost + 2 daily + 3 hourly + 2 service + 5 weekly/monthly + 50 service-minutes of the real-time table
    assert "compared 10 rollup tables, 63 groups in " in out.err
    with DuckDBWarehouse(path) as w:
        replace_daily(w, "duration_avg_ms", "AVG(duration_avg_ms)")
        endpoint = key(w, "checkout|GET|/api/carts")
        key_of_checkout = key(w, "checkout")
    assert _cli(*arguments, "--format", "json") == 1
    document = json.loads(capsys.readouterr().out)
    assert document["version"] == 1 and [t["table"] for t in document["tables"]] == ROLLUPS
    daily = document["tables"][ROLLUPS.index(DAILY)]
    assert [t["table"] for t in document["tables"] if t["mismatches"]] == [DAILY]
    assert daily["groups_compared"] == 2
    assert daily["metrics"][4] == {"metric": "duration_avg_ms", "kind": "ratio", "compared": 2, "mismatches": 1}
    [mismatch] = daily["mismatches"]
    assert mismatch["keys"]["date"] == "2025-03-03" and mismatch["keys"]["endpoint_key"] == endpoint
    assert mismatch["metric"] == "duration_avg_ms" and mismatch["raw"] == pytest.approx(sum(CHECKOUT_DAY) / 120)
    assert _cli(*arguments) == 1
    out = capsys.readouterr()
    assert "fact_performance_metrics_daily mismatches" in out.out
    assert f"│ 2025-03-03 │ {key_of_checkout} │ {endpoint} │" in out.out  # full keys, never squeezed
    assert out.err.endswith("error: 1 rollup mismatch against the raw rows\n")


def test_a_missing_rollup_table_fails_the_check() -> None:
    w = scenario()
    w.execute(f"DROP TABLE {SERVICE}")
    with pytest.raises(CheckFailed, match=r"^table fact_performance_service_daily does not exist on the"
                       r" warehouse: run `lookwright build` first$"):
        validate_rollups(MODEL, w)


def test_json_renders_dates_and_timestamps_as_iso_strings() -> None:
    w = scenario()
    w.execute(f"DELETE FROM {HOURLY} WHERE hour = ? AND endpoint_key IS NOT NULL", [datetime(2025, 3, 3, 11)])
    document = json.loads(render_json(validate_rollups(MODEL, w, tables=[HOURLY])))
    assert document["tables"][0]["mismatches"][0]["keys"]["hour"] == "2025-03-03T11:00:00"
    assert document["tables"][0]["mismatches"][0]["rollup"] == "missing"
    assert document["tables"][0]["mismatches"][0]["raw"] == 100


@pytest.mark.parametrize(("kind", "rollup", "raw", "tolerance", "expected"), [
    ("additive", 3, 3, 0.01, True),
    ("additive", 3, 4, 0.01, False),
    ("additive", 3.0, 3, 0.01, True),
    ("additive", 1e9 + 1, 1e9 + 1 + 1e-3, 0.01, True),  # relative 1e-12
    ("additive", 100.0, 100.0001, 0.01, False),  # relative 1e-6
    ("additive", "b", "b", 0.01, True),
    ("additive", "a", "b", 0.01, False),
    ("additive", date(2025, 3, 3), date(2025, 3, 4), 0.01, False),
    ("additive", True, True, 0.01, True),
    ("ratio", None, None, 0.01, True),
    ("ratio", None, 0.5, 0.01, False),
    ("ratio", Decimal("0.5"), 0.5, 0.01, True),
    ("percentile", 100.9, 100.0, 0.01, True),
    ("percentile", 101.1, 100.0, 0.01, False),
    ("percentile", 0.001002, 0.0, 0.01, True),  # below the sketch floor both read 0.001
])
def test_values_match(kind: str, rollup: Any, raw: Any, tolerance: float, expected: bool) -> None:
    assert values_match(kind, rollup, raw, tolerance) is expected


def test_an_unknown_table_name_fails() -> None:
    with pytest.raises(CheckFailed, match="not rollup tables of the model: dim_service, nope"):
        validate_rollups(MODEL, warehouse(), tables=["nope", "dim_service"])


def test_the_umbrella_runs_rollups_with_a_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(ROOT / "semantic", tmp_path / "semantic")
    shutil.copytree(ROOT / "generated_lookml", tmp_path / "generated_lookml")
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "warehouse.duckdb"
    scenario(path).close()
    assert _cli("validate", "--warehouse", f"duckdb:{path}") == 0
    assert "│ rollups    │ passed │" in capsys.readouterr().out
    with DuckDBWarehouse(path) as w:
        replace_daily(w, "duration_p95_ms", "MAX(duration_p95_ms)")
    assert _cli("validate", "--warehouse", f"duckdb:{path}") == 1
    out = capsys.readouterr().out
    assert "│ rollups    │ failed: 1 rollup mismatch against the raw rows │" in out
    assert "│ sql        │ passed" in out
