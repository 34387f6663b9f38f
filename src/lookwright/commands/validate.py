"""The `validate` command group (`validate lookml`) and the `explain` command."""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import click
from rich.table import Table

from lookwright.commands import existing_directory, plain_console
from lookwright.errors import CheckFailed, InputError
from lookwright.lookml.validator import count_line, render, summary, validate_lookml
from lookwright.output.generate import DEFAULT_LOOKML_DIR as GENERATED_LOOKML

DEFAULT_LOOKML_DIR = str(GENERATED_LOOKML)


def _project_dir(path: str) -> Path:
    directory = existing_directory(path, "LookML")
    if next(directory.rglob("*.lkml"), None) is None:
        raise InputError(f"no .lkml files under {path}")
    return directory


@click.group(name="validate", invoke_without_command=True)
@click.option("--warehouse", "warehouse_url", default=None,
              help="Also compile every field and check every rollup on this warehouse"
                   " (e.g. duckdb:build/demo/warehouse.duckdb).")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: one document holding every check's own JSON report.")
@click.pass_context
def validate(ctx: click.Context, warehouse_url: str | None, output_format: str) -> None:
    """Validate generated artefacts (LookML, aggregate tables, SQL).

    Without a subcommand, runs every check the configuration allows — `lookml` and
    `aggregates` always, `sql` and `rollups` when --warehouse is given — prints a summary
    table and exits 1 if any failed.
    """
    if ctx.invoked_subcommand is not None:
        return
    outcomes = [_run_check(ctx, name, command, arguments, output_format)
                for name, command, arguments in _configured_checks(warehouse_url)]
    failed = [outcome.name for outcome in outcomes if not outcome.passed]
    if output_format == "json":
        document = {"version": 1, "passed": not failed, "checks": [outcome.as_json() for outcome in outcomes]}
        plain_console().print(json.dumps(document, indent=2))
    else:
        table = Table("check", "result", title="lookwright validate")
        for outcome in outcomes:
            table.add_row(outcome.name, outcome.message)
        plain_console().print(table)
    if failed:
        raise CheckFailed(f"validation failed: {', '.join(failed)}")


@dataclass(frozen=True)
class _Outcome:
    name: str
    message: str  # "passed" or "failed: <why>"
    report: object  # the check's own JSON document (json format only)

    @property
    def passed(self) -> bool:
        return self.message == "passed"

    def as_json(self) -> dict[str, object]:
        return {"check": self.name, "passed": self.passed, "message": self.message, "report": self.report}


def _configured_checks(warehouse_url: str | None) -> list[tuple[str, click.Command, dict[str, object]]]:
    from lookwright.commands.validate_extra import aggregates, rollups, sql

    checks: list[tuple[str, click.Command, dict[str, object]]] = [("lookml", lookml, {}), ("aggregates", aggregates, {})]
    if warehouse_url:
        checks += [("sql", sql, {"warehouse_url": warehouse_url}), ("rollups", rollups, {"warehouse_url": warehouse_url})]
    return checks


def _run_check(ctx: click.Context, name: str, command: click.Command, arguments: dict[str, object],
               output_format: str) -> _Outcome:
    """Run one check; in json format its own JSON document is captured instead of printed."""
    buffer = io.StringIO()
    try:
        if output_format == "json":
            with contextlib.redirect_stdout(buffer):
                ctx.invoke(command, **arguments, output_format="json")
        else:
            ctx.invoke(command, **arguments)
        message = "passed"
    except CheckFailed as failure:
        message = f"failed: {failure}"
    text = buffer.getvalue().strip()
    return _Outcome(name, message, json.loads(text) if text else None)


@validate.command(name="lookml")
@click.argument("directory", default=DEFAULT_LOOKML_DIR, required=False)
@click.option("--format", "output_format", type=click.Choice(["text", "json", "github"]),
              default="text", show_default=True, help="Output format of the findings.")
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
def lookml(directory: str, output_format: str, strict: bool) -> None:
    """Check a LookML project offline with Looker's validator rules and messages.

    DIRECTORY defaults to generated_lookml. Exit 1 on errors (and on warnings with --strict).
    """
    project_dir = _project_dir(directory)
    findings = validate_lookml(project_dir)
    prefix = "" if project_dir.is_absolute() else project_dir.as_posix()
    text = render(findings, output_format, path_prefix=prefix.removeprefix("./").rstrip("/"))
    if text:
        plain_console().print(text)
    counts = summary(findings)
    failing = counts["errors"] + (counts["warnings"] if strict else 0)
    if failing:
        raise CheckFailed(f"LookML validation failed: {count_line(counts)}")


def _parse_filters(values: tuple[str, ...]) -> dict[str, str]:
    filters: dict[str, str] = {}
    for value in values:
        name, separator, expression = value.partition("=")
        if not separator or not name.strip():
            raise InputError(f"--filters expects FIELD=EXPRESSION, got {value!r}")
        filters[name.strip()] = expression
    return filters


@click.command(name="explain")
@click.option("--lookml", "directory", default=DEFAULT_LOOKML_DIR, show_default=True,
              help="LookML project directory.")
@click.option("--explore", required=True, help="Explore the query runs on.")
@click.option("--fields", required=True, help="Comma-separated scoped fields (view.field).")
@click.option("--filters", "filter_values", multiple=True,
              help="FIELD=EXPRESSION (Looker filter expression); repeatable.")
@click.option("--timezone", default=None, help="Query time zone (omit for the database's).")
def explain(directory: str, explore: str, fields: str, filter_values: tuple[str, ...],
            timezone: str | None) -> None:
    """Explain which aggregate table Looker would use for a query, as Looker's SQL comments."""
    from lookwright.lookml.aggregates import explain_query
    from lookwright.lookml.project import load_project

    project = load_project(_project_dir(directory))
    names = [name.strip() for name in fields.split(",") if name.strip()]
    explanation = explain_query(project, explore, names, _parse_filters(filter_values), timezone)
    console = plain_console()
    for line in explanation.lines:
        console.print(line)
    if not explanation.lines:
        console.print(f"-- explore {explore} has no aggregate tables")


def _register_warehouse_checks() -> None:
    from lookwright.commands.validate_extra import aggregates, rollups, sql

    validate.add_command(aggregates)
    validate.add_command(sql)
    validate.add_command(rollups)


_register_warehouse_checks()
