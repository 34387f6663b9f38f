"""Offline re-implementation of Looker's aggregate awareness: which table serves a query."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import assert_never

from lookwright.errors import InputError
from lookwright.field_rules import joins_needed, measure_rolls_up
from lookwright.lookml.project import (
    AggregateTable,
    Explore,
    Field,
    Project,
    View,
    fanned_out_aliases,
)
from lookwright.vocabulary import reference_parts

_DAY_DERIVED = frozenset({
    "date", "week", "month", "quarter", "year", "day_of_week", "day_of_week_index",
    "day_of_month", "day_of_year", "week_of_year", "month_num", "month_name", "quarter_of_year",
    "fiscal_month_num", "fiscal_quarter", "fiscal_quarter_of_year", "fiscal_year", "yesno",
})
_HOUR_DERIVED = _DAY_DERIVED | {"hour", "hour_of_day", "hour2", "hour3", "hour4", "hour6",
                                "hour8", "hour12"}
_MINUTE_DERIVED = _HOUR_DERIVED | {"minute", "minute2", "minute3", "minute4", "minute5",
                                   "minute6", "minute10", "minute12", "minute15", "minute20",
                                   "minute30", "time_of_day"}
# Query timeframes an aggregate timeframe can serve. Weeks straddle months and years, so a
# weekly table serves only week-level queries (docs unclear; conservative).
SERVES: dict[str, frozenset[str]] = {
    "date": _DAY_DERIVED,
    "week": frozenset({"week", "week_of_year"}),
    "month": frozenset({"month", "quarter", "year", "month_num", "month_name", "quarter_of_year",
                        "fiscal_month_num", "fiscal_quarter", "fiscal_quarter_of_year",
                        "fiscal_year"}),
    "quarter": frozenset({"quarter", "year", "quarter_of_year"}),
    "year": frozenset({"year"}),
    "hour": _HOUR_DERIVED,
    "minute": _MINUTE_DERIVED,
}
FINEST = frozenset({"raw", "time", "second", "millisecond", "microsecond"})
# Fineness rank used by the tie-break: larger = finer = bigger table.
FINENESS = {"year": 1, "fiscal_year": 1, "quarter": 2, "fiscal_quarter": 2, "month": 3, "week": 4,
            "date": 5, "hour": 6, "minute": 7, "time": 8, "second": 8, "raw": 9}
DATABASE_TIMEZONE = "(database time zone)"


class Miss(Enum):
    """Why an aggregate table did not serve a query (looker.md §2.7), checked in this order."""

    NO_GROUPING = "no_grouping"
    MISSING_FIELDS = "missing_fields"
    UNROLLABLE_MEASURES = "unrollable_measures"
    UNCOVERED_FILTERS = "uncovered_filters"
    EXTRA_FILTERS = "extra_filters"
    TIMEZONE = "timezone"
    BETTER_FIT = "better_fit"  # usable, but another table was chosen


@dataclass(frozen=True)
class Skipped:
    """An aggregate table the query did not use, why, and the names the reason lists."""

    table: str
    why: Miss
    names: tuple[str, ...] = ()  # fields, measures or filters; (query, table) time zones; the chosen table

    @property
    def reason(self) -> str:
        """The reason in Looker's comment wording (ours where Looker documents none)."""
        listed = ", ".join(self.names)
        match self.why:
            case Miss.NO_GROUPING:
                # Looker's troubleshooting table phrases this cause; its comment text is not documented.
                return ("Looker did not do any grouping (because of a primary_key or "
                        "cancel_grouping_fields parameter) and therefore the query can't be rolled up.")
            case Miss.MISSING_FIELDS:
                return f"it does not include the following fields in the query: {listed}"
            case Miss.UNROLLABLE_MEASURES:
                return f"it contains the following measures that cannot roll up: {listed}"
            case Miss.UNCOVERED_FILTERS:
                return ("query contained the following filters that were neither included as fields nor "
                        f"exactly matched by filters in the aggregate table: {listed}.")
            case Miss.EXTRA_FILTERS:
                return f"contained filters not in the query: {listed}"
            case Miss.TIMEZONE:
                # Looker does not document this comment; the wording is ours.
                return (f"the query timezone {self.names[0]} does not match the aggregate table timezone "
                        f"{self.names[1]}")
            case Miss.BETTER_FIT:
                return f"{listed} was a better fit for optimization."
        assert_never(self.why)


@dataclass(frozen=True)
class Explanation:
    """The aggregate table Looker would use for a query on `explore`, and why each other one was skipped."""

    explore: str
    used: str | None
    skipped: tuple[Skipped, ...]  # in the explore's definition order

    @property
    def lines(self) -> list[str]:
        """The choice as Looker's SQL comments (`-- use existing ...`, `-- Did not use ...; reason`)."""
        lines = [f"-- use existing {self.explore}::{self.used}"] if self.used is not None else []
        lines += [f"-- Did not use {self.explore}::{s.table}; {s.reason}" for s in self.skipped]
        return lines

    def skipped_table(self, table: str) -> Skipped | None:
        return next((s for s in self.skipped if s.table == table), None)


@dataclass(frozen=True)
class _Query:
    explore: Explore
    views: dict[str, View]
    fields: dict[str, Field]  # selected fields, by scoped name
    filters: dict[str, str]
    filter_fields: dict[str, Field]
    timezone: str | None


def explain_query(project: Project, explore: str, fields: list[str], filters: dict[str, str],
                  timezone: str | None) -> Explanation:
    """Decide which aggregate table of `explore` serves the query, with Looker's reasons."""
    try:
        found, views = project.explore(explore)
    except KeyError:
        raise InputError(f"Unknown explore {explore} in the LookML project{_suggest(explore, list(project.explores))}") from None
    query = _Query(
        explore=found,
        views=views,
        fields={name: _field(found, views, name) for name in fields},
        filters=dict(filters),
        filter_fields={name: _field(found, views, name) for name in filters},
        timezone=timezone,
    )
    reasons = {table.name: _reason(table, query) for table in found.aggregate_tables}
    usable = [t for t in found.aggregate_tables if reasons[t.name] is None]
    best = min(usable, key=lambda t: _size(t, found, views), default=None)
    skipped = tuple(reasons[table.name] or _better_fit(table, found, best)
                    for table in found.aggregate_tables if best is None or table.name != best.name)
    return Explanation(found.name, best.name if best is not None else None, skipped)


def _better_fit(table: AggregateTable, explore: Explore, best: AggregateTable | None) -> Skipped:
    assert best is not None  # a usable table that was not chosen implies a best one
    return Skipped(table.name, Miss.BETTER_FIT, (f"{explore.name}::{best.name}",))


def _field(explore: Explore, views: dict[str, View], name: str) -> Field:
    """A query field; fields the explore's `fields` lists leave out cannot be queried."""
    alias, _, field_name = name.partition(".")
    found = _resolve(explore, views, name)
    if found is None or not explore.exposes(alias, field_name):
        raise InputError(f"Unknown field {name} in explore {explore.name}{_suggest(name, _queryable(explore, views))}")
    return found


def _queryable(explore: Explore, views: dict[str, View]) -> list[str]:
    names = []
    for alias in explore.aliases():
        view = views.get(explore.view_for_alias(alias) or "")
        if view is not None:
            names += [f"{alias}.{n}" for n in view.referencable() if explore.exposes(alias, n)]
    return names


def _suggest(name: str, known: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
    return f"; did you mean {close[0]}?" if close else ""


def _resolve(explore: Explore, views: dict[str, View], name: str) -> Field | None:
    """Any field of a view in the explore (SQL may reference fields the explore hides)."""
    alias, _, field_name = name.partition(".")
    view = views.get(explore.view_for_alias(alias) or "")
    return view.field(field_name) if view is not None and field_name else None


# --------------------------------------------------------------------------- coverage


def covers(aggregate_field: str, query_field: str, explore: Explore,
           views: dict[str, View]) -> bool:
    """True if grouping by `aggregate_field` lets Looker derive `query_field`."""
    if aggregate_field == query_field:
        return True
    have = _resolve(explore, views, aggregate_field)
    want = _resolve(explore, views, query_field)
    if have is None or want is None or not (have.is_time and want.is_time):
        return False
    same_group = (aggregate_field.split(".")[0] == query_field.split(".")[0]
                  and have.group == want.group)
    if not same_group or have.timeframe is None or want.timeframe is None:
        return False
    if have.timeframe in FINEST:
        return True
    return want.timeframe in SERVES.get(have.timeframe, frozenset({have.timeframe}))


def _dimension_covers(table: AggregateTable, name: str, query: _Query) -> bool:
    return any(covers(dim, name, query.explore, query.views) for dim in table.dimensions)


def _missing_fields(table: AggregateTable, query: _Query) -> list[str]:
    missing: list[str] = []
    for name, found in query.fields.items():
        covered = (name in table.measures if found.kind == "measure"
                   else _dimension_covers(table, name, query))
        if not covered:
            missing.append(name)
    defaults = {*query.explore.always_filter, *query.explore.conditionally_filter}
    for name in explore_filter_fields(query.explore):
        value = query.filters.get(name)
        exact = any(pair in defaults and pair[0] == name
                    and (value is None or value == pair[1]) for pair in table.filters)
        if not exact and not _dimension_covers(table, name, query) and name not in missing:
            missing.append(name)
    return missing


def explore_filter_fields(explore: Explore) -> list[str]:
    """Fields of access/always/conditionally filters: they must be aggregate dimensions (AA)."""
    names = [*explore.access_filter, *(f for f, _ in explore.always_filter),
             *(f for f, _ in explore.conditionally_filter)]
    return list(dict.fromkeys(names))


# --------------------------------------------------------------------------- measures


def joined_aliases(explore: Explore, names: Iterable[str]) -> set[str]:
    """Joins a query needs: those its fields use, plus the joins their sql_on depends on."""
    depends_on = {join.name: [*(parts[0] for parts in reference_parts(join.sql_on)), *join.required_joins]
                  for join in explore.joins}
    return joins_needed((name.split(".")[0] for name in names), depends_on)


def rolls_up(measure: Field, alias: str, explore: Explore, views: dict[str, View],
             fanned: set[str], seen: frozenset[str] = frozenset()) -> bool:
    """True if an aggregate table can re-aggregate `measure` (field_rules.measure_rolls_up: its
    type and sql; here the fields it references resolve in the explore and roll up in turn)."""

    def reference_rolls_up(parts: tuple[str, ...]) -> bool:
        ref_alias, name = (alias, parts[0]) if len(parts) == 1 else (parts[0], parts[1])
        key = f"{ref_alias}.{name}"
        referenced = _resolve(explore, views, key)
        if referenced is None or key in seen:
            return False
        return referenced.kind != "measure" or rolls_up(referenced, ref_alias, explore, views, fanned, seen | {key})

    return measure_rolls_up(measure.type, measure.sql, reference_rolls_up,
                            approximate=measure.allow_approximate_optimization, fanned_out=alias in fanned)


def _unrollable_measures(query: _Query) -> list[str]:
    fanned = fanned_out_aliases(query.explore,
                                joined_aliases(query.explore, [*query.fields, *query.filters]))
    return [
        name for name, found in query.fields.items()
        if found.kind == "measure"
        and not rolls_up(found, name.split(".")[0], query.explore, query.views, fanned)
    ]


# --------------------------------------------------------------------------- filters, tz


def _uncovered_filters(table: AggregateTable, query: _Query) -> list[str]:
    exact = set(table.filters)
    return [
        name for name, value in query.filters.items()
        if (name, value) not in exact and not _dimension_covers(table, name, query)
        and not (query.filter_fields[name].kind == "measure" and name in table.measures)
    ]


def _filters_not_in_query(table: AggregateTable, query: _Query) -> list[str]:
    # Conservative on time ranges: only an identical expression counts as "in the query".
    return [name for name, value in table.filters if query.filters.get(name) != value]


def _uses_time(query: _Query) -> bool:
    return any(f.is_time for f in (*query.fields.values(), *query.filter_fields.values()))


def _exact_match(table: AggregateTable, query: _Query) -> bool:
    dimensions = {n for n, f in query.fields.items() if f.kind != "measure"}
    measures = {n for n, f in query.fields.items() if f.kind == "measure"}
    return (set(table.dimensions) == dimensions and set(table.measures) == measures
            and dict(table.filters) == query.filters and table.timezone == query.timezone)


def _groups(query: _Query) -> bool:
    """False when the query selects the base view's primary key or a cancel_grouping_fields
    field (Looker then skips GROUP BY)."""
    explore = query.explore
    if set(explore.cancel_grouping_fields) & set(query.fields):
        return False
    base = query.views.get(explore.view_name)
    if base is None or base.primary_key is None:
        return True
    return f"{explore.alias}.{base.primary_key}" not in query.fields


def _reason(table: AggregateTable, query: _Query) -> Skipped | None:
    """Why `table` cannot serve the query; None if it can.

    Rules follow looker.md §2.2-2.9; the first failing check is reported, in this order: no
    grouping (primary key in the query), fields covered, measures roll up (skipped when the
    table exactly matches the query), query filters covered, table filters in the query, time
    zone. Wording is Looker's (§2.7) except where a comment says otherwise.
    """
    if not _groups(query):
        return Skipped(table.name, Miss.NO_GROUPING)
    missing = _missing_fields(table, query)
    if missing:
        return Skipped(table.name, Miss.MISSING_FIELDS, tuple(missing))
    if not _exact_match(table, query):
        unrollable = _unrollable_measures(query)
        if unrollable:
            return Skipped(table.name, Miss.UNROLLABLE_MEASURES, tuple(unrollable))
    uncovered = _uncovered_filters(table, query)
    if uncovered:
        return Skipped(table.name, Miss.UNCOVERED_FILTERS, tuple(uncovered))
    extra = _filters_not_in_query(table, query)
    if extra:
        return Skipped(table.name, Miss.EXTRA_FILTERS, tuple(extra))
    query_tz = query.timezone or DATABASE_TIMEZONE
    table_tz = table.timezone or DATABASE_TIMEZONE
    if _uses_time(query) and query_tz != table_tz:
        return Skipped(table.name, Miss.TIMEZONE, (query_tz, table_tz))
    return None


# Tie-break among usable tables (deterministic): fewest dimensions, then the coarsest timeframes
# (smallest sum of fineness ranks), then fewest measures, then definition order.
def _size(table: AggregateTable, explore: Explore,
          views: dict[str, View]) -> tuple[int, int, int, int]:
    fineness = 0
    for name in table.dimensions:
        found = _resolve(explore, views, name)
        if found is not None and found.is_time and found.timeframe is not None:
            fineness += FINENESS.get(found.timeframe, 5)
    order = [t.name for t in explore.aggregate_tables].index(table.name)
    return (len(table.dimensions), fineness, len(table.measures), order)
