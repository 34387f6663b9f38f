"""`lookwright synth` and `lookwright load`: synthetic export files, and export files -> raw tables."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from lookwright.commands.warehouse_options import connect_options, warehouse_options
from lookwright.demo.synth import SynthConfig, planned_files, synthesize
from lookwright.warehouse import open_warehouse
from lookwright.warehouse.sources import SOURCES, LoadReport
from lookwright.warehouse.sources import load as load_source

MAX_EXAMPLES = 20


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


@click.command()
@click.option("--seed", type=int, default=SynthConfig.seed, show_default=True)
@click.option("--days", type=click.IntRange(min=1), default=SynthConfig.days, show_default=True)
@click.option("--requests", "requests_", type=click.IntRange(min=1),
              default=SynthConfig.requests, show_default=True, help="Requests over all days.")
@click.option("--start", type=click.DateTime(formats=["%Y-%m-%d"]),
              default=SynthConfig.start.isoformat(), show_default=True, help="First day (UTC).")
@click.argument("outdir", type=click.Path(file_okay=False, path_type=Path))
def synth(seed: int, days: int, requests_: int, start: datetime, outdir: Path) -> None:
    """Write synthetic OTLP traces, cloud cost exports and query logs under OUTDIR."""
    config = SynthConfig(seed=seed, days=days, requests=requests_, start=start.date())
    console = Console(stderr=True)
    with _progress(console) as progress:
        task = progress.add_task("generating", total=planned_files(config))
        manifest = synthesize(
            outdir, config, lambda path: progress.update(task, advance=1, description=path)
        )
    counts = manifest.counts
    console.print(
        f"wrote {len(manifest.files)} files to {outdir}: {counts['requests']:,} requests,"
        f" {counts['spans']:,} spans ({counts['late_spans']:,} late,"
        f" {counts['duplicate_spans']:,} duplicated), {len(manifest.incidents)} incidents",
        highlight=False,
    )


def _report_table(reports: list[LoadReport]) -> Table:
    table = Table("file", "table", "rows loaded", "bad rows")
    for report in reports:
        table.add_row(report.file, report.table, f"{report.rows_loaded:,}", f"{len(report.bad_rows):,}")
    return table


def _print_bad_rows(console: Console, reports: list[LoadReport]) -> None:
    bad = [row for report in reports for row in report.bad_rows]
    if not bad:
        return
    console.print(f"{len(bad):,} bad rows were not loaded; first {min(len(bad), MAX_EXAMPLES)}:")
    for row in bad[:MAX_EXAMPLES]:
        console.print(f"  {row.file}:{row.line}: {row.reason}", markup=False, highlight=False,
                      soft_wrap=True)


@click.command()
@click.option("--source", "kind", type=click.Choice(sorted(SOURCES)), required=True,
              help="The export format of every PATH.")
@warehouse_options()
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
def load(kind: str, url: str, location: str | None, credentials_file: Path | None,
         maximum_bytes_billed: int | None, paths: tuple[Path, ...]) -> None:
    """Load export files into their raw table; each file all or nothing, reloads replace.

    On BigQuery each file is checked locally and its good rows arrive by a load job.
    """
    console = Console(stderr=True)
    reports = []
    options = connect_options(location, credentials_file, maximum_bytes_billed)
    with open_warehouse(url, options) as warehouse, _progress(console) as progress:
        task = progress.add_task(f"loading {kind}", total=len(paths))
        for path in sorted(paths):
            progress.update(task, description=f"loading {path}")
            reports.append(load_source(warehouse, kind, path))
            progress.advance(task)
    console.print(_report_table(reports))
    _print_bad_rows(console, reports)
    for warning in (w for report in reports for w in report.warnings):
        console.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
