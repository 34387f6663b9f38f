"""The `validate aggregates` and `validate sql` commands (registered on the `validate` group)."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.console import Console

from lookwright.errors import CheckFailed, InputError

DEFAULT_MODEL_DIR = "semantic"
DEFAULT_LOOKML_DIR = "generated_lookml"


def _stdout() -> Console:
    return Console(soft_wrap=True, highlight=False, markup=False, emoji=False)


def _stderr() -> Console:
    return Console(stderr=True, soft_wrap=True, highlight=False, markup=False, emoji=False)


def _directory(path: str, what: str) -> Path:
    directory = Path(path)
    if not directory.is_dir():
        raise InputError(f"{what} directory {path} does not exist")
    return directory


@click.command(name="aggregates")
@click.option("--model", "model_dir", default=DEFAULT_MODEL_DIR, show_default=True,
              help="Semantic model directory.")
@click.option("--lookml", "lookml_dir", default=DEFAULT_LOOKML_DIR, show_default=True,
              help="LookML project directory.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Output format.")
def aggregates(model_dir: str, lookml_dir: str, output_format: str) -> None:
    """Report which aggregate table serves every declared query; fail on must-hit misses."""
    from lookwright.ir import load_model
    from lookwright.lookml_project import load_project
    from lookwright.validate_aggregates import check_queries, render_json, render_text

    model = load_model(_directory(model_dir, "model"))
    project = load_project(_directory(lookml_dir, "LookML"))
    report = check_queries(model, project)
    console = _stdout()
    if output_format == "json":
        console.print(render_json(report))
    else:
        for line in render_text(report):
            console.print(line)
    failures = report.failures
    if failures:
        names = ", ".join(result.name for result in failures)
        raise CheckFailed(f"{len(failures)} declared quer{'ies' if len(failures) != 1 else 'y'}"
                          f" missed their aggregate table: {names}")


@click.command(name="sql")
@click.option("--warehouse", "warehouse_url", required=True, help="Warehouse URL, e.g. duckdb:PATH.")
@click.option("--model", "model_dir", default=DEFAULT_MODEL_DIR, show_default=True,
              help="Semantic model directory.")
def sql(warehouse_url: str, model_dir: str) -> None:
    """Compile every view's SQL and field expressions on the warehouse without scanning data."""
    from lookwright.ir import load_model
    from lookwright.validate_sql import validate_sql
    from lookwright.warehouse import open_warehouse

    model = load_model(_directory(model_dir, "model"))
    started = time.perf_counter()
    open_warehouse(warehouse_url).close()  # fail early on a bad URL or file
    report = validate_sql(model, lambda: open_warehouse(warehouse_url))
    elapsed = time.perf_counter() - started
    console = _stdout()
    for failure in report.failures:
        console.print(failure.format())
    _stderr().print(f"checked {report.views} views, {report.fields} fields in {elapsed:.2f} s")
    if report.failures:
        count = len(report.failures)
        raise CheckFailed(f"{count} field{'s' if count != 1 else ''} failed to compile")
