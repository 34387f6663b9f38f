"""`lookwright plan`: what one incremental build sends to BigQuery, what each statement scans, and
whether each partitioned table it touches is pruned to the window.

Offline, pruning is read from ZetaSQL's analysis of the exact statements the build would send
(`lookwright.sqlgen.pruning`); bytes and cost come only from real BigQuery dry runs and are
never guessed: `BigQueryWarehouse.dry_run` says None where the dry run reports none, or comes from an
emulator (a client without credentials; bqemulator reports 0 bytes for everything), and the plan says
"unknown" there. A regional or private endpoint reached with credentials is BigQuery: its bytes count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from lookwright.errors import WarehouseError
from lookwright.model.ir import SemanticModel, TableIR
from lookwright.sqlgen.dialects import TIMESTAMP_GRAINS
from lookwright.sqlgen.pruning import EPOCH, TableAccess, partition_access, scanned_tables
from lookwright.warehouse.build import (
    Loads,
    TransformRenderer,
    Watermark,
    build_order,
    day_aligned,
    late_window,
    loaded_through_sql,
    loads_sql,
    newest_sql,
    periods_before,
    watermark_statement,
)
from lookwright.warehouse.sources import RAW_TABLES
from lookwright.warehouse.sources.ledger import LEDGER
from lookwright.warehouse.sources.schema import RAW_PARTITIONS

TIB = 2**40
DEFAULT_PRICE_PER_TIB = 6.25  # USD, BigQuery on-demand (US multi-region)
LOWER_BOUNDS = (">=", "greater", "equal", "between", "in")


def prunes(access: TableAccess) -> bool:
    """Whether a read is bounded below on its partition column: a bound at the epoch (a read of every
    partition said so, which BigQuery's require_partition_filter accepts) prunes nothing."""
    return any(b.startswith(LOWER_BOUNDS) and not b.endswith(EPOCH) for b in access.bounds)


@dataclass(frozen=True)
class PlannedStatement:
    """One statement of an incremental build and what it touches."""

    table: str  # the model table the step builds
    sql: str
    accesses: tuple[TableAccess, ...]
    bytes_processed: int | None = None  # from a real dry run only
    error: str | None = None
    unpartitioned: tuple[str, ...] = ()  # tables read that are not partitioned: read whole, nothing to prune
    full_rebuild: bool = False  # the step rebuilds its table from everything on every build (a dimension)

    @property
    def unpruned(self) -> tuple[TableAccess, ...]:
        """Partitioned tables read with no lower bound on their partition column: every partition."""
        return tuple(a for a in self.accesses if not prunes(a))


@dataclass(frozen=True)
class Plan:
    window_start: datetime
    statements: tuple[PlannedStatement, ...]
    price_per_tib: float

    @property
    def partitions_from(self) -> date:
        return self.window_start.date()

    @property
    def unpruned(self) -> tuple[tuple[str, TableAccess], ...]:
        return tuple((s.table, a) for s in self.statements for a in s.unpruned)

    @property
    def unpruned_incremental(self) -> tuple[tuple[str, TableAccess], ...]:
        """Unpruned reads by incremental steps: pruning failures (a full rebuild reads everything on purpose)."""
        return tuple((s.table, a) for s in self.statements if not s.full_rebuild for a in s.unpruned)

    @property
    def bytes_processed(self) -> int | None:
        known = [s.bytes_processed for s in self.statements]
        return None if not known or any(b is None for b in known) else sum(b or 0 for b in known)

    def cost(self) -> float | None:
        total = self.bytes_processed
        return None if total is None else total / TIB * self.price_per_tib


def partition_columns(model: SemanticModel) -> dict[str, str]:
    """Every partitioned table's partition column: the model's tables and the raw tables."""
    columns = dict(RAW_PARTITIONS)
    for table in model.tables.values():
        partition = table.partition
        if partition is not None and partition.column is not None:
            columns[table.name] = partition.column
    return columns


def incremental_statements(model: SemanticModel, window_start: datetime,
                           templates: Path | None = None) -> list[tuple[str, str]]:
    """(table, statement) for every statement an incremental build from window_start sends: what the
    load ledger says was loaded since the previous build (an hour before), then per table its
    watermark read (from the window its previous step rewrote, taken to be this one), its late-data
    window (constants from the ledger), its DML and its watermark's record."""
    renderer = TransformRenderer(model, "bigquery", templates)
    previous = window_start - timedelta(hours=1)
    statements: list[tuple[str, str]] = [(LEDGER_STEP, loaded_through_sql(renderer.raw(LEDGER))),
                                         (LEDGER_STEP, loads_sql(renderer, renderer.literal(previous)))]
    loads: Loads = {name: (window_start, window_start + timedelta(hours=1)) for name in RAW_TABLES}
    for table in build_order(renderer):
        table_statements = _table_statements(renderer, table, window_start, loads, previous)
        extra = renderer.extra_window(table, previous, loads, window_start) if _is_incremental(table) else None
        if extra is not None:
            table_statements.insert(1, extra.strip())
        statements += [(table.name, sql) for sql in table_statements]
    return statements


LEDGER_STEP = "(load ledger)"  # what plan names the reads of the load ledger every build starts with


def _is_incremental(table: TableIR) -> bool:
    transform = table.transform
    return table.rollup is not None or (transform is not None and transform.incremental_column is not None)


def _table_statements(renderer: TransformRenderer, table: TableIR, window_start: datetime, loads: Loads,
                      previous: datetime) -> list[str]:
    if table.rollup is not None:
        start = periods_before(window_start, table.rollup.increment_offset, table.rollup.period.grain)
        window: datetime | date = start if table.rollup.period.grain in TIMESTAMP_GRAINS else start.date()
        keep = table.rollup.keep_periods
        expire = [] if keep is None else renderer.expire_statements(
            table, periods_before(window_start, 2 * keep, table.rollup.period.grain),
            periods_before(window_start, keep, table.rollup.period.grain))
        newest = newest_sql(renderer, table, table.rollup.period.column, start)
        kept = None if keep is None else periods_before(window_start, keep, table.rollup.period.grain)
        return [newest, *renderer.rollup_statements(table, window), *expire,
                watermark_statement(renderer, table, Watermark(start, kept))]
    if not _is_incremental(table):
        return renderer.insert(table, None, loads, previous)
    assert table.transform is not None and table.transform.incremental_column is not None
    window_start = day_aligned(table, window_start)
    return [newest_sql(renderer, table, table.transform.incremental_column, window_start),
            *renderer.insert(table, window_start), watermark_statement(renderer, table, Watermark(window_start))]


def plan_build(model: SemanticModel, now: datetime, warehouse: Any = None,
               price_per_tib: float = DEFAULT_PRICE_PER_TIB, templates: Path | None = None) -> Plan:
    """The plan of an incremental build run at `now` (window: the late-data window before its hour).

    With a BigQuery warehouse every statement is also dry-run there for its bytes.
    """
    from lookwright.sqlgen.analyzer import analyzer_for

    if warehouse is not None:
        model = warehouse.target(model)
    datasets = [f"{model.warehouse.project}.{model.warehouse.dataset}"]
    analyzer = analyzer_for(model, datasets)
    partitions = partition_columns(model)
    window_start = now.replace(minute=0, second=0, microsecond=0) - max(late_window(model), timedelta(hours=1))
    planned = []
    renderer = TransformRenderer(model, "bigquery", templates)
    rebuilt = {name for name, table in model.tables.items()  # the dimensions merging new loads are windowed
               if not _is_incremental(table) and not renderer.merges_new_loads(table)}
    for table, sql in incremental_statements(model, window_start, templates):
        resolved = analyzer.analyze(sql)
        accesses = tuple(partition_access(resolved, partitions))
        whole = tuple(name for name in scanned_tables(resolved) if name not in partitions)
        scanned, error = None, None
        if warehouse is not None and hasattr(warehouse, "dry_run"):
            try:
                scanned = warehouse.dry_run(sql)  # None where the dry run reports no bytes (an emulator)
            except WarehouseError as failure:
                error = str(failure)
        planned.append(PlannedStatement(table, sql, accesses, scanned, error, whole, table in rebuilt))
    return Plan(window_start, tuple(planned), price_per_tib)


@dataclass(frozen=True)
class PlannedQuery:
    """One declared query: the aggregate table (a Looker PDT) that serves it, or the raw explore,
    and what the raw explore's SQL reads (the one query compiler's BigQuery SQL, analysed by ZetaSQL)."""

    name: str
    explore: str
    served_by: str | None  # the aggregate table the matcher picks; None: Looker queries the raw explore
    pdt_pruned_by: tuple[str, ...]  # the query's filters on that table's partition_keys (Looker's PDT prunes)
    sql: str | None  # the raw explore's BigQuery SQL; None when the compiler cannot express the query
    accesses: tuple[TableAccess, ...]
    unpartitioned: tuple[str, ...]
    windows: tuple[tuple[str, datetime | None, datetime | None], ...]  # time filter -> [start, end)
    error: str | None = None
    bytes_processed: int | None = None  # from a real dry run only

    @property
    def unpruned(self) -> tuple[TableAccess, ...]:
        return tuple(a for a in self.accesses if not prunes(a))


def plan_queries(model: SemanticModel, project: Any, now: datetime, warehouse: Any = None) -> tuple[PlannedQuery, ...]:
    """Every declared query of the model (in name order) at `now`: served by which aggregate table,
    and what its raw explore reads, with the explore's always_filter defaults applied as Looker does."""
    from lookwright.checks.aggregates import check_queries
    from lookwright.lookml.filters import UnsupportedFilter, date_interval
    from lookwright.query.compile import QuerySpec, UnsupportedQuery, compile_query
    from lookwright.sqlgen.analyzer import AnalysisFailed, analyzer_for

    served = {result.name: result.used for result in check_queries(model, project).queries}
    if warehouse is not None:
        model = warehouse.target(model)
    analyzer = analyzer_for(model, [f"{model.warehouse.project}.{model.warehouse.dataset}"])
    partitions = partition_columns(model)
    planned = []
    for name, query in model.queries.items():
        explore = model.explores[query.explore]
        filters = {**dict(explore.always_filter), **query.filters}
        timezone = query.timezone or model.warehouse.timezone or "UTC"
        windows = []
        for field_name, value in sorted(filters.items()):
            try:
                interval = date_interval(value, now, timezone)
            except UnsupportedFilter:
                continue
            windows.append((field_name, interval.start, interval.end))
        used = served.get(name)
        keys = next((tuple(t.materialization.partition_keys or ()) for t in explore.aggregate_tables
                     if t.name == used), ())
        pruned_by = tuple(f for f in sorted(filters) if f.replace(".", "_") in keys)
        sql: str | None = None
        accesses: tuple[TableAccess, ...] = ()
        whole: tuple[str, ...] = ()
        error: str | None = None
        scanned: int | None = None
        try:
            sql = compile_query(model, QuerySpec(query.explore, tuple(query.fields), filters, query.timezone),
                                now, "bigquery").sql
            resolved = analyzer.analyze(sql)
            accesses = tuple(partition_access(resolved, partitions))
            whole = tuple(t for t in scanned_tables(resolved) if t not in partitions)
            if warehouse is not None and hasattr(warehouse, "dry_run"):
                scanned = warehouse.dry_run(sql)
        except (UnsupportedQuery, AnalysisFailed, WarehouseError) as failure:
            error = str(failure)
        planned.append(PlannedQuery(name, query.explore, used, pruned_by, sql, accesses, whole,
                                    tuple(windows), error, scanned))
    return tuple(planned)
