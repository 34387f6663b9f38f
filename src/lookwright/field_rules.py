"""Field rules that hold for the YAML model and for hand-written LookML alike: one predicate and one message each.

`model/rules.py` reports them with LW codes at the YAML line, `lookml/validator.py` with LKML codes at
the `.lkml` line; the wording is Looker's, so both read like Looker's own validator.

  rule                                  YAML (LW)        LookML (LKML)
  unknown field                         LW301            LKML101
  aggregate measure references measure  LW303            LKML110
  count measure with sql                LW305            LKML111
  list measure without list_field       LW306            LKML113
  several primary keys                  LW307            LKML120
  filters on a non-aggregate measure    LW309            LKML112
  unknown field in a filter             LW301, LW402     LKML105
  unknown always_filter field           LW301            LKML106
  increment_key not a dimension         LW404            LKML166
  unknown datagroup                     LW401            LKML141
  unknown view                          LW302            LKML103
  unclosed {% condition %}              LW311            LKML108
  duplicate view / explore name         LW201            LKML130, LKML131
  field defined twice in a view         LW201            LKML122
  aggregate table defined twice         LW201            LKML183
  measure that cannot roll up           LW403 (error)    LKML181 (warning)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import TypeVar

from lookwright.vocabulary import (
    ADDITIVE_MEASURE_TYPES,
    AGGREGATE_MEASURE_TYPES,
    NON_AGGREGATE_MEASURE_TYPES,
    reference_parts,
)

T = TypeVar("T")

UNKNOWN_FIELD = ("Unknown or inaccessible field {0}. Check for typos or append a timeframe to the "
                 "name if the field is type time.")
MEASURE_REFERENCES_MEASURE = ("Measures with Looker aggregations (sum, average, min, max, list "
                              "types) may not reference other measures.")
COUNT_WITH_SQL = ("Measures of type count do not use the sql parameter. Use count_distinct to "
                  "count by something other than the primary key, or remove the sql parameter.")


def unknown_field(scoped: str) -> str:
    """The message for a reference to `view.field` that names no field."""
    return UNKNOWN_FIELD.format(scoped)


def count_with_sql(measure_type: str, has_sql: bool) -> bool:
    """A count measure counts rows (the primary key); it takes no sql."""
    return measure_type == "count" and has_sql


def aggregate_references_measure(measure_type: str, referenced_kind: str) -> bool:
    """An aggregating measure (sum, count, list, ...) may reference dimensions only, never a measure."""
    return measure_type in AGGREGATE_MEASURE_TYPES and referenced_kind == "measure"


def list_without_list_field(measure_type: str, list_field: str | None) -> bool:
    """A list measure lists the values of one dimension, which `list_field` names."""
    return measure_type == "list" and list_field is None


def primary_key_conflicts(keys: Sequence[str]) -> Iterator[tuple[str, str]]:
    """(first, other) for every primary key of a view after the first: a view has one."""
    for other in keys[1:]:
        yield keys[0], other


def multiple_primary_keys(view: str, first: str, other: str) -> str:
    return f"Multiple primary key definitions for view '{view}': '{first}' and '{other}'"


def filters_unsupported(lookml_type: str) -> bool:
    """`filters:` narrow the rows a measure aggregates; a measure over other measures has no rows of its own."""
    return lookml_type in NON_AGGREGATE_MEASURE_TYPES


def non_aggregate_filters(measure_type: str, looker_wording: bool = False) -> str:
    """Looker's validator writes a stray backtick after `filters:`; the LKML message keeps Looker's wording."""
    return f"filters: {'` ' if looker_wording else ''}is not supported for measures of non-aggregate type '{measure_type}'"


def unknown_filter_field(name: str) -> str:
    """A filter (of a measure, an aggregate table, an explore) names no field: Looker's wording."""
    return f"Unknown field {name} in filter"


def unknown_always_filter_field(name: str) -> str:
    return f"always_filter: unknown filter field '{name}'"


def _scope(name: str, alias: str) -> str:
    return name if "." in name else f"{alias}.{name}"


def increment_key_outside(key: str, dimensions: Iterable[str], alias: str) -> bool:
    """An aggregate table's increment_key must be one of its dimensions (bare names belong to `alias`)."""
    return _scope(key, alias) not in {_scope(dimension, alias) for dimension in dimensions}


def datagroup_undefined(name: str | None, defined: Collection[str]) -> bool:
    """`persist_with` and `datagroup_trigger` name a datagroup that exists (in the model, for LookML)."""
    return name is not None and name not in defined


def undefined_datagroup(name: str, model: str | None = None) -> str:
    """Looker's message; YAML datagroups belong to no one model, so there it names none."""
    return f"Datagroup {name} is not defined" + (f" in model {model}." if model else ".")


UNCLOSED_CONDITION = "Liquid syntax error: 'condition' tag was never closed"  # vocabulary.unclosed_condition


def unknown_view(name: str) -> str:
    """Looker's message for a reference to a view the model does not have."""
    return f"Unknown view {name}."


def repeated_names(named: Iterable[tuple[str, T]]) -> Iterator[tuple[str, T, T]]:
    """(name, first, later) for every later occurrence of a name an earlier one already has."""
    first: dict[str, T] = {}
    for name, item in named:
        if name in first:
            yield name, first[name], item
        else:
            first[name] = item


def defined_multiple_times(kind: str, name: str, model: str | None = None) -> str:
    """Looker's message for a second view or explore of one name; YAML names belong to no one
    model, so there it names none."""
    article = "An" if kind[0] in "aeiou" else "A"
    return f"{article} {kind} named {name} has been defined multiple times" + (f" in model {model}." if model else ".")


def redefined_field(view: str, name: str) -> str:
    """Looker's message for a field name a view already has (dimension group timeframes included)."""
    return f"Redefinition of field '{view}.{name}'"


def aggregate_table_defined_twice(name: str, explore: str) -> str:
    return f"Aggregate table {name} is defined more than once in explore {explore}."


# ---- aggregate tables: which measures roll up (looker.md §2.3, §2.4)

ROLLUP_SQL_FUNCTIONS = frozenset({"MIN", "MAX", "COUNT"})  # SQL aggregates a rolled-up number may call
SQL_AGGREGATES = re.compile(
    r"\b(SUM|AVG|AVERAGE|COUNT|MIN|MAX|MEDIAN|PERCENTILE_CONT|PERCENTILE_DISC|APPROX_[A-Z_]+|"
    r"STRING_AGG|ARRAY_AGG|ARRAY_CONCAT_AGG|STDDEV[A-Z_]*|VARIANCE|VAR_[A-Z]+)\s*\(",
    re.IGNORECASE,
)
FAN_OUT_SENSITIVE = frozenset({"sum", "count", "average"})  # symmetric aggregates over repeated rows


def type_rolls_up(measure_type: str, approximate: bool = False) -> bool | None:
    """The measure-type part of whether an aggregate table can re-aggregate a measure of this LookML
    type: the additive types (count, sum, min, max, average) can, count_distinct only with
    allow_approximate_optimization (`approximate`), an expression over other fields (number, string,
    date, yesno) when what its sql references can (None); median, percentile, list and the
    *_distinct types never."""
    if measure_type == "count_distinct":
        return approximate
    if measure_type in ADDITIVE_MEASURE_TYPES:
        return True
    return None if measure_type in NON_AGGREGATE_MEASURE_TYPES else False


def unrollable_functions(sql: str | None) -> list[str]:
    """The SQL aggregates an expression measure calls that an aggregate table cannot recompute."""
    called = dict.fromkeys(match.group(1).upper() for match in SQL_AGGREGATES.finditer(sql or ""))
    return [name for name in called if name not in ROLLUP_SQL_FUNCTIONS]


def measure_rolls_up(measure_type: str, sql: str | None, reference_rolls_up: Callable[[tuple[str, ...]], bool],
                     approximate: bool = False, fanned_out: bool = False) -> bool:
    """Whether an aggregate table can re-aggregate a measure (LookML type and sql): its type
    allows it (`type_rolls_up`), an additive one reads no `${TABLE}` column directly and, for sum,
    count and average, its view's rows are not repeated by the query's joins (`fanned_out`); an
    expression reads no `${TABLE}` column, calls no SQL aggregate but MIN, MAX and COUNT, and every
    field it references resolves and rolls up (`reference_rolls_up`, given the reference's parts)."""
    verdict = type_rolls_up(measure_type, approximate)
    if verdict is not None and measure_type not in ADDITIVE_MEASURE_TYPES:
        return verdict
    text = sql or ""
    if "${TABLE}" in text:
        return False
    if verdict:
        return not (fanned_out and measure_type in FAN_OUT_SENSITIVE)
    if unrollable_functions(text):
        return False
    return all(reference_rolls_up(parts) for parts in reference_parts(text))


def joins_needed(aliases: Iterable[str], depends_on: Mapping[str, Iterable[str]]) -> set[str]:
    """The joins a query needs: those of the aliases its fields use, plus (transitively) the joins
    each one's sql_on and required_joins name. `depends_on`: every join alias -> those names."""
    needed = set(aliases)
    pending = list(needed)
    while pending:
        for alias in depends_on.get(pending.pop(), ()):
            if alias not in needed:
                needed.add(alias)
                pending.append(alias)
    return needed & set(depends_on)


def fanned_out(base: str, joins: Iterable[tuple[str, str | None]]) -> set[str]:
    """Aliases whose rows repeat because of the joins in use ((alias, relationship), many_to_one
    when not given): they need symmetric aggregates."""
    active = list(joins)
    every = {base, *(alias for alias, _ in active)}
    fanned: set[str] = set()
    for alias, relationship in active:
        if relationship in (None, "many_to_one"):
            fanned.add(alias)
        elif relationship == "one_to_many":
            fanned |= every - {alias}
        elif relationship == "many_to_many":
            fanned |= every
    return fanned


def cannot_roll_up(measure: str, explore: str, table: str) -> str:
    """A measure the aggregate table cannot re-aggregate: Looker uses the table for exact matches only."""
    return f"Measure {measure} cannot roll up, so aggregate table {explore}::{table} serves only exact-match queries."
