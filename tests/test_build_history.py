"""History is never lost (DuckDB): interrupted rebuilds, layout changes applied, re-partitions and retypes
keeping every row, rollup history outliving the raw rows a full refresh rebuilds from."""

from __future__ import annotations

import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from fixtures.build.raw import ROOT, T0, insert, snapshot, span, warehouse

from lookwright.errors import WarehouseError
from lookwright.model.compile import load_model
from lookwright.model.ir import SemanticModel
from lookwright.warehouse import DuckDBWarehouse
from lookwright.warehouse.build import TransformRenderer, build, build_order, recorded_layouts
from lookwright.warehouse.layout import LAYOUT_TABLE, Layout

DAILY = "fact_performance_metrics_daily"  # the first table of performance.yml partitioned by date
REQUESTS = "fact_performance_requests"
HOURLY = "fact_performance_metrics_hourly"
LATER = T0 + timedelta(days=10)
READS_REQUESTS = (  # the request fact and every table built from it, directly or not, in build order
    REQUESTS, HOURLY, DAILY, "fact_performance_service_daily", "fact_performance_service_monthly",
    "fact_performance_service_weekly", "mv_performance_realtime", "bridge_service_resource", "fact_cost_hourly",
    "fact_cost_service_daily", "fact_cost_service_monthly", "fact_performance_cost_joined", "bridge_trace_cost")


class Interrupted(Exception):
    """Stands for Ctrl-C in the middle of a rebuild."""


def _model(tmp_path: Path, edits: dict[str, tuple[str, str]] | None = None) -> SemanticModel:
    """The flagship model, with `file: (pattern, replacement)` edits applied to a copy of its YAML."""
    if not edits:
        return load_model(ROOT / "semantic")
    folder = tmp_path / "semantic"
    shutil.copytree(ROOT / "semantic", folder, dirs_exist_ok=True)
    for name, (pattern, replacement) in edits.items():
        path = folder / name
        text, count = re.subn(pattern, replacement, path.read_text(), count=1, flags=re.MULTILINE)
        assert count == 1, (name, pattern)
        path.write_text(text)
    return load_model(folder)


def _spans(w: DuckDBWarehouse) -> None:
    rows = [span(f"a{i}", "s", T0 + timedelta(minutes=7 * i), 10.0 + i) for i in range(12)]
    rows += [span(f"b{i}", "s", LATER + timedelta(minutes=5 * i), 20.0 + i, service="search") for i in range(8)]
    insert(w, "raw_spans", rows)


def _built(model: SemanticModel) -> DuckDBWarehouse:
    w = warehouse()
    _spans(w)
    build(w, model)
    return w


def _tables(w: DuckDBWarehouse) -> set[str]:
    return {str(r[0]) for r in w.query("SELECT table_name FROM information_schema.tables")}


def _layout(w: DuckDBWarehouse, model: SemanticModel, table: str) -> Layout:
    return recorded_layouts(w, TransformRenderer(model, "duckdb"))[table]


def test_an_interrupted_full_refresh_leaves_every_table_as_it_was(tmp_path: Path) -> None:
    model = _model(tmp_path)
    w = _built(model)
    before = snapshot(w, model)
    assert before[DAILY] and before[HOURLY]

    def interrupt(table: str, done: int, total: int) -> None:
        if table == HOURLY:
            raise Interrupted(table)

    with pytest.raises(Interrupted):
        build(w, model, full_refresh=True, on_step=interrupt)
    assert snapshot(w, model) == before
    assert any(name.endswith("__lw_next") for name in _tables(w))  # the staging twins it had written
    report = build(w, model)  # the next build drops them and carries on incrementally
    assert (report.full_refresh, report.rebuilt) == (False, ())
    assert [name for name in _tables(w) if name.endswith("__lw_next")] == []
    assert snapshot(w, model) == before


def test_a_failing_full_refresh_leaves_every_table_as_it_was(tmp_path: Path) -> None:
    model = _model(tmp_path)
    w = _built(model)
    before = snapshot(w, model)
    w.execute("ALTER TABLE raw_spans RENAME COLUMN duration_ms TO broken")
    with pytest.raises(WarehouseError, match="duration_ms"):
        build(w, model, full_refresh=True)
    assert snapshot(w, model) == before


def test_rollup_history_older_than_the_raw_rows_survives_a_full_refresh(tmp_path: Path) -> None:
    model = _model(tmp_path)
    w = _built(model)
    before = snapshot(w, model)
    first_day = T0.date()
    assert [r[0] for r in w.query(f"SELECT DISTINCT date FROM {DAILY} ORDER BY 1")] == [first_day, LATER.date()]
    w.execute("DELETE FROM raw_spans WHERE start_time < ?", [LATER - timedelta(days=1)])  # past raw retention
    report = build(w, model, full_refresh=True)
    assert report.full_refresh
    after = snapshot(w, model)
    assert after[DAILY] == before[DAILY]  # the first day's rollup rows outlive its raw spans
    assert after[HOURLY] == before[HOURLY]
    assert after["fact_performance_requests"] == before["fact_performance_requests"]


def test_changed_retention_and_clustering_are_recorded_without_a_rebuild(tmp_path: Path) -> None:
    model = _model(tmp_path)
    w = _built(model)
    before = snapshot(w, model)
    assert _layout(w, model, DAILY).expiration_days == 3650
    edited = _model(tmp_path, {"performance.yml": (r"^(\s+)cluster_by: \[service_key\]\n(\s+)retention_days: 3650",
                                                   r"\1cluster_by: [date, service_key]\n\2retention_days: 4000")})
    report = build(w, edited)
    assert report.rebuilt == () and {s.mode for s in report.steps} == {"incremental", "full"}
    layout = _layout(w, edited, DAILY)
    assert (layout.expiration_days, layout.cluster_by) == (4000, ("date", "service_key"))
    assert snapshot(w, edited) == before


def test_a_repartition_copies_every_row_into_the_new_table(tmp_path: Path) -> None:
    model = _model(tmp_path)
    w = _built(model)
    before = snapshot(w, model)
    edited = _model(tmp_path, {"performance.yml": (r"^(\s+)partition: \{column: date\}",
                                                   r"\1partition: {column: date, granularity: month}")})
    w.execute("DELETE FROM raw_spans WHERE start_time < ?", [LATER - timedelta(days=1)])  # history only in it
    report = build(w, edited)
    assert report.rebuilt == (DAILY,)  # nothing reads it
    assert _layout(w, edited, DAILY).partition == "date/month"
    after = snapshot(w, edited)
    assert after[DAILY] == before[DAILY] and len(after[DAILY]) == 2
    facts = [name for name, table in model.tables.items() if table.kind in ("fact", "rollup")]
    assert {name: after[name] for name in facts} == {name: before[name] for name in facts}
    assert build(w, edited).rebuilt == ()  # applied once


def test_a_retyped_column_keeps_its_history_cast(tmp_path: Path) -> None:
    model = _model(tmp_path)
    w = _built(model)
    before = w.query(f"SELECT trace_id, response_size_bytes FROM {REQUESTS} ORDER BY 1")
    assert len(before) == 20 and all(isinstance(n, int) for _, n in before)
    edited = _model(tmp_path, {"performance.yml": (r"(- \{name: response_size_bytes, type: )INT64", r"\1FLOAT64")})
    w.execute("DELETE FROM raw_spans WHERE start_time < ?", [LATER - timedelta(days=1)])  # history only in it
    assert build(w, edited).rebuilt == READS_REQUESTS
    after = w.query(f"SELECT trace_id, response_size_bytes FROM {REQUESTS} ORDER BY 1")
    assert after == [(t, float(n)) for t, n in before] and all(isinstance(n, float) for _, n in after)
    kinds = dict(w.query("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?",
                         [REQUESTS]))
    assert kinds["response_size_bytes"] == "DOUBLE"


def test_a_lossy_retype_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    model = _model(tmp_path)
    w = _built(model)
    before = snapshot(w, model)
    edited = _model(tmp_path, {"performance.yml": (r"(- \{name: duration_ms, type: )FLOAT64", r"\1INT64")})
    with pytest.raises(WarehouseError) as failure:
        build(w, edited)
    lines = str(failure.value).splitlines()
    assert lines[-1] == ("nothing was changed; give the new column another name (the old one is then dropped"
                         " with its values), or change the type back")
    assert (f"table {REQUESTS}, column duration_ms: its history cannot be kept, FLOAT64 does not convert to"
            " INT64 without loss") in lines
    # the rollups summing it are retyped with it: each column whose history would be lost is named
    assert ("table fact_performance_metrics_hourly, column duration_sum_ms: its history cannot be kept,"
            " FLOAT64 does not convert to INT64 without loss") in lines
    named = [line.split(": its history")[0] for line in lines[:-1]]
    assert named == [f"table {table}, column {column}" for table, column in [
        ("fact_performance_metrics_daily", "duration_sum_ms"), ("fact_performance_metrics_daily", "duration_max_ms"),
        ("fact_performance_metrics_hourly", "duration_sum_ms"), ("fact_performance_metrics_hourly", "duration_max_ms"),
        (REQUESTS, "duration_ms"),
        ("fact_performance_service_daily", "duration_sum_ms"), ("fact_performance_service_daily", "duration_max_ms"),
        ("fact_performance_service_monthly", "duration_sum_ms"), ("fact_performance_service_monthly", "duration_max_ms"),
        ("fact_performance_service_weekly", "duration_sum_ms"), ("fact_performance_service_weekly", "duration_max_ms"),
        ("mv_performance_realtime", "duration_sum_ms"), ("mv_performance_realtime", "duration_max_ms")]]
    assert snapshot(w, model) == before
    assert _layout(w, model, REQUESTS).columns == tuple((c.name, c.type) for c in model.tables[REQUESTS].columns)


def test_a_removed_column_goes_with_a_new_table_and_the_history_stays(tmp_path: Path) -> None:
    model = _model(tmp_path)
    w = _built(model)
    before = snapshot(w, model)
    w.execute(f"ALTER TABLE {DAILY} ADD COLUMN legacy_score DOUBLE")  # a column the model no longer has,
    w.execute(f"DELETE FROM {LAYOUT_TABLE} WHERE table_name = ?", [DAILY])  # on a table built before layouts
    w.execute("DELETE FROM raw_spans WHERE start_time < ?", [LATER - timedelta(days=1)])
    assert build(w, model).rebuilt == (DAILY,)
    assert "legacy_score" not in w.columns(DAILY)
    after = snapshot(w, model)
    facts = [name for name, table in model.tables.items() if table.kind in ("fact", "rollup")]
    assert {name: after[name] for name in facts} == {name: before[name] for name in facts}
    assert _layout(w, model, DAILY).columns == tuple((c.name, c.type) for c in model.tables[DAILY].columns)


def _members(w: DuckDBWarehouse) -> dict[str, list[tuple[object, ...]]]:
    return {
        "dim_service": w.query("SELECT service_name, language, deployment_type FROM dim_service ORDER BY 1"),
        "dim_region": w.query("SELECT provider, region_code, geography FROM dim_region ORDER BY 1, 2"),
        "dim_endpoint": w.query("SELECT endpoint_name, service_key = md5('s') FROM dim_endpoint ORDER BY 1"),
    }


def _hourly_joined(w: DuckDBWarehouse) -> list[tuple[object, ...]]:
    """The 730-day hourly rollup joined to its dimensions, as an explore joins them."""
    return w.query(f"""
        SELECT s.service_name, r.region_code, e.endpoint_name, h.hour, h.request_count
        FROM {HOURLY} AS h
        JOIN dim_service AS s ON s.service_key = h.service_key
        JOIN dim_region AS r ON r.region_key = h.region_key
        JOIN dim_endpoint AS e ON e.endpoint_key = h.endpoint_key
        ORDER BY 1, 4""")


def test_a_dimension_member_outlives_its_expired_raw_rows(tmp_path: Path) -> None:
    model = _model(tmp_path)
    w = warehouse()
    rows = [span(f"a{i}", "s", T0 + timedelta(minutes=7 * i), 10.0 + i, service="s") for i in range(3)]
    rows += [span(f"b{i}", "s", LATER + timedelta(minutes=5 * i), 20.0 + i, service="search",
                  region="eu-west-1", route="/api/search") for i in range(2)]
    insert(w, "raw_spans", rows)
    build(w, model)
    kept = [("s", "us-east-1", "GET /api/carts", T0, 3), ("search", "eu-west-1", "GET /api/search", LATER, 2)]
    assert _hourly_joined(w) == kept
    # the raw spans of service s expire (raw retention is shorter than the rollups'); search's are
    # re-exported with another language: its attributes follow the source, s keeps its last ones
    w.execute("DELETE FROM raw_spans WHERE start_time < ? OR service_name = 'search'", [LATER - timedelta(days=1)])
    later = [span(f"c{i}", "s", LATER + timedelta(minutes=5 * i), 20.0 + i, service="search", region="eu-west-1",
                  route="/api/search") | {"resource_attributes": '{"telemetry.sdk.language": "go"}'} for i in range(2)]
    insert(w, "raw_spans", later)
    report = build(w, model)
    assert not report.full_refresh and report.step("dim_service").mode == "full"
    members = {
        "dim_service": [("s", "java", "serverless"), ("search", "go", "serverless"), ("unattributed", None, None)],
        "dim_region": [("aws", "eu-west-1", "EMEA"), ("aws", "us-east-1", "Americas")],
        "dim_endpoint": [("GET /api/carts", True), ("GET /api/search", False)],
    }
    assert _members(w) == members
    assert _hourly_joined(w) == kept  # the 730-day rollup still joins to the members of its old rows
    assert build(w, model, full_refresh=True).full_refresh  # a full refresh keeps them too
    assert _members(w) == members and _hourly_joined(w) == kept


def _rebuild_statements(w: DuckDBWarehouse, start: int) -> list[str]:
    """Every ALTER or DROP since `start` and every statement on a staging twin: first line, up to a column list."""
    lines = [s.strip().splitlines()[0] for s in w.sent[start:]]
    return [line.split(" (")[0] for line in lines if line.startswith(("ALTER", "DROP")) or "__lw_next" in line]


def test_a_one_column_change_rebuilds_only_that_table_and_what_reads_it(tmp_path: Path) -> None:
    model = _model(tmp_path)
    w = _built(model)
    before = snapshot(w, model)
    w.execute("DELETE FROM raw_spans WHERE start_time < ?", [LATER - timedelta(days=1)])  # history only in it
    edited = _model(tmp_path, {"performance.yml": (
        r"^(\s+)- \{name: duration_max_ms, agg: max, sql: duration_max_ms\}",
        (r"\1- {name: duration_max_ms, agg: max, sql: duration_max_ms}\n\1- {name: duration_top_ms, agg: max,"
        r" sql: duration_max_ms}"))})
    start = len(w.sent)
    report = build(w, edited)
    assert (report.full_refresh, report.rebuilt) == (False, (DAILY,))  # nothing reads it
    order = [t.name for t in build_order(TransformRenderer(edited))]
    assert [s.table for s in report.steps] == [name for name in order if name != DAILY] + [DAILY]
    assert report.step(DAILY).mode == "full"
    twin = f"{DAILY}__lw_next"
    assert _rebuild_statements(w, start) == [
        f"ALTER TABLE {DAILY} ADD COLUMN duration_top_ms DOUBLE",  # in place, before anything else
        f"CREATE TABLE IF NOT EXISTS {twin}", f"INSERT INTO {twin}",  # from the whole hourly rollup
        f"SELECT MIN(date) FROM {twin} WHERE date >= DATE '1970-01-01'", f"INSERT INTO {twin}",  # older history
        f"SELECT COUNT(*) FROM {twin}",  # DuckDB's row_count: the rows after the step
        f"DROP TABLE {DAILY}", f"ALTER TABLE {twin} RENAME TO {DAILY}"]
    after = snapshot(w, edited)
    assert {name: rows for name, rows in after.items() if name != DAILY} == \
        {name: rows for name, rows in before.items() if name != DAILY}
    assert w.query(f"SELECT date, request_count, duration_top_ms FROM {DAILY} ORDER BY 1") == [
        (T0.date(), 12, 21.0), (LATER.date(), 8, 27.0)]  # recomputed from the hourly rollup, which kept the first day
    assert build(w, edited).rebuilt == ()  # applied once


def test_a_changed_definition_rebuilds_the_table_and_its_readers(tmp_path: Path) -> None:
    model = _model(tmp_path)
    w = _built(model)
    w.execute("DELETE FROM raw_spans WHERE start_time < ?", [LATER - timedelta(days=1)])
    hourly = w.query(f"SELECT hour, request_count FROM {HOURLY} ORDER BY 1")
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    path = templates / "transforms" / "fact_log_events.sql.j2"
    path.write_text(path.read_text() + "\n-- revised")  # any change of the SQL that defines the rows
    start = len(w.sent)
    report = build(w, model, templates=templates)
    assert report.rebuilt == ("fact_log_events", "fact_log_events_hourly")
    assert [line for line in _rebuild_statements(w, start) if line.startswith(("DROP", "ALTER"))] == [
        "DROP TABLE fact_log_events", "ALTER TABLE fact_log_events__lw_next RENAME TO fact_log_events",
        "DROP TABLE fact_log_events_hourly",
        "ALTER TABLE fact_log_events_hourly__lw_next RENAME TO fact_log_events_hourly"]
    assert w.query(f"SELECT hour, request_count FROM {HOURLY} ORDER BY 1") == hourly
    assert build(w, model, templates=templates).rebuilt == ()
    assert build(w, model).rebuilt == ("fact_log_events", "fact_log_events_hourly")  # and back
