"""The embedded DuckDB warehouse the demo and the tests build into."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from lookwright.errors import WarehouseError
from lookwright.warehouse.base import Params, TypedNull, Warehouse

DEFAULT_WAREHOUSE_PATH = Path("build/demo/warehouse.duckdb")
DEFAULT_MEMORY_LIMIT = "3GB"
DEFAULT_THREADS = 2
URL_SCHEME = "duckdb:"


def _first_line(sql: str) -> str:
    lines = [line.strip() for line in sql.strip().splitlines()]
    return lines[0] if lines else ""


class DuckDBWarehouse(Warehouse):
    """A DuckDB database file (or ":memory:"), with UTC session time and bounded memory."""

    dialect = "duckdb"
    transactional_ddl = True  # a rebuild's staging twins are swapped in by DROP + RENAME in one transaction

    def __init__(
        self,
        path: Path | str = DEFAULT_WAREHOUSE_PATH,
        *,
        memory_limit: str = DEFAULT_MEMORY_LIMIT,
        threads: int = DEFAULT_THREADS,
    ) -> None:
        self.path = str(path)
        self.sent: list[str] = []  # every statement run, in order (as BigQueryWarehouse.sent)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._connection = duckdb.connect(self.path)
        except duckdb.Error as error:
            raise WarehouseError(f"cannot open DuckDB warehouse {self.path}: {error}") from error
        self.execute(f"SET memory_limit = '{memory_limit}'")
        self.execute(f"SET threads = {int(threads)}")
        self.execute("SET TimeZone = 'UTC'")

    def _run(self, sql: str, params: Params) -> duckdb.DuckDBPyConnection:
        if isinstance(params, dict):
            params = {k: None if isinstance(v, TypedNull) else v for k, v in params.items()}
        elif params is not None:
            params = [None if isinstance(v, TypedNull) else v for v in params]
        self.sent.append(sql)
        try:
            return self._connection.execute(sql, params)
        except duckdb.InterruptException:
            raise KeyboardInterrupt from None
        except duckdb.Error as error:
            raise WarehouseError(f"{_first_line(sql)}: {error}") from error

    def execute(self, sql: str, params: Params = None) -> None:
        self._run(sql, params)

    def query(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        cursor = self._run(sql, params)
        try:
            rows: list[tuple[Any, ...]] = cursor.fetchall()
        except duckdb.Error as error:
            raise WarehouseError(f"{_first_line(sql)}: {error}") from error
        return rows

    def query_dicts(self, sql: str, params: Params = None) -> list[dict[str, Any]]:
        cursor = self._run(sql, params)
        names = [column[0] for column in cursor.description or []]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def begin(self) -> None:
        self.execute("BEGIN TRANSACTION")

    def commit(self) -> None:
        self.execute("COMMIT")

    def rollback(self) -> None:
        self.execute("ROLLBACK")

    def table_exists(self, name: str) -> bool:
        rows = self.query(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
        )
        return bool(rows[0][0])

    def columns(self, name: str) -> list[str]:
        rows = self.query(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_name = ? ORDER BY ordinal_position",
            [name],
        )
        return [str(row[0]) for row in rows]

    def row_count(self, name: str) -> int:
        """COUNT(*) of the whole table: local, nothing billed, and exact."""
        return int(self.query(f"SELECT COUNT(*) FROM {name}")[0][0])

    def close(self) -> None:
        self._connection.close()


def open_warehouse(url: str, must_exist: bool = False) -> DuckDBWarehouse:
    """Open a warehouse from a URL such as `duckdb:build/demo/warehouse.duckdb` or `duckdb::memory:`.

    With `must_exist` (commands that only read), a file that is not there is an error, not a new warehouse."""
    if not url.startswith(URL_SCHEME):
        raise WarehouseError(f"unsupported warehouse URL {url!r}: expected duckdb:PATH")
    path = url[len(URL_SCHEME) :]
    if not path:
        raise WarehouseError(f"warehouse URL {url!r} names no path: expected duckdb:PATH")
    if must_exist and path != ":memory:" and not Path(path).is_file():
        raise WarehouseError(f"warehouse {path} does not exist; check the path, or create it with "
                             "`lookwright demo` (or `lookwright load` + `lookwright build`)")
    return DuckDBWarehouse(path)
