"""`build --table`: one table at a time, as an orchestrator's tasks run it, gives what `build` gives (DuckDB)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fixtures.build.raw import (
    LOADED,
    MODEL,
    T0,
    cur,
    insert,
    queries,
    run,
    snapshot,
    span,
    warehouse,
)

from lookwright.errors import InputError, WarehouseError
from lookwright.warehouse.build import TABLE_STATE, TransformRenderer, build_order, build_tables

H = timedelta(hours=1)
ORDER = [t.name for t in build_order(TransformRenderer(MODEL))]


def _scenario() -> object:
    w = warehouse()
    insert(w, "raw_spans", [span(f"s{h}", f"s{h}", T0 + h * H + timedelta(minutes=1), 10 + h) for h in range(6)])
    insert(w, "raw_aws_cur", [cur(T0 + h * H, 1.0, service="checkout", environment="production") for h in range(6)])
    insert(w, "raw_db_query_log", [queries(T0 + h * H, "checkout", "orders", 3) for h in range(6)])
    run(w)
    return w


def test_every_table_built_one_by_one_equals_a_whole_build_with_late_data() -> None:
    whole, single = _scenario(), _scenario()
    for w in (whole, single):
        insert(w, "raw_spans", [span("late", "late", T0 + 5 * H + timedelta(minutes=9), 99,
                                     source_file="late.jsonl", loaded_at=LOADED + H)])
        insert(w, "raw_aws_cur", [cur(T0, 2.0, resource="i-2", service="checkout", environment="production",
                                      loaded_at=LOADED + timedelta(days=2))])  # two days late, for hour T0
    run(whole)
    for name in ORDER:  # one task per table, in the DAG's order
        report = build_tables(single, MODEL, [name])
        assert [s.table for s in report.steps] == [name]
    assert snapshot(single) == snapshot(whole)
    cost = single.query("SELECT hour, SUM(total_cost) FROM fact_cost_hourly GROUP BY 1 ORDER BY 1")
    assert cost[0] == (T0, 3.0)  # the late line reopened its hour in the per-table run too
    seen = single.query(f"SELECT COUNT(*), MIN(raw_loaded_through) FROM {TABLE_STATE}")
    assert seen == [(len(ORDER), LOADED + timedelta(days=2))]
    run(single)  # a whole build resets what each table has seen, and changes nothing
    assert single.query(f"SELECT COUNT(*) FROM {TABLE_STATE}") == [(0,)]
    assert snapshot(single) == snapshot(whole)


def test_a_second_per_table_run_rewrites_only_its_window() -> None:
    w = _scenario()
    before = snapshot(w)
    step = build_tables(w, MODEL, ["fact_performance_requests"]).step("fact_performance_requests")
    assert (step.mode, step.window_start, step.rows, step.rows_written) == ("incremental", T0 + 4 * H, 6, 2)
    assert snapshot(w) == before


def test_unknown_table_and_unbuilt_warehouse_are_refused_and_nothing_is_written() -> None:
    w = _scenario()
    with pytest.raises(InputError, match=r"unknown table\(s\) fact_nope: expected tables of the model \(bridge_service_resource, "):
        build_tables(w, MODEL, ["fact_nope"])
    empty = warehouse()
    with pytest.raises(WarehouseError, match=r"never built: run a whole `lookwright build` first"):
        build_tables(empty, MODEL, ["fact_performance_requests"])
    assert not empty.table_exists("fact_performance_requests")
    insert(w, "raw_spans", [span("new", "new", T0 + 6 * H, loaded_at=LOADED + H)])
    w.execute("ALTER TABLE fact_rum_hourly DROP COLUMN poor_count")
    with pytest.raises(WarehouseError, match=r"has changed columns \(fact_rum_hourly\): run a whole"):
        build_tables(w, MODEL, ["fact_performance_requests"])
    assert w.query("SELECT COUNT(*) FROM fact_performance_requests") == [(6,)]
