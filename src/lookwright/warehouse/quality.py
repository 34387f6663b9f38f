"""Data-quality checks: the model's declared checks plus cost conservation, stored per run."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lookwright.errors import CheckFailed
from lookwright.model.ir import SemanticModel
from lookwright.warehouse.base import Warehouse
from lookwright.warehouse.build import TransformRenderer

RESULTS_TABLE = "data_quality_results"
RESULTS_DDL = f"""CREATE TABLE IF NOT EXISTS {RESULTS_TABLE} (
    run_id VARCHAR NOT NULL,
    checked_at TIMESTAMP NOT NULL,
    "table" VARCHAR NOT NULL,
    check_name VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,
    failing BIGINT NOT NULL,
    passed BOOLEAN NOT NULL
)"""
CONSERVATION_TABLE = "fact_cost_hourly"
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
        if table.spec.checks or any(c.required for c in table.columns)
    ]
    if CONSERVATION_TABLE in model.tables:
        statements.append((CONSERVATION_TABLE, renderer.sql.render(
            CONSERVATION_TEMPLATE, ref=renderer.sql.ref, raw=renderer.raw, window_start=None)))
    return statements


def run_checks(warehouse: Warehouse, model: SemanticModel, templates: Path | None = None) -> CheckRun:
    """Run every check on the built tables and append the results to data_quality_results."""
    renderer = TransformRenderer(model, warehouse.dialect, templates)
    results = [
        CheckResult(table, str(name), str(severity), int(failing or 0))
        for table, sql in check_statements(model, renderer)
        for name, severity, failing in warehouse.query(sql)
    ]
    run = CheckRun(uuid.uuid4().hex, datetime.now(UTC).replace(tzinfo=None, microsecond=0), tuple(results))
    with warehouse.transaction():
        warehouse.execute(RESULTS_DDL)
        for r in run.results:
            warehouse.execute(
                f"INSERT INTO {RESULTS_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?)",
                [run.run_id, run.checked_at, r.table, r.check_name, r.severity, r.failing, r.passed],
            )
    return run


def ensure_passed(run: CheckRun) -> None:
    """Raise CheckFailed naming every failing error-severity check and its offending count."""
    if not run.failures:
        return
    named = ", ".join(f"{r.table}.{r.check_name} ({r.failing:,} failing)" for r in run.failures)
    count = len(run.failures)
    raise CheckFailed(f"{count} data-quality check{'s' if count != 1 else ''} failed: {named}")
