"""`lookwright snapshot`, `lookwright snapshot list` and `lookwright restore`: disaster recovery."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from lookwright.commands import console as make_console
from lookwright.commands.warehouse_options import (
    CHECK_HELP,
    MODEL_OPTION,
    connect_options,
    warehouse_options,
)
from lookwright.warehouse import open_warehouse
from lookwright.warehouse.snapshot import DEFAULT_EXPIRES_IN_DAYS, Snapshot

SNAPSHOT_HELP = "The built warehouse: duckdb:PATH (it must exist), or bigquery:PROJECT.DATASET[@http://HOST:PORT]"


def _when(snapshot: Snapshot) -> str:
    return "-" if snapshot.expires_at is None else f"{snapshot.expires_at:%Y-%m-%d %H:%M} UTC"


@click.group(invoke_without_command=True)
@warehouse_options(help_text=SNAPSHOT_HELP)
@MODEL_OPTION
@click.option("--expires-in-days", type=click.IntRange(min=1), default=DEFAULT_EXPIRES_IN_DAYS, show_default=True,
              help="When the snapshot expires (BigQuery deletes it then; on DuckDB the next snapshot does).")
@click.pass_context
def snapshot(ctx: click.Context, url: str, location: str | None, credentials_file: Path | None,
             maximum_bytes_billed: int | None, model_dir: Path, expires_in_days: int) -> None:
    """Snapshot every table of the model, to restore one later with `lookwright restore`.

    \b
    BigQuery: one table snapshot per table (`<table>__lw_snapshot_<id>`, in the dataset), all as of
    one instant, with an expiration. DuckDB: a consistent copy of the database file in
    `<warehouse>.snapshots/<id>.duckdb`. The id is the UTC time taken, YYYYMMDD_HHMMSS.
    `lookwright snapshot list` lists them.
    """
    if ctx.invoked_subcommand is not None:
        return
    from lookwright.model.compile import load_model
    from lookwright.warehouse.snapshot import take_snapshot

    model = load_model(model_dir)
    options = connect_options(location, credentials_file, maximum_bytes_billed)
    with open_warehouse(url, options, must_exist=True) as warehouse:
        taken = take_snapshot(warehouse, model, expires_in_days=expires_in_days)
    make_console(stderr=True).print(
        f"snapshot {taken.snapshot_id}: {len(taken.tables)} tables in {taken.location}, expires {_when(taken)}",
        highlight=False)


@snapshot.command("list")
@warehouse_options(help_text=CHECK_HELP)
@MODEL_OPTION
def list_(url: str, location: str | None, credentials_file: Path | None, maximum_bytes_billed: int | None,
          model_dir: Path) -> None:
    """List the snapshots of the warehouse, oldest first."""
    from lookwright.model.compile import load_model
    from lookwright.warehouse.snapshot import list_snapshots

    model = load_model(model_dir)
    options = connect_options(location, credentials_file, maximum_bytes_billed)
    with open_warehouse(url, options, must_exist=True) as warehouse:
        found = list_snapshots(warehouse, model)
    console = make_console()
    if not found:
        console.print("no snapshots yet: take one with `lookwright snapshot`", highlight=False)
        return
    table = Table("snapshot", "taken (UTC)", "expires", "tables", "where", title="snapshots")
    table.columns[4].overflow = "fold"
    for item in found:
        table.add_row(item.snapshot_id, f"{item.taken_at:%Y-%m-%d %H:%M:%S}", _when(item), str(len(item.tables)),
                      item.location)
    console.print(table)


@click.command()
@warehouse_options(help_text=CHECK_HELP)
@MODEL_OPTION
@click.option("--table", required=True, help="The model table to restore.")
@click.option("--snapshot", "snapshot_id", required=True, help="The snapshot id (`lookwright snapshot list`).")
def restore(url: str, location: str | None, credentials_file: Path | None, maximum_bytes_billed: int | None,
            model_dir: Path, table: str, snapshot_id: str) -> None:
    """Restore one table from a snapshot (its definition and rows); nothing else changes.

    On BigQuery `CREATE OR REPLACE TABLE t CLONE <snapshot>`; on DuckDB one transaction. The table
    also gets back what it had seen of the raw tables, so the next `lookwright build` recomputes it
    from the snapshot's watermark on, late loads since the snapshot included. An unknown table or
    snapshot is exit 2 and changes nothing.
    """
    from lookwright.model.compile import load_model
    from lookwright.warehouse.snapshot import restore_table

    model = load_model(model_dir)
    options = connect_options(location, credentials_file, maximum_bytes_billed)
    with open_warehouse(url, options, must_exist=True) as warehouse:
        done = restore_table(warehouse, model, table, snapshot_id)
    make_console(stderr=True).print(
        f"restored {done.table} from snapshot {done.snapshot_id}: {done.rows_after:,} rows (were {done.rows_before:,});"
        " `lookwright build` brings it up to date", highlight=False)
