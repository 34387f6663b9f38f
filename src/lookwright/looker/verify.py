"""Verify a deployed Looker model: explores and fields as generated, numbers equal to the warehouse."""

from __future__ import annotations

import datetime
import decimal
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from looker_sdk.sdk.api40 import models as models40

from lookwright.errors import CheckFailed, InputError, WarehouseError
from lookwright.looker.client import LookerClient
from lookwright.looker.deploy import CheckQuery, declared_queries
from lookwright.lookml.filters import UnsupportedFilter, date_interval, interval_sql
from lookwright.lookml.project import Explore, Field, Model, load_project
from lookwright.model import schema
from lookwright.model.ir import SemanticModel, TableIR
from lookwright.model.merged import FieldInfo, references, split_field, view_fields


@dataclass(frozen=True, order=True)
class Mismatch:
    """One difference between what lookwright generated (or the warehouse says) and Looker."""

    subject: str
    expected: str
    actual: str


class VerifyFailed(CheckFailed):
    def __init__(self, mismatches: list[Mismatch]) -> None:
        self.mismatches = sorted(mismatches)
        count = len(self.mismatches)
        super().__init__(f"{count} mismatch{'es' if count != 1 else ''} between the generated LookML and Looker")


def looker_type(field: Field) -> str:
    """The type Looker reports for a field in explore metadata."""
    if field.kind == "dimension_group":
        prefix = "date" if field.type == "time" else "duration"
        return f"{prefix}_{field.timeframe}"
    return field.type or ("count" if field.kind == "measure" else "string")


def expected_fields(explore: Explore, model: Model) -> dict[str, str]:
    """'alias.field' -> Looker type for every dimension and measure the explore exposes."""
    out: dict[str, str] = {}
    for alias in explore.aliases():
        view = model.views.get(explore.view_for_alias(alias) or "")
        if view is None:
            continue
        for name, field in sorted(view.referencable().items()):
            if field.kind in ("dimension", "dimension_group", "measure"):
                out[f"{alias}.{name}"] = looker_type(field)
    return out


def actual_fields(metadata: models40.LookmlModelExplore) -> dict[str, str]:
    fields = metadata.fields
    if fields is None:
        return {}
    found = [*(fields.dimensions or []), *(fields.measures or [])]
    return {str(f.name): str(f.type) for f in found}


def check_explores(client: LookerClient, lookml_dir: Path, only: str | None = None) -> list[Mismatch]:
    """Every generated explore, view and field must exist in Looker with the same type."""
    project = load_project(lookml_dir)
    configured = {m.name: m for m in client.call("list LookML models", client.sdk.all_lookml_models)}
    mismatches: list[Mismatch] = []
    for model_name, model in sorted(project.models.items()):
        if model_name not in configured:
            mismatches.append(Mismatch(f"model {model_name}", "configured", "missing"))
            continue
        deployed = {e.name for e in configured[model_name].explores or []}
        for name, explore in sorted(model.explores.items()):
            if only is not None and name != only:
                continue
            if name not in deployed:
                mismatches.append(Mismatch(f"explore {model_name}.{name}", "present", "missing"))
                continue
            metadata = client.call(f"read explore {model_name}.{name}",
                                   lambda m=model_name, n=name: client.sdk.lookml_model_explore(m, n))  # type: ignore[misc]
            mismatches.extend(_compare_fields(f"{model_name}.{name}", expected_fields(explore, model),
                                              actual_fields(metadata)))
    return mismatches


def _compare_fields(where: str, expected: dict[str, str], actual: dict[str, str]) -> list[Mismatch]:
    return [Mismatch(f"field {where} {name}", kind, actual.get(name, "missing"))
            for name, kind in sorted(expected.items()) if actual.get(name) != kind]


def _normal(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, (int, float, decimal.Decimal)):
        return f"{float(value):.6g}"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return str(value)


def warehouse_rows(warehouse: Path, sql: str) -> list[tuple[str, ...]]:
    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            rows = con.execute(sql).fetchall()
    except duckdb.Error as exc:
        raise WarehouseError(f"check query failed in {warehouse}: {exc}") from None
    return sorted(tuple(_normal(v) for v in row) for row in rows)


def looker_rows(client: LookerClient, query: CheckQuery) -> list[tuple[str, ...]]:
    body = models40.WriteQuery(model=query.model, view=query.explore, fields=list(query.fields),
                               filters=dict(query.filters), query_timezone=query.timezone, limit="-1")
    text = client.call(f"run {query.name}", lambda: client.sdk.run_inline_query("json", body))
    rows = json.loads(str(text))
    return sorted(tuple(_normal(row.get(name)) for name in query.fields) for row in rows)


# ---- a check query compiled from the semantic model over the warehouse tables --------------------

# Looker's JSON renders each timeframe like this; the DuckDB expression that gives the same value.
TIMEFRAMES = {
    "raw": "{}", "date": "CAST({} AS DATE)", "week": "CAST(date_trunc('week', {}) AS DATE)",
    "month": "strftime({}, '%Y-%m')", "quarter": "strftime({0}, '%Y') || '-Q' || quarter({0})",
    "year": "year({})", "time": "strftime({}, '%Y-%m-%d %H:%M:%S')", "hour": "strftime({}, '%Y-%m-%d %H')",
    "minute": "strftime({}, '%Y-%m-%d %H:%M')",
}
JOIN_KEYWORDS = {"left_outer": "LEFT JOIN", "inner": "JOIN", "full_outer": "FULL OUTER JOIN", "cross": "CROSS JOIN"}
FANOUT_SAFE = frozenset({"count_distinct", "min", "max", "number"})
FILTER_NUMBER = re.compile(r"\s*(>=|<=|>|<|=)?\s*(-?\d+(?:\.\d+)?)\s*")
FILTER_DATE = re.compile(r"\d{4}(-\d{2}){0,2}")
FILTER_SPECIAL = re.compile(r"[%_^]|^-|^\s*(NULL|EMPTY)\s*$", re.IGNORECASE)


class _QueryCompiler:
    """Compiles one check query: fields through validate_sql's resolver, joins and filters per the explore."""

    def __init__(self, model: SemanticModel, query: CheckQuery, now: datetime.datetime | None = None) -> None:
        from lookwright.checks.sql import FieldResolver
        from lookwright.sqlgen.render import SqlRenderer

        if query.explore not in model.explores:
            raise self.unsupported(query, f"explore {query.explore} is not in the semantic model")
        self.model, self.query = model, query
        self.now = now if now is not None else datetime.datetime.now(datetime.UTC)
        self.explore = model.explores[query.explore]
        self.renderer = SqlRenderer(model, "duckdb")
        self.resolver = FieldResolver(model, self.renderer, model.tables[self.explore.view])
        self.joins = {join.view: join for join in self.explore.joins}

    @staticmethod
    def unsupported(query: CheckQuery, why: str) -> InputError:
        return InputError(f"check query {query.name}: {why}; give it warehouse_sql instead (--queries)")

    def field(self, reference: str) -> tuple[FieldInfo, TableIR, str]:
        """(field info, its table, its SQL as Looker shows it) for `view.field`."""
        view, name = split_field(reference)
        if view != self.explore.view and view not in self.joins:
            raise self.unsupported(self.query, f"{reference} is not a field of explore {self.explore.name}")
        table = self.model.tables[str(view)]
        info = view_fields(table.spec).get(name)
        if info is None:
            raise self.unsupported(self.query, f"{reference} is not a field of view {view}")
        try:
            if info.kind == "measure":
                return info, table, self.resolver.measure(table, name, frozenset())
            sql = self.resolver.dimension(table, name, frozenset())
        except KeyError as error:
            raise self.unsupported(self.query, f"{reference}: unresolvable reference {error.args[0]}") from None
        return info, table, self.dimension_sql(reference, info, sql)

    def dimension_sql(self, reference: str, info: FieldInfo, sql: str) -> str:
        if info.kind == "dimension_group":
            if info.type != "time" or str(info.timeframe) not in TIMEFRAMES:
                raise self.unsupported(self.query, f"{reference}: {info.type} timeframe {info.timeframe}")
            timezone = self.query.timezone
            converts = not isinstance(info.spec, schema.Dimension) or info.spec.convert_tz is not False
            if timezone not in (None, self.model.warehouse.timezone) and converts:
                raise self.unsupported(self.query, f"{reference}: time zone conversion to {timezone}")
            return TIMEFRAMES[str(info.timeframe)].format(f"({sql})")
        if info.type == "yesno":
            return f"CASE WHEN ({sql}) THEN 'Yes' ELSE 'No' END"
        if info.type in ("tier", "location", "distance"):
            raise self.unsupported(self.query, f"{reference}: dimension type {info.type}")
        return sql

    def measure_check(self, reference: str, info: FieldInfo, table: TableIR, needed: set[str]) -> None:
        """Plain aggregation equals Looker's only when no join repeats the measure's rows."""
        if isinstance(info.spec, schema.Measure) and info.spec.filters:
            raise self.unsupported(self.query, f"{reference}: filtered measures")
        fanning = [v for v in needed if self.joins[v].relationship in ("one_to_many", "many_to_many")]
        repeated = table.name != self.explore.view and self.joins[table.name].relationship != "one_to_one"
        if (fanning or repeated) and info.type not in FANOUT_SAFE:
            raise self.unsupported(self.query, f"{reference}: {info.type} over a fanned-out join needs "
                                               "Looker's symmetric aggregates")

    def filter_sql(self, reference: str, value: str) -> str:
        info, _, sql = self.field(reference)
        if info.kind == "measure":
            raise self.unsupported(self.query, f"filter on measure {reference}")
        if info.kind == "dimension_group" or info.type == "date":
            if FILTER_DATE.fullmatch(value.strip()):
                return f"{sql} = '{value.strip()}'"
            return self.relative_date_sql(reference, info, value)
        number = FILTER_NUMBER.fullmatch(value) if info.type == "number" else None
        if number:
            return f"{sql} {number.group(1) or '='} {number.group(2)}"
        if FILTER_SPECIAL.search(value) or info.type == "number":
            raise self.unsupported(self.query, f"filter {reference}: {value!r} is not a plain value list")
        options = ", ".join("'" + item.strip().replace("'", "''") + "'" for item in value.split(","))
        return f"{sql} IN ({options})"

    def relative_date_sql(self, reference: str, info: FieldInfo, value: str) -> str:
        """Looker's relative date filters on a time dimension group select a range of its raw time."""
        if info.kind != "dimension_group" or info.type != "time":
            raise self.unsupported(self.query, f"filter {reference}: {value!r} is not a plain date")
        table = self.model.tables[str(split_field(reference)[0])]
        raw = self.resolver.dimension(table, split_field(reference)[1], frozenset())
        timezone = self.query.timezone or self.model.warehouse.timezone or "UTC"
        try:
            interval = date_interval(value, self.now, timezone)
        except UnsupportedFilter as error:
            raise self.unsupported(self.query, f"filter {reference}: {error}") from None
        return interval_sql(raw, interval)

    def sql(self) -> str:
        fields = [self.field(reference) for reference in self.query.fields]
        where = [self.filter_sql(reference, value) for reference, value in sorted(self.query.filters.items())]
        referenced = {split_field(r)[0] for r in (*self.query.fields, *self.query.filters)}
        needed = self.needed_joins({str(v) for v in referenced} | self.resolver.joined)
        for reference, (info, table, _) in zip(self.query.fields, fields, strict=True):
            if info.kind == "measure":
                self.measure_check(reference, info, table, needed)
        select = ", ".join(f'{sql} AS "{reference}"' for reference, (_, _, sql) in zip(self.query.fields, fields,
                                                                                         strict=True))
        base = self.explore.view
        lines = [f"SELECT {select}", f'FROM {self.renderer.ref(base)} AS "{base}"']
        for join in self.explore.joins:
            if join.view in needed:
                on = "" if join.type == "cross" else f" ON {self.join_on(join.sql_on)}"
                lines.append(f'{JOIN_KEYWORDS[join.type]} {self.renderer.ref(join.view)} AS "{join.view}"{on}')
        if where:
            lines.append("WHERE " + " AND ".join(where))
        dimensions = [str(n) for n, (info, _, _) in enumerate(fields, 1) if info.kind != "measure"]
        if dimensions:
            lines.append("GROUP BY " + ", ".join(dimensions))
        return "\n".join(lines)

    def join_on(self, sql_on: str | None) -> str:
        if sql_on is None:
            raise self.unsupported(self.query, "a join without sql_on")
        return self.resolver.expand(self.model.tables[self.explore.view], sql_on, frozenset())

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


def warehouse_query(model: SemanticModel, query: CheckQuery, now: datetime.datetime | None = None) -> str:
    """DuckDB SQL computing a check query's rows from the warehouse tables, compiled from the model.

    Dimensions are grouped, measures aggregated, plain filters (values, lists, numbers, dates)
    applied, Looker's relative date filters on time dimension groups evaluated at `now` (default:
    the current time) in the query time zone; anything that needs Looker's symmetric aggregates,
    time zone conversion or the rest of its filter language raises InputError asking for
    hand-written warehouse_sql.
    """
    return _QueryCompiler(model, query, now).sql()


def check_numbers(client: LookerClient, queries: tuple[CheckQuery, ...], warehouse: Path,
                  model: SemanticModel | None = None, now: datetime.datetime | None = None) -> list[Mismatch]:
    """Each check query must return the same rows from Looker and from the warehouse."""
    mismatches = []
    for query in queries:
        sql = query.warehouse_sql
        if sql is None:
            if model is None:
                raise InputError(f"check query {query.name} has no warehouse_sql and no semantic model to compile")
            sql = warehouse_query(model, query, now)
        expected = warehouse_rows(warehouse, sql)
        actual = looker_rows(client, query)
        if expected != actual:
            mismatches.append(Mismatch(f"query {query.name}", _rows_text(expected), _rows_text(actual)))
    return mismatches


def _rows_text(rows: list[tuple[str, ...]]) -> str:
    return "; ".join(", ".join(row) for row in rows) or "(no rows)"


def parse_warehouse(spec: str) -> Path:
    """`duckdb:PATH` -> PATH."""
    kind, _, location = spec.partition(":")
    if kind != "duckdb" or not location:
        raise InputError(f"unsupported warehouse {spec!r}; use duckdb:PATH")
    path = Path(location)
    if not path.exists():
        raise InputError(f"warehouse file {path} does not exist")
    return path


def verify(client: LookerClient, lookml_dir: Path, *, explore: str | None = None,
           queries: tuple[CheckQuery, ...] = (), warehouse: Path | None = None,
           model: SemanticModel | None = None, now: datetime.datetime | None = None) -> int:
    """Run every check; raise VerifyFailed listing all mismatches; return how many queries were compared.

    `queries` override the semantic model's declared queries. Numbers are compared when a
    warehouse is given; explicit queries without one are an input error. `now` is the moment
    relative date filters are evaluated at on the warehouse side (default: the current time).
    """
    mismatches = check_explores(client, lookml_dir, explore)
    if queries and warehouse is None:
        raise InputError("check queries need --warehouse duckdb:PATH")
    chosen = queries or (declared_queries(model) if model is not None else ())
    chosen = tuple(q for q in chosen if explore is None or q.explore == explore)
    if warehouse is not None and chosen:
        mismatches.extend(check_numbers(client, chosen, warehouse, model, now))
    if mismatches:
        raise VerifyFailed(mismatches)
    return len(chosen) if warehouse is not None else 0

