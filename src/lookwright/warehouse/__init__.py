"""Warehouse connections: the protocol the build runs against and its embedded DuckDB implementation."""

from lookwright.warehouse.base import Warehouse
from lookwright.warehouse.duckdb import DEFAULT_WAREHOUSE_PATH, DuckDBWarehouse, open_warehouse

__all__ = ["DEFAULT_WAREHOUSE_PATH", "DuckDBWarehouse", "Warehouse", "open_warehouse"]
