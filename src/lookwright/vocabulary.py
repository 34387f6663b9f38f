"""LookML's vocabulary shared by every stage: keys, measure types, timeframes, field names and `${...}` references.

Both the generator's IR (read from YAML) and the LookML project model (read from `.lkml` files)
name fields, expand dimension groups and parse references through this module, so the two agree.
It imports nothing heavy: the no-change `generate` path loads it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

# ---- references ----------------------------------------------------------------------------------

REFERENCE = re.compile(r"\$\{([^}]*)\}")
SPECIAL_REFERENCES = frozenset({"TABLE", "EXTENDED", "SQL_TABLE_NAME"})


def references(sql: str | None) -> list[str]:
    """The `${...}` references of an SQL snippet, in order, as written."""
    return REFERENCE.findall(sql) if sql else []


def reference_parts(sql: str | None) -> Iterator[tuple[str, ...]]:
    """Each `${a.b}` reference of an SQL snippet as its stripped dot-separated parts, in order.

    A type cast is dropped: `${created_raw::datetime}` is ("created_raw",)."""
    for reference in references(sql):
        yield tuple(part.strip() for part in reference.split("::", 1)[0].split("."))


# Looker's templated filter: `{% condition view.field %} sql {% endcondition %}` (whitespace control `-` allowed)
CONDITION = re.compile(r"\{%-?\s*condition\s+([\w.]*)\s*-?%\}(.*?)\{%-?\s*endcondition\s*-?%\}", re.DOTALL)
CONDITION_TAG = re.compile(r"\{%-?\s*(end)?condition\b")


def templated_filters(sql: str | None) -> list[str]:
    """The fields of the `{% condition field %} ... {% endcondition %}` blocks in `sql`, in order."""
    return [match.group(1) for match in CONDITION.finditer(sql or "")]


def unclosed_condition(sql: str | None) -> bool:
    """Whether a `{% condition %}` tag has no `{% endcondition %}` (or one closes nothing)."""
    depth = 0
    for match in CONDITION_TAG.finditer(sql or ""):
        depth += -1 if match.group(1) else 1
        if depth not in (0, 1):
            return True
    return depth != 0


def replace_conditions(sql: str, replace: Callable[[str, str], str]) -> str:
    """`sql` with each templated filter replaced by `replace(field, inner sql)`."""
    return CONDITION.sub(lambda match: replace(match.group(1), match.group(2).strip()), sql)


def replace_references(sql: str, replace: Callable[[str], str]) -> str:
    """`sql` with every `${reference}` replaced by `replace(reference)`."""
    return REFERENCE.sub(lambda match: replace(match.group(1)), sql)


def split_field(reference: str) -> tuple[str | None, str]:
    """'view.field' -> ('view', 'field'); 'field' -> (None, 'field')."""
    if "." in reference:
        view, name = reference.split(".", 1)
        return view, name
    return None, reference


# ---- LookML keys ---------------------------------------------------------------------------------

FIELD_KINDS = ("dimension", "dimension_group", "measure", "filter", "parameter")
BLOCK_KEYS_BY_NAME = frozenset(
    {"dimension", "dimension_group", "measure", "filter", "parameter", "set", "join",
     "aggregate_table", "datagroup", "access_filter"}
)
# Parameters that refinements add to rather than replace (looker.md §1.10).
ADDITIVE_LIST_KEYS = frozenset({"filters", "extends", "bind_filters", "dev_filters", "sorts"})
FIELD_EXPRESSION_KEYS = ("sql", "sql_start", "sql_end", "sql_latitude", "sql_longitude",
                         "sql_distinct_key")
PERSISTENCE_KEYS = ("datagroup_trigger", "sql_trigger_value", "interval_trigger", "persist_for",
                    "materialized_view")
TRIGGER_KEYS = frozenset({"datagroup_trigger", "sql_trigger_value", "interval_trigger"})
PERSISTED_ONLY_KEYS = ("partition_keys", "cluster_keys", "publish_as_db_view", "indexes",
                       "sortkeys", "distribution", "distribution_style")

# ---- measure types -------------------------------------------------------------------------------

AGGREGATE_MEASURE_TYPES = frozenset({
    "count", "count_distinct", "sum", "sum_distinct", "average", "average_distinct", "min", "max",
    "median", "median_distinct", "percentile", "percentile_distinct", "list",
})
# Types whose sql is an expression over other measures, not an aggregation of rows.
NON_AGGREGATE_MEASURE_TYPES = frozenset({"number", "string", "date", "yesno"})
# The LookML type of each YAML-only measure type (the YAML `ratio` compiles to a safe-division `number`).
LOOKML_MEASURE_TYPES = {"ratio": "number", "sketch_percentile": "number"}
# Types an aggregate table (or a rollup) re-aggregates from partial results.
ADDITIVE_MEASURE_TYPES = frozenset({"count", "sum", "min", "max", "average"})
# Measure types Looker turns into symmetric aggregates (they need a primary key under fanout).
SYMMETRIC_TYPES = frozenset({"count", "sum", "average", "median", "percentile"})



def lookml_measure_type(measure_type: str) -> str:
    """The LookML type a measure of this (YAML) type is generated with."""
    return LOOKML_MEASURE_TYPES.get(measure_type, measure_type)


# ---- dimension groups ----------------------------------------------------------------------------

ALL_TIMEFRAMES = (
    "raw", "time", "time_of_day", "date", "week", "month", "quarter", "year", "hour",
    "hour_of_day", "minute", "second", "millisecond", "microsecond", "day_of_week",
    "day_of_week_index", "day_of_month", "day_of_year", "week_of_year", "month_num", "month_name",
    "quarter_of_year", "fiscal_month_num", "fiscal_quarter", "fiscal_quarter_of_year",
    "fiscal_year", "yesno",
)
ALL_INTERVALS = ("day", "hour", "minute", "month", "quarter", "second", "week", "year")
# What lookwright emits for a time dimension without `timeframes` (always written out explicitly).
DEFAULT_TIMEFRAMES = ("raw", "time", "hour", "date", "week", "month", "quarter", "year")
DEFAULT_INTERVALS = ("day",)
DEFAULT_TILE_LIMIT = 500  # the row limit Looker gives a dashboard element without one


class FieldName(Protocol):
    """A referencable field as both models see it: dimension groups expanded to one name per timeframe."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...  # dimension | dimension_group | measure | filter | parameter
    @property
    def type(self) -> str: ...
    @property
    def group(self) -> str | None: ...  # the dimension group of an expanded timeframe or interval
    @property
    def timeframe(self) -> str | None: ...  # that timeframe or interval


F = TypeVar("F")


@dataclass(frozen=True)
class FieldInfo(Generic[F]):
    """A `FieldName` of a generated view and the declaration it names: a `schema.Dimension` or
    `schema.Measure` on the YAML side, a `DimensionIR` or `MeasureIR` in the compiled model.

    `type` is the type as declared in YAML (a `ratio` measure is `ratio`, not LookML's `number`)."""

    name: str
    kind: str  # dimension | dimension_group | measure
    type: str
    group: str | None  # the dimension group a timeframe field belongs to
    timeframe: str | None
    field: F
    index: int  # position in the table's dimensions or measures list

    @property
    def is_measure(self) -> bool:
        return self.kind == "measure"


def group_names(group: str, group_type: str, timeframes: Iterable[str],
                intervals: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(name, timeframe) a dimension group is referenced by: `group_timeframe` or `intervals_group`."""
    if group_type == "time":
        for timeframe in timeframes:
            yield f"{group}_{timeframe}", timeframe
    elif group_type == "duration":
        for interval in intervals:
            yield f"{interval}s_{group}", interval
