"""The typed intermediate model: a validated semantic model with every default resolved (built by `compile`).

Renderers (LookML, SQL for each dialect) and the warehouse read only this; none of them
re-derive defaults, join keys or access grants on their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from lookwright.model import schema
from lookwright.vocabulary import FieldInfo, group_names


@dataclass(frozen=True)
class Origin:
    """Where an entity was written: shown in generated file headers."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class ColumnIR:
    name: str
    type: str
    description: str
    required: bool


@dataclass(frozen=True)
class DimensionIR:
    """A dimension or dimension group with its LookML parameters resolved."""

    name: str
    type: str
    sql: str | None
    grants: tuple[str, ...]
    column_type: str | None  # the physical type when the dimension reads one column
    primary_key: bool = False
    hidden: bool = False
    label: str | None = None
    description: str | None = None
    group_label: str | None = None
    value_format: str | None = None
    value_format_name: str | None = None
    drill_fields: tuple[str, ...] = ()
    tiers: tuple[float, ...] | None = None
    style: str | None = None
    timeframes: tuple[str, ...] = ()  # type time: the timeframes, defaults applied
    intervals: tuple[str, ...] = ()  # type duration: the intervals, defaults applied
    datatype: str | None = None  # as LookML gets it (a time group over a DATE column: date)
    convert_tz: bool | None = None  # as LookML gets it (DATE columns: False); None: Looker's default
    converts_query_tz: bool = True  # the query compiler's view: False only when the YAML says convert_tz: false
    sql_start: str | None = None
    sql_end: str | None = None
    generated: bool = False  # lookwright's own (the hidden primary key), not declared in YAML


@dataclass(frozen=True)
class MeasureIR:
    """A measure with its LookML parameters resolved."""

    name: str
    type: str  # LookML type: `ratio` and `sketch_percentile` become `number`
    sql: str | None
    grants: tuple[str, ...]
    declared_type: str = ""  # the type as written in YAML
    percentile: float | None = None
    sketch: str | None = None  # sketch_percentile: the SKETCH column
    sketch_fraction: float = 0.5  # sketch_percentile: the quantile read from the merged sketch
    sql_distinct_key: str | None = None
    list_field: str | None = None
    filters: tuple[tuple[str, str], ...] = ()  # sorted by field
    hidden: bool = False
    label: str | None = None
    description: str | None = None
    group_label: str | None = None
    value_format: str | None = None
    value_format_name: str | None = None
    drill_fields: tuple[str, ...] = ()


FieldIR = FieldInfo[DimensionIR | MeasureIR]  # a referencable name of a compiled view (construct `FieldInfo`)


@dataclass(frozen=True)
class TableIR:
    name: str
    kind: str
    origin: Origin
    table_id: str  # project.dataset.table
    columns: tuple[ColumnIR, ...]
    dimensions: tuple[DimensionIR, ...]
    measures: tuple[MeasureIR, ...]
    label: str | None = None
    description: str = ""
    sets: tuple[tuple[str, tuple[str, ...]], ...] = ()  # sorted by name
    partition: schema.Partition | None = None
    cluster_by: tuple[str, ...] = ()
    retention_days: int | None = None
    require_partition_filter: bool = False
    rollup: schema.Rollup | None = None
    transform: schema.Transform | None = None
    checks: tuple[schema.Check, ...] = ()
    primary_key: tuple[str, ...] = ()  # the table's primary_key columns, as declared
    lookml: bool = True  # False: warehouse-only (built, checked, planned), no LookML view

    @cached_property
    def fields(self) -> dict[str, FieldIR]:
        """Every name a reference may use for a declared field of the view (dimension groups expanded, one
        name per timeframe or interval); the first declaration of a name wins. Built on first use."""
        fields: dict[str, FieldIR] = {}
        for index, dimension in enumerate(self.dimensions):
            if dimension.generated:
                continue
            if dimension.type not in ("time", "duration"):
                fields.setdefault(dimension.name, FieldInfo(dimension.name, "dimension", dimension.type, None, None,
                                                          dimension, index))
                continue
            for name, timeframe in group_names(dimension.name, dimension.type, dimension.timeframes,
                                               dimension.intervals):
                fields.setdefault(name, FieldInfo(name, "dimension_group", dimension.type, dimension.name,
                                                timeframe, dimension, index))
        for index, measure in enumerate(self.measures):
            fields.setdefault(measure.name, FieldInfo(measure.name, "measure", measure.declared_type, None, None,
                                                    measure, index))
        return fields

    def column(self, name: str) -> ColumnIR:
        return next(column for column in self.columns if column.name == name)


@dataclass(frozen=True)
class JoinIR:
    view: str
    type: str
    relationship: str
    sql_on: str | None
    fields: tuple[str, ...] | None
    view_label: str | None


@dataclass(frozen=True)
class ExploreIR:
    name: str
    view: str
    origin: Origin
    joins: tuple[JoinIR, ...]
    label: str | None
    description: str | None
    hidden: bool
    fields: tuple[str, ...] | None
    sql_always_where: str | None
    always_filter: tuple[tuple[str, str], ...]  # sorted by field
    persist_with: str | None
    required_access_grants: tuple[str, ...]
    aggregate_tables: tuple[schema.AggregateTable, ...]


@dataclass(frozen=True)
class ModelIR:
    name: str
    origin: Origin
    connection: str
    label: str | None
    persist_with: str | None
    explores: tuple[str, ...]
    views: tuple[str, ...]  # every view its explores use, sorted
    include: tuple[str, ...] = ()  # hand-written LookML files it also includes, as "/path" patterns


@dataclass(frozen=True)
class QueryIR:
    """A query users run, as Looker's API takes it: declared in the semantic model (`queries:`),
    or given to deploy and verify in a queries file (then with `warehouse_sql`, without an origin)."""

    name: str
    model: str | None  # the Looker model whose explores include `explore` (None: no model does)
    explore: str
    fields: tuple[str, ...]
    filters: dict[str, str] = field(default_factory=dict)
    timezone: str | None = None
    warehouse_sql: str | None = None  # verify: SQL computing the rows instead of the compiled query
    must_hit: str | None = None  # the aggregate table that must serve it
    origin: Origin | None = field(default=None, compare=False)  # where it is declared (a queries file: line 0)


@dataclass(frozen=True)
class TileIR:
    """One dashboard tile as the query it runs when the dashboard opens, and how it is drawn."""

    name: str  # dashboard.tile
    dashboard: str
    tile: str  # its name within the dashboard
    title: str
    visualization: str  # schema.VisualizationType
    origin: Origin
    model: str
    explore: str
    fields: tuple[str, ...]
    own_filters: dict[str, str]  # the tile's own filters, as written
    filters: dict[str, str]  # its own filters and the defaults of the dashboard filters it listens to
    listen: dict[str, str]  # dashboard filter name -> the field it filters
    pivots: tuple[str, ...]
    sorts: tuple[str, ...]
    limit: int  # the row limit, default applied
    note: str | None
    must_hit: str | None
    timezone: str
    row: int
    col: int
    width: int
    height: int


@dataclass(frozen=True)
class DashboardFilterIR:
    name: str
    title: str  # default applied: the name in words
    explore: str
    field: str
    default: str  # the Looker filter expression applied until a user changes it ("" for none)
    ui: str  # schema.FilterUi
    allow_multiple_values: bool
    required: bool


@dataclass(frozen=True)
class DashboardIR:
    name: str
    title: str
    description: str | None
    layout: str
    origin: Origin
    model: str
    filters: tuple[DashboardFilterIR, ...]
    tiles: tuple[TileIR, ...]


@dataclass(frozen=True)
class SemanticModel:
    """The whole compiled model; dict fields are keyed and ordered by name."""

    root: str
    files: tuple[str, ...]
    warehouse: schema.Warehouse
    warehouse_origin: Origin
    tables: dict[str, TableIR]
    explores: dict[str, ExploreIR]
    datagroups: dict[str, tuple[schema.Datagroup, Origin]]
    access_grants: dict[str, tuple[schema.AccessGrant, Origin]]
    models: dict[str, ModelIR]
    queries: dict[str, QueryIR]
    dashboards: dict[str, DashboardIR] = field(default_factory=dict)

    def views(self) -> list[TableIR]:
        """The tables that are LookML views (every table but the warehouse-only ones, `lookml: false`)."""
        return [table for table in self.tables.values() if table.lookml]

    def tiles(self) -> list[TileIR]:
        """Every tile of every dashboard, in dashboard name then tile order."""
        return [tile for dashboard in self.dashboards.values() for tile in dashboard.tiles]


def quantile_function(warehouse: schema.Warehouse) -> str:
    """The BigQuery SQL function sketch_percentile measures call (created by the DDL in sql/)."""
    from lookwright.sqlgen.dialects import QUANTILE_FUNCTION

    return f"`{warehouse.project}.{warehouse.dataset}.{QUANTILE_FUNCTION}`"
