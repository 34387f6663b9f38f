"""Data-quality checks: the model's declared checks plus cost conservation, stored per run."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lookwright.errors import CheckFailed
from lookwright.model.ir import SemanticModel
from lookwright.warehouse.base import Warehouse, naive_utc
from lookwright.warehouse.build import (
    STATE_TABLE,
    TransformRenderer,
    raw_loaded_through,
)
from lookwright.warehouse.sources import create_raw_tables

RESULTS_TABLE = "data_quality_results"
# (name, BigQuery type): every column NOT NULL; `table_name`, since `table` is a reserved word
RESULTS_COLUMNS = (("run_id", "STRING"), ("checked_at", "TIMESTAMP"), ("table_name", "STRING"),
                   ("check_name", "STRING"), ("severity", "STRING"), ("failing", "INT64"), ("passed", "BOOL"))
CONSERVATION_TABLE = "fact_cost_hourly"
FRESHNESS_CHECKS = ("built", "built_after_last_load", "facts_not_all_empty")
CONSERVATION_TEMPLATE = "transforms/cost_conservation.sql.j2"


@dataclass(frozen=True)
class CheckResult:
    """One check of one table: how many rows or groups offend. Warnings never fail a run."""

    table: str
    check_name: str
    severity: str  # error | warning
    failing: int

    @property
    def passed(self) -> bool:
        return self.failing == 0


@dataclass(frozen=True)
class CheckRun:
    """Every check of one run, as stored in data_quality_results."""

    run_id: str
    checked_at: datetime
    results: tuple[CheckResult, ...]

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if not r.passed and r.severity == "error")

    @property
    def warnings(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if not r.passed and r.severity != "error")


def check_statements(model: SemanticModel, renderer: TransformRenderer) -> list[tuple[str, str]]:
    """(table, SELECT returning check_name, severity, failing) for every table with checks."""
    statements = [
        (table.name, renderer.sql.checks(table))
        for table in model.tables.values()
        if table.checks or any(c.required for c in table.columns)
    ]
    if CONSERVATION_TABLE in model.tables:
        statements.append((CONSERVATION_TABLE, renderer.sql.render(
            CONSERVATION_TEMPLATE, ref=renderer.sql.ref, raw=renderer.raw, window_start=None,
            every_partition=lambda name, alias="": renderer.all_partitions(model.tables[name], alias))))
    return statements


def freshness_results(warehouse: Warehouse, model: SemanticModel, renderer: TransformRenderer) -> list[CheckResult]:
    """Checks every run has: the model was built, after the newest raw load, and not every fact table is
    empty (errors); each empty fact table is a warning.

    Without them an empty or stale warehouse would pass every row-level check."""
    create_raw_tables(warehouse)
    built = warehouse.table_exists(STATE_TABLE) and all(warehouse.table_exists(name) for name in model.tables)
    if not built:
        return [CheckResult(STATE_TABLE, "built", "error", 1)]
    state = warehouse.query(f"SELECT raw_loaded_through FROM {renderer.raw(STATE_TABLE)}")
    loaded = raw_loaded_through(warehouse)
    through = naive_utc(state[0][0]) if state else None
    stale = not state or (loaded is not None and (through is None or loaded > through))
    results = [CheckResult(STATE_TABLE, "built", "error", 0),
               CheckResult(STATE_TABLE, "built_after_last_load", "error", int(stale))]
    empty = []
    for table in model.tables.values():
        if table.kind == "fact":
            rows = warehouse.query(f"SELECT COUNT(*) FROM {renderer.read_all(table.name)}")
            empty.append(not rows[0][0])
            # a source a deployment does not send (no RUM, say) leaves its facts empty: a warning
            results.append(CheckResult(table.name, "not_empty", "warning", int(not rows[0][0])))
    results.insert(2, CheckResult(STATE_TABLE, "facts_not_all_empty", "error", int(bool(empty) and all(empty))))
    return results


def run_checks(warehouse: Warehouse, model: SemanticModel, templates: Path | None = None) -> CheckRun:
    """Run every check on the built tables and append the results to data_quality_results."""
    model = warehouse.target(model)
    renderer = TransformRenderer(model, warehouse.dialect, templates)
    results = freshness_results(warehouse, model, renderer)
    if not any(r.check_name == "built" and not r.passed for r in results):
        results += [
            CheckResult(table, str(name), str(severity), int(failing or 0))
            for table, sql in check_statements(model, renderer)
            for name, severity, failing in warehouse.query(sql)
        ]
    run = CheckRun(uuid.uuid4().hex, datetime.now(UTC).replace(microsecond=0), tuple(results))
    warehouse.execute(results_ddl(renderer))  # DDL outside any transaction (BigQuery forbids it inside)
    if run.results:  # one INSERT: every result of the run or none
        names = ", ".join(name for name, _ in RESULTS_COLUMNS)
        rows = ", ".join("(?, ?, ?, ?, ?, ?, ?)" for _ in run.results)
        values = [value for r in run.results
                  for value in (run.run_id, run.checked_at, r.table, r.check_name, r.severity, r.failing, r.passed)]
        warehouse.execute(f"INSERT INTO {renderer.raw(RESULTS_TABLE)} ({names}) VALUES {rows}", values)
    return run


def results_ddl(renderer: TransformRenderer) -> str:
    """CREATE TABLE IF NOT EXISTS data_quality_results in the renderer's dialect."""
    dialect = renderer.dialect
    columns = ",\n".join(f"    {name} {dialect.column_type(kind)} NOT NULL" for name, kind in RESULTS_COLUMNS)
    return f"CREATE TABLE IF NOT EXISTS {renderer.raw(RESULTS_TABLE)} (\n{columns}\n)"


def ensure_passed(run: CheckRun) -> None:
    """Raise CheckFailed naming every failing error-severity check and its offending count."""
    if not run.failures:
        return
    named = ", ".join(f"{r.table}.{r.check_name} ({r.failing:,} failing)" for r in run.failures)
    count = len(run.failures)
    hint = ""
    if any(r.check_name in FRESHNESS_CHECKS for r in run.failures):
        hint = " (the warehouse is empty or not built from its newest load: run `lookwright build`)"
    raise CheckFailed(f"{count} data-quality check{'s' if count != 1 else ''} failed: {named}{hint}")
