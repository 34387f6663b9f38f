"""The `validate aggregates`, `validate sql` and `validate rollups` commands (registered on the `validate` group)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import click
from rich.console import Console

from lookwright.commands import existing_directory, plain_console
from lookwright.errors import CheckFailed
from lookwright.output import generate

if TYPE_CHECKING:
    from lookwright.checks.rollups import RollupReport

DEFAULT_MODEL_DIR = str(generate.DEFAULT_MODEL_DIR)
DEFAULT_LOOKML_DIR = str(generate.DEFAULT_LOOKML_DIR)


@click.command(name="aggregates")
@click.option("--model", "model_dir", default=DEFAULT_MODEL_DIR, show_default=True,
              help="Semantic model directory.")
@click.option("--lookml", "lookml_dir", default=DEFAULT_LOOKML_DIR, show_default=True,
              help="LookML project directory.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Output format.")
def aggregates(model_dir: str, lookml_dir: str, output_format: str) -> None:
    """Report which aggregate table serves every declared query; fail on must-hit misses."""
    from lookwright.checks.aggregates import check_queries, render_json, render_text
    from lookwright.lookml.project import load_project
    from lookwright.model.ir import load_model

    model = load_model(existing_directory(model_dir, "model"))
    project = load_project(existing_directory(lookml_dir, "LookML"))
    report = check_queries(model, project)
    console = plain_console()
    if output_format == "json":
        console.print(render_json(report))
    else:
        for line in render_text(report):
            console.print(line)
    failures = report.failures
    if failures:
        names = ", ".join(result.name for result in failures)
        many = len(failures) != 1
        raise CheckFailed(f"{len(failures)} declared quer{'ies' if many else 'y'}"
                          f" missed {'their aggregate tables' if many else 'its aggregate table'}: {names}")


@click.command(name="sql")
@click.option("--warehouse", "warehouse_url", required=True, help="Warehouse URL, e.g. duckdb:PATH.")
@click.option("--model", "model_dir", default=DEFAULT_MODEL_DIR, show_default=True,
              help="Semantic model directory.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Output format.")
def sql(warehouse_url: str, model_dir: str, output_format: str = "text") -> None:
    """Compile every view's SQL and field expressions on the warehouse without scanning data."""
    from lookwright.checks.sql import render_json, validate_sql
    from lookwright.model.ir import load_model
    from lookwright.warehouse import open_warehouse

    model = load_model(existing_directory(model_dir, "model"))
    started = time.perf_counter()
    open_warehouse(warehouse_url).close()  # fail early on a bad URL or file
    report = validate_sql(model, lambda: open_warehouse(warehouse_url))
    elapsed = time.perf_counter() - started
    console = plain_console()
    if output_format == "json":
        console.print(render_json(report))
    for failure in report.failures if output_format == "text" else ():
        console.print(failure.format())
    plain_console(stderr=True).print(f"checked {report.views} views, {report.fields} fields in {elapsed:.2f} s")
    if report.failures:
        count = len(report.failures)
        raise CheckFailed(f"{count} field{'s' if count != 1 else ''} failed to compile")


TEXT_MISMATCH_LIMIT = 50


@click.command(name="rollups")
@click.option("--warehouse", "warehouse_url", required=True, help="Warehouse URL, e.g. duckdb:PATH.")
@click.option("--model", "model_dir", default=DEFAULT_MODEL_DIR, show_default=True,
              help="Semantic model directory.")
@click.option("--tolerance", type=click.FloatRange(min=0), default=0.01, show_default=True,
              help="Relative tolerance of percentiles against the exact percentile of the raw rows.")
@click.option("--min-group", type=click.IntRange(min=1), default=100, show_default=True,
              help="Compare percentiles only on groups with at least this many raw rows.")
@click.option("--table", "tables", multiple=True, help="Only this rollup table; repeatable.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Output format.")
def rollups(warehouse_url: str, model_dir: str, tolerance: float, min_group: int,
            tables: tuple[str, ...], output_format: str) -> None:
    """Recompute every rollup table from its raw table on the warehouse's data and compare.

    Additive metrics must match exactly, ratios and rates as recomputed from raw parts, and
    percentiles within --tolerance of the exact (nearest-rank) percentile. Exit 1 on any mismatch.
    """
    from lookwright.checks.rollups import render_json, validate_rollups
    from lookwright.model.ir import load_model
    from lookwright.warehouse import open_warehouse

    model = load_model(existing_directory(model_dir, "model"))
    started = time.perf_counter()
    with open_warehouse(warehouse_url) as warehouse:
        report = validate_rollups(model, warehouse, tolerance, min_group, tables)
    elapsed = time.perf_counter() - started
    if output_format == "json":
        plain_console().print(render_json(report))
    else:
        _print_rollups(report)
    groups = sum(table.groups_compared for table in report.tables)
    plain_console(stderr=True).print(f"compared {len(report.tables)} rollup tables, {groups} groups in {elapsed:.2f} s")
    if report.mismatch_count:
        count = report.mismatch_count
        raise CheckFailed(f"{count} rollup mismatch{'es' if count != 1 else ''} against the raw rows")


def _print_rollups(report: RollupReport) -> None:
    from rich.table import Table

    console = plain_console()
    for result in report.tables:
        summary = Table("metric", "kind", "compared", "mismatches",
                        title=f"{result.table} ({result.groups_compared} group{'s' if result.groups_compared != 1 else ''}, from {result.root})")
        for metric in result.metrics:
            compared = metric.reason if metric.kind == "skipped" else str(metric.compared)
            summary.add_row(metric.metric, metric.kind, compared, str(metric.mismatches))
        console.print(summary)
        if result.groups_outside_raw:
            console.print(f"{result.groups_outside_raw} rollup rows are older than the raw rows: not compared")
        if not result.mismatches:
            continue
        keys = [name for name, _ in result.mismatches[0].keys]
        listing = Table(*keys, "metric", "rollup", "raw", title=f"{result.table} mismatches")
        for mismatch in result.mismatches[:TEXT_MISMATCH_LIMIT]:
            listing.add_row(*(_cell(value) for _, value in mismatch.keys), mismatch.metric,
                            _cell(mismatch.rollup), _cell(mismatch.raw))
        wide = console.measure(listing, options=console.options.update_width(100_000)).maximum
        # never squeeze the group keys: a console as wide as the table
        Console(soft_wrap=True, highlight=False, markup=False, emoji=False,
                width=max(console.width, wide)).print(listing)
        hidden = len(result.mismatches) - TEXT_MISMATCH_LIMIT
        if hidden > 0:
            console.print(f"... and {hidden} more (--format json lists them all)")


def _cell(value: object) -> str:
    if value is None:
        return "NULL"
    return repr(value) if isinstance(value, float) else str(value)
