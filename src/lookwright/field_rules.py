"""Field rules that hold for the YAML model and for hand-written LookML alike: one predicate and one message each.

`model/rules.py` reports them with LW codes at the YAML line, `lookml/validator.py` with LKML codes at
the `.lkml` line; the wording is Looker's, so both read like Looker's own validator.
"""

from __future__ import annotations

from lookwright.vocabulary import AGGREGATE_MEASURE_TYPES

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
