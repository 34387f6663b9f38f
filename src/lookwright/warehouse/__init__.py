"""Warehouse connections: the protocol the build runs against, embedded DuckDB, and BigQuery."""

from dataclasses import dataclass
from pathlib import Path

from lookwright.errors import WarehouseError
from lookwright.warehouse.base import DEFAULT_TIMEOUT_S, Warehouse
from lookwright.warehouse.duckdb import DEFAULT_WAREHOUSE_PATH, DuckDBWarehouse
from lookwright.warehouse.duckdb import open_warehouse as open_duckdb

BIGQUERY_URL_SCHEME = "bigquery:"

__all__ = ["DEFAULT_TIMEOUT_S", "DEFAULT_WAREHOUSE_PATH", "ConnectOptions", "DuckDBWarehouse", "Warehouse",
           "open_warehouse"]


@dataclass(frozen=True)
class ConnectOptions:
    """How to reach BigQuery (ignored by DuckDB): job location, a key file, a cost cap, the command,
    and how long a job may run before it is cancelled."""

    location: str | None = None
    credentials_file: Path | None = None
    maximum_bytes_billed: int | None = None
    command: str = "lookwright"
    timeout_s: float = DEFAULT_TIMEOUT_S


def open_warehouse(url: str, options: ConnectOptions | None = None, must_exist: bool = False) -> Warehouse:
    """Open `duckdb:PATH`, or `bigquery:PROJECT.DATASET[@ENDPOINT]` with google-cloud-bigquery.

    `must_exist`: refuse a duckdb: file that is not there (commands that only read)."""
    if not url.startswith(BIGQUERY_URL_SCHEME):
        return open_duckdb(url, must_exist)
    options = options or ConnectOptions()
    try:
        from lookwright.warehouse.bigquery import open_bigquery
    except ImportError as error:
        message = f"warehouse URL {url!r} needs google-cloud-bigquery: {error}"
        raise WarehouseError(message) from error
    return open_bigquery(url, location=options.location, credentials_file=options.credentials_file,
                         maximum_bytes_billed=options.maximum_bytes_billed, command=options.command,
                         timeout_s=options.timeout_s)
