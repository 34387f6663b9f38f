"""Compile a Looker query (explore, fields, filters, time zone) into warehouse SQL, the way Looker does.

Dimensions are grouped, measures aggregated, plain filters (values, lists, numbers, dates) applied,
Looker's relative date filters on time dimension groups evaluated at `now` in the query time zone.
What needs Looker's symmetric aggregates, time zone conversion or the rest of its filter language
raises `UnsupportedQuery` naming the reason.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from lookwright.errors import InputError
from lookwright.lookml.filters import Interval, UnsupportedFilter, date_interval, interval_sql
from lookwright.model.ir import DimensionIR, FieldIR, JoinIR, MeasureIR, SemanticModel, TableIR
from lookwright.query.fields import FieldCompiler, UnresolvedReference
from lookwright.vocabulary import references, split_field

# Looker's JSON renders each timeframe like this; the expression that gives the same value from the
# dimension group's wall-clock time (DuckDB TIMESTAMP; BigQuery DATETIME) in the query time zone.
TIMEFRAMES = {
    "raw": "{}", "date": "CAST({} AS DATE)", "week": "CAST(date_trunc('week', {}) AS DATE)",
    "month": "strftime({}, '%Y-%m')", "quarter": "strftime({0}, '%Y') || '-Q' || quarter({0})",
    "year": "year({})", "time": "strftime({}, '%Y-%m-%d %H:%M:%S')", "hour": "strftime({}, '%Y-%m-%d %H')",
    "minute": "strftime({}, '%Y-%m-%d %H:%M')",
}
# The same on BigQuery (a DATE column, or the DATETIME of a time converted to the query time zone,
# goes through TIMESTAMP() so every timeframe types on either).
BIGQUERY_TIMEFRAMES = {
    "raw": "{}", "date": "DATE({})", "week": "DATE_TRUNC(DATE({}), WEEK(MONDAY))",
    "month": "FORMAT_TIMESTAMP('%Y-%m', TIMESTAMP({}))",
    "quarter": "FORMAT_TIMESTAMP('%Y-Q%Q', TIMESTAMP({}))", "year": "EXTRACT(YEAR FROM {})",
    "time": "FORMAT_TIMESTAMP('%Y-%m-%d %H:%M:%S', TIMESTAMP({}))",
    "hour": "FORMAT_TIMESTAMP('%Y-%m-%d %H', TIMESTAMP({}))",
    "minute": "FORMAT_TIMESTAMP('%Y-%m-%d %H:%M', TIMESTAMP({}))",
}
DATE_COLUMNS = frozenset({"DATE"})
JOIN_KEYWORDS = {"left_outer": "LEFT JOIN", "inner": "JOIN", "full_outer": "FULL OUTER JOIN", "cross": "CROSS JOIN"}
FANNING = frozenset({"one_to_many", "many_to_many"})
FANOUT_SAFE = frozenset({"count_distinct", "min", "max", "number"})
SYMMETRIC = frozenset({"count", "sum", "average"})
FILTER_NUMBER = re.compile(r"\s*(>=|<=|>|<|=)?\s*(-?\d+(?:\.\d+)?)\s*")
FILTER_DATE = re.compile(r"\d{4}(-\d{2}){0,2}")
# unescaped wildcards, a leading NOT, NULL/EMPTY; `^` escapes the next character (usage^_share)
FILTER_SPECIAL = re.compile(r"(?<!\^)[%_]|^-|^\s*(NULL|EMPTY)\s*$", re.IGNORECASE)
FILTER_ITEM = re.compile(r"(?:\^.|[^,])+")
SINGLE_REFERENCE = re.compile(r"\$\{([\w.]+)\}")


class UnsupportedQuery(InputError):
    """The compiler cannot express this query the way Looker would; `reason` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class QuerySpec:
    """A Looker query: an explore, its `view.field` fields in order, filters and the query time zone."""

    explore: str
    fields: tuple[str, ...]
    filters: Mapping[str, str] = field(default_factory=dict)
    timezone: str | None = None


@dataclass(frozen=True)
class CompiledField:
    """One selected field: where it lives, what it is, and its SQL as Looker's results show it."""

    reference: str  # view.field, the output column name
    view: str
    kind: str  # dimension | dimension_group | measure
    type: str
    sql: str
    fanned_out: bool  # a measure whose rows a join repeats (always False for dimensions)


@dataclass(frozen=True)
class CompiledQuery:
    """The warehouse SQL of a query and what went into it."""

    spec: QuerySpec
    sql: str
    fields: tuple[CompiledField, ...]
    joins: tuple[str, ...]  # joined views the query needs, in the explore's join order
    where: tuple[str, ...]  # one condition per filter, by filter field name


def compile_query(model: SemanticModel, spec: QuerySpec, now: datetime.datetime | None = None,
                  dialect: str = "duckdb") -> CompiledQuery:
    """SQL (DuckDB or BigQuery) computing the query's rows from the warehouse tables; raises UnsupportedQuery.

    `now` is the moment relative date filters count from (default: the current time). Time dimension
    groups and date filters are in the query time zone, converted from the database time zone (the
    model's `warehouse.timezone`) unless the group is a date or has convert_tz: no, as Looker does.
    """
    return _Compiler(model, spec, now, dialect).compile()


@dataclass(frozen=True)
class _Resolved:
    reference: str
    info: FieldIR
    table: TableIR
    sql: str


class _Compiler:
    """Compiles one query: fields through the field compiler, joins and filters per the explore."""

    def __init__(self, model: SemanticModel, spec: QuerySpec, now: datetime.datetime | None,
                 dialect: str = "duckdb") -> None:
        if spec.explore not in model.explores:
            raise UnsupportedQuery(f"explore {spec.explore} is not in the semantic model")
        self.model, self.spec, self.dialect = model, spec, dialect
        self.bigquery = dialect == "bigquery"
        self.quote = "`" if self.bigquery else '"'
        self.now = now if now is not None else datetime.datetime.now(datetime.UTC)
        self.explore = model.explores[spec.explore]
        # Looker applies an explore's always_filter to every query that does not set the field itself
        self.filters = {**dict(self.explore.always_filter), **spec.filters}
        self.fields = FieldCompiler(model, model.tables[self.explore.view], dialect, condition=self.condition)
        self.joins = {join.view: join for join in self.explore.joins}
        self.database_timezone = model.warehouse.timezone or "UTC"
        self.query_timezone = spec.timezone or self.database_timezone

    def resolve(self, reference: str) -> _Resolved:
        """`view.field` with its SQL as Looker shows it."""
        view, name = split_field(reference)
        if view != self.explore.view and view not in self.joins:
            raise UnsupportedQuery(f"{reference} is not a field of explore {self.explore.name}")
        table = self.model.tables[str(view)]
        info = table.fields.get(name)
        if info is None:
            raise UnsupportedQuery(f"{reference} is not a field of view {view}")
        try:
            if info.kind == "measure":
                return _Resolved(reference, info, table, self.fields.measure(table, name))
            sql = self.fields.dimension(table, name)
        except UnresolvedReference as error:
            raise UnsupportedQuery(f"{reference}: unresolvable reference {error.reference}") from None
        return _Resolved(reference, info, table, self.dimension_sql(reference, info, sql, table))

    def converts(self, info: FieldIR) -> bool:
        """Whether a time dimension group is shown in the query time zone (converted from the database
        time zone): not a date, not convert_tz: no, and the zones differ (Looker's convert_tz)."""
        group = info.field if isinstance(info.field, DimensionIR) else None
        is_date = group is not None and (group.datatype == "date" or group.column_type in DATE_COLUMNS)
        converts = not is_date and (group is None or group.converts_query_tz)
        return converts and self.query_timezone != self.database_timezone

    def wall_clock(self, info: FieldIR, sql: str, table: TableIR) -> str:
        """A time dimension group's value as wall-clock time in the query time zone (BigQuery: a DATETIME)."""
        if not self.converts(info):
            return sql
        if self.bigquery:
            return f"DATETIME({sql}, '{self.query_timezone}')"
        return f"timezone('{self.query_timezone}', timezone('{self.database_timezone}', CAST({sql} AS TIMESTAMP)))"

    def dimension_sql(self, reference: str, info: FieldIR, sql: str, table: TableIR) -> str:
        if info.kind == "dimension_group":
            if info.type != "time" or str(info.timeframe) not in TIMEFRAMES:
                raise UnsupportedQuery(f"{reference}: {info.type} timeframe {info.timeframe}")
            frames = BIGQUERY_TIMEFRAMES if self.bigquery else TIMEFRAMES
            return frames[str(info.timeframe)].format(f"({self.wall_clock(info, sql, table)})")
        if info.type == "yesno":
            return f"CASE WHEN ({sql}) THEN 'Yes' ELSE 'No' END"
        if info.type in ("tier", "location", "distance"):
            raise UnsupportedQuery(f"{reference}: dimension type {info.type}")
        return sql

    def fanned_out(self, table: TableIR, needed: set[str]) -> bool:
        """Whether the query's joins repeat the rows of `table` (so plain aggregates over it double count)."""
        fanning = any(self.joins[view].relationship in FANNING for view in needed)
        repeated = table.name != self.explore.view and self.joins[table.name].relationship != "one_to_one"
        return fanning or repeated

    def measure_sql(self, field: _Resolved, fanned_out: bool) -> str:
        """A measure's aggregate; plain aggregation equals Looker's only when no join repeats its rows."""
        if isinstance(field.info.field, MeasureIR) and field.info.field.filters:
            raise UnsupportedQuery(f"{field.reference}: filtered measures")
        if fanned_out and field.info.type in SYMMETRIC:
            assert isinstance(field.info.field, MeasureIR)
            return self.symmetric_sql(field.table, field.info.type, field.info.field, field.reference)
        if fanned_out and field.info.type not in FANOUT_SAFE:
            raise UnsupportedQuery(f"{field.reference}: {field.info.type} over a fanned-out join needs "
                                   "Looker's symmetric aggregates")
        return field.sql

    def number_sql(self, field: _Resolved, needed: set[str]) -> str:
        """A number measure with each sum, count and average it references in its symmetric form
        when a join repeats that measure's rows (Looker protects `${measure}` parts, not SQL)."""
        def part(table: TableIR, measure: MeasureIR) -> str | None:
            if measure.type not in SYMMETRIC or not self.fanned_out(table, needed):
                return None
            return self.symmetric_sql(table, measure.type, measure, f"{table.name}.{measure.name}")

        compiler = FieldCompiler(self.model, self.fields.table, self.dialect, part, self.condition)
        return compiler.measure(field.table, str(split_field(field.reference)[1]))

    def symmetric_sql(self, table: TableIR, kind: str, measure: MeasureIR, reference: str) -> str:
        """Looker's symmetric aggregates: each row of the measure's view counts once, however many
        times the joins repeat it (distinct on the view's primary key)."""
        key = next((d for d in table.dimensions if d.primary_key), None)
        if key is None:
            raise UnsupportedQuery(f"{reference} cannot be calculated because of a one_to_many or "
                                   f"many_to_many join. Add a primary key to {table.name}.")
        pk = self.fields.dimension(table, key.name)
        if kind == "count":
            return f"COUNT(DISTINCT ({pk}))"
        value = self.fields.expand(table, measure.sql or "NULL")
        if self.bigquery:
            return self.bigquery_symmetric(pk, value, kind)
        pairs = f"list_distinct(list({{'k': ({pk}), 'v': ({value})}}) FILTER (WHERE ({pk}) IS NOT NULL))"
        total = f"list_sum(list_transform({pairs}, lambda x: x.v))"
        if kind == "sum":
            return total
        count = f"len(list_filter({pairs}, lambda x: x.v IS NOT NULL))"
        return f"{total} / NULLIF({count}, 0)"

    @staticmethod
    def bigquery_symmetric(pk: str, value: str, kind: str) -> str:
        """Looker's BigQuery form: SUM(DISTINCT value + a 60-bit hash of the key) minus SUM(DISTINCT
        hash) adds each key's value once (BIGNUMERIC: the 9 decimals kept and the key add exactly)."""
        key = f"CAST(CAST(CONCAT('0x', SUBSTR(TO_HEX(MD5(CAST(({pk}) AS STRING))), 1, 15)) AS INT64) AS BIGNUMERIC)"
        shifted = f"CAST(ROUND(CAST(({value}) AS FLOAT64), 9) AS BIGNUMERIC)"
        total = (f"CAST(SUM(DISTINCT {shifted} + {key}) - SUM(DISTINCT CASE WHEN ({value}) IS NOT NULL"
                 f" THEN {key} END) AS FLOAT64)")  # NULL without values, as SUM and the DuckDB form
        if kind == "sum":
            return total
        return f"{total} / NULLIF(COUNT(DISTINCT CASE WHEN ({value}) IS NOT NULL THEN ({pk}) END), 0)"

    def condition(self, reference: str, inner: str, expanded: str) -> str | None:
        """A templated filter: the query's filter on `reference` applied to `expanded` (the SQL
        between the tags), None when the query does not filter it. A date filter's bounds take the
        type of the field `inner` names when it is one `${view.field}` (so a DATE filter bounds a
        TIMESTAMP partition column with timestamps), else of the filtered field."""
        value = self.filters.get(reference)
        if value is None:
            return None
        target = None
        if (single := SINGLE_REFERENCE.fullmatch(inner.strip())) is None:
            expanded = f"({expanded})"  # any SQL: the filter applies to all of it
        else:
            expanded = expanded.removeprefix("(").removesuffix(")")  # one reference: as a filter writes it
            view, name = split_field(single.group(1))
            table = self.model.tables.get(str(view or self.explore.view))
            target = None if table is None else table.fields.get(name)
        return self.filter_sql(reference, value, expanded, target)

    def filter_sql(self, reference: str, value: str, applied_to: str | None = None,
                   target: FieldIR | None = None) -> str:
        """The filter's condition on the field's SQL (on `applied_to` instead: a templated filter)."""
        resolved = self.resolve(reference)
        info = resolved.info
        sql = resolved.sql if applied_to is None else applied_to
        if info.kind == "measure":
            raise UnsupportedQuery(f"filter on measure {reference}")
        if info.kind == "dimension_group" or info.type == "date":
            if FILTER_DATE.fullmatch(value.strip()):
                return f"{sql} = '{value.strip()}'"
            return self.relative_date_sql(reference, info, value, applied_to, target)
        number = FILTER_NUMBER.fullmatch(value) if info.type == "number" else None
        if number:
            return f"{sql} {number.group(1) or '='} {number.group(2)}"
        if FILTER_SPECIAL.search(value) or info.type == "number":
            raise UnsupportedQuery(f"filter {reference}: {value!r} is not a plain value list")
        items = [re.sub(r"\^(.)", r"\1", item.strip()) for item in FILTER_ITEM.findall(value)]
        options = ", ".join("'" + item.replace("'", "''") + "'" for item in items)
        return f"{sql} IN ({options})"

    def relative_date_sql(self, reference: str, info: FieldIR, value: str, applied_to: str | None = None,
                          target: FieldIR | None = None) -> str:
        """Looker's relative date filters on a time dimension group select a range of its raw time
        (of `applied_to`, typed and converted as `target`, for a templated filter)."""
        if info.kind != "dimension_group" or info.type != "time":
            raise UnsupportedQuery(f"filter {reference}: {value!r} is not a plain date")
        view, name = split_field(reference)
        raw = self.fields.dimension(self.model.tables[str(view)], name) if applied_to is None else applied_to
        typed = info if applied_to is None else (target or info)
        try:
            interval = date_interval(value, self.now, self.query_timezone)
        except UnsupportedFilter as error:
            raise UnsupportedQuery(f"filter {reference}: {error}") from None
        if self.converts(typed):  # the query time zone's bounds as instants of the raw column (it still prunes)
            stored = "UTC" if self.bigquery else self.database_timezone
            interval = Interval(*(None if b is None else _in_zone(b, self.query_timezone, stored)
                                  for b in (interval.start, interval.end)))
        if self.bigquery and _column_type(typed) == "DATE":
            return interval_sql(raw, interval, date_literals=True)
        return interval_sql(raw, interval)

    def compile(self) -> CompiledQuery:
        resolved = [self.resolve(reference) for reference in self.spec.fields]
        where = tuple(self.filter_sql(reference, value) for reference, value in sorted(self.filters.items()))
        if self.explore.sql_always_where:
            always = self.fields.expand(self.model.tables[self.explore.view], self.explore.sql_always_where)
            where += (f"({always})",)
        referenced = {str(split_field(r)[0]) for r in (*self.spec.fields, *self.filters)}
        needed = self.needed_joins(referenced | self.fields.joined)
        fields = tuple(self.compiled_field(field, needed) for field in resolved)
        joins = tuple(join for join in self.explore.joins if join.view in needed)
        return CompiledQuery(self.spec, self.sql(fields, joins, where), fields, tuple(j.view for j in joins), where)

    def compiled_field(self, field: _Resolved, needed: set[str]) -> CompiledField:
        info = field.info
        if info.kind != "measure":
            return CompiledField(field.reference, field.table.name, info.kind, info.type, field.sql, False)
        fanned_out = self.fanned_out(field.table, needed)
        measure = info.field
        plain_number = isinstance(measure, MeasureIR) and measure.type == "number" and measure.declared_type != "sketch_percentile"
        sql = self.number_sql(field, needed) if plain_number else self.measure_sql(field, fanned_out)
        return CompiledField(field.reference, field.table.name, info.kind, info.type, sql, fanned_out)

    def sql(self, fields: tuple[CompiledField, ...], joins: tuple[JoinIR, ...], where: tuple[str, ...]) -> str:
        base = self.explore.view
        q = self.quote
        # Looker's BigQuery aliases: view_field (a BigQuery column name holds no dot)
        select = ", ".join(f"{field.sql} AS {field.reference.replace('.', '_') if self.bigquery else q + field.reference + q}"
                           for field in fields)
        lines = [f"SELECT {select}", f"FROM {self.fields.ref(base)} AS {q}{base}{q}"]
        for join in joins:
            on = "" if join.type == "cross" else f" ON {self.join_on(join.sql_on)}"
            lines.append(f"{JOIN_KEYWORDS[join.type]} {self.fields.ref(join.view)} AS {q}{join.view}{q}{on}")
        if where:
            lines.append("WHERE " + " AND ".join(where))
        dimensions = [str(n) for n, field in enumerate(fields, 1) if field.kind != "measure"]
        if dimensions:
            lines.append("GROUP BY " + ", ".join(dimensions))
        return "\n".join(lines)

    def join_on(self, sql_on: str | None) -> str:
        if sql_on is None:
            raise UnsupportedQuery("a join without sql_on")
        return self.fields.expand(self.model.tables[self.explore.view], sql_on)

    def needed_joins(self, views: set[str]) -> set[str]:
        """The joins the query uses, and the joins their ON clauses reference, transitively."""
        needed = {view for view in views if view in self.joins}
        pending = list(needed)
        while pending:
            for reference in references(self.joins[pending.pop()].sql_on):
                view = split_field(reference)[0]
                if view in self.joins and view not in needed:
                    needed.add(view)
                    pending.append(view)
        return needed


def _column_type(info: FieldIR) -> str | None:
    """The physical type of the one column a dimension (group) reads, if it reads one."""
    field = info.field
    return field.column_type if isinstance(field, DimensionIR) else None


def _in_zone(moment: datetime.datetime, source: str, target: str) -> datetime.datetime:
    """A wall-clock time of zone `source` as the wall-clock time of zone `target` (naive both)."""
    from zoneinfo import ZoneInfo

    return moment.replace(tzinfo=ZoneInfo(source)).astimezone(ZoneInfo(target)).replace(tzinfo=None)
