"""The `validate` command group (`validate lookml`, and the umbrella without a subcommand) and `explain`."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from lookwright.checks.suite import Outcome, check_lookml, lookml_project_dir, run_checks
from lookwright.commands import parse_filters, plain_console
from lookwright.commands.warehouse_options import connect_options, warehouse_options
from lookwright.errors import CheckFailed, InputError
from lookwright.paths import DEFAULT_LOOKML_DIR as GENERATED_LOOKML
from lookwright.paths import existing_directory

DEFAULT_LOOKML_DIR = str(GENERATED_LOOKML)


@click.group(name="validate", invoke_without_command=True)
@warehouse_options(default=None, name="warehouse_url",
                   help_text="Also compile every field and check every rollup on this warehouse:"
                             " duckdb:PATH, or bigquery:PROJECT.DATASET[@http://HOST:PORT]")
@click.option("--model", "model_dir", type=click.Path(path_type=Path), default=Path("semantic"), show_default=True,
              help="Semantic model directory of the aggregates, sql and rollups checks.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: one document holding every check's own JSON report.")
@click.pass_context
def validate(ctx: click.Context, warehouse_url: str | None, location: str | None, credentials_file: Path | None,
             maximum_bytes_billed: int | None, model_dir: Path, output_format: str) -> None:
    """Validate generated artefacts (LookML, aggregate tables, SQL).

    Without a subcommand, runs every check the configuration allows — `lookml` and
    `aggregates` always, `sql` and `rollups` when --warehouse is given — prints a summary
    table and exits 1 if any failed.
    """
    if ctx.invoked_subcommand is not None:
        return
    outcomes = []
    options = connect_options(location, credentials_file, maximum_bytes_billed)
    for outcome in run_checks(warehouse_url, model_dir, options):
        if output_format == "text":
            print_outcome(outcome, "text")
        else:
            print_timing(outcome)
        outcomes.append(outcome)
    failed = [outcome.name for outcome in outcomes if not outcome.passed]
    if output_format == "json":
        checks = [{"check": o.name, "passed": o.passed, "message": o.message, "report": o.json_report()}
                  for o in outcomes]
        plain_console().print(json.dumps({"version": 1, "passed": not failed, "checks": checks}, indent=2))
    else:
        table = Table("check", "result", title="lookwright validate")
        for outcome in outcomes:
            table.add_row(outcome.name, outcome.message)
        plain_console().print(table)
    if failed:
        raise CheckFailed(f"validation failed: {', '.join(failed)}")


def print_outcome(outcome: Outcome, output_format: str, path_prefix: str = "") -> None:
    """A check's report as its own subcommand prints it, then its timing line (sql, rollups) on stderr."""
    from lookwright.commands.validate_extra import print_report

    if outcome.name == "lookml":
        from lookwright.lookml.validator import render

        text = render(outcome.report, output_format, path_prefix=path_prefix)  # type: ignore[arg-type]
        if text:
            plain_console().print(text)
    else:
        print_report(outcome, output_format)
    print_timing(outcome)


def print_timing(outcome: Outcome) -> None:
    from lookwright.commands.validate_extra import timing_line

    line = timing_line(outcome)
    if line:
        plain_console(stderr=True).print(line)


@validate.command(name="lookml")
@click.argument("directory", default=DEFAULT_LOOKML_DIR, required=False)
@click.option("--format", "output_format", type=click.Choice(["text", "json", "github"]),
              default="text", show_default=True, help="Output format of the findings.")
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@click.option("--project", "imported", multiple=True, metavar="NAME=DIR",
              help="Imported project NAME (manifest.lkml local_dependency/remote_dependency) "
                   "is in DIR; repeatable. Default: DIRECTORY/imported_projects/NAME/.")
def lookml(directory: str, output_format: str, strict: bool, imported: tuple[str, ...]) -> None:
    """Check a LookML project offline with Looker's validator rules and messages.

    Each model is checked with the files its includes bring in (includes of included files
    too); files no model includes are checked with their own includes. Imported projects are
    read from imported_projects/NAME/ or --project NAME=DIR; a missing one gives one warning
    saying how many references into it could not be checked.

    DIRECTORY defaults to generated_lookml. Exit 1 on errors (and on warnings with --strict).
    """
    project_dir = Path(directory)
    outcome = check_lookml(project_dir, strict, _imported_projects(imported))
    prefix = "" if project_dir.is_absolute() else project_dir.as_posix()
    print_outcome(outcome, output_format, prefix.removeprefix("./").rstrip("/"))
    if outcome.failure:
        raise CheckFailed(outcome.failure)


def _imported_projects(values: tuple[str, ...]) -> dict[str, Path]:
    projects: dict[str, Path] = {}
    for value in values:
        name, separator, folder = value.partition("=")
        if not separator or not name.strip() or not folder.strip():
            raise InputError(f"--project expects NAME=DIR, got {value!r}")
        projects[name.strip()] = existing_directory(folder.strip(), f"imported project {name}")
    return projects


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

    project = load_project(lookml_project_dir(directory))
    names = [name.strip() for name in fields.split(",") if name.strip()]
    explanation = explain_query(project, explore, names, parse_filters(filter_values), timezone)
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
