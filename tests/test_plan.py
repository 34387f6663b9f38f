"""`lookwright plan` offline: every incremental statement's partition predicates, read by ZetaSQL."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

pytest.importorskip("zetasql", reason="zetasql is not installed")

from lookwright.model.compile import load_model
from lookwright.model.ir import SemanticModel
from lookwright.sqlgen.analyzer import analyzer_for
from lookwright.sqlgen.pruning import TableAccess, partition_access
from lookwright.warehouse.plan import PlannedStatement, partition_columns, plan_build

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2025, 3, 4, 10, 17)
# Reads not bounded below by a constant, each for a reason (bench/README.md): the dimensions and
# bridge_service_resource are rebuilt in full from the raw tables on every build; fact_cost_hourly's
# estimate reads its real-cost history and request totals relative to each service's last real hour;
# the log and RUM rollups group by a time column other than their source's partition column.
DIMENSIONS = ("dim_endpoint", "dim_environment", "dim_region", "dim_resource", "dim_service", "dim_time",
              "dim_user_segment", "bridge_service_resource")
KNOWN_UNPRUNED: set[tuple[str, str]] = {
    ("fact_cost_hourly", "fact_cost_hourly"),
    ("fact_cost_hourly", "fact_performance_metrics_hourly"),
    ("fact_cost_hourly", "fact_resource_metrics_hourly"),
    ("fact_log_events_hourly", "fact_log_events"),
    ("fact_rum_hourly", "fact_rum_events"),
}


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
    assert plan.bytes_processed is None and plan.cost() is None  # offline: never a guess


def test_a_planted_unpruned_statement_is_reported(model: SemanticModel) -> None:
    analyzer = analyzer_for(model)
    partitions = partition_columns(model)
    bad = ("DELETE FROM fact_performance_metrics_hourly WHERE hour >= "
           "(SELECT MAX(hour) FROM fact_performance_metrics_hourly WHERE hour >= @floor)")
    accesses = tuple(partition_access(analyzer.analyze(bad), partitions))
    assert PlannedStatement("fact_performance_metrics_hourly", bad, accesses).unpruned == (
        TableAccess("fact_performance_metrics_hourly", "hour", False, ()),)
    good = "DELETE FROM fact_performance_metrics_hourly WHERE hour >= @window_start"
    assert partition_access(analyzer.analyze(good), partitions) == [
        TableAccess("fact_performance_metrics_hourly", "hour", True, (">= @window_start",))]
