"""`lookwright plan`: the statements of one incremental build, the tables they scan, and pruning."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from lookwright.commands import plain_console
from lookwright.commands.warehouse_options import connect_options, warehouse_options
from lookwright.errors import CheckFailed
from lookwright.paths import DEFAULT_MODEL_DIR, existing_directory


@click.command()
@click.option("--model", "model_dir", default=str(DEFAULT_MODEL_DIR), show_default=True,
              help="Semantic model directory.")
@warehouse_options(default=None)
@click.option("--now", type=click.DateTime(formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]), default=None,
              help="When the build runs (UTC; default: now): the window starts before this hour.")
@click.option("--price-per-tib", type=click.FloatRange(min=0), default=6.25, show_default=True,
              help="On-demand price in USD per TiB scanned (cost is shown only with real dry-run bytes).")
@click.option("--strict", is_flag=True, help="Exit 1 when any statement reads a partitioned table unpruned.")
def plan(model_dir: str, url: str | None, location: str | None, credentials_file: Path | None,
         maximum_bytes_billed: int | None, now: datetime | None, price_per_tib: float, strict: bool) -> None:
    """Show what one incremental build sends: per statement the partitioned tables it touches,
    whether each is pruned to the window (read from Google's ZetaSQL analysis of the exact SQL),
    and, on BigQuery (--warehouse bigquery:...), bytes and cost from dry runs. Bytes are never guessed.
    """
    from lookwright.model.compile import load_model
    from lookwright.warehouse import open_warehouse
    from lookwright.warehouse.plan import plan_build

    model = load_model(existing_directory(model_dir, "model"))
    moment = (now or datetime.now(UTC)).replace(tzinfo=None)
    if url is None:
        result = plan_build(model, moment, price_per_tib=price_per_tib)
    else:
        with open_warehouse(url, connect_options(location, credentials_file, maximum_bytes_billed)) as warehouse:
            result = plan_build(model, moment, warehouse, price_per_tib)
    console = plain_console()
    console.print(f"incremental build from {result.window_start:%Y-%m-%d %H:%M} UTC"
                  f" (partitions from {result.partitions_from}): {len(result.statements)} statements")
    for index, statement in enumerate(result.statements, 1):
        scanned = "bytes unknown" if statement.bytes_processed is None else f"{statement.bytes_processed:,} bytes"
        console.print(f"{index:3}. {statement.table}: {statement.sql.split(chr(10))[0][:90]} ({scanned})")
        for access in statement.accesses:
            verdict = "pruned " + ", ".join(access.bounds) if access in statement.accesses and \
                access not in statement.unpruned else "NOT PRUNED: reads every partition"
            console.print(f"       {access.table} (partition {access.column}): {verdict}")
        if statement.error:
            console.print(f"       dry run failed: {statement.error}")
    total = result.bytes_processed
    cost = result.cost()
    console.print("bytes: unknown offline (dry runs on BigQuery report them)" if total is None
                  else f"bytes: {total:,}; on-demand cost ${cost:,.4f} at ${price_per_tib}/TiB")
    unpruned = result.unpruned
    console.print(f"{len(unpruned)} unpruned read{'s' if len(unpruned) != 1 else ''} of partitioned tables")
    if strict and unpruned:
        raise CheckFailed(f"{len(unpruned)} statements read partitioned tables without a partition filter")
