"""The DuckDB warehouse: statements, transactions, introspection, URLs and errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from lookwright.errors import WarehouseError
from lookwright.warehouse import DEFAULT_WAREHOUSE_PATH, DuckDBWarehouse, open_warehouse


def test_query_returns_rows_and_dicts() -> None:
    with DuckDBWarehouse(":memory:") as warehouse:
        warehouse.execute("CREATE TABLE t (a INTEGER, b VARCHAR)")
        warehouse.execute("INSERT INTO t VALUES (?, ?), (?, ?)", [1, "x", 2, "y"])
        assert warehouse.query("SELECT a, b FROM t ORDER BY a") == [(1, "x"), (2, "y")]
        assert warehouse.query_dicts("SELECT a, b FROM t WHERE a = ?", [2]) == [{"a": 2, "b": "y"}]
        assert warehouse.dialect == "duckdb"


def test_introspection() -> None:
    with DuckDBWarehouse(":memory:") as warehouse:
        warehouse.execute("CREATE TABLE facts (id INTEGER, name VARCHAR, cost DOUBLE)")
        assert warehouse.table_exists("facts") is True
        assert warehouse.table_exists("missing") is False
        assert warehouse.columns("facts") == ["id", "name", "cost"]


def test_transaction_commits_on_success() -> None:
    with DuckDBWarehouse(":memory:") as warehouse:
        warehouse.execute("CREATE TABLE t (a INTEGER)")
        with warehouse.transaction():
            warehouse.execute("INSERT INTO t VALUES (1)")
        assert warehouse.query("SELECT a FROM t") == [(1,)]


def test_transaction_rolls_back_everything_on_error() -> None:
    with DuckDBWarehouse(":memory:") as warehouse:
        warehouse.execute("CREATE TABLE t (a INTEGER)")
        with pytest.raises(WarehouseError, match=r"^INSERT INTO t VALUES \('not a number'\): Conversion Error: "
                           "Could not convert string 'not a number' to INT32"), warehouse.transaction():
            warehouse.execute("INSERT INTO t VALUES (1)")
            warehouse.execute("CREATE TABLE u (b INTEGER)")
            warehouse.execute("INSERT INTO t VALUES ('not a number')")
        assert warehouse.query("SELECT count(*) FROM t") == [(0,)]
        assert warehouse.table_exists("u") is False


def test_error_names_the_statement_first_line() -> None:
    with DuckDBWarehouse(":memory:") as warehouse, pytest.raises(WarehouseError) as caught:
        warehouse.query("SELECT *\nFROM no_such_table")
    assert str(caught.value).startswith("SELECT *: Catalog Error: Table with name no_such_table")


def test_settings_are_applied() -> None:
    with DuckDBWarehouse(":memory:", memory_limit="1GB") as warehouse:
        assert warehouse.query("SELECT current_setting('threads')") == [(2,)]
        assert warehouse.query("SELECT current_setting('TimeZone')") == [("UTC",)]
        assert warehouse.query("SELECT current_setting('memory_limit')")[0][0] in {"953.6 MiB", "1.0 GiB"}


def test_file_warehouse_creates_parent_dirs_and_persists(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "w.duckdb"
    with open_warehouse(f"duckdb:{path}") as warehouse:
        warehouse.execute("CREATE TABLE t AS SELECT 42 AS answer")
    with DuckDBWarehouse(path) as warehouse:
        assert warehouse.query("SELECT answer FROM t") == [(42,)]
    assert DEFAULT_WAREHOUSE_PATH == Path("build/demo/warehouse.duckdb")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgres://x", "unsupported warehouse URL 'postgres://x': expected duckdb:PATH"),
        ("duckdb:", "warehouse URL 'duckdb:' names no path: expected duckdb:PATH"),
    ],
)
def test_bad_urls(url: str, message: str) -> None:
    with pytest.raises(WarehouseError) as caught:
        open_warehouse(url)
    assert str(caught.value) == message
