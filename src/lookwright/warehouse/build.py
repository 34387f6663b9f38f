"""Build every table of the semantic model on a warehouse, in dependency order, incrementally.

BigQuery's rules hold by construction, on DuckDB too:
- DDL never runs inside a BigQuery transaction: tables are created, columns added and options
  altered before any `BEGIN`; a full build writes every table into a new staging twin
  (`<table>__lw_next`) and swaps the twins in at one commit point. DuckDB swaps them all in one
  transaction (DROP + RENAME; its DDL is transactional). BigQuery's DDL is not, so its commit point
  is one DML transaction: it replaces the rows of every rebuilt table that keeps its layout by its
  twin's (DELETE + INSERT ... SELECT), records the new layouts and the build state, and lists in
  `lookwright_swap_pending` the tables that need a new table (a re-partition, a retyped, removed or
  reordered column), each put in place after it by one CREATE OR REPLACE TABLE ... AS SELECT from
  its twin (atomic per table: never missing; BigQuery creates no ingestion-time partitioned table
  AS SELECT, so such a change to one is refused before anything is written); a swap interrupted
  after the commit is finished by the next build, before anything else. Either way a rebuild that fails or is interrupted before
  its commit point leaves the previous tables as they were.
- the layout each table was given is recorded (warehouse/layout.py): changed retention, partition
  filter, description or clustering is applied in place (BigQuery: one tables.update, no job),
  and a changed partitioning, a removed column or a retyped one gets a new table, staged and
  swapped in like a rebuild, the kept columns' history copied into it (cast where lossless);
- every DELETE has a WHERE clause;
- the rows a table holds after its step (`StepResult.rows`) are the warehouse's own count
  (`Warehouse.row_count`): BigQuery's table metadata (numRows: no job, no bytes; a COUNT(*)
  would read the partition column of every partition), DuckDB's COUNT(*);
- every window is computed first (one small query) and bound as a constant, so each statement
  filters the partition column of what it reads and writes with a constant and BigQuery prunes;
  the windows themselves read no partition they do not rewrite: each table's newest row is read
  from the window its last step rewrote (lookwright_watermarks), and what arrived since the previous
  build, late data included, comes from the load ledger (sources/ledger.py), as constants; the
  dimensions whose attributes are functions of their key merge only the raw partitions those
  loads touched; the three whose attributes are functions of every raw row (dim_service's most
  frequent tags and MIN language, dim_region's measured cost multiplier, dim_resource's latest
  cost line) merge from their daily profiles (semantic/profiles.yml, `lookml: false`): per member
  and day the state that merges exactly (MIN, any, counts, exact BIGNUMERIC partial sums, the
  day's first line in the dimension's order), each profile reading one source and incremental by
  day like any table (its window: its newest day and every day the loads since the previous
  build touched, from the ledger; every load day of the SLO documents after an SLO load, as they
  have no event time), so no step reads a raw partition outside the loads' days and
  the dimensions equal what they would be over every raw row;
- history is never lost: a full build keeps the rows of an incremental table that are older than
  anything its sources still hold (the 730- and 3,650-day rollups outlive the 90-day facts), and a
  dimension is merged by primary key, never emptied: a member whose raw rows expired stays (with its
  last attributes), so the long-retention rollups holding its key still join; members are never
  deleted (which are unreferenced would take a scan of every referencing table's whole history).

Not atomic across tables: each step commits on its own; a rebuild's tables switch at its commit
point, except, on BigQuery, those needing a new table, each replaced after it, one table at a time
(ARCHITECTURE.md, "What a reader sees during a build").
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import jinja2

from lookwright.errors import InputError, WarehouseError
from lookwright.model.ir import SemanticModel, TableIR
from lookwright.paths import DEFAULT_TEMPLATES
from lookwright.sqlgen.dialects import TIMESTAMP_GRAINS
from lookwright.sqlgen.render import (
    SqlRenderer,
    every_partition,
    partition_column,
    quantile_function_sql,
    read_all,
)
from lookwright.warehouse.base import Params, TypedNull, Warehouse, naive_utc
from lookwright.warehouse.layout import (
    LAYOUT_COLUMNS,
    LAYOUT_TABLE,
    LOSSY_HINT,
    Layout,
    LayoutChange,
    diff,
    fingerprint,
    kept_column,
    lossy,
    model_layout,
    unrecorded_layout,
)
from lookwright.warehouse.sources import RAW_TABLES, create_raw_tables
from lookwright.warehouse.sources.ledger import BASELINE, DATE_COLUMNS, LEDGER, event_column

STATE_TABLE = "lookwright_build_state"
STATE_COLUMNS = (("raw_loaded_through", "TIMESTAMP"),)
TABLE_STATE = "lookwright_table_state"  # what each `build --table` run of one table has seen
TABLE_STATE_COLUMNS = (("table_name", "STRING"), ("raw_loaded_through", "TIMESTAMP"))
SWAP_TABLE = "lookwright_swap_pending"  # BigQuery: twins of a committed rebuild still to be swapped in
SWAP_COLUMNS = (("table_name", "STRING"), ("replace_table", "BOOL"))
# Each incremental table's last step: the window it rewrote (its newest row is read from there on,
# which prunes; no row there, or no record: every partition, once) and, for a keep_periods rollup,
# the first period it kept (every older row was deleted). Recorded in the step's own transaction;
# forgotten for the tables a rebuild replaces (at its commit point).
WATERMARKS = "lookwright_watermarks"
WATERMARK_COLUMNS = (("table_name", "STRING"), ("window_start", "TIMESTAMP"), ("kept_from", "TIMESTAMP"))
GRAIN_STEP = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1),
              "week": timedelta(weeks=1)}
NEXT = "__lw_next"  # suffix of the staging twin a full build writes into
EPOCH = datetime(1970, 1, 1)


# raw table -> the first and last event time the loads since a moment touched (rows loaded or replaced)
Loads = dict[str, tuple[datetime | None, datetime | None]]


@dataclass(frozen=True)
class StepResult:
    """One table built: how (full or incremental from window_start), its rows after, and how long."""

    table: str
    mode: str  # full | incremental
    window_start: datetime | None
    rows: int  # in the table after the step
    seconds: float
    rows_written: int | None = None  # by this step, when incremental: the rows from window_start on


@dataclass(frozen=True)
class BuildReport:
    """Every step of one build, in the order they ran."""

    steps: tuple[StepResult, ...]
    full_refresh: bool  # every table was rebuilt (a first build, a requested full refresh)
    rebuilt: tuple[str, ...] = ()  # the tables rebuilt in full into twins and swapped in, in build order

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
        self.touched_reads: list[str] = []  # raw tables read through `touched` by the last render

    def merges_new_loads(self, table: TableIR) -> bool:
        """A dimension whose template reads only what the new loads touched (`touched`): its
        attributes are functions of its key, so merging the new members is the whole update."""
        if not merges_members(table) or table.transform is None:
            return False
        self.touched_reads = []
        self.transform(table, None, {}, EPOCH)
        return bool(self.touched_reads)

    def raw(self, name: str) -> str:
        """A raw (loader-owned) table, qualified like the model's tables."""
        warehouse = self.model.warehouse
        return self.dialect.table(f"{warehouse.project}.{warehouse.dataset}.{name}", name)

    def literal(self, value: datetime | date) -> str:
        """A TIMESTAMP (UTC) or DATE constant."""
        if isinstance(value, datetime):
            zone = "+00" if self.dialect.name == "bigquery" else ""
            return f"TIMESTAMP '{value.isoformat(sep=' ')}{zone}'"
        return f"DATE '{value:%Y-%m-%d}'"

    def own(self, name: str) -> str:
        """The model table itself, never its staging twin."""
        table = self.model.tables[name]
        return self.dialect.table(table.table_id, table.name)

    def all_partitions(self, table: TableIR, alias: str = "") -> str:
        """A predicate on the partition column that keeps every row: reads that mean to scan the
        whole table say so, and pass `require_partition_filter`."""
        return every_partition(table, self.dialect, alias) or "TRUE"

    def read_all(self, name: str) -> str:
        """A model table in a FROM clause, read whole (a subquery saying so, where one is required)."""
        return read_all(self.model.tables[name], self.sql.ref(name), self.dialect)

    def _context(self, table: TableIR, window_start: datetime | None, previous_loaded_at: datetime | None,
                 loads: Loads | None = None, recorded: datetime | None = None,
                 new_loads: Loads | None = None) -> dict[str, object]:
        null = f"CAST(NULL AS {self.dialect.column_type('TIMESTAMP')})"

        def loaded_from(raw_table: str) -> str:
            """The first hour of the rows loaded into a raw table since previous_loaded_at (NULL: none):
            a constant from the load ledger, or, without one, a read of the raw table. A table
            partitioned by its load time (the SLO documents) has no event time: a reload deletes the
            file's earlier rows from whichever load day they are in, so any load since means every
            partition (the epoch)."""
            by_load = event_column(raw_table) == "loaded_at"
            if loads is not None:
                first = loads.get(raw_table, (None, None))[0]
                if by_load and raw_table in loads:
                    return self.literal(EPOCH)
                return null if first is None else self.literal(_hour_floor(first))
            hour = self.dialect.trunc(f"CAST({event_column(raw_table)} AS {self.dialect.column_type('TIMESTAMP')})",
                                      "hour")
            if by_load:
                hour = self.literal(EPOCH)
            since = self.literal(previous_loaded_at or EPOCH)
            return f"(SELECT MIN({hour}) FROM {self.raw(raw_table)} WHERE loaded_at > {since})"

        def since_recorded(column: str) -> str:
            """The table's own rows from the window its last step rewrote (every partition: unknown)."""
            return (self.all_partitions(table) if recorded is None
                    else self.window_predicate(table, column, recorded))

        def touched(raw_table: str, alias: str = "") -> str:
            """A dimension merged from the new loads only (`new_loads_only`): the raw table's partitions
            the loads since the previous build touched, as constants (none: an empty range)."""
            self.touched_reads.append(raw_table)
            column = f"{alias}.{event_column(raw_table)}" if alias else event_column(raw_table)
            first, last = (new_loads or {}).get(raw_table, (None, None))
            as_date = event_column(raw_table) in DATE_COLUMNS
            if first is None or last is None:
                empty = self.literal((previous_loaded_at or EPOCH).date() if as_date else previous_loaded_at or EPOCH)
                return f"{column} >= {empty} AND {column} < {empty}"
            low, high = (self.literal(v.date() if as_date else v) for v in (first, last))
            return f"{column} >= {low} AND {column} <= {high}"

        return {
            "table": table, "ref": self.sql.ref, "raw": self.raw,
            "every_partition": lambda name, alias="": self.all_partitions(self.model.tables[name], alias),
            "window_start": None if window_start is None else self.literal(window_start),
            "previous_loaded_at": None if previous_loaded_at is None else self.literal(previous_loaded_at),
            "loaded_from": loaded_from, "since_recorded": since_recorded,
            "new_loads_only": new_loads is not None, "touched": touched,
        }

    def transform(self, table: TableIR, window_start: datetime | None = None, new_loads: Loads | None = None,
                  previous_loaded_at: datetime | None = None) -> str:
        """The SELECT producing the table's rows (at or after window_start when given; a dimension's
        from the raw partitions `new_loads` touched since previous_loaded_at, where its template says so)."""
        spec = table.transform
        if spec is None:
            raise InputError(f"table {table.name} has neither a transform nor a rollup")
        return self.sql.render(spec.template, **self._context(table, window_start, previous_loaded_at,
                                                              new_loads=new_loads))

    def window_template(self, table: TableIR) -> str | None:
        spec = table.transform
        if spec is None:
            return None
        name = spec.template.removesuffix(".sql.j2") + ".window.sql.j2"
        try:
            self.sql.env.get_template(name)
        except jinja2.TemplateNotFound:
            return None
        return name

    def extra_window(self, table: TableIR, previous_loaded_at: datetime | None, loads: Loads | None = None,
                     recorded: datetime | None = None) -> str | None:
        """The table's own window query (one row, column window_start), if it declares one: with the
        load ledger's `loads` since previous_loaded_at (constants), and reading the table itself from
        `recorded` on (the window its last step rewrote) when known."""
        name = self.window_template(table)
        if name is None:
            return None
        return self.sql.render(name, **self._context(table, None, previous_loaded_at, loads, recorded))

    def insert_all(self, table: TableIR, window_start: datetime | None = None) -> str:
        """The INSERT of the table's transformed rows (from window_start on when given, unfiltered)."""
        columns = ", ".join(c.name for c in table.columns)
        select = self.transform(table, window_start).strip()
        return f"INSERT INTO {self.sql.ref(table.name)} ({columns})\nSELECT {columns} FROM (\n{select}\n) AS transformed"

    def insert(self, table: TableIR, window_start: datetime | None, new_loads: Loads | None = None,
               previous_loaded_at: datetime | None = None) -> list[str]:
        """Statements replacing the table's rows from window_start on (all rows when None).

        A dimension is merged instead (see `merge`): its members outlive the raw rows they came from;
        with `new_loads` (the ledger's since previous_loaded_at), from what those loads touched.
        """
        target = self.sql.ref(table.name)
        if window_start is None and merges_members(table):
            return [self.merge(table, new_loads, previous_loaded_at)]
        insert = self.insert_all(table, window_start)
        if window_start is None:
            return [f"DELETE FROM {target} WHERE {self.all_partitions(table)}", insert]
        where = self.window_predicate(table, _incremental_column(table), window_start)
        return [f"DELETE FROM {target} WHERE {where}", f"{insert}\nWHERE {where}"]

    def merge(self, table: TableIR, new_loads: Loads | None = None, previous_loaded_at: datetime | None = None) -> str:
        """One MERGE of a dimension's transformed rows into it, by its primary key: a new member is
        inserted, a member the sources still describe gets their attributes, and a member they no
        longer mention (its raw rows expired) is kept as it was, so the long-retention rollups that
        hold its key still join. No DELETE, no DDL: valid in a BigQuery transaction."""
        keys = table.primary_key
        columns = [c.name for c in table.columns]
        attributes = [name for name in columns if name not in keys]
        select = self.transform(table, None, new_loads, previous_loaded_at).strip()
        on = " AND ".join(f"dim.{key} = fresh.{key}" for key in keys)
        lines = [f"MERGE INTO {self.sql.ref(table.name)} AS dim",
                 f"USING (\nSELECT {', '.join(columns)} FROM (\n{select}\n) AS transformed\n) AS fresh",
                 f"ON {on}"]
        if attributes:
            lines.append("WHEN MATCHED THEN UPDATE SET " + ", ".join(f"{name} = fresh.{name}" for name in attributes))
        lines.append(f"WHEN NOT MATCHED THEN INSERT ({', '.join(columns)})"
                     f" VALUES ({', '.join(f'fresh.{name}' for name in columns)})")
        return "\n".join(lines)

    def window_predicate(self, table: TableIR, column: str, window_start: datetime | date) -> str:
        """`column >= window` and, when the table is partitioned by another column, that one too."""
        kind = table.column(column).type
        start = window_start.date() if kind == "DATE" and isinstance(window_start, datetime) else window_start
        parts = [f"{column} >= {self.literal(start)}"]
        partition = _partition_column(table)
        if partition is not None and partition != column:
            floor = window_start if isinstance(window_start, datetime) else datetime.combine(window_start, datetime.min.time())
            if table.column(partition).type == "DATE":
                parts.append(f"{partition} >= {self.literal(floor.date())}")
            else:
                parts.append(f"{partition} >= {self.literal(floor.replace(hour=0))}")
        return " AND ".join(parts)

    def rollup_statements(self, table: TableIR, window: datetime | date) -> list[str]:
        """The incremental statements of a rollup from `window` (its period type), bound as constants."""
        rollup = table.rollup
        assert rollup is not None
        start = datetime.combine(window, datetime.min.time()) if not isinstance(window, datetime) else window
        target_bound = self.literal(window)
        source = self.model.tables[rollup.source]
        source_is_date = source.column(rollup.period.source).type == "DATE"
        source_bound = self.literal(start.date() if source_is_date else start)
        sql = self.sql.incremental(table, window=target_bound, source_window=source_bound)
        return [s.strip() for s in sql.split(";") if s.strip()]

    def rollup_full(self, table: TableIR, floor: datetime | None = None) -> str:
        """INSERT of every period of a rollup from its whole source (from `floor` on when given)."""
        columns = ", ".join(c.name for c in table.columns)
        bound = None if floor is None else self.literal(floor)
        select = self.sql.rollup_select(table, windowed=floor is not None, source_window=bound).strip()
        return f"INSERT INTO {self.sql.ref(table.name)} ({columns})\n{select}"

    def expire_statements(self, table: TableIR, oldest: datetime, floor: datetime) -> list[str]:
        """A keep_periods rollup (minute or hour periods): the DELETE of its rows from `oldest` to before `floor`."""
        if table.rollup is None or table.rollup.keep_periods is None or oldest >= floor:
            return []
        return [self.sql.expire(table, self.literal(oldest), self.literal(floor)).strip()]

    def definition(self, table: TableIR) -> str:
        """The SQL a full build of the table runs (its rows' definition), rendered for its own name."""
        return self.rollup_full(table) if table.rollup is not None else self.insert_all(table)

    def layout(self, table: TableIR) -> Layout:
        """The layout the model gives the table, with the fingerprint of its definition."""
        return model_layout(table, fingerprint(self.definition(table)))

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

        spec = table.transform
        assert spec is not None
        context = self._context(table, datetime(1970, 1, 1), datetime(1970, 1, 1))
        context["ref"] = recording_ref
        self.sql.render(spec.template, **context)
        if self.window_template(table) is not None:
            self.sql.render(str(self.window_template(table)), **context)
        return tuple(seen)


def _partition_column(table: TableIR) -> str | None:
    return partition_column(table)


def _incremental(table: TableIR) -> bool:
    transform = table.transform
    return table.rollup is not None or (transform is not None and transform.incremental_column is not None)


def merges_members(table: TableIR) -> bool:
    """A dimension built in full from its sources, merged into by primary key (members are never deleted)."""
    return table.kind == "dimension" and bool(table.primary_key) and not _incremental(table)


def _keeps_periods(table: TableIR) -> bool:
    return table.rollup is not None and table.rollup.keep_periods is not None


def _incremental_column(table: TableIR) -> str:
    spec = table.transform
    assert spec is not None and spec.incremental_column is not None
    return spec.incremental_column


def _time_column(table: TableIR) -> str:
    """The column an incremental table's windows are on: the rollup period or the incremental column."""
    return table.rollup.period.column if table.rollup is not None else _incremental_column(table)


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


def _scalar(warehouse: Warehouse, sql: str) -> object:
    rows = warehouse.query(sql)
    return rows[0][0] if rows else None


def _hour_floor(value: datetime) -> datetime:
    return value.replace(minute=0, second=0, microsecond=0)


def raw_loaded_through(warehouse: Warehouse, renderer: TransformRenderer | None = None) -> datetime | None:
    """The newest load into any raw table: what this build has seen. From the load ledger (its
    baseline counts the loads before it); without one, the newest loaded_at of every raw table."""
    name = renderer.raw if renderer is not None else (lambda table: table)
    if warehouse.table_exists(LEDGER):
        return naive_utc(_scalar(warehouse, loaded_through_sql(name(LEDGER))))
    parts = " UNION ALL ".join(f"SELECT MAX(loaded_at) AS t FROM {name(table)}" for table in sorted(RAW_TABLES))
    return naive_utc(_scalar(warehouse, f"SELECT MAX(t) FROM ({parts}) AS loads"))


def loaded_through_sql(ledger: str) -> str:
    return f"SELECT MAX(loaded_at) FROM {ledger}"


def loads_sql(renderer: TransformRenderer, since: str = "?") -> str:
    """The ledger's loads after `since` (a parameter), per raw table, and its baseline."""
    return (f"SELECT raw_table, MIN(first_event), MAX(last_event), MAX(loaded_at) FROM {renderer.raw(LEDGER)}"
            f" WHERE loaded_at > {since} OR raw_table = '{BASELINE}' GROUP BY raw_table")


def _ledger_loads(warehouse: Warehouse, renderer: TransformRenderer, since: datetime | None,
                  cache: dict[datetime, Loads | None]) -> Loads | None:
    """raw table -> the first event time of the rows loaded since `since`, from the load ledger; None
    when it cannot tell: no ledger, or loads before it (its baseline) that `since` has not seen."""
    if since is None:
        return None
    if since not in cache:
        cache[since] = None
        if warehouse.table_exists(LEDGER):
            rows = warehouse.query(loads_sql(renderer), [since])
            baseline = next((naive_utc(at) for table, _, _, at in rows if table == BASELINE), None)
            if baseline is None or baseline <= since:
                cache[since] = {str(table): (naive_utc(first), naive_utc(last))
                                for table, first, last, _ in rows if table != BASELINE}
    return cache[since]


def _previous_state(warehouse: Warehouse, renderer: TransformRenderer) -> tuple[bool, datetime | None]:
    rows = warehouse.query(f"SELECT raw_loaded_through FROM {renderer.raw(STATE_TABLE)}")
    return (bool(rows), naive_utc(rows[0][0]) if rows else None)


def _meta_ddl(renderer: TransformRenderer, name: str, columns: tuple[tuple[str, str], ...]) -> str:
    listed = ", ".join(f"{column} {renderer.dialect.column_type(kind)}" for column, kind in columns)
    return f"CREATE TABLE IF NOT EXISTS {renderer.raw(name)} ({listed})"


def state_ddl(renderer: TransformRenderer) -> str:
    return _meta_ddl(renderer, STATE_TABLE, STATE_COLUMNS)


def recorded_layouts(warehouse: Warehouse, renderer: TransformRenderer) -> dict[str, Layout]:
    """The layout lookwright last gave each table, by table name."""
    rows = warehouse.query(f"SELECT table_name, layout FROM {renderer.raw(LAYOUT_TABLE)}")
    return {str(name): Layout.from_json(str(text)) for name, text in rows}


def _record_statements(renderer: TransformRenderer, tables: list[TableIR]) -> list[tuple[str, Params]]:
    """DML replacing the recorded layouts of the tables by the model's."""
    if not tables:
        return []
    target = renderer.raw(LAYOUT_TABLE)
    names = [t.name for t in tables]
    values: list[object] = []
    for table in tables:
        values += [table.name, renderer.layout(table).to_json()]
    marks = ", ".join("?" for _ in names)
    rows = ", ".join("(?, ?)" for _ in names)
    return [(f"DELETE FROM {target} WHERE table_name IN ({marks})", names),
            (f"INSERT INTO {target} (table_name, layout) VALUES {rows}", values)]


def _lossy_retypes(table: TableIR, change: LayoutChange) -> list[str]:
    """The retyped columns of the table whose history cannot be converted."""
    if not _incremental(table) and not merges_members(table):
        return []  # rebuilt from its sources: no history to convert
    return [problem for column, old, new in change.retyped
            if (problem := lossy(table.name, column, old, new)) is not None]


PARTITION_EXPRESSION = ("https://cloud.google.com/bigquery/docs/reference/standard-sql/"
                        "data-definition-language#partition_expression")
INGESTION_HINT = ("partition it by a column (`partition: {column: ...}`), or keep its partitioning and its"
                  " columns' types and order (a column added at the end is added in place)")


def ingestion_replacement(table: TableIR, change: LayoutChange | None) -> str | None:
    """Why BigQuery cannot put the table's twin in its place, or None when it can.

    BigQuery's DDL reference (PARTITION_EXPRESSION): `_PARTITIONDATE`, `DATE(_PARTITIONTIME)` and
    `TIMESTAMP_TRUNC(_PARTITIONTIME, ...)` "cannot be used with the AS query_statement clause", so
    an ingestion-time partitioned table cannot be the CREATE OR REPLACE TABLE ... AS SELECT a
    change needing a new table ends in (`_replace_statement`); creating it empty and inserting
    after would leave readers an empty table in between. Neither ZetaSQL (which knows no
    pseudo-column) nor the emulator (which accepts it) says so.
    """
    partition = table.partition
    if not _new_table(change) or partition is None or not partition.ingestion:
        return None
    assert change is not None
    what = [*(f"{c} retyped" for c, _, _ in change.retyped), *(f"{c} removed" for c in change.removed)]
    why = "its partitioning changed" if change.repartitioned else f"its columns changed ({', '.join(what or ['reordered'])})"
    return (f"table {table.name}: {why}, which takes a new table, and BigQuery fills no ingestion-time"
            " partitioned table from a query: PARTITION BY _PARTITIONDATE or TIMESTAMP_TRUNC(_PARTITIONTIME, ...)"
            f" \"cannot be used with the AS query_statement clause\" ({PARTITION_EXPRESSION})")


def prepare(warehouse: Warehouse, renderer: TransformRenderer) -> dict[str, LayoutChange]:
    """Create what is missing, finish an interrupted swap, and apply in place what can be, outside any transaction.

    Returns every existing table whose layout differs from the model's. Added columns are added
    in place; changed options and clustering are applied in place (and recorded); tables whose
    columns or definition changed, or that need a new table, are for the build to rebuild (keeping
    their history), with what reads them.
    """
    create_raw_tables(warehouse)
    warehouse.execute(state_ddl(renderer))
    warehouse.execute(_meta_ddl(renderer, WATERMARKS, WATERMARK_COLUMNS))
    function = quantile_function_sql(renderer.model, warehouse.dialect)
    if function is not None:  # persistent, in the model's dataset: a TEMP FUNCTION lasts one query
        warehouse.execute(function)
    warehouse.execute(_meta_ddl(renderer, LAYOUT_TABLE, LAYOUT_COLUMNS))
    if not warehouse.transactional_ddl:
        warehouse.execute(_meta_ddl(renderer, SWAP_TABLE, SWAP_COLUMNS))
        _finish_swap(warehouse, renderer)
    recorded = recorded_layouts(warehouse, renderer)
    changes: dict[str, LayoutChange] = {}
    applied: list[TableIR] = []
    problems: list[str] = []
    ingestion: list[str] = []  # BigQuery: ingestion-time partitioned tables that would need a new table
    for table in renderer.model.tables.values():
        if warehouse.table_exists(table.name + NEXT):  # left over by a failed or interrupted rebuild
            warehouse.execute(f"DROP TABLE {_twin(renderer, table)}")
        if not warehouse.table_exists(table.name):
            warehouse.execute(renderer.sql.ddl(table))
            applied.append(table)
            continue
        have = warehouse.columns(table.name)
        layout = recorded.get(table.name) or unrecorded_layout(table, have)
        change = diff(table.name, layout, renderer.layout(table))
        if not change.any:
            if table.name not in recorded or not layout.definition:  # record what was never recorded
                applied.append(table)
            continue
        changes[table.name] = change
        problems += _lossy_retypes(table, change)
        refused = None if warehouse.transactional_ddl else ingestion_replacement(table, change)
        if refused is not None:
            ingestion.append(refused)
    if problems or ingestion:
        hints = ([LOSSY_HINT] if problems else []) + ([INGESTION_HINT] if ingestion else [])
        raise WarehouseError("\n".join([*problems, *ingestion, f"nothing was changed; {'; or '.join(hints)}"]))
    for name, change in changes.items():
        table = renderer.model.tables[name]
        have = warehouse.columns(name)
        for column in table.columns:
            if column.name in change.added and column.name not in have and not change.needs_new_table:
                kind = renderer.dialect.column_type(column.type)  # added in place; older rows read NULL until rebuilt
                warehouse.execute(f"ALTER TABLE {renderer.own(name)} ADD COLUMN {column.name} {kind}")
        if change.needs_new_table:
            continue  # the new table gets the model's options and clustering with its DDL
        if change.options or change.reclustered:
            warehouse.update_layout(name, model_layout(table))
        if not change.rebuilds:  # a rebuilt table's layout is recorded at its swap's commit point
            applied.append(table)
    _run_with(warehouse, _record_statements(renderer, applied))
    return changes


def _finish_swap(warehouse: Warehouse, renderer: TransformRenderer) -> None:
    """Swap in the twins of a rebuild that committed but whose swap was interrupted."""
    rows = warehouse.query(f"SELECT table_name, replace_table FROM {renderer.raw(SWAP_TABLE)}")
    if rows:
        _swap_in(warehouse, renderer, [(str(name), bool(replace)) for name, replace in rows
                                       if str(name) in renderer.model.tables])


def _swap_in(warehouse: Warehouse, renderer: TransformRenderer, pending: list[tuple[str, bool]]) -> None:
    """Replace each table by its twin in one atomic DDL statement and drop the twin; then clear the journal.

    A statement that fails or times out leaves the previous table as it was and the journal
    entry pending: the next build runs it again (the same rows from the same twin)."""
    for name, _replace in pending:  # `_swap` journals only tables needing a new table; an older entry works alike
        table = renderer.model.tables[name]
        if not warehouse.table_exists(name + NEXT):
            continue  # swapped in before the interruption
        warehouse.execute(_replace_statement(renderer, table))
        warehouse.execute(f"DROP TABLE {_twin(renderer, table)}")
    _run(warehouse, [f"DELETE FROM {renderer.raw(SWAP_TABLE)} WHERE TRUE"])


CREATE_HEAD = "CREATE TABLE IF NOT EXISTS "


def _replace_statement(renderer: TransformRenderer, table: TableIR) -> str:
    """`CREATE OR REPLACE TABLE <table> (<columns>) PARTITION BY ... AS SELECT ... FROM <twin>`.

    BigQuery's way to give a table a new partitioning or new column types: one statement, atomic
    for the table (a reader sees the old table or the new, never none). The layout is the table's
    own DDL (create_table.sql.j2, as the twin got it); the twin is read once (billed). An
    ingestion-time partitioned table cannot be (`ingestion_replacement`; `prepare` refuses first)."""
    partition = table.partition
    if partition is not None and partition.ingestion:
        raise WarehouseError(f"table {table.name}: BigQuery fills no ingestion-time partitioned table from a query"
                             f" (CREATE OR REPLACE TABLE ... AS SELECT; {PARTITION_EXPRESSION}); {INGESTION_HINT}")
    ddl = renderer.sql.render("create_table.sql.j2", table=table, ref=renderer.own(table.name)).strip()
    if not ddl.startswith(CREATE_HEAD):
        path = renderer.sql.env.get_template("create_table.sql.j2").filename
        raise InputError(f"{path}:1: table {table.name}'s DDL starts with {(ddl.splitlines() or [''])[0]!r};"
                         f" hint: begin it with '{CREATE_HEAD}{{{{ ref }}}}', which a rebuild turns into"
                         " CREATE OR REPLACE TABLE to put a re-partitioned table in place")
    columns = ", ".join(c.name for c in table.columns)
    select = f"AS SELECT {columns} FROM {_twin(renderer, table)}"
    if table.require_partition_filter:
        select += f"\nWHERE {renderer.all_partitions(table)}"
    return f"CREATE OR REPLACE TABLE {ddl.removeprefix(CREATE_HEAD)}\n{select}"


def _twin(renderer: TransformRenderer, table: TableIR) -> str:
    project_dataset = table.table_id.rpartition(".")[0]
    return renderer.dialect.table(f"{project_dataset}.{table.name}{NEXT}", table.name + NEXT)


@dataclass(frozen=True)
class Watermark:
    """What a table's last incremental step recorded (lookwright_watermarks)."""

    window_start: datetime | None  # the window it rewrote (None: it was built in full)
    kept_from: datetime | None = None  # a keep_periods rollup: the first period it kept


def _watermarks(warehouse: Warehouse, renderer: TransformRenderer) -> dict[str, Watermark]:
    """Every table's recorded watermark (none on a warehouse built before they were recorded)."""
    if not warehouse.table_exists(WATERMARKS):
        return {}
    rows = warehouse.query(f"SELECT table_name, window_start, kept_from FROM {renderer.raw(WATERMARKS)}")
    return {str(name): Watermark(naive_utc(start), naive_utc(kept)) for name, start, kept in rows}


def watermark_statement(renderer: TransformRenderer, table: TableIR, mark: Watermark) -> str:
    """The MERGE recording a table's step in the step's own transaction (constants only)."""
    null = f"CAST(NULL AS {renderer.dialect.column_type('TIMESTAMP')})"
    name = "'" + table.name.replace("'", "''") + "'"
    window, kept = (null if v is None else renderer.literal(v) for v in (mark.window_start, mark.kept_from))
    return "\n".join([
        f"MERGE INTO {renderer.raw(WATERMARKS)} AS mark",
        f"USING (SELECT {name} AS table_name, {window} AS window_start, {kept} AS kept_from) AS step",
        "ON mark.table_name = step.table_name",
        "WHEN MATCHED THEN UPDATE SET window_start = step.window_start, kept_from = step.kept_from",
        ("WHEN NOT MATCHED THEN INSERT (table_name, window_start, kept_from)"
         " VALUES (step.table_name, step.window_start, step.kept_from)")])


def newest_sql(renderer: TransformRenderer, table: TableIR, column: str, since: datetime | None) -> str:
    """The newest value of the table's column, read from `since` on (None: over every partition)."""
    where = renderer.all_partitions(table) if since is None else renderer.window_predicate(table, column, since)
    return f"SELECT MAX({column}) FROM {renderer.own(table.name)} WHERE {where}"


def _newest(warehouse: Warehouse, renderer: TransformRenderer, table: TableIR, column: str,
            mark: Watermark | None) -> tuple[datetime | None, bool]:
    """The column's newest value and whether the recorded window found it: read from the window the
    table's last step rewrote (its newest row is there: the read prunes to it), else, once, over
    every partition (no record, or the table changed since: restored, rebuilt from less)."""
    if mark is not None and mark.window_start is not None:
        found = naive_utc(_scalar(warehouse, newest_sql(renderer, table, column, mark.window_start)))
        if found is not None:
            return found, True
    return naive_utc(_scalar(warehouse, newest_sql(renderer, table, column, None))), False


def _rollup_window(warehouse: Warehouse, renderer: TransformRenderer, table: TableIR,
                   mark: Watermark | None = None) -> datetime | date | None:
    assert table.rollup is not None
    return _rollup_start(table, _newest(warehouse, renderer, table, table.rollup.period.column, mark)[0])


def _rollup_start(table: TableIR, newest: datetime | None) -> datetime | date | None:
    """The first period a rollup's incremental step recomputes, from its newest period."""
    rollup = table.rollup
    assert rollup is not None
    if newest is None:
        return None
    start = periods_before(newest, rollup.increment_offset, rollup.period.grain)
    return start if rollup.period.grain in TIMESTAMP_GRAINS else start.date()


def _rollup_step(warehouse: Warehouse, renderer: TransformRenderer, table: TableIR,
                 mark: Watermark | None = None) -> tuple[list[str], Watermark]:
    """An incremental rollup step: its statements and its watermark (window None: in full). A
    keep_periods rollup recomputes nothing older than its floor and deletes its rows from
    the oldest to the floor (the oldest: the floor its last step kept, when recorded)."""
    rollup = table.rollup
    assert rollup is not None
    newest, recorded = _newest(warehouse, renderer, table, rollup.period.column, mark)
    period = _rollup_start(table, newest)
    floor = keep_floor(warehouse, renderer, table, _as_window(period))
    if floor is not None and period is not None:
        period = max(_as_window(period) or floor, floor)  # nothing older than floor is kept
    statements = ([renderer.rollup_full(table, floor)] if period is None
                  else renderer.rollup_statements(table, period))
    if floor is not None:
        column = rollup.period.column
        oldest = (mark.kept_from if recorded and mark is not None and mark.kept_from is not None
                  else naive_utc(_scalar(warehouse, f"SELECT MIN({column}) FROM {renderer.own(table.name)}"
                                                       f" WHERE {renderer.all_partitions(table)}")))
        statements += [] if oldest is None else renderer.expire_statements(table, oldest, floor)
    return statements, Watermark(_as_window(period), floor)


def keep_floor(warehouse: Warehouse, renderer: TransformRenderer, table: TableIR,
               since: datetime | None = None) -> datetime | None:
    """A keep_periods rollup: the first period it keeps, counted back from the source's newest
    period (read at or after `since` when given, so the read prunes); None for an empty source."""
    rollup = table.rollup
    if rollup is None or rollup.keep_periods is None:
        return None
    source = renderer.model.tables[rollup.source]
    where = (renderer.all_partitions(source) if since is None
             else renderer.window_predicate(source, rollup.period.source, since))
    period = renderer.dialect.trunc(rollup.period.source, rollup.period.grain)
    newest = naive_utc(_scalar(warehouse, f"SELECT MAX({period}) FROM {renderer.sql.ref(source.name)}"
                                             f" WHERE {where}"))
    return None if newest is None else periods_before(newest, rollup.keep_periods - 1, rollup.period.grain)


def periods_before(start: datetime, periods: int, grain: str) -> datetime:
    """The start of the period `periods` periods of `grain` before the one starting at `start`."""
    if grain != "month":
        return start - periods * GRAIN_STEP[grain]
    months = start.year * 12 + start.month - 1 - periods
    return start.replace(year=months // 12, month=months % 12 + 1)


def _transform_window(warehouse: Warehouse, renderer: TransformRenderer, table: TableIR,
                      upstream: list[datetime], previous_loaded_at: datetime | None,
                      mark: Watermark | None = None, loads: Loads | None = None) -> datetime | None:
    """Where an incremental build of the table starts, or None for a full build of it. `loads`: the
    load ledger's since previous_loaded_at (None: read from the raw tables)."""
    if table.transform is None or table.transform.incremental_column is None:
        return None
    newest, found = _newest(warehouse, renderer, table, _incremental_column(table), mark)
    if newest is None:
        return None
    # a table by day rewrites its newest day whole; what arrives late for an earlier one comes with the
    # windows of the tables it reads and of its own late-data template
    by_day = table.column(_incremental_column(table)).type == "DATE"
    candidates = [_hour_floor(newest) - (timedelta(0) if by_day else late_window(renderer.model))]
    candidates += upstream
    recorded = mark.window_start if found and mark is not None else None
    extra = renderer.extra_window(table, previous_loaded_at, loads, recorded)
    if extra is not None:
        value = naive_utc(_scalar(warehouse, extra))
        if value is not None:
            candidates.append(_hour_floor(value))
    return day_aligned(table, min(candidates))


def day_aligned(table: TableIR, window: datetime) -> datetime:
    """A window on a DATE column starts at midnight: its step rewrites whole days."""
    return window.replace(hour=0) if table.column(_incremental_column(table)).type == "DATE" else window


def _rows_from(warehouse: Warehouse, renderer: TransformRenderer, table: TableIR, window: datetime) -> int:
    """Rows an incremental step rewrote: those at or after its window start."""
    where = renderer.window_predicate(table, _time_column(table), window)  # the partition column's too
    sql = f"SELECT COUNT(*) FROM {renderer.sql.ref(table.name)} WHERE {where}"
    return int(str(_scalar(warehouse, sql)))


def ensure_raw_data(warehouse: Warehouse) -> None:
    """WarehouseError unless some raw table holds rows: a build from nothing builds nothing."""
    create_raw_tables(warehouse)
    if raw_loaded_through(warehouse) is None:
        raise WarehouseError(f"no raw data to build from: the raw tables ({', '.join(sorted(RAW_TABLES))}) "
                             "are empty; load export files first: `lookwright load DIR`")


def _run(warehouse: Warehouse, statements: Sequence[str]) -> None:
    _run_with(warehouse, [(statement, None) for statement in statements])


def _run_with(warehouse: Warehouse, statements: Sequence[tuple[str, Params]]) -> None:
    """The statements (with their parameters) in one transaction; nothing when there are none."""
    if not statements:
        return
    with warehouse.transaction():
        for statement, params in statements:
            warehouse.execute(statement, params)


def _as_window(value: datetime | date | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day)


def _keep_history(warehouse: Warehouse, renderer: TransformRenderer, table: TableIR,
                  change: LayoutChange | None) -> None:
    """Copy into the twin the table's rows older than anything the rebuild produced.

    Kept columns are copied (a retyped one cast to its new type, which prepare checked is
    lossless), removed ones left behind, added ones NULL in the old rows.
    """
    if not warehouse.table_exists(table.name):
        return
    column = _time_column(table)
    twin = _twin(renderer, table)
    have = set(warehouse.columns(table.name))
    if column not in have:
        return
    floor = _scalar(warehouse, f"SELECT MIN({column}) FROM {twin} WHERE {renderer.all_partitions(table)}")
    retyped = {name: (old, new) for name, old, new in (change.retyped if change is not None else ())}
    kept = [c for c in table.columns if c.name in have]
    names = ", ".join(c.name for c in kept)
    values = ", ".join(
        kept_column(table.name, c.name, *retyped[c.name], renderer.dialect.column_type(c.type))
        if c.name in retyped else c.name for c in kept)
    if floor is None:
        where = renderer.all_partitions(table)
    else:
        bound = floor if isinstance(floor, date) and not isinstance(floor, datetime) else naive_utc(floor)
        assert bound is not None
        where = f"{column} < {renderer.literal(bound)}"
        partition = _partition_column(table)
        if partition is not None and partition != column:
            where += f" AND {renderer.all_partitions(table)}"
    warehouse.execute(f"INSERT INTO {twin} ({names})\nSELECT {values} FROM {renderer.own(table.name)}"
                      f"\nWHERE {where}")


def _keep_members(warehouse: Warehouse, renderer: TransformRenderer, table: TableIR,
                  change: LayoutChange | None) -> None:
    """Copy into a dimension's twin the members its sources no longer mention (kept columns, cast
    where retyped; added ones NULL), so a rebuild loses no member either."""
    if not warehouse.table_exists(table.name):
        return
    have = set(warehouse.columns(table.name))
    if not set(table.primary_key) <= have:
        return  # a key column is new: the old members cannot be told apart from the new ones
    retyped = {name: (old, new) for name, old, new in (change.retyped if change is not None else ())}

    def value(name: str) -> str:
        if name not in retyped:
            return f"kept.{name}"
        cast = renderer.dialect.column_type(table.column(name).type)
        return kept_column(table.name, f"kept.{name}", *retyped[name], cast)

    kept = [c.name for c in table.columns if c.name in have]
    match = " AND ".join(f"fresh.{key} = {value(key)}" for key in table.primary_key)
    twin = _twin(renderer, table)
    warehouse.execute(f"INSERT INTO {twin} ({', '.join(kept)})\n"
                      f"SELECT {', '.join(value(name) for name in kept)} FROM {renderer.own(table.name)} AS kept\n"
                      f"WHERE NOT EXISTS (SELECT 1 FROM {twin} AS fresh WHERE {match})")


def _rebuild(warehouse: Warehouse, renderer: TransformRenderer, order: list[TableIR],
             on_step: Callable[[str, int, int], None], changes: dict[str, LayoutChange],
             commit: list[tuple[str, Params]], *, first: bool = False) -> list[StepResult]:
    """Build every table into its twin (reading the twins of what it depends on), then swap them all in.

    The first build (no build state yet, every table new and empty) writes the tables directly:
    there is nothing to keep, and an interrupted first build is simply a first build again.
    `commit` (the build state) is written at the swap's commit point.
    """
    results: list[StepResult] = []
    sql = renderer.sql
    try:
        for index, table in enumerate(order):
            on_step(table.name, index, len(order))
            started = time.perf_counter()
            if not first:
                sql.redirect[table.name] = table.name + NEXT
                warehouse.execute(sql.ddl(table))  # the twin, with the model's layout for the table
            warehouse.execute(renderer.rollup_full(table, keep_floor(warehouse, renderer, table))
                              if table.rollup is not None else renderer.insert_all(table))
            if _incremental(table) and not first and not _keeps_periods(table):
                _keep_history(warehouse, renderer, table, changes.get(table.name))
            if merges_members(table) and not first:
                _keep_members(warehouse, renderer, table, changes.get(table.name))
            rows = warehouse.row_count(table.name if first else table.name + NEXT)
            results.append(StepResult(table.name, "full", None, rows, time.perf_counter() - started))
    finally:
        sql.redirect.clear()
    if first:
        _run_with(warehouse, commit)
    else:
        _swap(warehouse, renderer, order, changes, commit)
    return results


def _new_table(change: LayoutChange | None) -> bool:
    """Whether a rebuilt table must become a new table on BigQuery: DML cannot change its
    partitioning or its columns' types and order (a column added in place is appended)."""
    return change is not None and (change.needs_new_table or change.reordered)


def _move_statements(renderer: TransformRenderer, table: TableIR) -> list[tuple[str, Params]]:
    """DML putting the twin's rows in the table's place (valid in a BigQuery transaction)."""
    every = renderer.all_partitions(table) if table.require_partition_filter else "TRUE"
    columns = ", ".join(c.name for c in table.columns)
    own, twin = renderer.own(table.name), _twin(renderer, table)
    return [(f"DELETE FROM {own} WHERE {every}", None),
            (f"INSERT INTO {own} ({columns})\nSELECT {columns} FROM {twin}\nWHERE {every}", None)]


def _swap(warehouse: Warehouse, renderer: TransformRenderer, order: list[TableIR],
          changes: dict[str, LayoutChange], commit: list[tuple[str, Params]]) -> None:
    """Put every twin in its table's place at one commit point, recording the new layouts.

    DuckDB: one transaction drops each table and renames its twin. BigQuery (no DDL in a
    transaction): one DML transaction, the commit point, replaces the rows of every table that
    keeps its layout by its twin's (DELETE + INSERT ... SELECT), records the layouts and the build
    state, and lists in `lookwright_swap_pending` the tables that need a new table (a changed
    partitioning, a retyped, removed or reordered column: DML cannot change them); after it, one
    CREATE OR REPLACE TABLE ... AS SELECT each puts those twins in place (`_swap_in`), and the twins
    are dropped.
    """
    record = _record_statements(renderer, [t for t in order if t.name in changes]) + commit
    if warehouse.transactional_ddl:
        statements: list[tuple[str, Params]] = []
        for table in order:
            statements.append((f"DROP TABLE {renderer.own(table.name)}", None))
            statements.append((f"ALTER TABLE {_twin(renderer, table)} RENAME TO {table.name}", None))
        _run_with(warehouse, statements + record)
        return
    replaced = [t for t in order if _new_table(changes.get(t.name))]
    moved = [t for t in order if t not in replaced]
    swap = [statement for table in moved for statement in _move_statements(renderer, table)]
    if replaced:
        for table in replaced:  # a template that cannot become CREATE OR REPLACE fails before the commit point
            _replace_statement(renderer, table)
        journal = renderer.raw(SWAP_TABLE)
        values: list[object] = [value for t in replaced for value in (t.name, True)]
        rows = ", ".join("(?, ?)" for _ in replaced)
        swap += [(f"DELETE FROM {journal} WHERE TRUE", None),
                 (f"INSERT INTO {journal} (table_name, replace_table) VALUES {rows}", values)]
    _run_with(warehouse, swap + record)  # the commit point: before it every table is as it was
    if replaced:
        _swap_in(warehouse, renderer, [(t.name, True) for t in replaced])
    for table in moved:  # in place since the commit; one left behind is dropped by the next prepare
        warehouse.execute(f"DROP TABLE {_twin(renderer, table)}")


def _state_statements(renderer: TransformRenderer, seen_through: datetime | None,
                      rebuilt: Sequence[str] = ()) -> list[tuple[str, Params]]:
    """The build state's record; the watermarks of the tables rebuilt are forgotten with it (their
    next incremental step reads every partition once)."""
    state = renderer.raw(STATE_TABLE)
    loaded: object = seen_through if seen_through is not None else TypedNull("TIMESTAMP")
    statements: list[tuple[str, Params]] = [(f"DELETE FROM {state} WHERE TRUE", None),
                                            (f"INSERT INTO {state} (raw_loaded_through) VALUES (?)", [loaded])]
    if rebuilt:
        marks = ", ".join("?" for _ in rebuilt)
        statements.append((f"DELETE FROM {renderer.raw(WATERMARKS)} WHERE table_name IN ({marks})", list(rebuilt)))
    return statements


def build(
    warehouse: Warehouse,
    model: SemanticModel,
    *,
    full_refresh: bool = False,
    templates: Path | None = None,
    on_step: Callable[[str, int, int], None] = lambda table, done, total: None,
) -> BuildReport:
    """Build every model table.

    The first build and a requested full refresh rebuild everything into staging twins swapped in
    at the end (a failure leaves the previous tables; history older than the sources is kept). A
    change of a table's columns, partitioning or definition rebuilds that table and every table
    that reads it, directly or not, the same way; the others are built incrementally first. Otherwise
    only rows at or after each table's watermark minus the late-data window (and whatever an
    upstream step rewrote) are recomputed, each table in one transaction; building twice changes nothing.
    """
    model = warehouse.target(model)
    renderer = TransformRenderer(model, warehouse.dialect, templates)
    order = build_order(renderer)
    changes = prepare(warehouse, renderer)
    rebuild = {name: c for name, c in changes.items() if c.rebuilds}
    built, previous_loaded_at = _previous_state(warehouse, renderer)
    full = full_refresh or not built
    seen_through = raw_loaded_through(warehouse, renderer)
    affected = {t.name for t in order} if full else downstream(renderer, order, set(rebuild))
    commit = _state_statements(renderer, seen_through, sorted(affected))
    if warehouse.table_exists(TABLE_STATE):  # every table has now seen what this build saw
        commit.append((f"DELETE FROM {renderer.raw(TABLE_STATE)} WHERE TRUE", None))
    redone = [t for t in order if t.name in affected]
    kept = [t for t in order if t.name not in affected]
    results: list[StepResult] = []
    if kept:  # never reads a rebuilt table: what reads one is rebuilt too
        seen = _tables_seen(warehouse, renderer)
        results = _incremental_build(warehouse, renderer, kept, previous_loaded_at,
                                     lambda name, done, total: on_step(name, done, len(order)), seen)
    if redone:
        results += _rebuild(warehouse, renderer, redone,
                            lambda name, done, total: on_step(name, done + len(kept), len(order)),
                            rebuild, commit, first=not built and not rebuild)
    else:
        _run_with(warehouse, commit)
    on_step("", len(order), len(order))
    return BuildReport(tuple(results), full, tuple(t.name for t in redone))


def downstream(renderer: TransformRenderer, order: Sequence[TableIR], names: set[str]) -> set[str]:
    """The named tables and every table that reads one of them, directly or through others."""
    found = set(names)
    for table in order:  # dependency order: a table's sources come before it
        if any(name in found for name in renderer.dependencies(table)):
            found.add(table.name)
    return found


def build_tables(warehouse: Warehouse, model: SemanticModel, names: Sequence[str], *,
                 templates: Path | None = None) -> BuildReport:
    """Build only the named tables, incrementally, as one task of an orchestrator does (in build order).

    Each table's window is the one `build` would use: its own watermark less the late-data window,
    its late-data template, and what each table it reads from rewrote since this table last saw
    the raw tables (re-derived from that table's watermark and templates). What a table has seen
    is recorded per table; a whole `build` resets it. Needs a built warehouse with the model's
    columns: a first build or a column change is a whole `lookwright build`.
    """
    model = warehouse.target(model)
    unknown = sorted(set(names) - set(model.tables))
    if unknown:
        raise InputError(f"unknown table(s) {', '.join(unknown)}: expected tables of the model "
                         f"({', '.join(model.tables)})")
    renderer = TransformRenderer(model, warehouse.dialect, templates)
    order = [table for table in build_order(renderer) if table.name in names]
    built, previous_loaded_at = (_previous_state(warehouse, renderer) if warehouse.table_exists(STATE_TABLE)
                                 else (False, None))
    changed = [t.name for t in model.tables.values() if warehouse.columns(t.name) != [c.name for c in t.columns]]
    if not built or changed:
        why = "was never built" if not built else f"has changed columns ({', '.join(sorted(changed))})"
        raise WarehouseError(f"the warehouse {why}: run a whole `lookwright build` first, then per-table builds")
    state = renderer.raw(TABLE_STATE)
    columns = ", ".join(f"{name} {renderer.dialect.column_type(kind)}" for name, kind in TABLE_STATE_COLUMNS)
    warehouse.execute(f"CREATE TABLE IF NOT EXISTS {state} ({columns})")
    warehouse.execute(_meta_ddl(renderer, WATERMARKS, WATERMARK_COLUMNS))
    seen = _tables_seen(warehouse, renderer)
    marks = _watermarks(warehouse, renderer)
    loads: dict[datetime, Loads | None] = {}
    results = []
    for table in order:
        started = time.perf_counter()
        seen_through = raw_loaded_through(warehouse, renderer)
        previous = seen.get(table.name, previous_loaded_at)
        if table.rollup is not None:
            statements, mark = _rollup_step(warehouse, renderer, table, marks.get(table.name))
            window = mark.window_start
        else:
            window = _window_since(warehouse, renderer, table, previous, marks, loads)
            new_loads = _ledger_loads(warehouse, renderer, previous, loads) if merges_members(table) else None
            statements, mark = renderer.insert(table, window, new_loads, previous), Watermark(window)
        loaded: object = seen_through if seen_through is not None else TypedNull("TIMESTAMP")
        if _incremental(table):
            statements.append(watermark_statement(renderer, table, mark))
        with warehouse.transaction():
            for statement in statements:
                warehouse.execute(statement)
            warehouse.execute(f"DELETE FROM {state} WHERE table_name = ?", [table.name])
            warehouse.execute(f"INSERT INTO {state} (table_name, raw_loaded_through) VALUES (?, ?)",
                              [table.name, loaded])
        rows = warehouse.row_count(table.name)
        written = rows if window is None else _rows_from(warehouse, renderer, table, window)
        results.append(StepResult(table.name, "full" if window is None else "incremental", window, rows,
                                  time.perf_counter() - started, written))
    return BuildReport(tuple(results), False)


def _window_since(warehouse: Warehouse, renderer: TransformRenderer, table: TableIR,
                  previous_loaded_at: datetime | None, marks: dict[str, Watermark],
                  loads: dict[datetime, Loads | None]) -> datetime | None:
    """Where `build` would start the table if it ran now after the tables it reads (None: in full)."""
    if table.rollup is not None:
        return _as_window(_rollup_window(warehouse, renderer, table, marks.get(table.name)))
    upstream = [w for name in renderer.dependencies(table)
                if (w := _window_since(warehouse, renderer, renderer.model.tables[name], previous_loaded_at, marks,
                                       loads)) is not None]
    return _transform_window(warehouse, renderer, table, upstream, previous_loaded_at, marks.get(table.name),
                             _ledger_loads(warehouse, renderer, previous_loaded_at, loads))


def _tables_seen(warehouse: Warehouse, renderer: TransformRenderer) -> dict[str, datetime | None]:
    """What each table built (`build --table`) or restored since the last whole build has seen."""
    if not warehouse.table_exists(TABLE_STATE):
        return {}
    rows = warehouse.query(f"SELECT table_name, raw_loaded_through FROM {renderer.raw(TABLE_STATE)}")
    return {str(name): naive_utc(seen) for name, seen in rows}


def _incremental_build(warehouse: Warehouse, renderer: TransformRenderer, order: list[TableIR],
                       previous_loaded_at: datetime | None,
                       on_step: Callable[[str, int, int], None],
                       seen: dict[str, datetime | None] | None = None) -> list[StepResult]:
    """Each table from its window on, in one transaction per table (an incremental table's watermark
    recorded in it); a failure leaves earlier steps built."""
    windows: dict[str, datetime | None] = {}
    rebuilt: set[str] = set()  # incremental tables rebuilt in full: what reads them must be too
    results: list[StepResult] = []
    marks = _watermarks(warehouse, renderer)
    loads: dict[datetime, Loads | None] = {}
    for index, table in enumerate(order):
        on_step(table.name, index, len(order))
        started = time.perf_counter()
        if table.rollup is not None:
            statements, mark = _rollup_step(warehouse, renderer, table, marks.get(table.name))
            window = mark.window_start
        else:
            depends = renderer.dependencies(table)
            upstream = [w for name in depends if (w := windows.get(name)) is not None]
            restarted = any(name in rebuilt for name in depends)
            previous = (seen or {}).get(table.name, previous_loaded_at)
            window = None if restarted else _transform_window(
                warehouse, renderer, table, upstream, previous, marks.get(table.name),
                _ledger_loads(warehouse, renderer, previous, loads))
            new_loads = _ledger_loads(warehouse, renderer, previous, loads) if merges_members(table) else None
            statements, mark = renderer.insert(table, window, new_loads, previous), Watermark(window)
        if _incremental(table):  # the next build reads its newest row from this window on
            statements.append(watermark_statement(renderer, table, mark))
        _run(warehouse, statements)
        windows[table.name] = window
        rows = warehouse.row_count(table.name)
        if window is None and _incremental(table) and rows > 0:  # still empty: nothing downstream changes
            rebuilt.add(table.name)
        written = rows if window is None else _rows_from(warehouse, renderer, table, window)
        mode = "full" if window is None else "incremental"
        results.append(StepResult(table.name, mode, window, rows, time.perf_counter() - started, written))
    return results
