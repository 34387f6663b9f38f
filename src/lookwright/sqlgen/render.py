"""Render warehouse SQL from the IR through Jinja2 templates, for any dialect.

Template lookup order: `<override>/<dialect>/`, `<override>/`, `templates/<dialect>/`,
`templates/common/`, so a user can replace one statement kind without copying the rest.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import jinja2

from lookwright.errors import InputError
from lookwright.model.ir import Origin, SemanticModel, TableIR
from lookwright.model.schema import RollupMetric
from lookwright.output.writer import OutputFile, header
from lookwright.paths import DEFAULT_TEMPLATES
from lookwright.sqlgen.dialects import DIALECTS, Dialect


@dataclass(frozen=True)
class MetricPlan:
    """One rollup output column, split by where it is computed."""

    name: str
    stage: str  # aggregate | sketch | percentile | derived | passthrough
    expression: str


@dataclass(frozen=True)
class RollupPlan:
    table: TableIR
    source: TableIR
    period_column: str
    period_expression: str  # over the source row
    period_source: str
    grain: str
    group_by: tuple[str, ...]
    aggregates: tuple[MetricPlan, ...]
    sketches: tuple[MetricPlan, ...]  # expression: bucket of a raw value, or the source sketch column
    merges: tuple[str, ...]  # names of sketches that merge a source sketch column
    percentiles: tuple[tuple[str, str, float], ...]  # (name, sketch, fraction)
    derived: tuple[MetricPlan, ...]
    output: tuple[str, ...]
    increment_offset: int

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.period_column, *self.group_by)


@functools.lru_cache(maxsize=8)
def environment(dialect: Dialect, override: Path | None = None) -> jinja2.Environment:
    """One environment per dialect and override folder; templates compile once per process."""
    roots: list[Path] = []
    if override is not None:
        if not override.is_dir():
            raise InputError(f"templates directory not found: {override}")
        roots += [override / dialect.name, override]
    roots += [DEFAULT_TEMPLATES / dialect.name, DEFAULT_TEMPLATES / "common"]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(r) for r in roots]),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True, autoescape=False, auto_reload=False,
    )
    env.globals["d"] = dialect
    env.filters["bq_string"] = bq_string
    return env


def bq_string(value: str) -> str:
    """A BigQuery string literal: quotes and backslashes escaped, every other character as itself
    (JSON's `\\ud83d\\ude00` surrogate pairs are "Illegal escape sequence" in BigQuery)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


STATEMENT_TEMPLATES = ("create_table.sql.j2", "rollup_select.sql.j2", "incremental.sql.j2", "expire.sql.j2",
                       "checks.sql.j2")


def warm_templates(dialect: str, override: Path | None = None) -> None:
    """Compile the statement templates now (e.g. once before forking workers that share them)."""
    env = environment(DIALECTS[dialect], override)
    for name in STATEMENT_TEMPLATES:
        try:
            env.get_template(name)
        except jinja2.TemplateError as error:
            raise InputError(f"template {name}: {error}") from error


def plan_rollup(model: SemanticModel, table: TableIR, dialect: Dialect) -> RollupPlan:
    rollup = table.rollup
    assert rollup is not None
    source = model.tables[rollup.source]
    aggregates, sketches, derived = [], [], []
    merges: list[str] = []
    percentiles: list[tuple[str, str, float]] = []
    for metric in rollup.metrics:
        if metric.agg in AGGREGATE_AGGS:
            aggregates.append(MetricPlan(metric.name, "aggregate", _aggregate_sql(metric, source, dialect)))
        elif metric.agg in ("sketch", "merge_sketch"):
            merged = metric.agg == "merge_sketch"
            bucket = str(metric.sql) if merged else dialect.sketch_bucket(str(metric.sql))
            sketches.append(MetricPlan(metric.name, "sketch", bucket))
            merges += [metric.name] if merged else []
        elif metric.agg == "percentile":
            percentiles.append((metric.name, str(metric.sketch), _fraction(metric.percentile or 50)))
        else:
            derived.append(MetricPlan(metric.name, "derived", _derived_sql(metric, rollup.period.grain, dialect)))
    return RollupPlan(
        table=table, source=source, period_column=rollup.period.column,
        period_expression=dialect.trunc(rollup.period.source, rollup.period.grain),
        period_source=rollup.period.source, grain=rollup.period.grain, group_by=tuple(rollup.group_by),
        aggregates=tuple(aggregates), sketches=tuple(sketches), merges=tuple(merges),
        percentiles=tuple(percentiles), derived=tuple(derived),
        output=tuple(c.name for c in table.columns), increment_offset=rollup.increment_offset,
    )


def partition_column(table: TableIR) -> str | None:
    """The column a table is partitioned by (None: unpartitioned or by ingestion time)."""
    partition = table.partition
    return None if partition is None or partition.ingestion else partition.column


def every_partition(table: TableIR, dialect: Dialect, alias: str = "") -> str | None:
    """A predicate on the partition column that keeps every row (None when unpartitioned): a read
    that means to scan the whole table says so, and passes `require_partition_filter`."""
    column = partition_column(table)
    if column is None:
        return None
    kind = table.column(column).type
    bound = dialect.epoch("day" if kind == "DATE" else "hour")
    if kind == "DATETIME" and dialect.name == "bigquery":  # BigQuery compares no DATETIME with a TIMESTAMP
        bound = "DATETIME '1970-01-01 00:00:00'"
    return f"{alias + '.' if alias else ''}{column} >= {bound}"


def read_all(table: TableIR, ref: str, dialect: Dialect) -> str:
    """`ref` in a FROM clause; for a table with `require_partition_filter`, a subquery reading every
    partition on purpose (BigQuery refuses a query of such a table without a partition filter)."""
    predicate = every_partition(table, dialect) if table.require_partition_filter else None
    return ref if predicate is None else f"(SELECT * FROM {ref} WHERE {predicate}) AS {table.name}"


def convert_bound(bound: str, from_type: str, to_type: str) -> str:
    """A window bound of one time column's type as the type of another (DATE <-> TIMESTAMP)."""
    if from_type == to_type or "DATE" not in (from_type, to_type):
        return bound
    return f"CAST({bound} AS {'DATE' if to_type == 'DATE' else 'TIMESTAMP'})"


def source_filter(plan: RollupPlan, dialect: Dialect, source_window: str | None) -> str | None:
    """The WHERE of a rollup's source read: from the window on (its partition column too, when the
    source is partitioned by another column, so BigQuery prunes), or every partition when the source
    requires a partition filter and the rollup is built in full."""
    source = plan.source
    partition = partition_column(source)
    if source_window is None:
        return every_partition(source, dialect, "src") if source.require_partition_filter else None
    parts = [f"src.{plan.period_source} >= {source_window}"]
    if partition is not None and partition != plan.period_source:
        period_type, partition_type = source.column(plan.period_source).type, source.column(partition).type
        parts.append(f"src.{partition} >= {convert_bound(source_window, period_type, partition_type)}")
    return " AND ".join(parts)


AGGREGATE_AGGS = frozenset({"count", "count_if", "sum", "min", "max", "any_value"})


def _aggregate_sql(metric: RollupMetric, source: TableIR, dialect: Dialect) -> str:
    """The aggregate over the source rows that computes an additive (or min/max) metric."""
    if metric.agg == "count":
        return "COUNT(*)"
    if metric.agg == "count_if":
        return f"SUM(CASE WHEN {metric.sql} THEN 1 ELSE 0 END)"
    if metric.agg == "sum" and _column_type(source, str(metric.sql)) == "FLOAT64":
        return dialect.exact_sum(str(metric.sql))
    function = "MIN" if metric.agg == "any_value" else metric.agg.upper()
    return f"{function}({metric.sql})"


def _derived_sql(metric: RollupMetric, grain: str, dialect: Dialect) -> str:
    """A ratio or rate recomputed from this rollup's own summed metrics (alias `a`)."""
    if metric.agg == "per_second":
        return f"{dialect.float_cast(f'a.{metric.of}')} / {dialect.seconds(grain)}"
    expression = dialect.safe_divide(f"a.{metric.numerator}", f"a.{metric.denominator}")
    if metric.multiplier not in (None, 1):
        expression = f"{expression} * {metric.multiplier!r}"
    return expression


def _column_type(table: TableIR, expression: str) -> str | None:
    """The type of a plain column of the table; None for any other expression."""
    return next((c.type for c in table.columns if c.name == expression), None)


def _fraction(percentile: float) -> float:
    """95 -> 0.95 and 99.9 -> 0.999 exactly as written (no binary-float tail in the SQL)."""
    return float(f"{percentile / 100:.10g}")


@dataclass(frozen=True)
class Statement:
    """A rendered statement and the file it belongs in."""

    kind: str  # ddl | rollup | incremental | expire | check
    table: str
    sql: str
    origin: Origin


class SqlRenderer:
    """Renders every statement kind of a model for one dialect."""

    def __init__(self, model: SemanticModel, dialect: str, templates: Path | None = None) -> None:
        self.model = model
        self.dialect = DIALECTS[dialect]
        self.env = environment(self.dialect, templates)
        self.redirect: dict[str, str] = {}  # model table -> the table name statements use instead

    def render(self, template: str, **context: object) -> str:
        try:
            return self.env.get_template(template).render(model=self.model, **context).strip() + "\n"
        except jinja2.TemplateError as error:
            raise InputError(f"template {template}: {error}") from error

    def ref(self, name: str) -> str:
        """The table as SQL names it; a redirected table (a rebuild's staging twin) by its twin's name."""
        table = self.model.tables[name]
        twin = self.redirect.get(name)
        if twin is not None:
            project_dataset = table.table_id.rpartition(".")[0]
            return self.dialect.table(f"{project_dataset}.{twin}", twin)
        return self.dialect.table(table.table_id, table.name)

    def ddl(self, table: TableIR) -> str:
        return self.render("create_table.sql.j2", table=table, ref=self.ref(table.name))

    def rollup_select(self, table: TableIR, windowed: bool, source_window: str | None = None) -> str:
        plan = plan_rollup(self.model, table, self.dialect)
        parameter = self.dialect.parameter(WINDOW_PARAMETER)
        source_is_date = plan.source.column(plan.period_source).type == "DATE"
        bound = source_window or (parameter if source_is_date else self.dialect.source_window(parameter, plan.grain))
        return self.render("rollup_select.sql.j2", plan=plan, source=self.ref(plan.source.name),
                           target=self.ref(table.name), windowed=windowed, source_window=bound,
                           source_filter=source_filter(plan, self.dialect, bound if windowed else None))

    def incremental(self, table: TableIR, window: str | None = None, source_window: str | None = None) -> str:
        """The incremental statement(s) of a rollup from `window` (default: the @window_start parameter)."""
        plan = plan_rollup(self.model, table, self.dialect)
        return self.render("incremental.sql.j2", plan=plan, target=self.ref(table.name),
                           window=window or self.dialect.parameter(WINDOW_PARAMETER),
                           select=self.rollup_select(table, windowed=True, source_window=source_window).strip())

    def expire(self, table: TableIR, oldest: str | None = None, floor: str | None = None) -> str:
        """The DELETE of a keep_periods rollup's rows from `oldest` (its oldest row) to before `floor`
        (default: the @expire_from and @expire_before parameters)."""
        plan = plan_rollup(self.model, table, self.dialect)
        return self.render("expire.sql.j2", plan=plan, target=self.ref(table.name),
                           oldest=oldest or self.dialect.parameter(EXPIRE_FROM_PARAMETER),
                           floor=floor or self.dialect.parameter(EXPIRE_PARAMETER))

    def checks(self, table: TableIR) -> str:
        return self.render("checks.sql.j2", table=table, ref=read_all(table, self.ref(table.name), self.dialect))

    def statements(self, tables: list[str] | None = None) -> list[Statement]:
        out: list[Statement] = []
        for name in list(self.model.tables) if tables is None else tables:
            table = self.model.tables[name]
            out.append(Statement("ddl", table.name, self.ddl(table), table.origin))
            if table.rollup is not None:
                out.append(Statement("rollup", table.name, self.rollup_select(table, windowed=False), table.origin))
                out.append(Statement("incremental", table.name, self.incremental(table), table.origin))
                if table.rollup.keep_periods is not None:
                    out.append(Statement("expire", table.name, self.expire(table), table.origin))
            if table.checks or any(c.required for c in table.columns):
                out.append(Statement("check", table.name, self.checks(table), table.origin))
        return out


WINDOW_PARAMETER = "window_start"
EXPIRE_PARAMETER = "expire_before"
EXPIRE_FROM_PARAMETER = "expire_from"

SQL_FOLDERS = {"ddl": "ddl", "rollup": "rollups", "incremental": "incremental", "expire": "expire", "check": "checks"}


def render_sql_files(model: SemanticModel, dialect: str = "bigquery", templates: Path | None = None,
                     tables: list[str] | None = None) -> list[OutputFile]:
    """Every statement (of `tables`, default all) as a file under `<dialect>/<kind>/<table>.sql`."""
    renderer = SqlRenderer(model, dialect, templates)
    files = [
        OutputFile(f"{dialect}/{SQL_FOLDERS[s.kind]}/{s.table}.sql", header(f"{s.origin.file} (table {s.table})", "--") + s.sql)
        for s in renderer.statements(tables)
    ]
    function = quantile_function_file(model, dialect)
    if function is not None and tables is None:
        files.append(function)
    return files


def quantile_function_sql(model: SemanticModel, dialect: str) -> str | None:
    """CREATE OR REPLACE FUNCTION `project.dataset.lw_sketch_quantile` on BigQuery when a
    sketch_percentile measure calls it (DuckDB inlines the quantile; nothing to create)."""
    from lookwright.model.ir import quantile_function
    from lookwright.sqlgen.dialects import BigQuery

    target = DIALECTS[dialect]
    if not isinstance(target, BigQuery) or not _sketch_users(model):
        return None
    return target.quantile_function_ddl(quantile_function(model.warehouse))


def _sketch_users(model: SemanticModel) -> list[TableIR]:
    return [t for t in model.tables.values() if any(m.declared_type == "sketch_percentile" for m in t.measures)]


def quantile_function_file(model: SemanticModel, dialect: str) -> OutputFile | None:
    """The SQL function sketch_percentile measures call on BigQuery (`build` creates it)."""
    from lookwright.sqlgen.dialects import QUANTILE_FUNCTION

    ddl = quantile_function_sql(model, dialect)
    if ddl is None:
        return None
    origin = _sketch_users(model)[0].origin
    sql = ddl + "\n"
    return OutputFile(f"{dialect}/ddl/{QUANTILE_FUNCTION}.sql", header(f"{origin.file} (function {QUANTILE_FUNCTION})", "--") + sql)
