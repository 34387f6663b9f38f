"""Model errors for what BigQuery would reject, and DDL that BigQuery accepts by construction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_model_errors import BASE, _only

from lookwright.errors import WarehouseError
from lookwright.model.compile import load_model
from lookwright.model.ir import SemanticModel
from lookwright.sqlgen.render import SqlRenderer, bq_string

ROOT = Path(__file__).resolve().parents[1]
CASES = [
    ("LW502", "    cluster_by: [amount]\n", 7, "clustering column 'amount' of 'orders' is FLOAT64",
     "BigQuery clusters only on top-level columns that are not FLOAT64, JSON, ARRAY or STRUCT"),
    ("LW508", "    partition: {column: day, granularity: hour}\n", 7,
     "'orders' partitions the DATE column 'day' by hour", "BigQuery rejects DATE_TRUNC(date, HOUR)"),
    ("LW508", "    partition: {column: created_at, ingestion: true}\n", 7,
     "'orders' partitions by ingestion time and by column 'created_at'", "use either `ingestion: true`"),
    ("LW513", "    partition: {ingestion: true}\n    transform: {template: t.sql.j2, incremental_column: created_at}\n", 7,
     "'orders' is built incrementally but partitioned by ingestion time", "BigQuery stamps each row with the time"),
    ("LW509", "    require_partition_filter: true\n", 7,
     "'orders' requires a partition filter but is not partitioned", "add `partition:`"),
]


def _with(extra: str) -> str:
    text = BASE.replace("    kind: fact\n", "    kind: fact\n" + extra, 1)
    return text.replace("      - {name: amount, type: FLOAT64}\n",
                        "      - {name: amount, type: FLOAT64}\n      - {name: day, type: DATE}\n", 1)


@pytest.mark.parametrize(("code", "extra", "line", "message", "hint"), CASES, ids=[c[0] + str(i) for i, c in enumerate(CASES)])
def test_bigquery_rejections_are_model_errors(tmp_path: Path, code: str, extra: str, line: int,
                                              message: str, hint: str) -> None:
    error = _only(tmp_path, _with(extra))
    assert (error.code, error.line, error.message) == (code, line, message)
    assert error.hint.startswith(hint)


@pytest.mark.parametrize(("extra", "expected"), [
    ("    partition: {column: created_at, granularity: hour}\n", "PARTITION BY TIMESTAMP_TRUNC(created_at, HOUR)"),
    ("    partition: {column: local_at, granularity: month}\n", "PARTITION BY DATETIME_TRUNC(local_at, MONTH)"),
    ("    partition: {column: day, granularity: month}\n", "PARTITION BY DATE_TRUNC(day, MONTH)"),
    ("    partition: {ingestion: true}\n", "PARTITION BY _PARTITIONDATE"),
    ("    partition: {ingestion: true, granularity: hour}\n", "PARTITION BY TIMESTAMP_TRUNC(_PARTITIONTIME, HOUR)"),
    ("    partition: {column: created_at}\n    require_partition_filter: true\n",
     "  require_partition_filter = TRUE,"),
])
def test_partition_ddl_is_what_bigquery_accepts(tmp_path: Path, extra: str, expected: str) -> None:
    text = _with(extra).replace("      - {name: day, type: DATE}\n",
                                "      - {name: day, type: DATE}\n      - {name: local_at, type: DATETIME}\n", 1)
    text = text.replace("    joins:\n", "    always_filter: {orders.created_date: \"7 days\"}\n    joins:\n", 1)  # LW510
    (tmp_path / "model.yml").write_text(text)
    model = load_model(tmp_path)
    ddl = SqlRenderer(model, "bigquery").ddl(model.tables["orders"])
    assert expected in ddl.splitlines()


def test_bq_string_writes_emoji_as_themselves() -> None:
    assert bq_string('p95 \U0001F600 "fast"\n\\') == '"p95 \U0001F600 \\"fast\\"\\n\\\\"'


def test_explore_over_a_table_requiring_a_partition_filter_must_always_filter_it(tmp_path: Path) -> None:
    text = _with("    partition: {column: created_at}\n    require_partition_filter: true\n")
    error = _only(tmp_path, text)
    assert (error.code, error.line, error.message) == (
        "LW510", 32, ("explore orders does not always filter the partition column 'created_at' of orders,"
        " which requires a partition filter"))
    assert error.hint == ('add `always_filter: {orders.created_date: "7 days"}` (or a sql_always_where on it):'
                          " BigQuery refuses any query of the table without one")
    on_day = text.replace("    joins:\n      - {view: users}\n",
                          "    always_filter: {orders.amount: \">0\"}\n    joins:\n      - {view: users}\n", 1)
    assert _only(tmp_path, on_day).code == "LW510"  # a filter, but not on the partition column
    filtered = text.replace("    joins:\n      - {view: users}\n",
                            "    always_filter: {orders.created_date: \"7 days\"}\n    joins:\n      - {view: users}\n", 1)
    (tmp_path / "model.yml").write_text(filtered)
    assert load_model(tmp_path).tables["orders"].require_partition_filter


def test_a_read_of_every_partition_bounds_the_partition_column_by_its_own_type(tmp_path: Path) -> None:
    from lookwright.sqlgen.dialects import DIALECTS
    from lookwright.sqlgen.render import every_partition

    bounds = {}
    for column in ("created_at", "day", "local_at"):
        text = _with(f"    partition: {{column: {column}}}\n").replace(
            "      - {name: day, type: DATE}\n", "      - {name: day, type: DATE}\n      - {name: local_at, type: DATETIME}\n", 1)
        (tmp_path / "model.yml").write_text(text)
        table = load_model(tmp_path).tables["orders"]
        bounds[column] = (every_partition(table, DIALECTS["bigquery"], "o"), every_partition(table, DIALECTS["duckdb"]))
    assert bounds == {
        "created_at": ("o.created_at >= TIMESTAMP '1970-01-01 00:00:00+00'", "created_at >= TIMESTAMP '1970-01-01 00:00:00'"),
        "day": ("o.day >= DATE '1970-01-01'", "day >= DATE '1970-01-01'"),
        "local_at": ("o.local_at >= DATETIME '1970-01-01 00:00:00'", "local_at >= TIMESTAMP '1970-01-01 00:00:00'"),
    }


DOCUMENTED = ("BigQuery fills no ingestion-time partitioned table from a query: PARTITION BY _PARTITIONDATE or"
              " TIMESTAMP_TRUNC(_PARTITIONTIME, ...) \"cannot be used with the AS query_statement clause\""
              " (https://cloud.google.com/bigquery/docs/reference/standard-sql/data-definition-language"
              "#partition_expression)")


INGESTED = "dim_time"  # ingestion-time partitioning is for tables rebuilt or merged whole (LW513)


def ingestion_partitioned(tmp_path: Path, partition: str = "{ingestion: true}", remove: bool = False) -> SemanticModel:
    """The flagship model with dim_time partitioned as given (and its column `shift` removed)."""
    import shutil

    folder = tmp_path / "semantic"
    shutil.copytree(ROOT / "semantic", folder)
    path = folder / "dimensions.yml"
    text = path.read_text(encoding="utf-8")
    at = text.index(f"  - name: {INGESTED}\n")
    table = text[at:].replace("    transform: {template: transforms/dim_time.sql.j2}\n",
                              f"    transform: {{template: transforms/dim_time.sql.j2}}\n    partition: {partition}\n", 1)
    if remove:
        for line in ('      - {name: shift, type: STRING, description: "On-call shift (apac, emea, americas)."}\n',
                     "      - {name: shift}\n"):
            assert line in table
            table = table.replace(line, "", 1)
    path.write_text(text[:at] + table, encoding="utf-8")
    return load_model(folder)


def test_an_ingestion_time_partitioned_table_is_never_replaced_by_create_table_as_select(tmp_path: Path) -> None:
    """BigQuery's DDL reference: an ingestion-time partition expression "cannot be used with the AS
    query_statement clause". ZetaSQL knows no _PARTITIONDATE and the emulator accepts it, so the
    rule is lookwright's: a change needing a new table of such a table is refused (`prepare`
    raises it with every other problem, before anything is written)."""
    from lookwright.warehouse.build import (
        TransformRenderer,
        _replace_statement,
        ingestion_replacement,
    )
    from lookwright.warehouse.layout import diff

    daily = INGESTED
    column, ingestion = load_model(ROOT / "semantic"), ingestion_partitioned(tmp_path / "a")
    removed = ingestion_partitioned(tmp_path / "b", remove=True)

    def change(old: SemanticModel, new: SemanticModel) -> Any:
        return diff(daily, TransformRenderer(old, "bigquery").layout(old.tables[daily]),
                    TransformRenderer(new, "bigquery").layout(new.tables[daily]))

    assert ingestion_replacement(ingestion.tables[daily], change(column, ingestion)) == (
        f"table {daily}: its partitioning changed, which takes a new table, and {DOCUMENTED}")
    assert ingestion_replacement(removed.tables[daily], change(ingestion, removed)) == (
        f"table {daily}: its columns changed (shift removed), which takes a new table, and {DOCUMENTED}")
    assert ingestion_replacement(column.tables[daily], change(ingestion, column)) is None  # to a column: CTAS
    assert ingestion_replacement(ingestion.tables[daily], None) is None  # unchanged
    with pytest.raises(WarehouseError, match=f"^table {daily}: BigQuery fills no ingestion-time partitioned"):
        _replace_statement(TransformRenderer(ingestion, "bigquery"), ingestion.tables[daily])
    hourly = TransformRenderer(ingestion_partitioned(tmp_path / "c", "{ingestion: true, granularity: hour}"), "bigquery")
    with pytest.raises(WarehouseError, match=r"\(CREATE OR REPLACE TABLE \.\.\. AS SELECT; https://"):
        _replace_statement(hourly, hourly.model.tables[daily])
    rollup = "fact_performance_metrics_daily"
    replaced = _replace_statement(TransformRenderer(column, "bigquery"), column.tables[rollup])
    assert "PARTITION BY date" in replaced and "\nAS SELECT " in replaced  # a column's partitioning: one CTAS
