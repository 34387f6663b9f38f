"""`lookwright plan`: the statements of one incremental build, the tables they scan, and pruning."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from lookwright.commands import plain_console
from lookwright.commands.warehouse_options import connect_options, warehouse_options
from lookwright.errors import CheckFailed
from lookwright.paths import DEFAULT_LOOKML_DIR, DEFAULT_MODEL_DIR, existing_directory

if TYPE_CHECKING:
    from lookwright.model.ir import SemanticModel
    from lookwright.warehouse.plan import PlannedStatement


SWAP_WINDOW = ("not atomic across tables: each step of an incremental build commits on its own, so between two"
               " steps a reader may see a new table beside an older one. A rebuild (full refresh, model change)"
               " switches its tables at one commit point (on BigQuery one DML transaction), except, on BigQuery,"
               " each table that needs a new table (a re-partition, a retyped, removed or reordered column): one"
               " CREATE OR REPLACE TABLE ... AS SELECT from its twin replaces it after the commit point, atomic for"
               " the table (never missing; it reads the twin once, billed); until it has run (or the next build, which"
               " finishes an interrupted swap first) a reader sees that table old beside the new others"
               " (ARCHITECTURE.md, \"What a reader sees during a build\")")


def _why_whole(model: SemanticModel, statement: PlannedStatement) -> str:
    if not statement.full_rebuild:
        return ""
    from lookwright.warehouse.build import merges_members

    if merges_members(model.tables[statement.table]):
        return " (the dimension is merged from its whole sources on every build)"
    return " (the table is rebuilt in full on every build)"


@click.command()
@click.option("--model", "model_dir", default=str(DEFAULT_MODEL_DIR), show_default=True,
              help="Semantic model directory.")
@warehouse_options(default=None)
@click.option("--now", type=click.DateTime(formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]), default=None,
              help="When the build runs (UTC; default: now): the window starts before this hour.")
@click.option("--price-per-tib", type=click.FloatRange(min=0), default=6.25, show_default=True,
              help="On-demand price in USD per TiB scanned (cost is shown only with real dry-run bytes).")
@click.option("--lookml", "lookml_dir", default=str(DEFAULT_LOOKML_DIR), show_default=True,
              help="Generated LookML directory (the aggregate tables that serve the declared queries).")
@click.option("--templates", type=click.Path(path_type=Path), default=None,
              help="Folder of Jinja2 templates overriding the built-in ones (as `generate` takes).")
@click.option("--strict", is_flag=True,
              help="Exit 1 when an incremental step reads a partitioned table unpruned (full rebuilds read all).")
def plan(model_dir: str, url: str | None, location: str | None, credentials_file: Path | None,
         maximum_bytes_billed: int | None, now: datetime | None, price_per_tib: float, lookml_dir: str,
         templates: Path | None, strict: bool) -> None:
    """Show what one incremental build sends: per statement the partitioned tables it touches,
    whether each is pruned to the window (read from Google's ZetaSQL analysis of the exact SQL),
    and, on BigQuery (--warehouse bigquery:...), bytes and cost from dry runs. Bytes are never guessed.
    Then each declared query: the aggregate table that serves it, and what its raw explore reads.
    """
    from lookwright.lookml.project import load_project
    from lookwright.model.compile import load_model
    from lookwright.warehouse import open_warehouse
    from lookwright.warehouse.plan import plan_build, plan_queries

    model = load_model(existing_directory(model_dir, "model"))
    project = load_project(existing_directory(lookml_dir, "LookML"))
    moment = (now or datetime.now(UTC)).replace(tzinfo=None)
    emulator = False
    if url is None:
        result = plan_build(model, moment, price_per_tib=price_per_tib, templates=templates)
        queries = plan_queries(model, project, moment)
    else:
        with open_warehouse(url, connect_options(location, credentials_file, maximum_bytes_billed)) as warehouse:
            emulator = bool(getattr(warehouse, "emulator", False))
            result = plan_build(model, moment, warehouse, price_per_tib, templates)
            queries = plan_queries(model, project, moment, warehouse)
    console = plain_console()
    console.print(f"incremental build from {result.window_start:%Y-%m-%d %H:%M} UTC"
                  f" (partitions from {result.partitions_from}): {len(result.statements)} statements")
    for index, statement in enumerate(result.statements, 1):
        scanned = "bytes unknown" if statement.bytes_processed is None else f"{statement.bytes_processed:,} bytes"
        console.print(f"{index:3}. {statement.table}: {statement.sql.split(chr(10))[0][:90]} ({scanned})")
        for access in statement.accesses:
            verdict = ("pruned " + ", ".join(access.bounds) if access not in statement.unpruned
                       else "NOT PRUNED: reads every partition" + _why_whole(model, statement))
            console.print(f"       {access.table} (partition {access.column}): {verdict}")
        if statement.unpartitioned:
            console.print(f"       unpartitioned, read whole: {', '.join(statement.unpartitioned)}")
        if statement.error:
            console.print(f"       dry run failed: {statement.error}")
    total = result.bytes_processed
    cost = result.cost()
    unknown = ("bytes: unknown offline (dry runs on BigQuery report them)" if url is None
               else "bytes: unknown (an emulator: the client sends no credentials, and its dry runs report no bytes)"
               if emulator else "bytes: unknown (a dry run failed)" if any(s.error for s in result.statements)
               else "bytes: unknown (a dry run reported none)")
    console.print(unknown if total is None else f"bytes: {total:,}; on-demand cost ${cost:,.4f} at ${price_per_tib}/TiB")
    unpruned = result.unpruned
    rebuilds = sorted({table for table, _ in unpruned
                       if any(s.full_rebuild for s in result.statements if s.table == table)})
    console.print(f"{len(unpruned)} unpruned read{'s' if len(unpruned) != 1 else ''} of partitioned tables"
                  + (f" (by the full rebuilds of {', '.join(rebuilds)})" if rebuilds else ""))
    console.print(SWAP_WINDOW)
    console.print(f"declared queries: {len(queries)}")
    for query in queries:
        served = (f"served by aggregate table {query.served_by} (a Looker PDT"
                  + (f", pruned by its partition key {', '.join(query.pdt_pruned_by)})" if query.pdt_pruned_by
                     else ")") if query.served_by else "served by the raw explore")
        scanned = "bytes unknown" if query.bytes_processed is None else f"{query.bytes_processed:,} bytes"
        console.print(f"  {query.name} [{query.explore}]: {served}")
        for field, start, end in query.windows:
            console.print(f"       window {field}: {start or '-inf'} to {end or '+inf'}")
        if query.error:
            console.print(f"       raw explore not analysed: {query.error}")
        for access in query.accesses:
            verdict = ("pruned " + ", ".join(access.bounds) if access not in query.unpruned
                       else "NOT PRUNED: reads every partition")
            console.print(f"       raw explore reads {access.table} (partition {access.column}): {verdict} ({scanned})")
        if query.unpartitioned:
            console.print(f"       unpartitioned, read whole: {', '.join(query.unpartitioned)}")
    failures = result.unpruned_incremental
    if strict and failures:
        raise CheckFailed(f"{len(failures)} reads of partitioned tables by incremental steps have no partition filter:"
                          f" {', '.join(sorted({f'{table} reads {a.table}' for table, a in failures}))}")
