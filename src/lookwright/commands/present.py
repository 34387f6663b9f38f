"""`lookwright sql`, `lookwright suggest aggregates` and `lookwright report`: the presentation layer."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any, cast

import click

from lookwright.commands import parse_filters, plain_console
from lookwright.commands.warehouse_options import connect_options, warehouse_options
from lookwright.errors import InputError
from lookwright.paths import DEFAULT_LOOKML_DIR, DEFAULT_MODEL_DIR


def _now(value: str | None) -> datetime.datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise InputError(f"--now {value!r}: expected an ISO time such as 2025-03-04T12:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def _json_value(value: Any) -> Any:
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


@click.command(name="sql")
@click.option("--explore", required=True, help="The explore to query.")
@click.option("--fields", required=True, help="Comma-separated view.field names, in output order.")
@click.option("--filters", "filters", multiple=True, help="view.field=EXPRESSION (Looker filter syntax); repeatable.")
@click.option("--sorts", default="", help="Comma-separated 'view.field [asc|desc]'.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Row limit.")
@click.option("--timezone", default=None, help="Query time zone (default: the warehouse's).")
@click.option("--now", "now_text", default=None, help="The moment relative date filters count from (ISO time).")
@click.option("--run", "run_it", is_flag=True, help="Run the SQL on --warehouse and print the rows.")
@warehouse_options(default=None, name="warehouse_url",
                   help_text=("With --run: where to run it, duckdb:PATH or bigquery:PROJECT.DATASET[@http://HOST:PORT]"
                              " (BigQuery SQL on that dataset's tables)"))
@click.option("--model", "model_dir", default=str(DEFAULT_MODEL_DIR), show_default=True, help="Semantic model directory.")
@click.option("--lookml", "lookml_dir", default=str(DEFAULT_LOOKML_DIR), show_default=True,
              help="LookML project (for the aggregate table Looker would use).")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: the SQL (and the rows, with --run) as one JSON document.")
def sql(explore: str, fields: str, filters: tuple[str, ...], sorts: str, limit: int | None, timezone: str | None,
        now_text: str | None, run_it: bool, warehouse_url: str | None, location: str | None,
        credentials_file: Path | None, maximum_bytes_billed: int | None, model_dir: str, lookml_dir: str,
        output_format: str) -> None:
    """Print the SQL of a Looker query compiled like Looker (only the joins it needs, symmetric
    aggregates over fanned-out joins, also inside number measures, relative date filters and time
    dimensions in the query time zone), and the aggregate table that serves it. With --run, run it
    on DuckDB or BigQuery and print the rows."""
    from lookwright.lookml.project import load_project
    from lookwright.model.compile import load_model
    from lookwright.query.compile import QuerySpec
    from lookwright.query.run import run_query
    from lookwright.warehouse import open_warehouse

    if run_it and warehouse_url is None:
        raise InputError("--run needs --warehouse duckdb:PATH or bigquery:PROJECT.DATASET")
    model = load_model(Path(model_dir))
    spec = QuerySpec(explore, tuple(f.strip() for f in fields.split(",") if f.strip()), parse_filters(filters),
                     timezone or model.warehouse.timezone)
    project = load_project(Path(lookml_dir)) if Path(lookml_dir).is_dir() else None
    sort_list = tuple(s.strip() for s in sorts.split(",") if s.strip())
    if run_it:
        options = connect_options(location, credentials_file, maximum_bytes_billed)
        with open_warehouse(str(warehouse_url), options, must_exist=True) as warehouse:
            result = run_query(model, spec, project=project, warehouse=warehouse, sorts=sort_list, limit=limit,
                               now=_now(now_text))
    else:
        result = run_query(model, spec, project=project, sorts=sort_list, limit=limit, now=_now(now_text))
    console = plain_console()
    if output_format == "json":
        document: dict[str, Any] = {"sql": result.sql, "aggregate_table": result.aggregate_table,
                                    "columns": list(result.columns),
                                    "rows": [[_json_value(v) for v in row] for row in result.rows]}
        click.echo(json.dumps(document, indent=2))
        return
    for line in result.explanation:
        click.echo(line)
    click.echo(result.sql)
    if run_it:
        from rich.table import Table

        table = Table(*result.columns)
        for row in result.rows:
            table.add_row(*("" if v is None else str(v) for v in row))
        console.print(table)


@click.group(name="suggest")
def suggest() -> None:
    """Suggest LookML from the semantic model's dashboards."""


@suggest.command(name="aggregates")
@click.option("--model", "model_dir", default=str(DEFAULT_MODEL_DIR), show_default=True, help="Semantic model directory.")
@click.option("--lookml", "lookml_dir", default=str(DEFAULT_LOOKML_DIR), show_default=True, help="LookML project.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the YAML here instead of printing it.")
def suggest_aggregates(model_dir: str, lookml_dir: str, output: Path | None) -> None:
    """The smallest set of aggregate tables serving every tile of every dashboard, as YAML for
    each explore's `aggregate_tables` (exact-match tables for measures that cannot roll up)."""
    from lookwright.lookml.project import load_project
    from lookwright.lookml.suggest import render_yaml
    from lookwright.lookml.suggest import suggest as suggest_tables
    from lookwright.model.compile import load_model

    model = load_model(Path(model_dir))
    text = render_yaml(suggest_tables(model, load_project(Path(lookml_dir))), f"the dashboards in {model_dir}")
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        plain_console(stderr=True).print(f"wrote {output}")


def report_inputs(warehouse: Any, model: Any) -> tuple[list[dict[str, Any]], list[tuple[str, str, str]]]:
    """The latest data-quality run and the rollup-equivalence results, as the report shows them."""
    from lookwright.checks.rollups import validate_rollups
    from lookwright.errors import LookwrightError

    try:
        quality = warehouse.query_dicts(
            "SELECT table_name, check_name, severity, failing, passed FROM data_quality_results "
            "WHERE run_id = (SELECT run_id FROM data_quality_results ORDER BY checked_at DESC LIMIT 1) "
            "ORDER BY table_name, check_name")
    except LookwrightError:
        quality = []
    try:
        rollup_report = validate_rollups(model, warehouse)
        rollups = [(t.table, "pass" if not t.mismatches else "FAIL",
                    f"{t.groups_compared:,} groups compared, {len(t.mismatches)} mismatches") for t in rollup_report.tables]
    except LookwrightError as error:
        rollups = [("(all)", "not run", str(error))]
    return quality, rollups


@click.command(name="report")
@click.option("--warehouse", "warehouse_url", required=True, help="Warehouse URL, e.g. duckdb:build/demo/warehouse.duckdb.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("build/report.html"),
              show_default=True, help="The HTML file to write.")
@click.option("--now", "now_text", default=None,
              help="The moment relative date filters count from (default: just after the newest data).")
@click.option("--model", "model_dir", default=str(DEFAULT_MODEL_DIR), show_default=True, help="Semantic model directory.")
@click.option("--lookml", "lookml_dir", default=str(DEFAULT_LOOKML_DIR), show_default=True, help="LookML project.")
def report(warehouse_url: str, output: Path, now_text: str | None, model_dir: str, lookml_dir: str) -> None:
    """Draw every dashboard from the local warehouse into one self-contained HTML file (no network
    at view time), with each tile's SQL and serving aggregate table, rollup coverage, data quality
    and rollup-equivalence pages."""
    path = write_report(warehouse_url, output, _now(now_text), Path(model_dir), Path(lookml_dir))
    click.echo(str(path))


def write_report(warehouse_url: str, output: Path, now: datetime.datetime | None, model_dir: Path,
                 lookml_dir: Path) -> Path:
    import vl_convert

    from lookwright.commands import console as make_console
    from lookwright.commands.progress import progress as make_progress
    from lookwright.lookml.project import load_project
    from lookwright.model.compile import load_model
    from lookwright.output.writer import write_atomic
    from lookwright.query.run import latest_data
    from lookwright.report import render_report
    from lookwright.warehouse import open_warehouse

    model = load_model(model_dir)
    project = load_project(lookml_dir) if lookml_dir.is_dir() else None
    tiles = sum(len(dashboard.tiles) for dashboard in model.dashboards.values())
    with open_warehouse(warehouse_url) as warehouse, make_progress(make_console(stderr=True)) as progress:
        task = progress.add_task("report", total=tiles + 1)
        progress.update(task, description="report: reading data quality, checking rollups")
        moment = now or latest_data(warehouse)
        quality, rollups = report_inputs(warehouse, model)
        progress.update(task, advance=1, description="report: checks read")
        page = render_report(model, project, warehouse, moment, quality, rollups,
                             cast(Any, vl_convert).javascript_bundle(),
                             lambda name: progress.update(task, advance=1, description=f"report: drew {name}"))
    output.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(output, page)
    return output
