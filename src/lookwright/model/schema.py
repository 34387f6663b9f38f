"""The YAML semantic-model format as pydantic models; the source of `semantic/schema.json`.

Every model forbids unknown keys, so a typo is an error, not a silent no-op. These classes describe
what a file *says*; cross-file rules live in `validate.py` and the typed result in `ir.py`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]*$", max_length=128)]
FieldRef = Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?\*?$")]

ColumnType = Literal[
    "STRING", "INT64", "FLOAT64", "NUMERIC", "BIGNUMERIC", "BOOL", "DATE", "DATETIME",
    "TIMESTAMP", "JSON", "BYTES", "SKETCH",
]
Timeframe = Literal[
    "raw", "time", "time_of_day", "date", "week", "month", "quarter", "year", "hour",
    "hour_of_day", "minute", "minute5", "minute15", "second", "day_of_week", "day_of_week_index",
    "day_of_month", "day_of_year", "week_of_year", "month_num", "month_name", "quarter_of_year",
]
Interval = Literal["second", "minute", "hour", "day", "week", "month", "quarter", "year"]
DimensionType = Literal["string", "number", "yesno", "tier", "time", "duration", "zipcode"]
MeasureType = Literal[
    "count", "count_distinct", "sum", "average", "min", "max", "median", "percentile",
    "sum_distinct", "average_distinct", "list", "number", "ratio", "sketch_percentile",
]


class StrictModel(BaseModel):
    """Base: frozen, unknown keys rejected; field descriptions flow into the JSON Schema."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Column(StrictModel):
    """A physical column of a warehouse table."""

    name: Identifier
    type: ColumnType = Field(description='BigQuery type. SKETCH is a mergeable latency histogram (ARRAY<STRUCT<bucket, count>>).')
    description: str = ""
    required: bool = Field(default=False, description='NOT NULL in the DDL, and checked for nulls after every build.')


class Partition(StrictModel):
    """BigQuery partitioning: by a DATE/TIMESTAMP column, or by ingestion time."""

    column: Identifier | None = None
    ingestion: bool = False
    granularity: Literal["hour", "day", "month", "year"] = "day"


class ForeignKey(StrictModel):
    """`column` of this table references `table.column` of another."""

    column: Identifier
    references: Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")]


class Dimension(StrictModel):
    """A LookML dimension (or dimension_group for type time/duration)."""

    name: Identifier
    type: DimensionType = "string"
    sql: str | None = Field(default=None, description='SQL with ${TABLE} and ${field} references; default: the column named like the dimension.')
    column: Identifier | None = Field(default=None, description='Shorthand for sql: ${TABLE}.<column>.')
    primary_key: bool = False
    hidden: bool = False
    label: str | None = None
    description: str | None = None
    group_label: str | None = None
    value_format: str | None = None
    value_format_name: str | None = None
    tiers: list[float] | None = None
    style: Literal["classic", "interval", "integer", "relational"] | None = None
    timeframes: list[Timeframe] | None = None
    datatype: Literal["timestamp", "datetime", "date", "epoch", "yyyymmdd"] | None = None
    convert_tz: bool | None = None
    intervals: list[Interval] | None = None
    sql_start: str | None = None
    sql_end: str | None = None
    drill_fields: list[FieldRef] | None = None
    required_access_grants: list[Identifier] | None = None


class Measure(StrictModel):
    """A LookML measure. `ratio` compiles to a `number` measure with safe division."""

    name: Identifier
    type: MeasureType
    sql: str | None = None
    percentile: float | None = Field(default=None, gt=0, lt=100)
    sketch: Identifier | None = Field(default=None, description='sketch_percentile: the SKETCH column merged at query time; the percentile is read from the merged sketch.')
    sql_distinct_key: str | None = None
    list_field: Identifier | None = None
    numerator: Identifier | None = None
    denominator: Identifier | None = None
    multiplier: float | None = None
    filters: dict[str, str] | None = None
    label: str | None = None
    description: str | None = None
    group_label: str | None = None
    value_format: str | None = None
    value_format_name: str | None = None
    hidden: bool = False
    drill_fields: list[FieldRef] | None = None
    required_access_grants: list[Identifier] | None = None


RollupAgg = Literal[
    "count", "count_if", "sum", "min", "max", "sketch", "merge_sketch", "percentile", "ratio",
    "per_second", "any_value",
]


class RollupMetric(StrictModel):
    """One output column of a rollup table and how it is aggregated from the source."""

    name: Identifier
    agg: RollupAgg
    sql: str | None = Field(default=None, description="Expression over the source table's columns (count_if: the boolean condition).")
    sketch: Identifier | None = Field(default=None, description='percentile: the SKETCH metric of this rollup the percentile is read from.')
    percentile: float | None = Field(default=None, gt=0, lt=100)
    numerator: Identifier | None = None
    denominator: Identifier | None = None
    of: Identifier | None = Field(default=None, description='per_second: the additive metric divided by the seconds in the period.')
    multiplier: float | None = None
    description: str = ""


class RollupPeriod(StrictModel):
    """The time grain of a rollup: `column` = truncation of the source column `source` to `grain`."""

    column: Identifier
    source: Identifier
    grain: Literal["minute", "hour", "day", "week", "month"] = Field(description='week: ISO weeks from Monday; month: calendar months.')


class Rollup(StrictModel):
    """A warehouse rollup table computed from another table, built incrementally."""

    source: Identifier
    period: RollupPeriod
    group_by: list[Identifier]
    metrics: list[RollupMetric]
    increment_offset: int = Field(default=1, ge=0, description='Periods before the newest one that every incremental build recomputes (late data).')
    datagroup: Identifier | None = None
    keep_periods: int | None = Field(default=None, gt=0, description='Keep only the newest N periods (counted back from the source\'s newest one): every build deletes older rows and a full build reads only that window of the source (a real-time table of the last hour: grain minute, keep_periods 90).')


class Transform(StrictModel):
    """How a non-rollup table is built: a Jinja2 template under templates/transforms/."""

    template: str
    incremental_column: Identifier | None = Field(default=None, description='A time column: incremental builds rewrite rows at or after the watermark minus the window.')


class Check(StrictModel):
    """A data-quality check run after every build."""

    name: Identifier
    kind: Literal["unique", "not_null", "accepted_range", "volume_jump", "daily_availability"]
    columns: tuple[Identifier, ...] = ()
    min: float | None = None
    max: float | None = None
    time_column: Identifier | None = None
    factor: float | None = None
    severity: Literal["error", "warning"] = "error"


class Table(StrictModel):
    """A warehouse table and the LookML view of the same name (none for a warehouse-only table, `lookml: false`)."""

    name: Identifier
    kind: Literal["fact", "dimension", "bridge", "rollup"]
    description: str = ""
    label: str | None = None
    sql_table_name: str | None = Field(default=None, description='project.dataset.table; default: warehouse project and dataset + name.')
    columns: tuple[Column, ...] = ()
    primary_key: list[Identifier] | None = None
    partition: Partition | None = None
    cluster_by: tuple[Identifier, ...] = ()
    retention_days: int | None = Field(default=None, gt=0)
    require_partition_filter: bool = Field(default=False, description='BigQuery refuses any query of the table that does not filter its partition column (so no statement scans every partition by accident).')
    foreign_keys: tuple[ForeignKey, ...] = ()
    dimensions: tuple[Dimension, ...] = ()
    measures: tuple[Measure, ...] = ()
    sets: dict[Identifier, list[FieldRef]] = {}
    rollup: Rollup | None = None
    transform: Transform | None = None
    checks: tuple[Check, ...] = ()
    hidden: bool = False
    lookml: bool = Field(default=True, description='false: a warehouse-only table: built, checked and planned like the others, no LookML view (an explore, join or field reference to it is an error).')


class Join(StrictModel):
    """A join into an explore; `sql_on` and `relationship` derive from foreign keys when omitted."""

    view: Identifier
    type: Literal["left_outer", "inner", "full_outer", "cross"] = "left_outer"
    relationship: Literal["many_to_one", "one_to_one", "one_to_many", "many_to_many"] | None = None
    sql_on: str | None = None
    fields: list[FieldRef] | None = None
    view_label: str | None = None


class Materialization(StrictModel):
    """How Looker persists an aggregate table."""

    datagroup: Identifier
    increment_key: FieldRef | None = None
    increment_offset: int | None = Field(default=None, ge=0)
    partition_keys: list[str] | None = None
    cluster_keys: list[str] | None = None
    publish_as_db_view: bool = False


class AggregateTable(StrictModel):
    """A Looker aggregate_table of an explore."""

    name: Identifier
    dimensions: list[FieldRef]
    measures: list[FieldRef]
    filters: dict[str, str] = {}
    timezone: str | None = None
    exact_match: bool = Field(default=False, description='Allow non-rollable measures: the table then serves only queries that match it exactly.')
    materialization: Materialization


class Explore(StrictModel):
    """A LookML explore over a base view and its joins."""

    name: Identifier
    view: Identifier | None = Field(default=None, description='Base view; default: the view named like the explore.')
    label: str | None = None
    description: str | None = None
    hidden: bool = False
    joins: tuple[Join, ...] = ()
    fields: list[FieldRef] | None = None
    sql_always_where: str | None = None
    always_filter: dict[str, str] = {}
    persist_with: Identifier | None = None
    aggregate_tables: tuple[AggregateTable, ...] = ()
    required_access_grants: list[Identifier] | None = None


class Datagroup(StrictModel):
    """A LookML datagroup: when caches expire and persisted tables rebuild."""

    name: Identifier
    sql_trigger: str | None = None
    interval_trigger: str | None = None
    max_cache_age: str | None = None
    label: str | None = None
    description: str | None = None


class AccessGrant(StrictModel):
    """A LookML access_grant; `applies_to` globs add it to every matching field and its dependents."""

    name: Identifier
    user_attribute: Identifier
    allowed_values: list[str]
    applies_to: tuple[str, ...] = ()


class Model(StrictModel):
    """A LookML model file."""

    name: Identifier
    connection: str
    label: str | None = None
    explores: list[Identifier]
    persist_with: Identifier | None = None
    include: list[str] = Field(default=[], description=(
        "Hand-written LookML files the generated model also includes, after the generated ones: paths or "
        "globs inside the LookML folder (e.g. /custom/*.view.lkml) holding refinements (view: +name) of "
        "generated views or extra explores. lookwright never writes or removes them; `validate lookml` "
        "checks them together with the generated files."))


class DeclaredQuery(StrictModel):
    """A query users run (e.g. a dashboard tile); validated against aggregate awareness."""

    name: Identifier
    explore: Identifier
    fields: list[FieldRef]
    filters: dict[str, str] = {}
    timezone: str | None = None
    must_hit: Identifier | None = Field(default=None, description='The aggregate table that must serve this query.')


VisualizationType = Literal["line", "column", "bar", "scatter", "single_value", "table", "area", "pie"]
FilterUi = Literal[
    "advanced", "dropdown_menu", "tag_list", "checkboxes", "button_group", "button_toggles",
    "relative_timeframes", "day_range_picker", "range_slider", "slider",
]
Sort = Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*( (asc|desc))?$")]


class DashboardFilter(StrictModel):
    """A dashboard filter on one field; tiles opt in with `listen`."""

    name: Identifier
    title: str | None = Field(default=None, description='Shown above the filter; default: the name in words.')
    explore: Identifier = Field(description='The explore whose field suggests values.')
    field: FieldRef = Field(description='view.field of that explore.')
    default: str | None = Field(default=None, description='Looker filter expression applied until a user changes it.')
    ui: FilterUi = "advanced"
    allow_multiple_values: bool = True
    required: bool = False


class Tile(StrictModel):
    """A dashboard element: one query of one explore and how it is drawn."""

    name: Identifier
    title: str
    type: VisualizationType
    explore: Identifier
    fields: list[FieldRef]
    filters: dict[str, str] = {}
    sorts: list[Sort] = []
    limit: int | None = Field(default=None, gt=0)
    pivots: list[FieldRef] = []
    listen: dict[Identifier, FieldRef] = Field(default={}, description='Dashboard filter name -> the field of this explore it filters.')
    note: str | None = Field(default=None, description='Shown with the tile (e.g. how a score is defined).')
    timezone: str | None = Field(default=None, description="Query time zone; default: the dashboard's, else the warehouse's.")
    must_hit: Identifier | None = Field(default=None, description='The aggregate table that must serve this tile.')
    width: int = Field(default=12, ge=1, le=24, description='Newspaper layout: columns of 24.')
    height: int = Field(default=6, ge=1)
    row: int | None = Field(default=None, ge=0, description='Default: after the previous tile (left to right, then down).')
    col: int | None = Field(default=None, ge=0, le=23)


class Dashboard(StrictModel):
    """A LookML dashboard (layout: newspaper) whose tiles are declared queries."""

    name: Identifier
    title: str
    description: str | None = None
    model: Identifier | None = Field(default=None, description='Default: the model that has the tiles\' explores.')
    timezone: str | None = None
    layout: Literal["newspaper"] = "newspaper"
    filters: tuple[DashboardFilter, ...] = ()
    tiles: tuple[Tile, ...]


class Warehouse(StrictModel):
    """Where the tables live."""

    project: str
    dataset: str
    timezone: str = "UTC"


class SemanticFile(StrictModel):
    """One file of a semantic model; all files of a directory merge into one model."""

    version: Literal[1] = 1
    warehouse: Warehouse | None = None
    tables: tuple[Table, ...] = ()
    explores: tuple[Explore, ...] = ()
    datagroups: tuple[Datagroup, ...] = ()
    access_grants: tuple[AccessGrant, ...] = ()
    models: tuple[Model, ...] = ()
    queries: tuple[DeclaredQuery, ...] = ()
    dashboards: tuple[Dashboard, ...] = ()
