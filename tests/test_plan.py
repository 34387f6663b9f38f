"""`lookwright plan` offline: every incremental statement's partition predicates, read by ZetaSQL."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

pytest.importorskip("zetasql", reason="zetasql is not installed")

from lookwright.commands.plan import SWAP_WINDOW
from lookwright.model.compile import load_model
from lookwright.model.ir import SemanticModel
from lookwright.sqlgen.analyzer import analyzer_for
from lookwright.sqlgen.pruning import TableAccess, partition_access
from lookwright.warehouse.plan import Plan, PlannedStatement, partition_columns, plan_build

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2025, 3, 4, 10, 17)
# Reads not bounded below by a constant: only the merges, on every build, of the dimensions whose
# attributes aggregate every raw row (region's measured cost multiplier, resource's latest cost line,
# service's most frequent tags), from their small daily profiles, never the raw tables (bench/README.md);
# every incremental step bounds every partitioned table it reads (fact_cost_hourly's estimate reads the 30 days before its window),
# and so do the other dimensions (the raw partitions the loads since the previous build touched).
DIMENSIONS = ("dim_region", "dim_resource", "dim_service")
NEW_LOADS = ("dim_endpoint", "dim_environment", "dim_time", "dim_user_segment")
KNOWN_UNPRUNED: set[tuple[str, str]] = set()


@pytest.fixture(scope="module")
def model() -> SemanticModel:
    return load_model(ROOT / "semantic")


def test_every_incremental_statement_prunes_every_partitioned_table_it_touches(model: SemanticModel) -> None:
    plan = plan_build(model, NOW)
    assert plan.window_start == datetime(2025, 3, 4, 9)
    touched = {(s.table, a.table) for s in plan.statements for a in s.accesses}
    assert ("fact_performance_metrics_hourly", "fact_performance_requests") in touched
    assert ("fact_performance_metrics_daily", "fact_performance_metrics_daily") in touched
    unpruned = {(table, access.table) for table, access in plan.unpruned}
    assert {u for u in unpruned if u[0] not in DIMENSIONS} == KNOWN_UNPRUNED
    assert {u[0] for u in unpruned if u[0] in DIMENSIONS} == set(DIMENSIONS)
    for statement in plan.statements:
        for access in statement.accesses:
            if (statement.table, access.table) not in KNOWN_UNPRUNED and statement.table not in DIMENSIONS:
                assert any(b.startswith((">=", "greater", "equal")) for b in access.bounds), (statement.table, access)
    assert {s.table for s in plan.statements if s.full_rebuild} == set(DIMENSIONS)
    assert plan.unpruned_incremental == ()  # `plan --strict` passes: only full rebuilds read everything
    assert {t for s in plan.statements if s.table == "fact_cost_hourly" for t in s.unpartitioned} == {
        "dim_region", "lookwright_watermarks"}
    assert plan.bytes_processed is None and plan.cost() is None  # offline: never a guess
    # each incremental table's watermark: its newest row, read from the window its last step rewrote
    newest = {s.table: s.accesses for s in plan.statements if s.sql.startswith("SELECT MAX(") and s.table in model.tables}
    incremental = {name for name, t in model.tables.items()
                   if t.rollup is not None or (t.transform is not None and t.transform.incremental_column)}
    assert set(newest) == incremental and len(incremental) == 24
    assert newest["fact_performance_requests"] == (
        TableAccess("fact_performance_requests", "timestamp", True, (">= constant",)),)
    assert newest["fact_performance_metrics_daily"] == (  # the previous day on (increment_offset 1)
        TableAccess("fact_performance_metrics_daily", "date", True, (">= constant",)),)
    records = [s.table for s in plan.statements if s.sql.startswith("MERGE INTO `perf-cost-prod.observability."
                                                                     "lookwright_watermarks`")]
    assert sorted(records) == sorted(incremental)  # in each step's own transaction
    # what was loaded since the previous build: the load ledger (small, unpartitioned), never a raw table
    assert [(s.table, s.accesses, s.unpartitioned) for s in plan.statements[:2]] == [
        ("(load ledger)", (), ("lookwright_loads",)), ("(load ledger)", (), ("lookwright_loads",))]
    windows = {s.table: s for s in plan.statements if s.sql.startswith("SELECT MIN(hour) AS window_start")}
    profiles = [name for name, t in model.tables.items() if not t.lookml]  # the daily profiles: late data per source
    assert sorted(profiles) == ["cost_daily_tags", "query_log_daily_services", "region_daily_prices",
                                "resource_daily_latest", "slo_daily_targets", "span_daily_profile"]
    constant = ["bridge_service_resource", "fact_log_events", "fact_resource_metrics_hourly", "fact_rum_events",
                *profiles]
    assert sorted(windows) == sorted([*constant, "fact_cost_hourly"])
    assert sorted((t, w.accesses, w.unpartitioned) for t, w in windows.items() if t != "fact_cost_hourly") == [
        (t, (), ()) for t in sorted(constant)]  # constants only
    for name in NEW_LOADS:  # the raw partitions the new loads touched, bounded both ways
        merge = next(s for s in plan.statements if s.table == name)
        assert merge.accesses and not merge.full_rebuild and all(
            a.bounds == (">= constant", "less_or_equal constant") for a in merge.accesses), merge.accesses
    assert windows["fact_cost_hourly"].accesses == (  # its estimated hours, from its last window on
        TableAccess("fact_cost_hourly", "hour", True, (">= constant",)),)


def test_a_planted_unpruned_statement_is_reported(model: SemanticModel) -> None:
    analyzer = analyzer_for(model)
    partitions = partition_columns(model)
    bad = ("DELETE FROM fact_performance_metrics_hourly WHERE hour >= "
           "(SELECT MAX(hour) FROM fact_performance_metrics_hourly WHERE hour >= @floor)")
    accesses = tuple(partition_access(analyzer.analyze(bad), partitions))
    planted = PlannedStatement("fact_performance_metrics_hourly", bad, accesses)
    assert planted.unpruned == (TableAccess("fact_performance_metrics_hourly", "hour", False, ()),)
    assert Plan(NOW, (planted,), 6.25).unpruned_incremental == (  # what `plan --strict` fails on
        ("fact_performance_metrics_hourly", TableAccess("fact_performance_metrics_hourly", "hour", False, ())),)
    good = "DELETE FROM fact_performance_metrics_hourly WHERE hour >= @window_start"
    assert partition_access(analyzer.analyze(good), partitions) == [
        TableAccess("fact_performance_metrics_hourly", "hour", True, (">= @window_start",))]


def test_declared_queries_name_the_table_that_serves_them_and_what_the_raw_explore_reads(
        model: SemanticModel) -> None:
    from lookwright.lookml.project import load_project
    from lookwright.warehouse.plan import plan_queries

    queries = {q.name: q for q in plan_queries(model, load_project(ROOT / "generated_lookml"), NOW)}
    assert sorted(queries) == ["daily_requests_by_service", "monthly_cost_by_team", "monthly_requests_by_service",
                               "p95_by_endpoint", "requests_by_service_hour", "weekly_requests_by_service"]
    requests = TableAccess("fact_performance_requests", "timestamp", True, (">= constant", "less constant"))
    week = ("fact_performance_requests.partition_date", datetime(2025, 2, 26), datetime(2025, 3, 5))
    hourly = queries["requests_by_service_hour"]
    assert (hourly.served_by, hourly.pdt_pruned_by) == ("hourly_rollup", ("fact_performance_requests.partition_date",))
    assert (hourly.accesses, hourly.unpartitioned, hourly.windows, hourly.error) == ((requests,), ("dim_service",),
                                                                                    (week,), None)
    raw = queries["p95_by_endpoint"]  # no aggregate table has p95: Looker reads the partitioned fact, pruned
    assert (raw.served_by, raw.accesses, raw.windows) == (None, (requests,), (week,))
    monthly = queries["monthly_requests_by_service"]  # no filter: the raw explore would read every month
    assert monthly.served_by == "monthly_by_service" and monthly.unpruned == (
        TableAccess("fact_performance_service_monthly", "month", False, ()),)
    for name in ("weekly_requests_by_service", "monthly_cost_by_team"):  # long-range tiles: never daily rows
        assert queries[name].served_by in ("weekly_by_service", "monthly_cost_by_service")
        assert "daily" not in " ".join(a.table for a in queries[name].accesses)
    assert [q.error for q in queries.values()] == [None] * 6  # BigQuery SQL from the one compiler, ZetaSQL-clean
    assert all(q.bytes_processed is None for q in queries.values())  # offline: never a guess


def test_plan_cli_prints_statements_and_declared_queries(capsys: pytest.CaptureFixture[str]) -> None:
    from lookwright.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["plan", "--now", "2025-03-04 10:17", "--model", str(ROOT / "semantic"),
              "--lookml", str(ROOT / "generated_lookml")])
    assert exit_.value.code in (0, None)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "incremental build from 2025-03-04 09:00 UTC (partitions from 2025-03-04): 107 statements"
    assert "7 unpruned reads of partitioned tables (by the full rebuilds of dim_region, dim_resource, dim_service)" \
        in lines
    assert "       span_daily_profile (partition day): NOT PRUNED: reads every partition (the dimension is merged" \
           " from its whole sources on every build)" in lines  # one MERGE a dimension: it keeps every member
    assert [line for line in lines if "raw_" in line and "NOT PRUNED" in line] == []  # no raw table, ever
    assert "       raw_db_query_log (partition log_timestamp): pruned >= constant" in lines  # bridge_service_resource
    swap = lines[lines.index("declared queries: 6") - 1]  # the window a reader may see a mix in
    assert swap == SWAP_WINDOW and swap.startswith("not atomic across tables: each step of an incremental build")
    assert ("switches its tables at one commit point (on BigQuery one DML transaction), except, on BigQuery, each"
            " table that needs a new table (a re-partition, a retyped, removed or reordered column): one CREATE OR"
            " REPLACE TABLE ... AS SELECT from its twin replaces it after the commit point, atomic for the table"
            " (never missing; it reads the twin once, billed)") in swap
    with pytest.raises(SystemExit) as exit_:
        main(["plan", "--now", "2025-03-04 10:17", "--strict", "--model", str(ROOT / "semantic"),
              "--lookml", str(ROOT / "generated_lookml")])
    assert exit_.value.code in (0, None)
    capsys.readouterr()
    start = lines.index("declared queries: 6")
    assert lines[start + 1:start + 5] == [
        ("  daily_requests_by_service [fact_performance_requests]: served by aggregate table daily_rollup"
        " (a Looker PDT, pruned by its partition key fact_performance_requests.partition_date)"),
        "       window fact_performance_requests.partition_date: 2025-02-25 00:00:00 to 2025-05-26 00:00:00",
        ("       raw explore reads fact_performance_requests (partition timestamp): pruned >= constant,"
        " less constant (bytes unknown)"),
        "       unpartitioned, read whole: dim_service",
    ]


def test_a_planted_unpruned_read_of_a_newly_required_table_fails_plan_strict(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The joined fact's incremental step, planted to read fact_cost_hourly (which requires a partition
    filter) without its window: `plan` reports it and `plan --strict` exits 1 naming it."""
    from lookwright.cli import main

    template = (ROOT / "templates/transforms/fact_performance_cost_joined.sql.j2").read_text(encoding="utf-8")
    planted = template.replace('{{ m.since_or_all("hour", "fact_cost_hourly") }}', "")
    assert planted != template
    (tmp_path / "transforms").mkdir()
    (tmp_path / "transforms/fact_performance_cost_joined.sql.j2").write_text(planted, encoding="utf-8")
    argv = ["plan", "--now", "2025-03-04 10:17", "--model", str(ROOT / "semantic"), "--templates", str(tmp_path),
            "--lookml", str(ROOT / "generated_lookml")]
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code in (0, None)
    lines = capsys.readouterr().out.splitlines()
    step = lines.index(next(line for line in lines if ". fact_performance_cost_joined: INSERT INTO" in line))
    assert "       fact_cost_hourly (partition hour): NOT PRUNED: reads every partition" in lines[step + 1:step + 4]
    assert "8 unpruned reads of partitioned tables" in " ".join(lines)
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--strict"])
    assert exit_.value.code == 1
    assert "fact_performance_cost_joined reads fact_cost_hourly" in capsys.readouterr().err
