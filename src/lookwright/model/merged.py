"""Merge the files of a semantic model into one located model, and index its fields.

Every entity keeps the file and YAML path it came from, so later stages can report
`file:line:col` and generated files can name the line they were generated from.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from lookwright.errors import Issue
from lookwright.model import schema
from lookwright.model.loader import Path_, SourceFile
from lookwright.vocabulary import (
    DEFAULT_INTERVALS,
    DEFAULT_TIMEFRAMES,
    group_names,
    references,
    split_field,
)
from lookwright.vocabulary import (
    FieldInfo as _FieldInfo,
)

T = TypeVar("T")
# a field of a YAML table's view (an annotation: construct `_FieldInfo`, calling the alias costs 2x)
FieldInfo = _FieldInfo[schema.Dimension | schema.Measure]

SECTIONS = ("tables", "explores", "datagroups", "access_grants", "models", "queries", "dashboards")


@dataclass(frozen=True)
class Located(Generic[T]):
    """An entity of the model and where it was written."""

    item: T
    source: SourceFile
    path: Path_

    @property
    def file(self) -> str:
        return self.source.path

    @property
    def line(self) -> int:
        section, name = str(self.path[0]), getattr(self.item, "name", "")
        fast = self.source.entity_lines.get((section, name))
        return fast if fast is not None else self.source.locate(self.path).line

    def error(self, sub_path: Path_, code: str, message: str, hint: str = "") -> Issue:
        return self.source.diagnostic((*self.path, *sub_path), code, message, hint)


@dataclass(frozen=True)
class MergedModel:
    """All files merged; names are not yet checked for collisions or references."""

    sources: tuple[SourceFile, ...]
    warehouses: tuple[Located[schema.Warehouse], ...]
    tables: tuple[Located[schema.Table], ...]
    explores: tuple[Located[schema.Explore], ...]
    datagroups: tuple[Located[schema.Datagroup], ...]
    access_grants: tuple[Located[schema.AccessGrant], ...]
    models: tuple[Located[schema.Model], ...]
    queries: tuple[Located[schema.DeclaredQuery], ...]
    dashboards: tuple[Located[schema.Dashboard], ...] = ()

    def table_map(self) -> dict[str, Located[schema.Table]]:
        return {located.item.name: located for located in self.tables}


def merge(sources: list[SourceFile]) -> MergedModel:
    """Concatenate the sections of every parsed file, keeping locations."""
    def collect(section: str) -> tuple[Located[T], ...]:
        found: list[Located[T]] = []
        for source in sources:
            if source.model is None:
                continue
            for position, item in enumerate(getattr(source.model, section)):
                found.append(Located(item, source, (section, position)))
        return tuple(found)

    warehouses = tuple(
        Located(source.model.warehouse, source, ("warehouse",))
        for source in sources
        if source.model is not None and source.model.warehouse is not None
    )
    return MergedModel(
        sources=tuple(sources), warehouses=warehouses, tables=collect("tables"),
        explores=collect("explores"), datagroups=collect("datagroups"),
        access_grants=collect("access_grants"), models=collect("models"), queries=collect("queries"),
        dashboards=collect("dashboards"),
    )


def view_fields(table: schema.Table) -> dict[str, FieldInfo]:
    """Every name a LookML reference may use for a field of this table's view."""
    fields: dict[str, FieldInfo] = {}
    for index, dimension in enumerate(table.dimensions):
        for info in _dimension_names(dimension, index):
            fields.setdefault(info.name, info)
    for index, measure in enumerate(table.measures):
        fields.setdefault(measure.name, _FieldInfo(measure.name, "measure", measure.type, None, None, measure, index))
    return fields


def _dimension_names(dimension: schema.Dimension, index: int) -> Iterator[FieldInfo]:
    if dimension.type not in ("time", "duration"):
        yield _FieldInfo(dimension.name, "dimension", dimension.type, None, None, dimension, index)
        return
    names = group_names(dimension.name, dimension.type, timeframes_of(dimension),
                        dimension.intervals or DEFAULT_INTERVALS)
    for name, timeframe in names:
        yield _FieldInfo(name, "dimension_group", dimension.type, dimension.name, timeframe, dimension, index)


def timeframes_of(dimension: schema.Dimension) -> list[str]:
    """A time group's timeframes, defaulting to the usual set (always emitted explicitly)."""
    return list(dimension.timeframes or DEFAULT_TIMEFRAMES)


def table_columns(table: schema.Table, tables: dict[str, Located[schema.Table]]) -> dict[str, str]:
    """Column name -> type, including the columns a rollup derives from its source."""
    columns: dict[str, str] = {column.name: column.type for column in table.columns}
    if table.rollup is None or table.rollup.source not in tables:
        return columns
    source = tables[table.rollup.source].item
    source_columns = table_columns(source, tables)
    derived: dict[str, str] = {}
    derived[table.rollup.period.column] = "TIMESTAMP" if table.rollup.period.grain in ("minute", "hour") else "DATE"
    for name in table.rollup.group_by:
        derived[name] = source_columns.get(name, "STRING")
    for metric in table.rollup.metrics:
        inherits = metric.agg in ("sum", "min", "max", "any_value") and metric.sql in source_columns
        derived[metric.name] = source_columns[str(metric.sql)] if inherits else ROLLUP_TYPES[metric.agg]
    derived.update(columns)
    return derived


ROLLUP_TYPES = {
    "count": "INT64", "count_if": "INT64", "sum": "FLOAT64", "min": "FLOAT64", "max": "FLOAT64",
    "sketch": "SKETCH", "merge_sketch": "SKETCH", "percentile": "FLOAT64", "ratio": "FLOAT64",
    "per_second": "FLOAT64", "any_value": "STRING",
}


def find_join_key(explore: schema.Explore, position: int, tables: dict[str, Located[schema.Table]]) -> tuple[str, str, str, str, str] | None:
    """(left_view, left_column, right_view, right_column, relationship) for a join without sql_on."""
    target = explore.joins[position].view
    earlier = [explore.view or explore.name, *(j.view for j in explore.joins[:position])]
    for left in earlier:
        for key in tables[left].item.foreign_keys if left in tables else []:
            ref_table, ref_column = key.references.split(".")
            if ref_table == target:
                return left, key.column, target, ref_column, "many_to_one"
        for key in tables[target].item.foreign_keys if target in tables else []:
            ref_table, ref_column = key.references.split(".")
            if ref_table == left:
                return left, ref_column, target, key.column, "one_to_many"
    return None


def guarded_fields(model: MergedModel) -> dict[tuple[str, str], list[str]]:
    """(view, field) -> access grants, from `applies_to` globs, propagated to dependent fields."""
    patterns = [(g.item.name, pattern) for g in model.access_grants for pattern in g.item.applies_to]
    if not patterns:
        return {}
    specs: dict[tuple[str, str], schema.Dimension | schema.Measure] = {}
    for located in model.tables:
        fields: list[schema.Dimension | schema.Measure] = [*located.item.dimensions, *located.item.measures]
        specs.update({(located.item.name, spec.name): spec for spec in fields})
    direct = {key: {grant for grant, pattern in patterns if fnmatch.fnmatchcase(key[1], pattern)} for key in specs}
    dependencies = {key: list(_field_dependencies(key[0], spec)) for key, spec in specs.items()}
    resolved: dict[tuple[str, str], set[str]] = {}

    def resolve(key: tuple[str, str], visiting: set[tuple[str, str]]) -> set[str]:
        if key in resolved:
            return resolved[key]
        if key in visiting:  # a reference cycle; validation reports those elsewhere
            return direct.get(key, set())
        visiting.add(key)
        grants = set(direct.get(key, set()))
        for dependency in dependencies.get(key, []):
            grants |= resolve(dependency, visiting)
        resolved[key] = grants
        return grants

    return {key: sorted(grants) for key in specs if (grants := resolve(key, set()))}


def _field_dependencies(view: str, spec: schema.Dimension | schema.Measure) -> Iterator[tuple[str, str]]:
    for key in ("sql", "numerator", "denominator"):
        value = getattr(spec, key, None)
        if value is None:
            continue
        refs = references(value) if key == "sql" else [value]
        for reference in refs:
            other, name = split_field(reference)
            yield (other or view, name)
