"""Exact-number tests of `lookwright build` on small hand-made raw rows (DuckDB)."""

from __future__ import annotations

import math
import random
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest
from fixtures.build.raw import (
    LOADED,
    MODEL,
    ROOT,
    T0,
    azure,
    cur,
    insert,
    key,
    queries,
    run,
    snapshot,
    span,
    warehouse,
)

from lookwright.errors import WarehouseError
from lookwright.model.compile import load_model
from lookwright.warehouse.build import TransformRenderer, build_order, late_window
from lookwright.warehouse.quality import run_checks

H = timedelta(hours=1)


def test_build_order_follows_the_templates_references() -> None:
    order = [t.name for t in build_order(TransformRenderer(MODEL))]
    assert order.index("fact_performance_requests") < order.index("fact_performance_metrics_hourly")
    assert order.index("fact_performance_metrics_hourly") < order.index("fact_cost_hourly")
    assert order.index("fact_cost_hourly") < order.index("fact_performance_cost_joined")
    assert order.index("fact_performance_cost_joined") < order.index("bridge_trace_cost")
    assert order.index("fact_performance_metrics_hourly") < order.index("fact_performance_metrics_daily")
    assert sorted(order) == sorted(MODEL.tables)


def test_dedup_is_error_and_rollup_counts() -> None:
    w = warehouse()
    insert(w, "raw_spans", [
        span("t1", "s1", T0 + timedelta(minutes=1), 10, status=200),
        span("t1", "s1", T0 + timedelta(minutes=1), 10, status=200, source_file="again.jsonl"),
        span("t2", "s2", T0 + timedelta(minutes=2), 20, status=503),
        span("t3", "s3", T0 + timedelta(minutes=3), 30, status=200, otel_status=2),
        span("t4", "s4", T0 + timedelta(minutes=4), 40, status=404),
        span("t5", "s5", T0 + timedelta(minutes=5), 50, status=None, route=None, parent="s4"),
        span("t6", "s6", T0 + timedelta(hours=1, minutes=1), 60, status=500),
    ])
    run(w)
    facts = w.query("SELECT span_id, is_error, hour, date, time_key, http_status_code FROM fact_performance_requests"
                    " ORDER BY span_id")
    assert [(s, e) for s, e, *_ in facts] == [
        ("s1", False), ("s2", True), ("s3", True), ("s4", False), ("s5", False), ("s6", True)]
    assert facts[0][2:5] == (T0, T0.date(), 2025030310)
    assert facts[5][2:5] == (T0 + H, T0.date(), 2025030311)
    hourly = w.query("SELECT hour, SUM(request_count), SUM(error_count), SUM(duration_sum_ms), MAX(duration_max_ms)"
                     " FROM fact_performance_metrics_hourly GROUP BY hour ORDER BY hour")
    assert hourly == [(T0, 5, 2, 150.0, 50.0), (T0 + H, 1, 1, 60.0, 60.0)]
    daily = w.query("SELECT date, endpoint_key IS NULL, request_count, error_count, duration_sum_ms,"
                    " requests_per_second FROM fact_performance_metrics_daily ORDER BY 2, 1")
    assert daily == [(T0.date(), False, 5, 3, 160.0, 5 / 86400), (T0.date(), True, 1, 0, 50.0, 1 / 86400)]
    endpoint = w.query("SELECT endpoint_key, service_key, endpoint_name FROM dim_endpoint")
    assert endpoint == [(key(w, "checkout|GET|/api/carts"), key(w, "checkout"), "GET /api/carts")]


def _cost_scenario() -> tuple[object, ...]:
    w = warehouse()
    insert(w, "raw_spans", [
        span("c1", "a1", T0 + timedelta(minutes=1), 10, service="checkout"),
        span("c2", "a2", T0 + timedelta(minutes=2), 20, service="checkout", status=500),
        span("c3", "a3", T0 + timedelta(minutes=3), 30, service="checkout"),
        span("p1", "b1", T0 + timedelta(minutes=4), 40, service="payments"),
    ])
    insert(w, "raw_aws_cur", [
        cur(T0, 2.0, resource="i-checkout", service="checkout", environment="production", team="commerce"),
        cur(T0, 0.8, usage_type="NatGateway-Hours", resource="nat-1"),
        cur(T0, 1.0, product="AmazonRDS", usage_type="InstanceUsage:db.r5.large", resource="db-1"),
        cur(T0, 0.4, resource="i-untagged"),
        cur(T0 + 5 * H, 0.5, resource="i-untagged"),
    ])
    insert(w, "raw_db_query_log", [queries(T0, "checkout", "db-1", 1), queries(T0, "payments", "db-1", 3)])
    insert(w, "raw_azure_cost", [azure(T0.date(), 2.4, service="accounts", resource="/vm/accounts-1")])
    run(w)
    return (w,)


def test_cost_attribution_three_methods_exact_amounts() -> None:
    (w,) = _cost_scenario()
    rows = w.query("""
        SELECT s.service_name, c.hour, c.attribution_method, c.environment_key IS NULL, c.cost_source,
               c.compute_cost, c.network_cost, c.database_cost, c.total_cost, c.is_estimated
        FROM fact_cost_hourly c JOIN dim_service s USING (service_key)
        WHERE c.cost_source = 'aws_cur' ORDER BY 1, 2, 3""")
    expected = [
        ("checkout", T0, "activity", True, "aws_cur", 0.0, 0.0, 0.25, 0.25, False),
        ("checkout", T0, "tag", False, "aws_cur", 2.0, 0.0, 0.0, 2.0, False),
        ("checkout", T0, "usage_share", False, "aws_cur", 0.3, 0.6, 0.0, 0.9, False),
        ("payments", T0, "activity", True, "aws_cur", 0.0, 0.0, 0.75, 0.75, False),
        ("payments", T0, "usage_share", False, "aws_cur", 0.1, 0.2, 0.0, 0.3, False),
        ("unattributed", T0 + 5 * H, "usage_share", True, "aws_cur", 0.5, 0.0, 0.0, 0.5, False),
    ]
    assert [r[:5] for r in rows] == [e[:5] for e in expected]
    for got, want in zip(rows, expected, strict=True):
        assert got[5:9] == pytest.approx(want[5:9], abs=1e-12)
        assert got[9] is want[9]
    azure_hours = w.query("SELECT COUNT(*), MIN(total_cost), MAX(total_cost), SUM(total_cost), MIN(attribution_method)"
                          " FROM fact_cost_hourly WHERE cost_source = 'azure_cost'")
    assert azure_hours[0][0] == 24 and azure_hours[0][4] == "tag"
    assert azure_hours[0][1:4] == pytest.approx((0.1, 0.1, 2.4), abs=1e-12)
    day = w.query("SELECT date, SUM(total_cost) FROM fact_cost_hourly WHERE NOT is_estimated GROUP BY date")
    assert day[0][0] == T0.date() and day[0][1] == pytest.approx(2.0 + 0.8 + 1.0 + 0.4 + 0.5 + 2.4, abs=1e-9)
    conservation = [r for r in run_checks(w, MODEL).results if r.check_name == "cost_conserved_per_day"]
    assert [(r.failing, r.passed) for r in conservation] == [(0, True)]
    bridge = w.query("""
        SELECT s.service_name, r.resource_id, b.allocation_method, b.allocation_share
        FROM bridge_service_resource b JOIN dim_service s USING (service_key) JOIN dim_resource r USING (resource_key)
        WHERE r.resource_id IN ('nat-1', 'db-1') ORDER BY 2, 1""")
    assert [b[:3] for b in bridge] == [("checkout", "db-1", "activity"), ("payments", "db-1", "activity"),
                                       ("checkout", "nat-1", "usage_share"), ("payments", "nat-1", "usage_share")]
    assert [b[3] for b in bridge] == pytest.approx([0.25, 0.75, 0.75, 0.25], abs=1e-12)
    shared = w.query("SELECT resource_id, shared_kind, resource_type FROM dim_resource ORDER BY resource_id")
    assert shared == [("/vm/accounts-1", None, "compute"), ("db-1", "database", "database"),
                      ("i-checkout", None, "compute"), ("i-untagged", None, "compute"),
                      ("nat-1", "nat_gateway", "network")]


def test_joined_unit_economics_use_merged_sketches() -> None:
    (w,) = _cost_scenario()
    row = w.query_dicts("""
        SELECT j.* FROM fact_performance_cost_joined j JOIN dim_service s USING (service_key)
        WHERE s.service_name = 'checkout' AND j.environment_key IS NOT NULL""")
    assert len(row) == 1
    r = row[0]
    assert (r["request_count"], r["error_count"], r["successful_request_count"]) == (3, 1, 2)
    assert r["total_cost"] == pytest.approx(2.9, abs=1e-12)
    assert r["cost_per_request"] == pytest.approx(2.9 / 3, abs=1e-12)
    assert r["cost_per_successful_request"] == pytest.approx(1.45, abs=1e-12)
    assert r["requests_per_dollar"] == pytest.approx(3 / 2.9, abs=1e-12)
    assert abs(r["duration_p95_ms"] - 30) / 30 <= 0.005
    assert r["performance_efficiency_score"] == pytest.approx((3 / 3600 / r["duration_p95_ms"]) / 2.9 * 1000)
    assert r["is_cost_estimated"] is False
    no_requests = w.query("""
        SELECT j.request_count, j.total_cost, j.cost_per_request, j.performance_efficiency_score
        FROM fact_performance_cost_joined j JOIN dim_service s USING (service_key)
        WHERE s.service_name = 'unattributed'""")
    assert no_requests == [(0, 0.5, None, None)]
    traces = w.query("SELECT trace_id, span_count, attributed_cost FROM bridge_trace_cost ORDER BY trace_id")
    assert [t[:2] for t in traces] == [("c1", 1), ("c2", 1), ("c3", 1), ("p1", 1)]
    assert [t[2] for t in traces] == pytest.approx([2.9 / 3, 2.9 / 3, 2.9 / 3, 0.3], abs=1e-12)


def test_estimated_cost_is_flagged_then_replaced_by_real_cost() -> None:
    w = warehouse()
    insert(w, "raw_spans", [span(f"e{i}", f"e{i}", T0 + timedelta(minutes=i)) for i in range(2)]
           + [span(f"f{i}", f"f{i}", T0 + H + timedelta(minutes=i)) for i in range(4)])
    insert(w, "raw_aws_cur", [cur(T0, 1.0, service="checkout", environment="production")])
    run(w)
    rows = w.query("SELECT hour, attribution_method, compute_cost, total_cost, is_estimated FROM fact_cost_hourly"
                   " ORDER BY hour")
    assert rows == [(T0, "tag", 1.0, 1.0, False), (T0 + H, "estimate", 2.0, 2.0, True)]
    assert w.query("SELECT hour, is_cost_estimated, total_cost FROM fact_performance_cost_joined ORDER BY hour") == [
        (T0, False, 1.0), (T0 + H, True, 2.0)]
    insert(w, "raw_aws_cur", [cur(T0 + H, 3.0, service="checkout", environment="production",
                                  loaded_at=LOADED + timedelta(days=1))])
    report = run(w)
    assert report.step("fact_cost_hourly").mode == "incremental"
    rows = w.query("SELECT hour, attribution_method, total_cost, is_estimated FROM fact_cost_hourly ORDER BY hour")
    assert rows == [(T0, "tag", 1.0, False), (T0 + H, "tag", 3.0, False)]
    assert w.query("SELECT hour, is_cost_estimated, total_cost FROM fact_performance_cost_joined ORDER BY hour") == [
        (T0, False, 1.0), (T0 + H, False, 3.0)]


def test_incremental_build_twice_changes_nothing_and_equals_a_full_rebuild() -> None:
    (w,) = _cost_scenario()
    first = snapshot(w)
    report = run(w)
    assert report.step("fact_performance_requests").mode == "incremental"
    assert report.step("fact_performance_metrics_hourly").mode == "incremental"
    assert snapshot(w) == first
    run(w, full_refresh=True)
    assert snapshot(w) == first


def test_the_late_data_window_is_the_largest_hourly_increment_offset(tmp_path: Path) -> None:
    assert late_window(MODEL) == timedelta(hours=1)  # semantic/: every hourly rollup has increment_offset: 1
    assert late_window(load_model(ROOT / "tests" / "fixtures" / "deploy" / "semantic")) == timedelta(0)  # none
    model_dir = tmp_path / "semantic"
    shutil.copytree(ROOT / "semantic", model_dir)
    performance = model_dir / "performance.yml"
    text = performance.read_text()
    assert text.count("increment_offset: 1") == 3
    performance.write_text(text.replace("increment_offset: 1", "increment_offset: 3", 1))
    assert late_window(load_model(model_dir)) == timedelta(hours=3)


def test_late_spans_on_the_window_start_are_counted_and_a_second_earlier_are_not() -> None:
    w = warehouse()
    newest = T0 + 2 * H + timedelta(minutes=30, seconds=15, microseconds=250_000)  # floored to its hour
    insert(w, "raw_spans", [span("a", "a", T0 + timedelta(minutes=5)), span("c", "c", newest)])
    run(w)
    later = LOADED + timedelta(hours=3)
    insert(w, "raw_spans", [  # the newest hour is T0 + 2h, so the window starts at T0 + 1h exactly
        span("on", "on", T0 + H, source_file="late.jsonl", loaded_at=later),
        span("before", "before", T0 + H - timedelta(seconds=1), source_file="late.jsonl", loaded_at=later),
    ])
    report = run(w)
    step = report.step("fact_performance_requests")
    assert (step.mode, step.window_start, step.rows) == ("incremental", T0 + H, 3)
    hourly = report.step("fact_performance_metrics_hourly")  # newest hour T0 + 2h less increment_offset 1
    assert (hourly.mode, hourly.window_start, hourly.rows) == ("incremental", T0 + H, 3)
    assert w.query("SELECT span_id FROM fact_performance_requests ORDER BY span_id") == [("a",), ("c",), ("on",)]
    assert w.query("SELECT hour, SUM(request_count) FROM fact_performance_metrics_hourly GROUP BY 1 ORDER BY 1") == [
        (T0, 1), (T0 + H, 1), (T0 + 2 * H, 1)]
    run(w, full_refresh=True)  # a full refresh reads everything, whatever its lateness
    assert w.query("SELECT hour, SUM(request_count) FROM fact_performance_metrics_hourly GROUP BY 1 ORDER BY 1") == [
        (T0, 2), (T0 + H, 1), (T0 + 2 * H, 1)]


def test_the_window_moves_with_the_newest_hour() -> None:
    w = warehouse()
    insert(w, "raw_spans", [span("a", "a", T0 + timedelta(minutes=5))])
    run(w)
    insert(w, "raw_spans", [span("b", "b", T0 + 5 * H + timedelta(minutes=1), loaded_at=LOADED + H)])
    assert run(w).step("fact_performance_requests").window_start == T0 - H  # the newest hour was T0
    insert(w, "raw_spans", [span("c", "c", T0 + 3 * H, source_file="late.jsonl", loaded_at=LOADED + 2 * H)])
    step = run(w).step("fact_performance_requests")
    assert (step.window_start, step.rows) == (T0 + 4 * H, 2)  # c (T0 + 3h) is before the window: too late


def test_a_cost_line_loaded_late_for_an_old_hour_reopens_that_hour() -> None:
    # the late-data window covers the newest hour only; cost exports arrive days late
    w = warehouse()
    insert(w, "raw_spans", [span(f"s{h}", f"s{h}", T0 + h * H + timedelta(minutes=1)) for h in range(6)])
    insert(w, "raw_aws_cur", [cur(T0 + h * H, 1.0, service="checkout", environment="production") for h in range(6)])
    run(w)
    insert(w, "raw_aws_cur", [cur(T0, 2.0, resource="i-2", service="checkout", environment="production",
                                  loaded_at=LOADED + timedelta(days=2))])
    step = run(w).step("fact_cost_hourly")
    assert (step.mode, step.window_start) == ("incremental", T0)  # not T0 + 4h: the late line's hour
    assert w.query("SELECT hour, SUM(total_cost) FROM fact_cost_hourly GROUP BY 1 ORDER BY 1") == [
        (T0, 3.0), *[(T0 + h * H, 1.0) for h in range(1, 6)]]


def test_late_span_inside_the_window_is_counted_once() -> None:
    w = warehouse()
    insert(w, "raw_spans", [
        span("a", "a", T0 + timedelta(minutes=5)),
        span("b", "b", T0 + H + timedelta(minutes=5)),
        span("c", "c", T0 + 2 * H + timedelta(minutes=30)),
    ])
    run(w)
    later = LOADED + timedelta(hours=3)
    insert(w, "raw_spans", [
        span("d", "d", T0 + H + timedelta(minutes=40), source_file="late.jsonl", loaded_at=later),
        span("b", "b", T0 + H + timedelta(minutes=5), source_file="late.jsonl", loaded_at=later),
        span("e", "e", T0 + timedelta(minutes=30), source_file="late.jsonl", loaded_at=later),
    ])
    report = run(w)
    step = report.step("fact_performance_requests")
    assert (step.mode, step.window_start, step.rows) == ("incremental", T0 + H, 4)
    counts = w.query("SELECT hour, SUM(request_count) FROM fact_performance_metrics_hourly GROUP BY 1 ORDER BY 1")
    # e is older than the watermark minus the late-data window: only a full refresh picks it up
    assert counts == [(T0, 1), (T0 + H, 2), (T0 + 2 * H, 1)]
    assert w.query("SELECT request_count FROM fact_performance_metrics_daily") == [(4,)]
    run(w)
    assert w.query("SELECT COUNT(*) FROM fact_performance_requests") == [(4,)]
    run(w, full_refresh=True)
    assert w.query("SELECT SUM(request_count) FROM fact_performance_metrics_hourly WHERE hour = ?", [T0]) == [(2,)]


def test_daily_percentiles_within_one_percent_of_exact() -> None:
    w = warehouse()
    rng = random.Random(3)
    durations = {name: [round(math.exp(rng.gauss(mu, 0.8)), 3) for _ in range(n)]
                 for name, mu, n in (("checkout", 4.0, 400), ("payments", 5.5, 150), ("search", 2.0, 1000))}
    rows = []
    for service, values in durations.items():
        for i, value in enumerate(values):
            start = T0 + timedelta(minutes=(i * 7) % 600)  # spread over ten hours of the day
            rows.append(span(f"{service}{i}", f"{i:016x}", start, value, service=service))
    insert(w, "raw_spans", rows)
    run(w)
    daily = {name: (p50, p95, p99) for name, p50, p95, p99 in w.query("""
        SELECT s.service_name, d.duration_p50_ms, d.duration_p95_ms, d.duration_p99_ms
        FROM fact_performance_metrics_daily d JOIN dim_service s USING (service_key)""")}
    assert sorted(daily) == sorted(durations)
    for service, values in durations.items():
        ordered = sorted(values)
        for q, got in zip((0.5, 0.95, 0.99), daily[service], strict=True):
            exact = ordered[math.ceil(q * len(ordered)) - 1]
            assert abs(got - exact) / exact <= 0.01, (service, q, got, exact)
        interpolated = w.query("SELECT quantile_cont(x, 0.95) FROM (SELECT UNNEST(?) AS x)", [values])[0][0]
        assert abs(daily[service][1] - interpolated) / interpolated <= 0.01


def test_build_sql_is_rendered_from_the_model(tmp_path: Path) -> None:
    model_dir = tmp_path / "semantic"
    shutil.copytree(ROOT / "semantic", model_dir)
    path = model_dir / "dimensions.yml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("{name: shift, type: STRING", "{name: on_call_shift, type: STRING")
    text = text.replace("      - {name: shift}\n", "      - {name: on_call_shift}\n")
    path.write_text(text, encoding="utf-8")
    renamed = load_model(model_dir)
    renderer = TransformRenderer(renamed)
    table = renamed.tables["dim_time"]
    assert "on_call_shift VARCHAR" in renderer.sql.ddl(table)
    assert " shift " not in renderer.sql.ddl(table)
    assert "time_of_day, on_call_shift)" in renderer.insert(table, None)[0]  # the MERGE
    original = TransformRenderer(MODEL).insert(MODEL.tables["dim_time"], None)[0]
    assert "time_of_day, shift)" in original
    w = warehouse()
    insert(w, "raw_spans", [span("a", "a", T0)])
    with pytest.raises(WarehouseError, match="on_call_shift"):
        run(w, renamed)
    incremental = renderer.sql.incremental(renamed.tables["fact_performance_metrics_hourly"])
    assert "DELETE FROM fact_performance_metrics_hourly" in incremental


def test_failed_step_rolls_back_and_leaves_tables_consistent() -> None:
    (w,) = _cost_scenario()
    before = snapshot(w)
    w.execute("ALTER TABLE raw_aws_cur RENAME COLUMN line_item_unblended_cost TO broken")
    with pytest.raises(WarehouseError) as failure:
        run(w)
    # the first step reading the cost exports: a daily profile, rewriting its window (DELETE + INSERT, rolled back)
    assert str(failure.value).startswith('INSERT INTO cost_daily_tags (day, service_name, team, cost_center, line_count):'
                                         ' Binder Error: Referenced column "line_item_unblended_cost" not found in FROM'
                                         ' clause!')
    assert snapshot(w) == before
    w.execute("ALTER TABLE raw_aws_cur RENAME COLUMN broken TO line_item_unblended_cost")
    run(w)
    assert snapshot(w) == before


def test_dimension_keys_are_stable_hashes() -> None:
    w = warehouse()
    insert(w, "raw_spans", [span("a", "a", T0, service="search", provider="gcp", region="us-central1",
                                 environment="staging", segment="free")])
    run(w)
    assert w.query("SELECT service_key, service_name, language, deployment_type FROM dim_service"
                   " WHERE service_name = 'search'") == [(key(w, "search"), "search", "java", "serverless")]
    assert w.query("SELECT region_key, provider, geography, country, is_gdpr FROM dim_region") == [
        (key(w, "gcp:us-central1"), "gcp", "Americas", "US", False)]
    assert w.query("SELECT environment_key, is_production FROM dim_environment") == [(key(w, "staging"), False)]
    assert w.query("SELECT segment_name, is_paying FROM dim_user_segment") == [("free", False)]
    assert w.query("SELECT time_key, day_of_week, is_business_hours, time_of_day, shift FROM dim_time") == [
        (2025030310, "Monday", True, "morning", "emea")]
    assert date(2025, 3, 3) == T0.date()


def test_transforms_render_as_bigquery_sql_too() -> None:
    import sqlglot

    renderer = TransformRenderer(MODEL, "bigquery")
    for table in MODEL.tables.values():
        if table.transform is None:
            continue
        for window in (None, T0):
            sql = renderer.transform(table, window)
            assert "`perf-cost-prod.observability." in sql
            sqlglot.parse_one(sql, read="bigquery")
