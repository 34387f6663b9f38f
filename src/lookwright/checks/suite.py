"""`lookwright validate`: every configured check run as library calls, one outcome per check.

The `lookml` and `aggregates` checks always run; `sql` and `rollups` when a warehouse URL is given.
Each outcome holds the check's own typed report, so callers print it or embed its JSON document.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lookwright.errors import InputError
from lookwright.paths import DEFAULT_LOOKML_DIR, DEFAULT_MODEL_DIR, existing_directory

if TYPE_CHECKING:
    from lookwright.checks.aggregates import AggregateReport
    from lookwright.checks.rollups import RollupReport
    from lookwright.checks.sql import SqlReport
    from lookwright.errors import Issue
    from lookwright.warehouse import ConnectOptions



@dataclass(frozen=True)
class Outcome:
    """One check's result: its report, why it failed (None: passed) and how long it took."""

    name: str  # lookml | aggregates | sql | rollups
    report: list[Issue] | AggregateReport | SqlReport | RollupReport
    failure: str | None
    seconds: float

    @property
    def passed(self) -> bool:
        return self.failure is None

    @property
    def message(self) -> str:
        """`passed` or `failed: <why>`, as the summary shows it."""
        return "passed" if self.failure is None else f"failed: {self.failure}"

    def json_report(self) -> dict[str, object]:
        """The check's own `--format json` document."""
        from lookwright.checks import aggregates, rollups, sql
        from lookwright.lookml import validator

        match self.name:
            case "lookml":
                return validator.report_dict(self.report)  # type: ignore[arg-type]
            case "aggregates":
                return aggregates.report_dict(self.report)  # type: ignore[arg-type]
            case "sql":
                return sql.report_dict(self.report)  # type: ignore[arg-type]
            case _:
                return rollups.report_dict(self.report)  # type: ignore[arg-type]


def lookml_project_dir(path: str | Path) -> Path:
    """A directory holding at least one .lkml file, or an InputError."""
    directory = existing_directory(path, "LookML")
    if next(directory.rglob("*.lkml"), None) is None:
        raise InputError(f"no .lkml files under {path}")
    return directory


def check_lookml(directory: Path, strict: bool = False, projects: Mapping[str, Path] | None = None) -> Outcome:
    """Looker's validator rules over a LookML project; fails on errors (and warnings when strict).

    `projects`: imported project name -> folder (default `imported_projects/<name>/`)."""
    from lookwright.lookml.validator import count_line, summary, validate_lookml

    started = time.perf_counter()
    findings = validate_lookml(lookml_project_dir(directory), projects)
    counts = summary(findings)
    failing = counts["errors"] + (counts["warnings"] if strict else 0)
    failure = f"LookML validation failed: {count_line(counts)}" if failing else None
    return Outcome("lookml", findings, failure, time.perf_counter() - started)


def check_aggregates(model_dir: Path = DEFAULT_MODEL_DIR, lookml_dir: Path = DEFAULT_LOOKML_DIR) -> Outcome:
    """The aggregate table that serves every declared query; fails on must-hit misses."""
    from lookwright.checks.aggregates import check_queries, failure_message
    from lookwright.lookml.project import load_project
    from lookwright.model.compile import load_model

    started = time.perf_counter()
    model = load_model(existing_directory(model_dir, "model"))
    report = check_queries(model, load_project(existing_directory(lookml_dir, "LookML")))
    return Outcome("aggregates", report, failure_message(report), time.perf_counter() - started)


def check_sql(warehouse_url: str | None, model_dir: Path = DEFAULT_MODEL_DIR,
              options: ConnectOptions | None = None) -> Outcome:
    """Every view's SQL and field expressions compiled; fails on any refused field.

    Without a warehouse, as BigQuery SQL analysed offline by Google's ZetaSQL analyzer; on
    BigQuery as dry-run jobs (nothing billed); on DuckDB with LIMIT 0.
    """
    from lookwright.checks.sql import failure_message, validate_sql, validate_sql_offline
    from lookwright.model.compile import load_model
    from lookwright.warehouse import open_warehouse

    model = load_model(existing_directory(model_dir, "model"))
    started = time.perf_counter()
    if warehouse_url is None:
        report = validate_sql_offline(model)
    else:
        url = warehouse_url
        open_warehouse(url, options, must_exist=True).close()  # fail early on a bad URL or file
        report = validate_sql(model, lambda: open_warehouse(url, options, must_exist=True))
    return Outcome("sql", report, failure_message(report), time.perf_counter() - started)


def check_rollups(warehouse_url: str, model_dir: Path = DEFAULT_MODEL_DIR, tolerance: float = 0.01,
                  min_group: int = 100, tables: Sequence[str] = (),
                  options: ConnectOptions | None = None) -> Outcome:
    """Every rollup table recomputed from its raw table; fails on any mismatch."""
    from lookwright.checks.rollups import failure_message, validate_rollups
    from lookwright.model.compile import load_model
    from lookwright.warehouse import open_warehouse

    model = load_model(existing_directory(model_dir, "model"))
    started = time.perf_counter()
    with open_warehouse(warehouse_url, options, must_exist=True) as warehouse:
        report = validate_rollups(model, warehouse, tolerance, min_group, tables)
    return Outcome("rollups", report, failure_message(report), time.perf_counter() - started)


def configured_checks(warehouse_url: str | None, model_dir: Path = DEFAULT_MODEL_DIR,
                      options: ConnectOptions | None = None) -> list[Callable[[], Outcome]]:
    """The checks `validate` runs: lookml and aggregates, plus sql and rollups with a warehouse."""
    checks: list[Callable[[], Outcome]] = [lambda: check_lookml(DEFAULT_LOOKML_DIR),
                                           lambda: check_aggregates(model_dir)]
    if warehouse_url:
        checks += [lambda: check_sql(warehouse_url, model_dir, options),
                   lambda: check_rollups(warehouse_url, model_dir, options=options)]
    return checks


def run_checks(warehouse_url: str | None, model_dir: Path = DEFAULT_MODEL_DIR,
               options: ConnectOptions | None = None) -> Iterator[Outcome]:
    """Each configured check's outcome, in order, as it finishes (`options`: how to reach BigQuery)."""
    for check in configured_checks(warehouse_url, model_dir, options):
        yield check()
