"""`lookwright synth` and `lookwright load`: synthetic export files, and export files -> raw tables."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from lookwright.commands import console as make_console
from lookwright.commands.progress import progress as make_progress
from lookwright.commands.warehouse_options import connect_options, warehouse_options
from lookwright.demo.synth import SynthConfig, planned_files, synthesize
from lookwright.demo.telemetry import CLOUDWATCH_FORMATS
from lookwright.errors import InputError
from lookwright.warehouse import open_warehouse
from lookwright.warehouse.sources import SOURCES, LoadReport, recognize
from lookwright.warehouse.sources import load as load_source

MAX_EXAMPLES = 20


@click.command()
@click.option("--seed", type=int, default=SynthConfig.seed, show_default=True,
              help="Seed of the synthetic data: the same seed and options give byte-identical files.")
@click.option("--days", type=click.IntRange(min=1), default=SynthConfig.days, show_default=True,
              help="Days of data, from --start.")
@click.option("--requests", "requests_", type=click.IntRange(min=1),
              default=SynthConfig.requests, show_default=True, help="Requests over all days.")
@click.option("--start", type=click.DateTime(formats=["%Y-%m-%d"]),
              default=SynthConfig.start.isoformat(), show_default=True, help="First day (UTC).")
@click.option("--cloudwatch-format", type=click.Choice(CLOUDWATCH_FORMATS), default=SynthConfig.cloudwatch_format,
              show_default=True, help="The CloudWatch metric stream's output format: JSON lines (cloudwatch/*.json)"
              " or OpenTelemetry 1.0.0 length-delimited protobuf (cloudwatch/*.binpb), the same data points.")
@click.argument("outdir", type=click.Path(file_okay=False, path_type=Path))
def synth(seed: int, days: int, requests_: int, start: datetime, cloudwatch_format: str, outdir: Path) -> None:
    """Write synthetic OTLP traces, cloud cost exports and query logs under OUTDIR.

    OUTDIR must be new (or empty); it appears only when complete. Runs that start on different
    days never share request ids, so a later day can be added to a warehouse:
    `lookwright synth --start 2025-03-17 --days 1 build/day15 && lookwright load build/day15 && lookwright build`.
    """
    config = SynthConfig(seed=seed, days=days, requests=requests_, start=start.date(),
                         cloudwatch_format=cloudwatch_format)
    console = make_console(stderr=True)
    with make_progress(console) as progress:
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
    table = Table("table", "rows loaded", "bad rows", "file")
    table.columns[3].overflow = "fold"  # whole file names, folded rather than cut, at any width
    for report in reports:
        table.add_row(report.table, f"{report.rows_loaded:,}", f"{len(report.bad_rows):,}", report.file)
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
@click.option("--source", "kind", type=click.Choice(sorted(SOURCES)), default=None,
              help="The export format of every file; default: from each file's folder (otlp/, cur/, ...).")
@warehouse_options()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
def load(kind: str | None, url: str, location: str | None, credentials_file: Path | None,
         maximum_bytes_billed: int | None, paths: tuple[Path, ...]) -> None:
    """Load export files, or every export file a folder holds, into their raw tables.

    A folder (such as a `lookwright synth` OUTDIR) is searched for files under folders named after
    their source: otlp/, cur/, gcp_billing/, azure_cost/, query_log/, ... Each file is loaded all or
    nothing; reloading a file replaces its rows. On BigQuery each file is checked locally and its good
    rows arrive by a load job.
    """
    files = sorted({item for path in paths for item in recognize(path, kind)}, key=lambda item: str(item[1]))
    if not files:
        raise InputError(f"no export files found in {', '.join(map(str, paths))}: expected files under "
                         f"folders named {', '.join(sorted(SOURCES))} (or pass --source)")
    console = make_console(stderr=True)
    reports = []
    options = connect_options(location, credentials_file, maximum_bytes_billed)
    with open_warehouse(url, options) as warehouse, make_progress(console) as progress:
        task = progress.add_task("loading", total=len(files))
        for source, path in files:
            progress.update(task, description=f"loading {path}")
            reports.append(load_source(warehouse, source, path))
            progress.advance(task)
    console.print(_report_table(reports))
    _print_bad_rows(console, reports)
    for warning in (w for report in reports for w in report.warnings):
        console.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
