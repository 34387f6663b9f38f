"""`lookwright build`, `lookwright checks` and `lookwright demo`."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from lookwright.commands import console as make_console
from lookwright.commands.progress import progress as make_progress
from lookwright.commands.progress import status
from lookwright.commands.warehouse_options import (
    CHECK_HELP,
    MODEL_OPTION,
    connect_options,
    warehouse_options,
)
from lookwright.demo.pipeline import DemoSummary
from lookwright.demo.synth import SynthConfig, planned_files
from lookwright.errors import InputError
from lookwright.output.generate import DEFAULT_SQL_DIR, GenerateOptions
from lookwright.paths import DEFAULT_LOOKML_DIR
from lookwright.warehouse import ConnectOptions, open_warehouse
from lookwright.warehouse.build import BuildReport
from lookwright.warehouse.duckdb import DEFAULT_WAREHOUSE_PATH
from lookwright.warehouse.quality import CheckRun, ensure_passed, run_checks


def _steps_table(report: BuildReport) -> Table:
    table = Table("table", "mode", "from", "rows written", "rows in table", "seconds", title="build")
    for step in report.steps:
        since = "" if step.window_start is None else f"{step.window_start:%Y-%m-%d %H:%M}"
        written = step.rows if step.rows_written is None else step.rows_written
        table.add_row(step.table, step.mode, since, f"{written:,}", f"{step.rows:,}",
                      f"{step.seconds:.2f}")
    return table


def _checks_table(run: CheckRun) -> Table:
    table = Table("table", "check", "severity", "failing", "result", title=f"data quality (run {run.run_id[:8]})")
    for r in run.results:
        result = "[green]pass[/]" if r.passed else ("[red]FAIL[/]" if r.severity == "error" else "[yellow]warn[/]")
        table.add_row(r.table, r.check_name, r.severity, f"{r.failing:,}", result)
    return table


def _checks_line(run: CheckRun) -> str:
    warnings = sum(1 for r in run.results if not r.passed)
    extra = f", {warnings} warning(s)" if warnings else ""
    return f"data quality (run {run.run_id[:8]}): all {len(run.results)} checks passed{extra}"


def _build(url: str, options: ConnectOptions, model_dir: Path, full_refresh: bool,
           console: Console, tables: tuple[str, ...] = ()) -> BuildReport:
    from lookwright.model.compile import load_model
    from lookwright.warehouse.build import build as run_build
    from lookwright.warehouse.build import build_tables, ensure_raw_data

    model = load_model(model_dir)
    with open_warehouse(url, options, must_exist=True) as warehouse, make_progress(console) as progress:
        ensure_raw_data(warehouse)
        if tables:
            if full_refresh:
                raise InputError("--full-refresh rebuilds every table: drop --table, or drop --full-refresh")
            progress.add_task(f"building {', '.join(tables)}", total=None)
            return build_tables(warehouse, model, tables)
        task = progress.add_task("building", total=len(model.tables))
        report = run_build(warehouse, model, full_refresh=full_refresh,
                           on_step=lambda table, done, total: progress.update(
                               task, completed=done, description=f"building {table}" if table else "built"))
    return report


def _checks(url: str, options: ConnectOptions, model_dir: Path, console: Console) -> CheckRun:
    from lookwright.model.compile import load_model

    model = load_model(model_dir)
    with open_warehouse(url, options, must_exist=True) as warehouse, status(console, "running data-quality checks"):
        return run_checks(warehouse, model)


@click.command()
@warehouse_options()
@MODEL_OPTION
@click.option("--full-refresh", is_flag=True,
              help="Rebuild every table from the raw tables (into staging twins swapped in at the end;"
                   " history older than the raw rows is kept).")
@click.option("--skip-checks", is_flag=True, help="Do not run the data-quality checks afterwards.")
@click.option("--table", "tables", multiple=True, metavar="TABLE",
              help="Build only this table (repeatable), incrementally, as an orchestrator's task does"
                   " (`lookwright dag airflow`); needs a warehouse built once by a whole `lookwright build`.")
def build(url: str, location: str | None, credentials_file: Path | None, maximum_bytes_billed: int | None,
          model_dir: Path, full_refresh: bool, skip_checks: bool, tables: tuple[str, ...]) -> None:
    """Build every table of the model (incrementally after the first build), then check it.

    Exit 1 when an error-severity data-quality check fails.
    """
    console = make_console(stderr=True)
    options = connect_options(location, credentials_file, maximum_bytes_billed)
    console.print(_steps_table(_build(url, options, model_dir, full_refresh, console, tables)))
    if skip_checks:
        return
    run = _checks(url, options, model_dir, console)
    console.print(_checks_table(run))
    ensure_passed(run)


@click.command()
@warehouse_options(help_text=CHECK_HELP)
@MODEL_OPTION
def checks(url: str, location: str | None, credentials_file: Path | None, maximum_bytes_billed: int | None,
           model_dir: Path) -> None:
    """Run the model's data-quality checks and cost conservation; exit 1 if any error check fails."""
    console = make_console(stderr=True)
    run = _checks(url, connect_options(location, credentials_file, maximum_bytes_billed), model_dir, console)
    console.print(_checks_table(run))
    ensure_passed(run)


def _summary_tables(summary: DemoSummary) -> list[Table]:
    rows = Table("table", "rows", title="rows per table")
    for name, count in summary.rows:
        rows.add_row(name, f"{count:,}")
    teams = Table("team", "attributed cost", "estimated cost", title="cost per team (USD)")
    for team, real, estimated in summary.cost_by_team:
        teams.add_row(team, f"{real:,.2f}", f"{estimated:,.2f}")
    methods = Table("attribution method", "cost", title="how cost was attributed (USD)")
    for method, cost in summary.attribution:
        methods.add_row(method, f"{cost:,.2f}")
    expensive = Table("service", "cost per request", "requests", title="top services by cost per request")
    for service, cost, requests in summary.cost_per_request:
        expensive.add_row(service, f"${cost:.6f}", f"{requests:,}")
    efficient = Table("service", "efficiency score", title="top services by efficiency score")
    for service, score in summary.efficiency:
        efficient.add_row(service, f"{score:,.2f}")
    services = Table("service", "p95 ms", "error rate", "requests", "cost", "cost / 1k req", "efficiency",
                     title="per service, whole period (the dashboards' numbers)",
                     caption=pipeline_efficiency())
    for name, p95, error_rate, requests, cost, per_1k, score in summary.per_service:
        services.add_row(str(name), _num(p95, ",.0f"), _num(None if error_rate is None else 100 * error_rate, ".2f", "%"),
                         _num(requests, ",.0f"), _num(cost, ",.2f", "", "$"), _num(per_1k, ",.4f", "", "$"),
                         _num(score, ",.0f"))
    incidents = Table("service", "region", "from", "to", "what happened", "cost / 1k req (normal)",
                      title="incidents found again in the data")
    for incident in summary.incidents:
        during = f"{_num(incident.cost_per_1k, ',.4f', '', '$')} ({_num(incident.normal_cost_per_1k, ',.4f', '', '$')})"
        incidents.add_row(incident.service, incident.region, incident.first_hour, incident.last_hour, incident.what,
                          during)
    return [rows, teams, methods, expensive, efficient, services, incidents]


def pipeline_efficiency() -> str:
    from lookwright.demo.pipeline import EFFICIENCY

    return EFFICIENCY


def _num(value: object, spec: str, suffix: str = "", prefix: str = "") -> str:
    if value is None:
        return "-"
    return f"{prefix}{float(str(value)):{spec}}{suffix}"


@click.command()
@click.option("--requests", "requests_", type=click.IntRange(min=1), default=SynthConfig.requests,
              show_default=True, help="Synthetic requests over all days.")
@click.option("--days", type=click.IntRange(min=1), default=SynthConfig.days, show_default=True,
              help="Days of synthetic data.")
@click.option("--seed", type=int, default=SynthConfig.seed, show_default=True,
              help="Seed of the synthetic data: the same seed gives byte-identical files.")
@click.option("--dir", "root", type=click.Path(file_okay=False, path_type=Path),
              default=DEFAULT_WAREHOUSE_PATH.parent, show_default=True,
              help="Where sources/ and warehouse.duckdb go.")
@warehouse_options(default=None)
@MODEL_OPTION
def demo(requests_: int, days: int, seed: int, root: Path, url: str | None, location: str | None,
         credentials_file: Path | None, maximum_bytes_billed: int | None, model_dir: Path) -> None:
    """Synthesize exports, load, build, check and generate, then summarize.

    Sources are reused when an identical synth run is already there; the warehouse is rebuilt
    in a staging file and swapped in, so re-running never leaves it half-built. With --warehouse
    (e.g. bigquery:PROJECT.DATASET) everything is loaded, built and checked there instead.
    """
    from lookwright.demo import pipeline
    from lookwright.model.compile import load_model
    from lookwright.output import generate as generator

    console = make_console(stderr=True)
    started = time.perf_counter()
    model = load_model(model_dir)
    paths = pipeline.DemoPaths(root)
    config = SynthConfig(seed=seed, days=days, requests=requests_)
    with make_progress(console) as progress:
        task = progress.add_task("synthesizing sources", total=planned_files(config))
        made = pipeline.ensure_sources(paths, config, lambda path: progress.update(
            task, advance=1, description=f"synthesizing {path}"))
    console.print(f"sources: {'synthesized' if made else 'reused'} {paths.sources}", highlight=False)
    files = pipeline.source_files(paths)
    with make_progress(console) as progress:
        loading = progress.add_task("loading", total=len(files))
        building = progress.add_task("building", total=len(model.tables), visible=False)

        def on_step(table: str, done: int, total: int) -> None:
            progress.update(loading, visible=False)
            progress.update(building, visible=True, completed=done, description=f"building {table}" if table else "built")

        def on_load(name: str) -> None:
            progress.update(loading, advance=1, description=f"loading {name}")

        def on_phase(text: str) -> None:
            progress.update(building, visible=False)
            console.print(f"{text} ({time.perf_counter() - started:.0f} s)", markup=False, highlight=False,
                          soft_wrap=True)

        if url is None:
            reports, report, run = pipeline.build_warehouse(paths, model, on_load, on_step, on_phase)
        else:
            options = connect_options(location, credentials_file, maximum_bytes_billed)
            with open_warehouse(url, options) as target:
                reports, report, run = pipeline.build_into(target, paths, model, on_load, on_step, on_phase)
    bad = sum(len(r.bad_rows) for r in reports)
    loaded = sum(r.rows_loaded for r in reports)
    console.print(f"loaded {loaded:,} rows from {len(reports)} files ({bad:,} bad rows)", highlight=False)
    console.print(_steps_table(report))
    with status(console, "generating LookML and SQL"):
        generator.generate(GenerateOptions(model_dir, DEFAULT_LOOKML_DIR, DEFAULT_SQL_DIR))
    built_in = url or f"duckdb:{paths.warehouse}"
    with status(console, "summarizing"), open_warehouse(built_in, None if url is None else options) as warehouse:
        summary = pipeline.summarize(warehouse, model)
    for table in _summary_tables(summary):
        console.print(table)
    console.print(_checks_line(run) if not run.failures else _checks_table(run), highlight=False)
    console.print(f"demo finished in {time.perf_counter() - started:.0f} s; warehouse: {built_in}",
                  highlight=False)
    ensure_passed(run)
