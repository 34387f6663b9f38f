"""Warehouse connections: the protocol the build runs against, embedded DuckDB, and BigQuery."""

from lookwright.errors import WarehouseError
from lookwright.warehouse.base import Warehouse
from lookwright.warehouse.duckdb import DEFAULT_WAREHOUSE_PATH, DuckDBWarehouse
from lookwright.warehouse.duckdb import open_warehouse as open_duckdb

BIGQUERY_URL_SCHEME = "bigquery:"

__all__ = ["DEFAULT_WAREHOUSE_PATH", "DuckDBWarehouse", "Warehouse", "open_warehouse"]


def open_warehouse(url: str, must_exist: bool = False) -> Warehouse:
    """Open `duckdb:PATH`, or `bigquery:PROJECT.DATASET[@ENDPOINT]` with google-cloud-bigquery.

    `must_exist`: refuse a duckdb: file that is not there (commands that only read)."""
    if not url.startswith(BIGQUERY_URL_SCHEME):
        return open_duckdb(url, must_exist)
    try:
        from lookwright.warehouse.bigquery import open_bigquery
    except ImportError as error:
        message = f"warehouse URL {url!r} needs google-cloud-bigquery: {error}"
        raise WarehouseError(message) from error
    return open_bigquery(url)
