"""Run a Looker query (or a dashboard tile) on the local warehouse: compiled SQL with the tile's
sorts and limit, the aggregate table Looker would serve it from, and the rows."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from lookwright.errors import WarehouseError
from lookwright.lookml.aggregates import explain_query
from lookwright.lookml.project import Project
from lookwright.model.dashboards import split_sort
from lookwright.model.ir import SemanticModel, TileIR
from lookwright.query.compile import QuerySpec, UnsupportedQuery, compile_query
from lookwright.warehouse.base import Warehouse


@dataclass(frozen=True)
class QueryRun:
    """One query: its SQL, the aggregate table that would serve it in Looker, and its result."""

    spec: QuerySpec
    sql: str
    aggregate_table: str | None
    explanation: tuple[str, ...]  # Looker's `-- use existing` / `-- Did not use` lines
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


def query_sql(model: SemanticModel, spec: QuerySpec, sorts: tuple[str, ...] = (), limit: int | None = None,
              now: datetime.datetime | None = None, dialect: str = "duckdb") -> str:
    """The compiled query with Looker's ORDER BY (`view.field [asc|desc]`, by position) and LIMIT."""
    sql = compile_query(model, spec, now, dialect).sql
    if sorts:
        order = ", ".join(f"{_position(spec, field)} {direction.upper()}" for field, direction in map(split_sort, sorts))
        sql += f"\nORDER BY {order}"
    if limit is not None:
        sql += f"\nLIMIT {limit}"
    return sql


def _position(spec: QuerySpec, field: str) -> int:
    if field not in spec.fields:
        raise UnsupportedQuery(f"sort field {field} is not one of the query's fields")
    return spec.fields.index(field) + 1


def run_query(model: SemanticModel, spec: QuerySpec, *, project: Project | None = None,
              warehouse: Warehouse | None = None, sorts: tuple[str, ...] = (), limit: int | None = None,
              now: datetime.datetime | None = None) -> QueryRun:
    """Compile (and with a warehouse, run it there, in its dialect, on the tables its URL names) a query;
    with a LookML project, say which aggregate table serves it."""
    if warehouse is not None:
        model = warehouse.target(model)
    sql = query_sql(model, spec, sorts, limit, now, warehouse.dialect if warehouse is not None else "duckdb")
    used: str | None = None
    lines: tuple[str, ...] = ()
    if project is not None:
        explanation = explain_query(project, spec.explore, list(spec.fields), dict(spec.filters), spec.timezone)
        used, lines = explanation.used, tuple(explanation.lines)
    rows: tuple[tuple[Any, ...], ...] = ()
    if warehouse is not None:
        rows = tuple(tuple(row) for row in warehouse.query(sql))
    return QueryRun(spec, sql, used, lines, spec.fields, rows)


def tile_spec(tile: TileIR) -> QuerySpec:
    return QuerySpec(tile.explore, tile.fields, dict(tile.filters), tile.timezone)


def run_tile(model: SemanticModel, tile: TileIR, project: Project | None, warehouse: Warehouse | None,
             now: datetime.datetime | None = None) -> QueryRun:
    return run_query(model, tile_spec(tile), project=project, warehouse=warehouse,
                     sorts=tile.sorts, limit=tile.limit, now=now)


def latest_data(warehouse: Warehouse) -> datetime.datetime:
    """The moment just after the newest hour of requests: relative date filters count from it, so a
    report of an old (or synthetic) warehouse shows its data, not the days since."""
    try:
        [(newest,)] = warehouse.query("SELECT MAX(hour) FROM fact_performance_metrics_hourly")
    except WarehouseError:
        newest = None
    if not isinstance(newest, datetime.datetime):
        return datetime.datetime.now(datetime.UTC)
    moment = newest + datetime.timedelta(hours=1)
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)
