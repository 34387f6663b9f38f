"""Issue 11: an incremental build reads only its windows, on DuckDB (the statements it sends, exact).

Each incremental table's newest row is read from the window its last step rewrote (recorded with the
step in lookwright_watermarks), so the read prunes; a warehouse without the record, or a table that
changed since (restored, emptied), is read over every partition once, then recorded.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

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

from lookwright.warehouse import DuckDBWarehouse
from lookwright.warehouse.build import WATERMARKS

H = timedelta(hours=1)
INCREMENTAL = sorted(name for name, t in MODEL.tables.items()
                     if t.rollup is not None or (t.transform is not None and t.transform.incremental_column))
NEWEST = re.compile(r"^SELECT MAX\((\w+)\) FROM (\w+) WHERE (.*)$")


def _scenario() -> DuckDBWarehouse:
    w = warehouse()
    insert(w, "raw_spans", [span(f"s{h}", f"s{h}", T0 + h * H + timedelta(minutes=1)) for h in range(6)])
    insert(w, "raw_aws_cur", [cur(T0 + h * H, 1.0, service="checkout", environment="production") for h in range(6)])
    insert(w, "raw_db_query_log", [queries(T0 + h * H, "checkout", "db-1", 2) for h in range(6)])
    run(w)
    return w


def _newest_reads(w: DuckDBWarehouse, since: int) -> dict[str, str]:
    """The table -> WHERE of every watermark read (`SELECT MAX(col) FROM t WHERE ...`) sent after `since`."""
    return {m[2]: m[3] for sql in w.sent[since:] if (m := NEWEST.match(sql)) and m[2] in MODEL.tables}


def test_every_incremental_table_reads_its_newest_row_from_its_last_window_only() -> None:
    w = _scenario()
    first = run(w)  # the first build recorded nothing: every partition, once
    assert set(_newest_reads(w, 0)) == set(INCREMENTAL)
    recorded = dict(w.query(f"SELECT table_name, window_start FROM {WATERMARKS}"))
    assert recorded == {name: first.step(name).window_start for name in INCREMENTAL}
    assert recorded["fact_performance_requests"] == T0 + 4 * H  # newest hour T0 + 5h less the late window
    before = snapshot(w)
    since = len(w.sent)
    second = run(w)
    reads = _newest_reads(w, since)
    assert set(reads) == set(INCREMENTAL)
    empty = sorted(s.table for s in second.steps if s.rows == 0)  # no logs, beacons or metrics: nothing to read
    assert empty == ["fact_log_events", "fact_log_events_hourly", "fact_resource_metrics_hourly", "fact_rum_events",
                     "fact_rum_hourly"]
    assert sorted(t for t, where in reads.items() if "1970-01-01" in where) == empty  # every other: its window
    assert reads["fact_performance_requests"] == "timestamp >= TIMESTAMP '2025-03-03 14:00:00'"
    assert reads["fact_performance_metrics_daily"] == f"date >= DATE '{first.step('fact_performance_metrics_daily').window_start:%Y-%m-%d}'"
    assert {s.table: s.window_start for s in second.steps} == {s.table: s.window_start for s in first.steps}
    assert snapshot(w) == before  # building twice changes nothing


def test_a_warehouse_built_before_watermarks_were_recorded_reads_every_partition_once() -> None:
    w = _scenario()
    run(w)
    expected = {s.table: s.window_start for s in run(w).steps}
    before = snapshot(w)
    w.execute(f"DROP TABLE {WATERMARKS}")  # as an older lookwright left it
    since = len(w.sent)
    report = run(w)
    assert {s.table: s.window_start for s in report.steps} == expected and snapshot(w) == before
    assert all("1970-01-01" in where for where in _newest_reads(w, since).values())  # once
    since = len(w.sent)
    run(w)
    assert [t for t, where in _newest_reads(w, since).items() if "1970-01-01" in where and "_log_" not in t
            and "_rum_" not in t and t != "fact_resource_metrics_hourly"] == []


def test_a_table_emptied_past_its_recorded_window_is_read_whole_and_rebuilt_from_its_newest_row() -> None:
    """A watermark is only a place to look: a table with no row there any more (restored from an older
    snapshot, say) is read over every partition, and its window follows its real newest row."""
    w = _scenario()
    run(w)
    w.execute("DELETE FROM fact_performance_requests WHERE timestamp >= ?", [T0 + 3 * H])
    insert(w, "raw_spans", [span("late", "late", T0 + 5 * H + timedelta(minutes=9), loaded_at=LOADED + H)])
    since = len(w.sent)
    step = run(w).step("fact_performance_requests")
    assert "1970-01-01" in _newest_reads(w, since)["fact_performance_requests"]
    assert (step.mode, step.window_start) == ("incremental", T0 + H)  # its newest row left: T0 + 2h
    assert w.query("SELECT COUNT(*) FROM fact_performance_requests")[0][0] == 7
    assert w.query(f"SELECT window_start FROM {WATERMARKS} WHERE table_name = 'fact_performance_requests'") == [
        (datetime(2025, 3, 3, 11),)]
