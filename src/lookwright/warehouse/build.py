"""Build every table of the semantic model on a warehouse, in dependency order, incrementally."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import jinja2

from lookwright.errors import InputError, WarehouseError
from lookwright.model.ir import SemanticModel, TableIR
from lookwright.paths import DEFAULT_TEMPLATES
from lookwright.sqlgen.render import SqlRenderer
from lookwright.warehouse.base import Warehouse
from lookwright.warehouse.sources import RAW_TABLES, create_raw_tables

STATE_TABLE = "lookwright_build_state"
STATE_COLUMNS = (("raw_loaded_through", "TIMESTAMP"),)
STATE_DDL = f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} (raw_loaded_through TIMESTAMP)"
GRAIN_STEP = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}


@dataclass(frozen=True)
class StepResult:
    """One table built: how (full or incremental from window_start), its rows after, and how long."""

    table: str
    mode: str  # full | incremental
    window_start: datetime | None
    rows: int  # in the table after the step
    seconds: float
    rows_written: int = 0  # by this step: every row when full, the rows from window_start on otherwise


@dataclass(frozen=True)
class BuildReport:
    """Every step of one build, in the order they ran."""

    steps: tuple[StepResult, ...]
    full_refresh: bool

    def step(self, table: str) -> StepResult:
        return next(s for s in self.steps if s.table == table)


class TransformRenderer:
    """Renders transform templates (templates/transforms/) next to the SqlRenderer's statements."""

    def __init__(self, model: SemanticModel, dialect: str = "duckdb", templates: Path | None = None) -> None:
        self.model = model
        self.sql = SqlRenderer(model, dialect, templates)
        base = self.sql.env.loader
        assert base is not None
        self.sql.env.loader = jinja2.ChoiceLoader([base, jinja2.FileSystemLoader(str(DEFAULT_TEMPLATES))])
        self.dialect = self.sql.dialect

    def raw(self, name: str) -> str:
        """A raw (loader-owned) table, qualified like the model's tables."""
        warehouse = self.model.warehouse
        return self.dialect.table(f"{warehouse.project}.{warehouse.dataset}.{name}", name)

    def literal(self, value: datetime | date) -> str:
        if isinstance(value, datetime):
            return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
        return f"DATE '{value:%Y-%m-%d}'"

    def _context(self, table: TableIR, window_start: datetime | None,
                 previous_loaded_at: datetime | None) -> dict[str, object]:
        return {
            "table": table, "ref": self.sql.ref, "raw": self.raw,
            "window_start": None if window_start is None else self.literal(window_start),
            "previous_loaded_at": None if previous_loaded_at is None else self.literal(previous_loaded_at),
        }

    def transform(self, table: TableIR, window_start: datetime | None = None) -> str:
        """The SELECT producing the table's rows (at or after window_start when given)."""
        spec = table.spec.transform
        if spec is None:
            raise InputError(f"table {table.name} has neither a transform nor a rollup")
        return self.sql.render(spec.template, **self._context(table, window_start, None))

    def window_template(self, table: TableIR) -> str | None:
        spec = table.spec.transform
        if spec is None:
            return None
        name = spec.template.removesuffix(".sql.j2") + ".window.sql.j2"
        try:
            self.sql.env.get_template(name)
        except jinja2.TemplateNotFound:
            return None
        return name

    def extra_window(self, table: TableIR, previous_loaded_at: datetime | None) -> str | None:
        """The table's own window query (one row, column window_start), if it declares one."""
        name = self.window_template(table)
        if name is None:
            return None
        return self.sql.render(name, **self._context(table, None, previous_loaded_at))

    def insert(self, table: TableIR, window_start: datetime | None) -> list[str]:
        """Statements replacing the table's rows from window_start on (all rows when None)."""
        target = self.sql.ref(table.name)
        columns = ", ".join(c.name for c in table.columns)
        select = self.transform(table, window_start).strip()
        if window_start is None:
            return [f"DELETE FROM {target}",
                    f"INSERT INTO {target} ({columns})\nSELECT {columns} FROM (\n{select}\n) AS transformed"]
        column = _incremental_column(table)
        bound = self.literal(window_start)
        return [f"DELETE FROM {target} WHERE {column} >= {bound}",
                (f"INSERT INTO {target} ({columns})\nSELECT {columns} FROM (\n{select}\n) AS transformed"
                 f"\nWHERE {column} >= {bound}")]

    def dependencies(self, table: TableIR) -> tuple[str, ...]:
        """Model tables the table is built from (rollup source, or every ref() in its template)."""
        if table.rollup is not None:
            return (table.rollup.source,)
        seen: list[str] = []

        def recording_ref(name: str) -> str:
            if name not in self.model.tables:
                raise InputError(f"{table.name}: template refers to unknown table {name!r}")
            if name != table.name and name not in seen:
                seen.append(name)
            return self.sql.ref(name)

        spec = table.spec.transform
        assert spec is not None
        context = self._context(table, datetime(1970, 1, 1), datetime(1970, 1, 1))
        context["ref"] = recording_ref
        self.sql.render(spec.template, **context)
        if self.window_template(table) is not None:
            self.sql.render(str(self.window_template(table)), **context)
        return tuple(seen)


def _incremental(table: TableIR) -> bool:
    transform = table.spec.transform
    return table.rollup is not None or (transform is not None and transform.incremental_column is not None)


def _incremental_column(table: TableIR) -> str:
    spec = table.spec.transform
    assert spec is not None and spec.incremental_column is not None
    return spec.incremental_column


def build_order(renderer: TransformRenderer) -> list[TableIR]:
    """Tables in dependency order (ties by name), so each is built after what it reads."""
    tables = renderer.model.tables
    depends = {name: set(renderer.dependencies(table)) for name, table in tables.items()}
    order: list[TableIR] = []
    done: set[str] = set()
    while len(done) < len(tables):
        ready = sorted(name for name in tables if name not in done and depends[name] <= done)
        if not ready:
            cycle = sorted(name for name in tables if name not in done)
            raise InputError(f"tables depend on each other in a cycle: {', '.join(cycle)}")
        order.append(tables[ready[0]])
        done.add(ready[0])
    return order


def late_window(model: SemanticModel) -> timedelta:
    """The late-data window: the largest increment_offset of the hourly rollups, in hours."""
    offsets = [t.rollup.increment_offset for t in model.tables.values()
               if t.rollup is not None and t.rollup.period.grain == "hour"]
    return timedelta(hours=max(offsets, default=0))


def _as_datetime(value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    raise WarehouseError(f"expected a timestamp, got {value!r}")


def _scalar(warehouse: Warehouse, sql: str) -> object:
    rows = warehouse.query(sql)
    return rows[0][0] if rows else None


def _hour_floor(value: datetime) -> datetime:
    return value.replace(minute=0, second=0, microsecond=0)


def raw_loaded_through(warehouse: Warehouse) -> datetime | None:
    """The newest loaded_at over every raw table: what this build has seen."""
    parts = " UNION ALL ".join(f"SELECT MAX(loaded_at) AS t FROM {name}" for name in sorted(RAW_TABLES))
    return _as_datetime(_scalar(warehouse, f"SELECT MAX(t) FROM ({parts}) AS loads"))


def _previous_state(warehouse: Warehouse) -> tuple[bool, datetime | None]:
    rows = warehouse.query(f"SELECT raw_loaded_through FROM {STATE_TABLE}")
    return (bool(rows), _as_datetime(rows[0][0]) if rows else None)


def prepare(warehouse: Warehouse, renderer: TransformRenderer, full_refresh: bool) -> bool:
    """Create raw and model tables; empty the model tables when a full build is needed.

    A full build is needed on request, before the first successful build, and when a table's
    columns no longer match the model (the table is then recreated). Returns whether it is full.
    """
    create_raw_tables(warehouse)
    model = renderer.model
    with warehouse.transaction():
        warehouse.execute(STATE_DDL)
        built, _ = _previous_state(warehouse)
        full = full_refresh or not built
        for table in model.tables.values():
            wanted = [c.name for c in table.columns]
            if warehouse.table_exists(table.name) and warehouse.columns(table.name) != wanted:
                warehouse.execute(f"DROP TABLE {renderer.sql.ref(table.name)}")
                full = True
            warehouse.execute(renderer.sql.ddl(table))
        if full:
            for table in model.tables.values():
                warehouse.execute(f"DELETE FROM {renderer.sql.ref(table.name)}")
            warehouse.execute(f"DELETE FROM {STATE_TABLE}")
    return full


def _rollup_window(warehouse: Warehouse, renderer: TransformRenderer, table: TableIR) -> datetime | None:
    rollup = table.rollup
    assert rollup is not None
    newest = _as_datetime(_scalar(warehouse, f"SELECT MAX({rollup.period.column}) FROM {renderer.sql.ref(table.name)}"))
    if newest is None:
        return None
    return periods_before(newest, rollup.increment_offset, rollup.period.grain)


def periods_before(start: datetime, periods: int, grain: str) -> datetime:
    """The start of the period `periods` periods of `grain` before the one starting at `start`."""
    if grain != "month":
        return start - periods * GRAIN_STEP[grain]
    months = start.year * 12 + start.month - 1 - periods
    return start.replace(year=months // 12, month=months % 12 + 1)


def _transform_window(warehouse: Warehouse, renderer: TransformRenderer, table: TableIR,
                      upstream: list[datetime], previous_loaded_at: datetime | None) -> datetime | None:
    """Where an incremental build of the table starts, or None for a full build of it."""
    if table.spec.transform is None or table.spec.transform.incremental_column is None:
        return None
    column = _incremental_column(table)
    newest = _as_datetime(_scalar(warehouse, f"SELECT MAX({column}) FROM {renderer.sql.ref(table.name)}"))
    if newest is None:
        return None
    candidates = [_hour_floor(newest) - late_window(renderer.model)]
    candidates += upstream
    extra = renderer.extra_window(table, previous_loaded_at)
    if extra is not None:
        value = _as_datetime(_scalar(warehouse, extra))
        if value is not None:
            candidates.append(_hour_floor(value))
    return min(candidates)


def _rows_from(warehouse: Warehouse, renderer: TransformRenderer, table: TableIR, window: datetime) -> int:
    """Rows an incremental step rewrote: those at or after its window start."""
    bound: datetime | date = window
    if table.rollup is not None and table.rollup.period.grain == "day":
        bound = window.date()
    column = table.rollup.period.column if table.rollup is not None else _incremental_column(table)
    sql = f"SELECT COUNT(*) FROM {renderer.sql.ref(table.name)} WHERE {column} >= {renderer.literal(bound)}"
    return int(str(_scalar(warehouse, sql)))


def ensure_raw_data(warehouse: Warehouse) -> None:
    """WarehouseError unless some raw table holds rows: a build from nothing builds nothing."""
    create_raw_tables(warehouse)
    if raw_loaded_through(warehouse) is None:
        raise WarehouseError(f"no raw data to build from: the raw tables ({', '.join(sorted(RAW_TABLES))}) "
                             "are empty; load export files first: `lookwright load DIR`")


def _run(warehouse: Warehouse, statements: list[str]) -> None:
    with warehouse.transaction():
        for statement in statements:
            warehouse.execute(statement)


def build(
    warehouse: Warehouse,
    model: SemanticModel,
    *,
    full_refresh: bool = False,
    templates: Path | None = None,
    on_step: Callable[[str, int, int], None] = lambda table, done, total: None,
) -> BuildReport:
    """Build every model table; each step is one transaction, so a failure leaves earlier steps built.

    After the first build only rows at or after each table's watermark minus the late-data window
    (and whatever an upstream step rewrote) are recomputed; building twice changes nothing.
    """
    renderer = TransformRenderer(model, warehouse.dialect, templates)
    order = build_order(renderer)
    full = prepare(warehouse, renderer, full_refresh)
    _, previous_loaded_at = _previous_state(warehouse)
    seen_through = raw_loaded_through(warehouse)
    windows: dict[str, datetime | None] = {}
    rebuilt: set[str] = set()  # incremental tables that were rebuilt in full: what reads them must be too
    results: list[StepResult] = []
    for index, table in enumerate(order):
        on_step(table.name, index, len(order))
        started = time.perf_counter()
        if table.rollup is not None:
            window = None if full else _rollup_window(warehouse, renderer, table)
            statements = [s.strip() for s in renderer.sql.incremental(table).split(";") if s.strip()]
        else:
            depends = renderer.dependencies(table)
            upstream = [w for name in depends if (w := windows.get(name)) is not None]
            restarted = any(name in rebuilt for name in depends)
            window = None if full or restarted else _transform_window(
                warehouse, renderer, table, upstream, previous_loaded_at)
            statements = renderer.insert(table, window)
        _run(warehouse, statements)
        windows[table.name] = window
        rows = int(str(_scalar(warehouse, f"SELECT COUNT(*) FROM {renderer.sql.ref(table.name)}")))
        if window is None and _incremental(table) and rows > 0:  # still empty: nothing downstream changes
            rebuilt.add(table.name)
        written = rows if window is None else _rows_from(warehouse, renderer, table, window)
        mode = "full" if window is None else "incremental"
        results.append(StepResult(table.name, mode, window, rows, time.perf_counter() - started, written))
    on_step("", len(order), len(order))
    with warehouse.transaction():
        warehouse.execute(f"DELETE FROM {STATE_TABLE}")
        warehouse.execute(f"INSERT INTO {STATE_TABLE} VALUES (?)", [seen_through])
    return BuildReport(tuple(results), full)
