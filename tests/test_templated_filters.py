"""Looker's templated filters, `{% condition view.field %} sql {% endcondition %}`: the query's filter on
view.field applied to `sql` (TRUE when the query does not filter it), in sql_on, sql_always_where and
field SQL. The log explore's join to the request fact carries one, so a log query with request fields
prunes the request fact (BigQuery's require_partition_filter: a join equality to another table's
column does not count, a constant bound on the partition column does)."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fixtures.build.raw import MODEL, T0, insert, run, span, warehouse

from lookwright.lookml.project import load_project
from lookwright.lookml.validator import validate_project
from lookwright.model.ir import SemanticModel
from lookwright.query.compile import QuerySpec, compile_query
from lookwright.warehouse.sources import load

ROOT = Path(__file__).resolve().parents[1]
NOW = T0 + timedelta(hours=2)  # 2025-03-03 12:00 UTC
FIELDS = ("fact_log_events.level", "fact_performance_requests.request_count",
          "fact_performance_requests.average_duration_ms")
TODAY = {"fact_log_events.partition_date": "1 day"}
OLD_ON = ("${fact_log_events.trace_id} = ${fact_performance_requests.trace_id} AND ${fact_log_events.span_id} ="
          " ${fact_performance_requests.span_id} AND ${fact_log_events.partition_date} ="
          " ${fact_performance_requests.partition_date}")


def _with_sql_on(model: SemanticModel, sql_on: str) -> SemanticModel:
    explore = model.explores["fact_log_events"]
    joins = tuple(dataclasses.replace(j, sql_on=sql_on) if j.view == "fact_performance_requests" else j
                  for j in explore.joins)
    return dataclasses.replace(model, explores={**model.explores,
                                                "fact_log_events": dataclasses.replace(explore, joins=joins)})


def test_the_condition_is_the_filter_applied_to_the_given_sql() -> None:
    sql = compile_query(MODEL, QuerySpec("fact_log_events", FIELDS, TODAY, "UTC"), NOW, "bigquery").sql
    join = next(line for line in sql.splitlines() if line.startswith("LEFT JOIN `perf-cost-prod.observability"
                                                                      ".fact_performance_requests`"))
    # Looker's date filter on partition_date ("1 day": today), on the request fact's timestamp column
    assert join.endswith(" AND ((`fact_performance_requests`.timestamp) >= TIMESTAMP '2025-03-03 00:00:00'"
                         " AND (`fact_performance_requests`.timestamp) < TIMESTAMP '2025-03-04 00:00:00')")
    where = next(line for line in sql.splitlines() if line.startswith("WHERE "))
    assert where == "WHERE (`fact_log_events`.date) >= DATE '2025-03-03' AND (`fact_log_events`.date) < DATE '2025-03-04'"


def test_no_filter_on_the_field_is_true_and_always_filter_applies() -> None:
    """A query without the filter gets the explore's always_filter default (Looker applies it to every
    query), so the condition still bounds the join; with no filter at all the condition is TRUE."""
    defaulted = compile_query(MODEL, QuerySpec("fact_log_events", FIELDS, {}, "UTC"), NOW, "duckdb").sql
    assert ("AND ((\"fact_performance_requests\".timestamp) >= TIMESTAMP '2025-02-25 00:00:00' AND"
            " (\"fact_performance_requests\".timestamp) < TIMESTAMP '2025-03-04 00:00:00')\n") in defaulted  # 7 days
    on = OLD_ON.rsplit(" AND ", 1)[0] + " AND {% condition fact_rum_events.partition_date %}" \
        " ${fact_performance_requests.partition_date} {% endcondition %}"
    model = _with_sql_on(MODEL, on)
    sql = compile_query(model, QuerySpec("fact_log_events", FIELDS, {}, "UTC"), NOW, "duckdb").sql
    assert ' = ("fact_performance_requests".span_id) AND TRUE\n' in sql


def test_a_condition_in_sql_always_where_and_in_field_sql(tmp_path: Path) -> None:
    explore = MODEL.explores["fact_log_events"]
    model = dataclasses.replace(MODEL, explores={**MODEL.explores, "fact_log_events": dataclasses.replace(
        explore, sql_always_where="{% condition fact_log_events.level %} ${fact_log_events.message} {% endcondition %}")})
    sql = compile_query(model, QuerySpec("fact_log_events", ("fact_log_events.level",),
                                         {**TODAY, "fact_log_events.level": "error,fatal"}, "UTC"), NOW).sql
    assert sql.splitlines()[-2].endswith(" AND ((\"fact_log_events\".message IN ('error', 'fatal')))")
    sql = compile_query(model, QuerySpec("fact_log_events", ("fact_log_events.level",), TODAY, "UTC"), NOW).sql
    assert sql.splitlines()[-2].endswith(" AND (TRUE)")
    table = MODEL.tables["fact_log_events"]
    dimensions = tuple(dataclasses.replace(d, sql="CASE WHEN {% condition fact_log_events.level %} ${TABLE}.level"
                                           " {% endcondition %} THEN ${TABLE}.message END")
                       if d.name == "message" else d for d in table.dimensions)
    model = dataclasses.replace(MODEL, tables={**MODEL.tables, "fact_log_events": dataclasses.replace(
        table, dimensions=dimensions)})
    sql = compile_query(model, QuerySpec("fact_log_events", ("fact_log_events.message",),
                                         {**TODAY, "fact_log_events.level": "error"}, "UTC"), NOW).sql
    assert sql.startswith("SELECT CASE WHEN ((\"fact_log_events\".level) IN ('error')) THEN \"fact_log_events\".message END")
    sql = compile_query(model, QuerySpec("fact_log_events", ("fact_log_events.message",), TODAY, "UTC"), NOW).sql
    assert sql.startswith("SELECT CASE WHEN TRUE THEN")


def _logs(tmp_path: Path) -> list[dict[str, object]]:
    epoch = (T0 - datetime(1970, 1, 1)).total_seconds()
    return [
        {"date": epoch + 61, "service": "checkout", "level": "error", "message": "payment declined",
         "trace_id": "a" * 32, "span_id": "1" * 16},
        {"date": epoch + 62 - 86400, "service": "checkout", "level": "info", "message": "yesterday",
         "trace_id": "b" * 32, "span_id": "2" * 16},
    ]


def test_on_duckdb_the_log_explore_joins_only_the_filtered_days_spans(tmp_path: Path) -> None:
    w = warehouse()
    insert(w, "raw_spans", [span("a" * 32, "1" * 16, T0 + timedelta(minutes=1), 30),
                            span("b" * 32, "2" * 16, T0 + timedelta(minutes=1) - timedelta(days=1), 50)])
    path = tmp_path / "app.log"
    path.write_text("".join(json.dumps(row) + "\n" for row in _logs(tmp_path)), encoding="utf-8")
    load(w, "app-logs", path)
    run(w)
    today = compile_query(MODEL, QuerySpec("fact_log_events", FIELDS, TODAY, "UTC"), NOW).sql
    assert w.query(today) == [("error", 1, 30.0)]
    both = compile_query(MODEL, QuerySpec("fact_log_events", FIELDS, {"fact_log_events.partition_date": "2 days"},
                                          "UTC"), NOW).sql
    assert sorted(w.query(both)) == [("error", 1, 30.0), ("info", 1, 50.0)]


def test_zetasql_the_request_fact_is_pruned_by_the_condition_not_by_the_equality() -> None:
    pytest.importorskip("zetasql", reason="zetasql is not installed")
    from lookwright.sqlgen.analyzer import AnalysisFailed, analyzer_for
    from lookwright.sqlgen.pruning import partition_access

    partitions = {"fact_performance_requests": "timestamp", "fact_log_events": "date"}
    analyzer = analyzer_for(MODEL)

    def accesses(model: SemanticModel) -> dict[str, tuple[str, ...]]:
        sql = compile_query(model, QuerySpec("fact_log_events", FIELDS, TODAY, "UTC"), NOW, "bigquery").sql
        return {a.table: a.bounds for a in partition_access(analyzer.analyze(sql), partitions)}

    assert accesses(MODEL) == {"fact_log_events": (">= constant", "less constant"),
                               "fact_performance_requests": (">= constant", "less constant")}
    with pytest.raises(AnalysisFailed, match="No matching signature for operator = for argument types: DATE, TIMESTAMP"):
        accesses(_with_sql_on(MODEL, OLD_ON))  # the old ON compared the log DATE with the span TIMESTAMP
    equal_days = OLD_ON.replace("= ${fact_performance_requests.partition_date}",
                                "= DATE(${fact_performance_requests.partition_date})")
    assert accesses(_with_sql_on(MODEL, equal_days))["fact_performance_requests"] == ()  # BigQuery would refuse it


def test_generated_lookml_carries_the_condition_and_validates() -> None:
    text = (ROOT / "generated_lookml/explores/fact_log_events.explore.lkml").read_text(encoding="utf-8")
    assert ("{% condition fact_log_events.partition_date %} ${fact_performance_requests.partition_date}"
            " {% endcondition %} ;;") in text
    issues = validate_project(load_project(ROOT / "generated_lookml"))
    assert [i for i in issues if i.severity == "error"] == []
