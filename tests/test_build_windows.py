"""Issue 11: an incremental build reads only its windows, on DuckDB (the statements it sends, exact).

Each incremental table's newest row is read from the window its last step rewrote (recorded with the
step in lookwright_watermarks), so the read prunes; a warehouse without the record, or a table that
changed since (restored, emptied), is read over every partition once, then recorded.
"""

from __future__ import annotations

import re
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

from fixtures.build.raw import (
    LOADED,
    MODEL,
    ROOT,
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
from lookwright.warehouse.sources import load
from lookwright.warehouse.sources.ledger import LEDGER

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
    empty = sorted(s.table for s in second.steps if s.rows == 0)  # no logs, beacons, metrics or SLOs: nothing to read
    assert empty == ["fact_log_events", "fact_log_events_hourly", "fact_resource_metrics_hourly", "fact_rum_events",
                     "fact_rum_hourly", "slo_daily_targets"]
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
            and "_rum_" not in t and t not in ("fact_resource_metrics_hourly", "slo_daily_targets")] == []


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


FIXTURES = ROOT / "tests" / "fixtures" / "sources"


def test_each_load_records_its_rows_event_times_in_the_ledger_and_a_reload_deletes_only_their_partitions(
        tmp_path: Path) -> None:
    w = warehouse()
    assert w.query(f"SELECT raw_table, source_file, loaded_at FROM {LEDGER}") == [("*", None, None)]  # new: nothing before
    path = tmp_path / "cur.csv"
    shutil.copy(FIXTURES / "cur" / "cur_legacy.csv", path)
    first = load(w, "cur", path)
    rows = w.query(f"SELECT raw_table, source_file, first_event, last_event, row_count FROM {LEDGER}"
                   " WHERE raw_table <> '*'")
    span_ = w.query("SELECT MIN(line_item_usage_start_date), MAX(line_item_usage_start_date) FROM raw_aws_cur")[0]
    assert rows == [("raw_aws_cur", first.file, span_[0], span_[1], first.rows_loaded)]
    loaded_at = w.query(f"SELECT loaded_at FROM {LEDGER} WHERE raw_table <> '*'")[0][0]
    assert w.query("SELECT DISTINCT loaded_at FROM raw_aws_cur") == [(loaded_at,)]  # the same transaction
    since = len(w.sent)
    again = load(w, "cur", path)
    delete = next(s for s in w.sent[since:] if s.startswith("DELETE FROM raw_aws_cur"))
    assert delete == ("DELETE FROM raw_aws_cur WHERE source_file = ? AND line_item_usage_start_date >= ?"
                      " AND line_item_usage_start_date <= ?")
    assert w.query("SELECT COUNT(*) FROM raw_aws_cur")[0][0] == again.rows_loaded == first.rows_loaded
    assert w.query(f"SELECT COUNT(*), MIN(first_event), MAX(last_event) FROM {LEDGER} WHERE raw_table <> '*'") == [
        (2, span_[0], span_[1])]


def _cost_window(w: DuckDBWarehouse, since: int) -> str:
    """fact_cost_hourly's late-data window query, sent after `since`."""
    return next(s for s in w.sent[since:] if s.startswith("SELECT MIN(hour) AS window_start") and "is_estimated" in s)


def test_late_cost_reopens_its_hour_from_the_ledger_without_reading_a_raw_table() -> None:
    w = warehouse()
    insert(w, "raw_spans", [span(f"s{h}", f"s{h}", T0 + h * H + timedelta(minutes=1)) for h in range(6)])
    insert(w, "raw_aws_cur", [cur(T0 + h * H, 1.0, service="checkout", environment="production") for h in range(6)])
    run(w)
    run(w)
    insert(w, "raw_aws_cur", [cur(T0, 2.0, resource="i-2", service="checkout", environment="production",
                                  loaded_at=LOADED + timedelta(days=2))])
    since = len(w.sent)
    report = run(w)
    assert (report.step("fact_cost_hourly").mode, report.step("fact_cost_hourly").window_start) == ("incremental", T0)
    window = _cost_window(w, since)
    assert "raw_" not in window and "TIMESTAMP '2025-03-03 10:00:00'" in window  # a constant from the ledger
    assert "is_estimated AND hour >= TIMESTAMP '2025-03-03 14:00:00'" in window  # from its last window on
    assert [s for s in w.sent[since:] if "MAX(loaded_at)" in s] == [
        f"SELECT MAX(loaded_at) FROM {LEDGER}",
        (f"SELECT raw_table, MIN(first_event), MAX(last_event), MAX(loaded_at) FROM {LEDGER}"
         " WHERE loaded_at > ? OR raw_table = '*' GROUP BY raw_table")]
    assert w.query("SELECT hour, SUM(total_cost) FROM fact_cost_hourly GROUP BY 1 ORDER BY 1") == [
        (T0, 3.0), *[(T0 + h * H, 1.0) for h in range(1, 6)]]


def test_a_warehouse_loaded_before_the_ledger_existed_reads_its_raw_tables_once() -> None:
    """An older lookwright loaded rows and kept no ledger: the ledger is created with a baseline (the
    newest load then), and the first build whose previous build saw less reads the raw tables."""
    w = warehouse()
    insert(w, "raw_spans", [span(f"s{h}", f"s{h}", T0 + h * H + timedelta(minutes=1)) for h in range(6)])
    insert(w, "raw_aws_cur", [cur(T0 + h * H, 1.0, service="checkout", environment="production") for h in range(6)])
    run(w)
    late = cur(T0, 2.0, resource="i-2", service="checkout", environment="production",
               loaded_at=LOADED + timedelta(days=2))
    w.execute(f"INSERT INTO raw_aws_cur ({', '.join(late)}) VALUES ({', '.join('?' for _ in late)})",
              list(late.values()))  # as an older loader did
    w.execute(f"DROP TABLE {LEDGER}")
    since = len(w.sent)
    report = run(w)
    assert w.query(f"SELECT raw_table, loaded_at FROM {LEDGER}") == [("*", LOADED + timedelta(days=2))]
    window = _cost_window(w, since)
    assert "FROM raw_aws_cur WHERE loaded_at > TIMESTAMP '2025-03-04 00:00:00'" in window  # read, once
    assert report.step("fact_cost_hourly").window_start == T0
    assert w.query("SELECT hour, SUM(total_cost) FROM fact_cost_hourly GROUP BY 1 ORDER BY 1") == [
        (T0, 3.0), *[(T0 + h * H, 1.0) for h in range(1, 6)]]
    since = len(w.sent)
    run(w)
    window = _cost_window(w, since)
    assert "raw_" not in window


def test_dimensions_keyed_by_their_attributes_merge_only_what_the_new_loads_touched() -> None:
    """dim_endpoint, dim_environment, dim_time and dim_user_segment read the raw partitions the loads
    since the previous build touched (constants from the ledger) and end up as a full refresh makes them."""
    w = _scenario()
    run(w)
    new = span("n", "n", T0 + 9 * H + timedelta(minutes=2), route="/api/new", segment="enterprise",
               environment="staging", loaded_at=LOADED + H, source_file="new.jsonl")
    insert(w, "raw_spans", [new])
    since = len(w.sent)
    run(w)
    merges = {m[1]: sql for sql in w.sent[since:] if (m := re.match(r"MERGE INTO (dim_\w+)", sql)) is not None}
    touched = "start_time >= TIMESTAMP '2025-03-03 19:02:00' AND start_time <= TIMESTAMP '2025-03-03 19:02:00'"
    for name in ("dim_endpoint", "dim_environment", "dim_time", "dim_user_segment"):
        assert touched in merges[name], name
    assert "line_item_usage_start_date >= TIMESTAMP '2025-03-04 00:00:00' AND line_item_usage_start_date <" \
           " TIMESTAMP '2025-03-04 00:00:00'" in merges["dim_environment"]  # no cost loaded since: nothing read
    assert [name for name, sql in merges.items() if "raw_" in sql] == [
        "dim_endpoint", "dim_environment", "dim_time", "dim_user_segment"]  # the others: from their daily profiles
    assert ("/api/new",) in w.query("SELECT route FROM dim_endpoint")
    assert w.query("SELECT COUNT(*), MIN(hour_start), MAX(hour_start) FROM dim_time") == [(10, T0, T0 + 9 * H)]
    incremental = snapshot(w)
    run(w, full_refresh=True)
    assert snapshot(w) == incremental


PROFILES = ("cost_daily_tags", "query_log_daily_services", "region_daily_prices", "resource_daily_latest",
            "slo_daily_targets", "span_daily_profile")
DIMENSIONS_FROM_PROFILES = ("dim_region", "dim_resource", "dim_service")


def _slo(service: str, target: float, loaded_at: datetime) -> dict[str, object]:
    return {"service": service, "slo_name": f"{service}-availability", "sli": "availability",
            "indicator_kind": "ratioMetric", "budgeting_method": "Occurrences", "target": target,
            "source_file": f"{service}.slo.yaml", "source_line": 1, "loaded_at": loaded_at}


def test_dimensions_aggregating_every_raw_row_merge_from_daily_profiles_rewritten_over_their_windows() -> None:
    """dim_service, dim_region and dim_resource read their daily profiles (never a raw table); each profile
    rewrites the days the loads since the previous build touched, late cost of an earlier day included,
    reading only those raw partitions (constants); the result is what a full rebuild of the same rows makes."""
    w = _scenario()
    run(w)
    later = LOADED + H
    insert(w, "raw_spans", [span("n", "n", T0 + 20 * H, service="search", provider="gcp", region="europe-west1",
                                 loaded_at=later, source_file="new.jsonl")])  # the next day, a new service and region
    insert(w, "raw_aws_cur", [cur(T0 - 24 * H, 4.0, resource="i-9", service="search", team="core", region="eu-west-1",
                                  loaded_at=later)])  # late: a day before anything built
    insert(w, "raw_service_slos", [_slo("search", 0.999, later)])
    since = len(w.sent)
    report = run(w)
    assert {name: (report.step(name).mode, report.step(name).window_start) for name in PROFILES} == {
        "cost_daily_tags": ("incremental", datetime(2025, 3, 2)),  # the late line's day
        "region_daily_prices": ("incremental", datetime(2025, 3, 2)),
        "resource_daily_latest": ("incremental", datetime(2025, 3, 2)),
        "query_log_daily_services": ("incremental", datetime(2025, 3, 3)),  # its newest day, nothing new
        "span_daily_profile": ("incremental", datetime(2025, 3, 3)),
        "slo_daily_targets": ("full", None)}  # it was empty
    sent = w.sent[since:]
    inserts = {m[1]: sql for sql in sent if (m := re.match(r"INSERT INTO (\w+) ", sql)) and m[1] in PROFILES}
    assert "FROM raw_spans\n  WHERE start_time >= TIMESTAMP '2025-03-03 00:00:00'\n" in inserts["span_daily_profile"]
    for name in ("cost_daily_tags", "region_daily_prices", "resource_daily_latest"):
        assert ("FROM raw_aws_cur\n  WHERE date_trunc('hour', line_item_usage_start_date) >= TIMESTAMP"
                " '2025-03-02 00:00:00'") in inserts[name], name
    merges = {m[1]: sql for sql in sent if (m := re.match(r"MERGE INTO (dim_\w+)", sql)) is not None}
    for name in DIMENSIONS_FROM_PROFILES:
        assert "raw_" not in merges[name] and "day >= DATE '1970-01-01'" in merges[name], name
    assert w.query("SELECT team, sla_availability, language, deployment_type FROM dim_service"
                   " WHERE service_name = 'search'") == [("core", 0.999, "java", "serverless")]
    assert sorted(w.query("SELECT provider, region_code FROM dim_region")) == [
        ("aws", "eu-west-1"), ("aws", "us-east-1"), ("gcp", "europe-west1")]
    assert ("i-9", "compute") in w.query("SELECT resource_id, resource_type FROM dim_resource")
    assert w.query("SELECT COUNT(*), MIN(day) FROM resource_daily_latest") == [(2, date(2025, 3, 2))]
    incremental = snapshot(w)
    run(w, full_refresh=True)
    assert snapshot(w) == incremental



SLO_FILE = """\
apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout-availability
  labels:
    sli: availability
spec:
  service: checkout
  indicator:
    metadata:
      name: checkout-good-ratio
    spec:
      ratioMetric:
        counter: true
        good:
          metricSource:
            type: Prometheus
            spec:
              query: good
        total:
          metricSource:
            type: Prometheus
            spec:
              query: total
  timeWindow:
    - duration: 28d
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - displayName: nines
      target: {target}
"""


def _load_slo(w: DuckDBWarehouse, path: Path, target: str, days_ago: int = 0) -> None:
    path.write_text(SLO_FILE.replace("{target}", target).replace("checkout-availability", path.stem))
    load(w, "openslo", path)
    if days_ago:  # as if loaded that many days ago
        shift = f"INTERVAL {days_ago} DAY"
        w.execute(f"UPDATE raw_service_slos SET loaded_at = loaded_at - {shift} WHERE source_file = ?", [str(path)])
        w.execute(f"UPDATE {LEDGER} SET loaded_at = loaded_at - {shift} WHERE source_file = ?", [str(path)])


def test_a_reloaded_slo_document_replaces_its_target_in_dim_service(tmp_path: Path) -> None:
    """slo_daily_targets is by load day, and an SLO document has no event time: a reload deletes the file's
    rows from whichever load day they are in, so any SLO load rewrites every day of the profile (a few rows per
    service and load day) and the lowered target (MAX over the documents) replaces the old one, as a full
    rebuild has it; a build without an SLO load rewrites the newest load day only."""
    w = _scenario()
    _load_slo(w, tmp_path / "a.yaml", "0.999", days_ago=3)
    _load_slo(w, tmp_path / "b.yaml", "0.95", days_ago=1)
    run(w)
    assert w.query("SELECT sla_availability FROM dim_service WHERE service_name = 'checkout'") == [(0.999,)]
    assert w.query("SELECT COUNT(*) FROM slo_daily_targets") == [(2,)]  # two load days
    newest = w.query("SELECT MAX(day) FROM slo_daily_targets")[0][0]
    assert run(w).step("slo_daily_targets").window_start == datetime.combine(newest, datetime.min.time())
    _load_slo(w, tmp_path / "a.yaml", "0.99")  # the older file again, its target lowered
    report = run(w)
    assert report.step("slo_daily_targets").window_start == datetime(1970, 1, 1)  # every load day
    assert w.query("SELECT sla_availability FROM dim_service WHERE service_name = 'checkout'") == [(0.99,)]
    assert w.query("SELECT COUNT(*) FROM slo_daily_targets") == [(2,)]  # b's day and today; a's old day is gone
    incremental = snapshot(w)
    run(w, full_refresh=True)
    assert snapshot(w) == incremental
