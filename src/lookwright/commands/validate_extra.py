"""The `validate aggregates`, `validate sql` and `validate rollups` commands (registered on the `validate` group)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console

from lookwright.checks.suite import Outcome, check_aggregates, check_rollups, check_sql
from lookwright.commands import plain_console
from lookwright.commands.warehouse_options import CHECK_HELP, connect_options, warehouse_options
from lookwright.errors import CheckFailed
from lookwright.paths import DEFAULT_LOOKML_DIR as GENERATED_LOOKML
from lookwright.paths import DEFAULT_MODEL_DIR as SEMANTIC

if TYPE_CHECKING:
    from lookwright.checks.rollups import RollupReport

DEFAULT_MODEL_DIR = str(SEMANTIC)
DEFAULT_LOOKML_DIR = str(GENERATED_LOOKML)


@click.command(name="aggregates")
@click.option("--model", "model_dir", default=DEFAULT_MODEL_DIR, show_default=True,
              help="Semantic model directory.")
@click.option("--lookml", "lookml_dir", default=DEFAULT_LOOKML_DIR, show_default=True,
              help="LookML project directory.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Output format.")
def aggregates(model_dir: str, lookml_dir: str, output_format: str) -> None:
    """Report which aggregate table serves every declared query; fail on must-hit misses."""
    _finish(check_aggregates(Path(model_dir), Path(lookml_dir)), output_format)


@click.command(name="sql")
@warehouse_options(default=None, name="warehouse_url")
@click.option("--model", "model_dir", default=DEFAULT_MODEL_DIR, show_default=True,
              help="Semantic model directory.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Output format.")
def sql(warehouse_url: str | None, model_dir: str, output_format: str = "text", location: str | None = None,
        credentials_file: Path | None = None, maximum_bytes_billed: int | None = None) -> None:
    """Compile every view's SQL and field expressions without scanning data.

    Without --warehouse, as BigQuery SQL analysed offline by Google's ZetaSQL analyzer (no account);
    on BigQuery as dry-run jobs (nothing billed); on DuckDB with LIMIT 0.
    """
    options = connect_options(location, credentials_file, maximum_bytes_billed)
    _finish(check_sql(warehouse_url, Path(model_dir), options), output_format)


TEXT_MISMATCH_LIMIT = 50


@click.command(name="rollups")
@warehouse_options(name="warehouse_url", help_text=CHECK_HELP)
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
            tables: tuple[str, ...], output_format: str, location: str | None = None,
            credentials_file: Path | None = None, maximum_bytes_billed: int | None = None) -> None:
    """Recompute every rollup table from its raw table on the warehouse's data and compare.

    Additive metrics must match exactly, ratios and rates as recomputed from raw parts, and
    percentiles within --tolerance of the exact (nearest-rank) percentile. Exit 1 on any mismatch.
    """
    options = connect_options(location, credentials_file, maximum_bytes_billed)
    _finish(check_rollups(warehouse_url, Path(model_dir), tolerance, min_group, tables, options), output_format)


def _finish(outcome: Outcome, output_format: str) -> None:
    print_report(outcome, output_format)
    timing = timing_line(outcome)
    if timing:
        plain_console(stderr=True).print(timing)
    if outcome.failure:
        raise CheckFailed(outcome.failure)


def print_report(outcome: Outcome, output_format: str) -> None:
    """The report of the aggregates, sql or rollups check as its subcommand prints it."""
    from lookwright.checks import aggregates, rollups, sql

    console = plain_console()
    if output_format == "json":
        console.print(json.dumps(outcome.json_report(), indent=2))
    elif isinstance(outcome.report, aggregates.AggregateReport):
        for line in aggregates.render_text(outcome.report):
            console.print(line)
    elif isinstance(outcome.report, sql.SqlReport):
        for failure in outcome.report.failures:
            console.print(failure.format())
    elif isinstance(outcome.report, rollups.RollupReport):
        _print_rollups(outcome.report)


def timing_line(outcome: Outcome) -> str | None:
    """What the sql and rollups checks print on stderr when done."""
    from lookwright.checks.rollups import RollupReport
    from lookwright.checks.sql import SqlReport

    report = outcome.report
    if isinstance(report, SqlReport):
        return f"checked {report.views} views, {report.fields} fields in {outcome.seconds:.2f} s"
    if isinstance(report, RollupReport):
        groups = sum(table.groups_compared for table in report.tables)
        return f"compared {len(report.tables)} rollup tables, {groups} groups in {outcome.seconds:.2f} s"
    return None


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
