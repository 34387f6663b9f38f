"""Cross-file rules of the semantic model; every problem becomes a located Issue.

Codes (stable; tests assert them):
  LW001 model directory not found        LW100 YAML syntax error       LW101 unknown key
  LW102 missing required key             LW103 invalid value           LW104 invalid name
  LW105 wrong type                       LW106 duplicate key in a mapping
  LW201 duplicate name          LW202 warehouse section
  LW301 unknown field reference          LW302 unknown view            LW303 aggregate measure references a measure
  LW304 `;;` inside SQL                  LW305 count measure with sql  LW306 measure missing a required property
  LW307 several primary keys             LW308 unknown column          LW309 filters on a non-aggregate measure
  LW310 sketch_percentile without a SKETCH column LW311 `{% condition %}` without `{% endcondition %}`
  LW6xx dashboards (model/dashboards.py)
  LW401 unknown datagroup                LW402 aggregate table field unknown to the explore
  LW403 non-rollable measure in an aggregate table without exact_match
  LW404 increment_key not among the aggregate's dimensions
  LW405 join without sql_on and no foreign key to derive it from
  LW406 unknown explore                  LW407 unknown access grant
  LW408 model include that is not a hand-written .lkml file of the LookML folder
  LW501 partition column missing or not DATE/TIMESTAMP                 LW502 clustering columns
  LW503 foreign key target unknown       LW504 rollup source/column unknown
  LW505 rollup re-aggregates a non-additive metric (e.g. percentile of percentiles)
  LW506 rollup metric missing what it needs (sketch, numerator, ...)
  LW508 partitioning BigQuery rejects (DATE by hour, ingestion and column at once)
  LW509 require_partition_filter on a table without partitioning
  LW510 explore over a table that requires a partition filter does not always filter its partition column
  LW511 keep_periods on a rollup of DATE periods, or not more than its increment_offset
  LW512 an explore, join or field reference names a warehouse-only table (`lookml: false`: no LookML view)
  LW513 an incremental table (a rollup, an incremental_column) partitioned by ingestion time
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from lookwright.errors import Issue
from lookwright.field_rules import (
    COUNT_WITH_SQL,
    FAN_OUT_SENSITIVE,
    MEASURE_REFERENCES_MEASURE,
    UNCLOSED_CONDITION,
    aggregate_table_defined_twice,
    cannot_roll_up,
    count_with_sql,
    datagroup_undefined,
    defined_multiple_times,
    fanned_out,
    filters_unsupported,
    increment_key_outside,
    joins_needed,
    list_without_list_field,
    measure_rolls_up,
    multiple_primary_keys,
    non_aggregate_filters,
    primary_key_conflicts,
    redefined_field,
    repeated_names,
    type_rolls_up,
    undefined_datagroup,
    unknown_always_filter_field,
    unknown_field,
    unknown_filter_field,
    unknown_view,
    unrollable_functions,
)
from lookwright.model import schema
from lookwright.model.merged import (
    SECTIONS,
    FieldInfo,
    Located,
    MergedModel,
    find_join_key,
    table_columns,
    timeframes_of,
    view_fields,
)
from lookwright.vocabulary import (
    AGGREGATE_MEASURE_TYPES,
    DEFAULT_INTERVALS,
    group_names,
    lookml_measure_type,
    reference_parts,
    references,
    split_field,
    templated_filters,
    unclosed_condition,
)

UNCLUSTERABLE = {"FLOAT64": "FLOAT64", "JSON": "JSON", "SKETCH": "a SKETCH (ARRAY<STRUCT>)"}
TIME_COLUMN_TYPES = frozenset({"DATE", "TIMESTAMP", "DATETIME"})
DIMENSION_SQL_KEYS = ("sql", "sql_start", "sql_end")


def validate(model: MergedModel) -> list[Issue]:
    """All problems of a merged model, sorted by file and line."""
    problems: list[Issue] = []
    problems += _check_names(model)
    problems += _check_warehouse(model)
    tables = model.table_map()
    fields = {name: view_fields(located.item) for name, located in tables.items()}
    for located in model.tables:
        problems += _check_table(located, tables, fields)
    datagroups = {d.item.name for d in model.datagroups}
    grants = {g.item.name for g in model.access_grants}
    explores = {e.item.name: e for e in model.explores}
    for explore in model.explores:
        problems += _check_explore(explore, tables, fields, datagroups, grants)
    for located_model in model.models:
        problems += _check_model(located_model, explores, datagroups)
    for query in model.queries:
        problems += _check_query(query, explores, tables, fields)
    problems += _check_warehouse_only(model, tables)
    from lookwright.model.dashboards import check_dashboards

    problems += check_dashboards(model, fields)
    return sorted(set(problems))


# The LookML object each section's entries become (Looker's messages name these).
SECTION_KINDS = {"tables": "view", "explores": "explore", "datagroups": "datagroup", "access_grants": "access_grant",
                 "models": "model", "queries": "query", "dashboards": "dashboard"}


def _check_names(model: MergedModel) -> Iterator[Issue]:
    for section in SECTIONS:
        located_items: Iterable[Located[Any]] = getattr(model, section)
        for name, first, later in repeated_names((located.item.name, located) for located in located_items):
            yield later.error(("name",), "LW201", defined_multiple_times(SECTION_KINDS[section], name),
                              f"first defined at {first.file}:{first.line}; {section[:-1]} names must be unique"
                              " across files")


def _check_warehouse(model: MergedModel) -> Iterator[Issue]:
    if len(model.warehouses) > 1:
        for extra in model.warehouses[1:]:
            yield extra.error((), "LW202", "the warehouse section is declared more than once",
                              f"keep one, e.g. the one in {model.warehouses[0].file}")
    elif not model.warehouses and model.tables:
        yield model.tables[0].error((), "LW202", "no warehouse section (project, dataset) in the model",
                                    "add `warehouse: {project: ..., dataset: ...}` to one file")


def _check_table(located: Located[schema.Table], tables: dict[str, Located[schema.Table]],
                 fields: dict[str, dict[str, FieldInfo]]) -> Iterator[Issue]:
    table = located.item
    columns = table_columns(table, tables)
    yield from _check_physical(located, columns, tables)
    yield from _check_field_names(located)
    yield from _check_dimensions(located, columns, fields)
    yield from _check_measures(located, fields, columns)
    if table.rollup is not None:
        yield from _check_rollup(located, table.rollup, tables)


def _field_names(table: schema.Table) -> Iterator[tuple[str, tuple[str, int, str]]]:
    """(name, (section, position, what declares it)) for every name a field of the table's view is
    referenced by, declarations in order: a time or duration dimension by its own name and by each
    timeframe or interval name (`created_date`), as in the generated dimension group."""
    for position, dimension in enumerate(table.dimensions):
        declared = f"{dimension.type if dimension.type in ('time', 'duration') else ''} dimension '{dimension.name}'"
        names = {dimension.name: declared.lstrip()}
        part = "timeframe" if dimension.type == "time" else "interval"
        for name, timeframe in group_names(dimension.name, dimension.type, timeframes_of(dimension),
                                           dimension.intervals or DEFAULT_INTERVALS):
            names.setdefault(name, f"{declared.lstrip()} (its {timeframe} {part})")
        for name, what in names.items():
            yield name, ("dimensions", position, what)
    for position, measure in enumerate(table.measures):
        yield measure.name, ("measures", position, f"measure '{measure.name}'")


def _check_field_names(located: Located[schema.Table]) -> Iterator[Issue]:
    """Dimensions (with their timeframes) and measures share one namespace in a view: a repeated
    name is an error, reported once per declaration that repeats one."""
    reported: set[tuple[str, int]] = set()
    for name, (section, position, what), (later_section, later_position, _) in repeated_names(_field_names(located.item)):
        if (later_section, later_position) in reported:
            continue
        reported.add((later_section, later_position))
        line = located.source.locate((*located.path, section, position, "name")).line
        yield located.error((later_section, later_position, "name"), "LW201", redefined_field(located.item.name, name),
                            f"first defined at {located.file}:{line} by {what}; dimensions, their timeframes"
                            " and measures share one namespace")


def _built_incrementally(table: schema.Table) -> bool:
    """A rollup or a transform with an incremental_column: each build rewrites a window of its rows."""
    return table.rollup is not None or (table.transform is not None and table.transform.incremental_column is not None)


def _check_physical(located: Located[schema.Table], columns: dict[str, str],
                    tables: dict[str, Located[schema.Table]]) -> Iterator[Issue]:
    table = located.item
    partition = table.partition
    if partition is not None and partition.column is not None:
        kind = columns.get(partition.column)
        if kind not in TIME_COLUMN_TYPES:
            yield located.error(("partition", "column"), "LW501",
                                f"partition column '{partition.column}' of '{table.name}' "
                                + ("does not exist" if kind is None else f"is {kind}, not DATE/TIMESTAMP"),
                                "BigQuery partitions only on a DATE, TIMESTAMP or DATETIME column")
        elif kind == "DATE" and partition.granularity == "hour":
            yield located.error(("partition", "granularity"), "LW508",
                                f"'{table.name}' partitions the DATE column '{partition.column}' by hour",
                                "BigQuery rejects DATE_TRUNC(date, HOUR): partition a DATE by day, month or"
                                " year, or partition by a TIMESTAMP column")
    if partition is not None and partition.ingestion and partition.column is not None:
        yield located.error(("partition", "column"), "LW508",
                            f"'{table.name}' partitions by ingestion time and by column '{partition.column}'",
                            "use either `ingestion: true` (with a granularity) or `column`, not both")
    if partition is not None and partition.ingestion and _built_incrementally(table):
        yield located.error(("partition", "ingestion"), "LW513",
                            f"'{table.name}' is built incrementally but partitioned by ingestion time",
                            "BigQuery stamps each row with the time it is written, so every build would move"
                            " the window it rewrites into the partition of the day it runs: no filter on the"
                            " partition would select periods, nothing could prune, and retention would count"
                            " from the last rewrite; partition by its time column (`partition: {column: ...}`)")
    if table.require_partition_filter and partition is None:
        yield located.error(("require_partition_filter",), "LW509",
                            f"'{table.name}' requires a partition filter but is not partitioned",
                            "add `partition:` or remove `require_partition_filter`")
    if len(table.cluster_by) > 4:
        yield located.error(("cluster_by",), "LW502", f"'{table.name}' clusters by {len(table.cluster_by)} columns",
                            "BigQuery allows at most 4 clustering columns")
    for position, name in enumerate(table.cluster_by):
        if name not in columns:
            yield located.error(("cluster_by", position), "LW502", f"clustering column '{name}' does not exist in '{table.name}'")
        elif columns[name] in UNCLUSTERABLE:
            yield located.error(("cluster_by", position), "LW502",
                                f"clustering column '{name}' of '{table.name}' is {UNCLUSTERABLE[columns[name]]}",
                                "BigQuery clusters only on top-level columns that are not FLOAT64, JSON,"
                                " ARRAY or STRUCT: cluster by a STRING, INT64, DATE or TIMESTAMP column")
    for position, name in enumerate(table.primary_key or []):
        if name not in columns:
            yield located.error(("primary_key", position), "LW308", f"primary key column '{name}' does not exist in '{table.name}'")
    for position, key in enumerate(table.foreign_keys):
        yield from _check_foreign_key(located, position, key, columns, tables)


def _check_foreign_key(located: Located[schema.Table], position: int, key: schema.ForeignKey,
                       columns: dict[str, str], tables: dict[str, Located[schema.Table]]) -> Iterator[Issue]:
    if key.column not in columns:
        yield located.error(("foreign_keys", position, "column"), "LW308",
                            f"foreign key column '{key.column}' does not exist in '{located.item.name}'")
    target_table, target_column = key.references.split(".")
    target = tables.get(target_table)
    if target is None or target_column not in table_columns(target.item, tables):
        yield located.error(("foreign_keys", position, "references"), "LW503",
                            f"foreign key target '{key.references}' does not exist",
                            "reference an existing table.column")


def _check_sql(located: Located[schema.Table], path: tuple[str | int, ...], sql: str | None) -> Iterator[Issue]:
    if sql and ";;" in sql:
        yield located.error(path, "LW304", "';;' inside SQL would end the LookML expression early",
                            "remove the ';;' (statements cannot be chained inside a field)")


def _check_dimensions(located: Located[schema.Table], columns: dict[str, str],
                      fields: dict[str, dict[str, FieldInfo]]) -> Iterator[Issue]:
    table = located.item
    conflict = next(primary_key_conflicts([d.name for d in table.dimensions if d.primary_key]), None)
    if conflict is not None:
        yield located.error(("dimensions",), "LW307", multiple_primary_keys(table.name, *conflict))
    for position, dimension in enumerate(table.dimensions):
        path = ("dimensions", position)
        column = dimension.column or (dimension.name if dimension.sql is None and dimension.type != "duration" else None)
        if column is not None and column not in columns:
            yield located.error((*path, "column" if dimension.column else "name"), "LW308",
                                f"dimension '{dimension.name}' reads column '{column}', which '{table.name}' does not have",
                                "add the column, or give the dimension explicit `sql`")
        for key in DIMENSION_SQL_KEYS:
            sql = getattr(dimension, key)
            if sql:
                yield from _check_sql(located, (*path, key), sql)
                yield from _check_references(located, (*path, key), sql, fields, allow_measures=False)


def _check_measures(located: Located[schema.Table], fields: dict[str, dict[str, FieldInfo]],
                    columns: dict[str, str]) -> Iterator[Issue]:
    own = fields[located.item.name]
    for position, measure in enumerate(located.item.measures):
        path = ("measures", position)
        yield from _check_measure_shape(located, path, measure, own)
        if measure.type == "sketch_percentile" and measure.sketch is not None and columns.get(measure.sketch) != "SKETCH":
            kind = columns.get(measure.sketch)
            yield located.error((*path, "sketch"), "LW310",
                                f"sketch '{measure.sketch}' of measure '{measure.name}' "
                                + ("is not a column of " + repr(located.item.name) if kind is None else f"is {kind}, not SKETCH"),
                                "name a SKETCH column (a rollup's sketch or merge_sketch metric)")
        for key in ("sql", "sql_distinct_key"):
            sql = getattr(measure, key)
            yield from _check_sql(located, (*path, key), sql)
            yield from _check_references(located, (*path, key), sql, fields,
                                         allow_measures=measure.type not in AGGREGATE_MEASURE_TYPES,
                                         measure_type=measure.type)
        for field_name in (measure.filters or {}):
            if field_name not in own:
                yield located.error((*path, "filters", field_name), "LW301",
                                    f"{unknown_filter_field(field_name)} of measure '{measure.name}'")


REQUIRED_MEASURE_KEYS: dict[str, tuple[str, ...]] = {
    "sum": ("sql",), "average": ("sql",), "min": ("sql",), "max": ("sql",), "median": ("sql",),
    "count_distinct": ("sql",), "percentile": ("sql", "percentile"), "number": ("sql",),
    "sum_distinct": ("sql", "sql_distinct_key"), "average_distinct": ("sql", "sql_distinct_key"),
    "ratio": ("numerator", "denominator"),
    "sketch_percentile": ("sketch", "percentile"),
}


def _check_measure_shape(located: Located[schema.Table], path: tuple[str | int, ...], measure: schema.Measure,
                         own: dict[str, FieldInfo]) -> Iterator[Issue]:
    if count_with_sql(measure.type, bool(measure.sql)):
        yield located.error((*path, "sql"), "LW305", COUNT_WITH_SQL)
    for key in REQUIRED_MEASURE_KEYS.get(measure.type, ()):
        if getattr(measure, key) is None:
            yield located.error(path, "LW306", f"measure '{measure.name}' of type {measure.type} needs `{key}`")
    if list_without_list_field(measure.type, measure.list_field):
        yield located.error(path, "LW306", f"measure '{measure.name}' of type {measure.type} needs `list_field`")
    if measure.filters and filters_unsupported(lookml_measure_type(measure.type)):
        yield located.error((*path, "filters"), "LW309", non_aggregate_filters(measure.type))
    for key in ("numerator", "denominator"):
        target = getattr(measure, key)
        if target is not None and (target not in own or not own[target].is_measure):
            yield located.error((*path, key), "LW301", f"{key} '{target}' of '{measure.name}' is not a measure of this view")


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """A hint naming the closest known name, or nothing."""
    import difflib

    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
    return f"did you mean '{close[0]}'?" if close else ""


def _check_references(located: Located[schema.Table], path: tuple[str | int, ...], sql: str | None,
                      fields: dict[str, dict[str, FieldInfo]], allow_measures: bool,
                      measure_type: str | None = None) -> Iterator[Issue]:
    for reference in references(sql):
        if reference in ("TABLE",) or reference.endswith(".SQL_TABLE_NAME"):
            continue
        view, name = split_field(reference)
        view = view or located.item.name
        if view not in fields:
            yield located.error(path, "LW302", unknown_view(str(view)), f"in reference ${{{reference}}}")
            continue
        info = fields[view].get(name)
        if info is None:
            yield located.error(path, "LW301", unknown_field(f"{view}.{name}"), did_you_mean(name, fields[view]))
        elif info.is_measure and not allow_measures:
            if measure_type is None:
                yield located.error(path, "LW303", f"dimension references measure {view}.{name}",
                                    "Field references an aggregate but is specified as a dimension")
            else:
                yield located.error(path, "LW303",
                                    f"{MEASURE_REFERENCES_MEASURE} ({located.item.name} references {view}.{name})",
                                    "use type: number for a measure built from other measures")


def _check_rollup(located: Located[schema.Table], rollup: schema.Rollup,
                  tables: dict[str, Located[schema.Table]]) -> Iterator[Issue]:
    source = tables.get(rollup.source)
    if source is None:
        yield located.error(("rollup", "source"), "LW504", f"rollup source table '{rollup.source}' does not exist")
        return
    source_columns = table_columns(source.item, tables)
    if rollup.period.source not in source_columns:
        yield located.error(("rollup", "period", "source"), "LW504",
                            f"period source column '{rollup.period.source}' does not exist in '{rollup.source}'")
    for position, name in enumerate(rollup.group_by):
        if name not in source_columns:
            yield located.error(("rollup", "group_by", position), "LW504",
                                f"group_by column '{name}' does not exist in '{rollup.source}'")
    source_metrics = {m.name: m for m in source.item.rollup.metrics} if source.item.rollup else {}
    own = {m.name: m for m in rollup.metrics}
    for position, metric in enumerate(rollup.metrics):
        yield from _check_metric(located, ("rollup", "metrics", position), metric, own, source_metrics)
        if metric.agg == "per_second" and rollup.period.grain == "month":
            yield located.error(("rollup", "metrics", position, "agg"), "LW506",
                                f"rollup metric '{metric.name}': per_second needs a period of fixed length,"
                                " and months differ", "use a ratio over a days or seconds metric instead")
    yield from _check_keep_periods(located, rollup)


def _check_keep_periods(located: Located[schema.Table], rollup: schema.Rollup) -> Iterator[Issue]:
    keep = rollup.keep_periods
    if keep is None:
        return
    if rollup.period.grain not in ("minute", "hour"):
        yield located.error(("rollup", "keep_periods"), "LW511",
                            f"keep_periods keeps the newest {rollup.period.grain}s, but only minute and hour"
                            " periods can be kept so (the table's retention_days expires the others)",
                            "remove keep_periods and set retention_days")
    elif keep <= rollup.increment_offset:
        yield located.error(("rollup", "keep_periods"), "LW511",
                            f"keep_periods {keep} is not more than increment_offset {rollup.increment_offset}:"
                            " every build would delete periods it has just recomputed",
                            f"keep at least {rollup.increment_offset + 1} periods")


def _check_metric(located: Located[schema.Table], path: tuple[str | int, ...], metric: schema.RollupMetric,
                  own: dict[str, schema.RollupMetric], source_metrics: dict[str, schema.RollupMetric]) -> Iterator[Issue]:
    needs = {"count_if": ("sql",), "sum": ("sql",), "min": ("sql",), "max": ("sql",), "sketch": ("sql",),
             "merge_sketch": ("sql",), "percentile": ("sketch", "percentile"), "ratio": ("numerator", "denominator"),
             "per_second": ("of",), "any_value": ("sql",)}
    for key in needs.get(metric.agg, ()):
        if getattr(metric, key) is None:
            yield located.error(path, "LW506", f"rollup metric '{metric.name}' ({metric.agg}) needs `{key}`")
    for key in ("sketch", "numerator", "denominator", "of"):
        target = getattr(metric, key)
        if target is not None and target not in own:
            yield located.error((*path, key), "LW506", f"'{target}' is not a metric of this rollup")
    if metric.sketch is not None and metric.sketch in own and own[metric.sketch].agg not in ("sketch", "merge_sketch"):
        yield located.error((*path, "sketch"), "LW506", f"'{metric.sketch}' is not a sketch metric")
    if source_metrics and metric.sql in source_metrics:
        yield from _check_reaggregation(located, path, metric, source_metrics[metric.sql])


def _check_reaggregation(located: Located[schema.Table], path: tuple[str | int, ...], metric: schema.RollupMetric,
                         source: schema.RollupMetric) -> Iterator[Issue]:
    allowed = {"sum": {"count", "count_if", "sum"}, "min": {"min"}, "max": {"max"},
               "merge_sketch": {"sketch", "merge_sketch"}, "any_value": {"any_value"}}
    if source.agg not in allowed.get(metric.agg, set()):
        yield located.error((*path, "agg"), "LW505",
                            f"'{metric.name}' takes {metric.agg} of '{source.name}', a {source.agg} metric: "
                            "that is not equal to the metric over the raw rows",
                            _reaggregation_hint(source.agg))


def _reaggregation_hint(agg: str) -> str:
    if agg in ("percentile",):
        return "a percentile of percentiles is wrong: merge the sketch (merge_sketch) and read the percentile from it"
    if agg in ("ratio", "per_second"):
        return "recompute it from summed components (agg: ratio / per_second over this rollup's metrics)"
    return "re-aggregate only additive metrics (count, count_if, sum -> sum; min -> min; max -> max)"


def _explore_views(explore: schema.Explore) -> list[str]:
    return [explore.view or explore.name, *(join.view for join in explore.joins)]


def _check_explore(located: Located[schema.Explore], tables: dict[str, Located[schema.Table]],
                   fields: dict[str, dict[str, FieldInfo]], datagroups: set[str], grants: set[str]) -> Iterator[Issue]:
    explore = located.item
    base = explore.view or explore.name
    if base not in tables:
        yield located.error(("view",) if explore.view else ("name",), "LW302", unknown_view(base),
                            f"explore {explore.name} is based on it; declare the table or fix the name")
        return
    for position, join in enumerate(explore.joins):
        if join.view not in tables:
            yield located.error(("joins", position, "view"), "LW302", unknown_view(join.view),
                                f"joined into explore {explore.name}; declare the table or fix the name")
        elif join.sql_on is None and find_join_key(explore, position, tables) is None:
            yield located.error(("joins", position), "LW405",
                                f"cannot derive sql_on for join {join.view}: no foreign key links it to the explore",
                                "declare a foreign key on either table, or write sql_on")
    if explore.persist_with and datagroup_undefined(explore.persist_with, datagroups):
        yield located.error(("persist_with",), "LW401", undefined_datagroup(explore.persist_with), DATAGROUP_HINT)
    for grant in explore.required_access_grants or []:
        if grant not in grants:
            yield located.error(("required_access_grants",), "LW407", f"unknown access grant '{grant}'")
    views = _explore_views(explore)
    yield from _check_templated_filters(located, base, views, fields)
    for field_name in explore.always_filter:
        if _resolve(field_name, base, views, fields) is None:
            yield located.error(("always_filter", field_name), "LW301", unknown_always_filter_field(field_name))
    yield from _check_partition_filter(located, tables[base].item, fields)
    for position, aggregate in enumerate(explore.aggregate_tables):
        yield from _check_aggregate(located, ("aggregate_tables", position), aggregate, base, views, fields, datagroups,
                                    tables)
    positions = ((aggregate.name, position) for position, aggregate in enumerate(explore.aggregate_tables))
    for name, first, later in repeated_names(positions):
        line = located.source.locate((*located.path, "aggregate_tables", first, "name")).line
        yield located.error(("aggregate_tables", later, "name"), "LW201", aggregate_table_defined_twice(name, explore.name),
                            f"first defined at {located.file}:{line}; an explore's aggregate tables need distinct names")


WAREHOUSE_ONLY_HINT = ("a table with `lookml: false` is built, checked and planned but has no LookML view:"
                       " remove `lookml: false` to make it a view, or use a view built from it")


def _check_warehouse_only(model: MergedModel, tables: dict[str, Located[schema.Table]]) -> Iterator[Issue]:
    """Nothing LookML names a warehouse-only table: not an explore's base view, a join, or a
    `${view.field}` reference in a view's fields (it has no view to name)."""
    only = {name for name, located in tables.items() if not located.item.lookml}
    if not only:
        return
    for located in model.explores:
        explore = located.item
        base = explore.view or explore.name
        if base in only:
            yield located.error(("view",) if explore.view else ("name",), "LW512",
                                f"explore {explore.name} is based on {base}, a warehouse-only table"
                                " (lookml: false)", WAREHOUSE_ONLY_HINT)
        for position, join in enumerate(explore.joins):
            if join.view in only:
                yield located.error(("joins", position, "view"), "LW512",
                                    f"explore {explore.name} joins {join.view}, a warehouse-only table"
                                    " (lookml: false)", WAREHOUSE_ONLY_HINT)
    for view_located in model.tables:
        table = view_located.item
        if not table.lookml:
            continue
        specs: list[tuple[str, int, schema.Dimension | schema.Measure]] = [
            *(("dimensions", i, d) for i, d in enumerate(table.dimensions)),
            *(("measures", i, m) for i, m in enumerate(table.measures))]
        for section, position, spec in specs:
            for key in ("sql", "sql_start", "sql_end", "sql_distinct_key"):
                for reference in references(getattr(spec, key, None)):
                    view, _ = split_field(reference)
                    if view in only and view != table.name:
                        yield view_located.error((section, position, key), "LW512",
                                                 f"{table.name}.{spec.name} references ${{{reference}}} of {view},"
                                                 " a warehouse-only table (lookml: false)", WAREHOUSE_ONLY_HINT)


def _check_templated_filters(located: Located[schema.Explore], base: str, views: list[str],
                             fields: dict[str, dict[str, FieldInfo]]) -> Iterator[Issue]:
    """`{% condition view.field %} sql {% endcondition %}` in a join's sql_on or the explore's
    sql_always_where names a field of the explore, and is closed."""
    explore = located.item
    places: list[tuple[tuple[str | int, ...], str | None]] = [
        (("joins", position, "sql_on"), join.sql_on) for position, join in enumerate(explore.joins)]
    places.append((("sql_always_where",), explore.sql_always_where))
    for path, sql in places:
        if unclosed_condition(sql):
            yield located.error(path, "LW311", UNCLOSED_CONDITION, "end the templated filter with `{% endcondition %}`")
        for field_name in templated_filters(sql):
            if _resolve(field_name, base, views, fields) is None:
                yield located.error(path, "LW301", f"templated filter: unknown field '{field_name}' in explore"
                                    f" {explore.name}", "name a field of the explore as view.field")


def _reads_column(spec: schema.Dimension | schema.Measure, column: str) -> bool:
    """Whether a dimension is the column itself (`column:` or `sql: ${TABLE}.column`)."""
    if not isinstance(spec, schema.Dimension):
        return False
    return spec.column == column or (spec.sql or "").strip() == f"${{TABLE}}.{column}"


def _check_partition_filter(located: Located[schema.Explore], table: schema.Table,
                            fields: dict[str, dict[str, FieldInfo]]) -> Iterator[Issue]:
    """An explore over a table with `require_partition_filter` filters its partition column in every
    query (always_filter or sql_always_where on a dimension over that column): BigQuery refuses the rest."""
    explore = located.item
    partition = table.partition
    if not table.require_partition_filter or partition is None or partition.column is None:
        return
    own = fields.get(table.name, {})
    filtered = [*explore.always_filter, *references(explore.sql_always_where or "")]
    for reference in filtered:
        view, name = split_field(reference)
        info = own.get(name) if (view or table.name) == table.name else None
        if info is not None and _reads_column(info.field, partition.column):
            return
    over = [f"{table.name}.{info.name}" for info in own.values()
            if info.kind != "measure" and _reads_column(info.field, partition.column)]
    over.sort(key=lambda name: not name.endswith("_date"))  # a date timeframe reads best in a filter
    suggestion = over[0] if over else f"{table.name}.<a dimension over {partition.column}>"
    yield located.error(("always_filter",) if explore.always_filter else ("name",), "LW510",
                        f"explore {explore.name} does not always filter the partition column"
                        f" '{partition.column}' of {table.name}, which requires a partition filter",
                        f"add `always_filter: {{{suggestion}: \"7 days\"}}` (or a sql_always_where on it):"
                        " BigQuery refuses any query of the table without one")


def _resolve(reference: str, base: str, views: list[str], fields: dict[str, dict[str, FieldInfo]]) -> FieldInfo | None:
    view, name = split_field(reference)
    view = view or base
    if view not in views or view not in fields:
        return None
    return fields[view].get(name)


def _join_graph(explore: schema.Explore, tables: dict[str, Located[schema.Table]]
                ) -> tuple[dict[str, list[str]], list[tuple[str, str | None]]]:
    """(join alias -> the aliases its sql_on names, [(alias, relationship)]) of the explore as it is
    generated: a join's alias is its view, sql_on and relationship derive from foreign keys where
    not written (as model/compile does)."""
    depends_on: dict[str, list[str]] = {}
    relationships: list[tuple[str, str | None]] = []
    for position, join in enumerate(explore.joins):
        key = find_join_key(explore, position, tables) if join.sql_on is None or join.relationship is None else None
        on = [parts[0] for parts in reference_parts(join.sql_on)] if join.sql_on is not None else [
            key[0], key[2]] if key is not None else []
        depends_on[join.view] = on
        relationships.append((join.view, join.relationship or (key[4] if key is not None else None)))
    return depends_on, relationships


def _lookml_sql(measure: schema.Measure) -> str | None:
    """What the generated measure's sql reads (model/compile writes the whole expression): a ratio
    its numerator and denominator, a sketch_percentile the table's sketch column."""
    if measure.type == "ratio":
        return f"${{{measure.numerator}}} / ${{{measure.denominator}}}"
    if measure.type == "sketch_percentile":
        return f"${{TABLE}}.{measure.sketch}"
    return measure.sql


def _rolls_up(info: FieldInfo, alias: str, base: str, views: list[str], fields: dict[str, dict[str, FieldInfo]],
              fanned: set[str], seen: frozenset[str] = frozenset()) -> bool:
    """field_rules.measure_rolls_up for a YAML measure of view `alias`, as it is generated."""
    measure = info.field
    assert isinstance(measure, schema.Measure)

    def reference_rolls_up(parts: tuple[str, ...]) -> bool:
        ref_alias, name = (alias, parts[0]) if len(parts) == 1 else (parts[0], parts[1])
        key = f"{ref_alias}.{name}"
        referenced = _resolve(key, base, views, fields)
        if referenced is None or key in seen:
            return False
        return not referenced.is_measure or _rolls_up(referenced, ref_alias, base, views, fields, fanned, seen | {key})

    return measure_rolls_up(lookml_measure_type(measure.type), _lookml_sql(measure), reference_rolls_up,
                            fanned_out=alias in fanned)


def _unrollable_why(info: FieldInfo, view: str, fanned: set[str]) -> str:
    """Why a measure that field_rules.measure_rolls_up refuses cannot roll up, for the hint."""
    assert isinstance(info.field, schema.Measure)
    kind, sql = lookml_measure_type(info.type), _lookml_sql(info.field) or ""
    if type_rolls_up(kind) is False:
        return ""
    if "${TABLE}" in sql:
        return " reading ${TABLE} directly (reference a dimension instead)"
    if kind in FAN_OUT_SENSITIVE and view in fanned:
        return f" of {view}, whose rows the explore's joins repeat"
    functions = unrollable_functions(sql)
    if functions:
        return f" calling {', '.join(functions)} (only MIN, MAX and COUNT are recomputed from an aggregate table)"
    return " over a field that does not roll up"


def _check_aggregate(located: Located[schema.Explore], path: tuple[str | int, ...], aggregate: schema.AggregateTable,
                     base: str, views: list[str], fields: dict[str, dict[str, FieldInfo]],
                     datagroups: set[str], tables: dict[str, Located[schema.Table]]) -> Iterator[Issue]:
    depends_on, relationships = _join_graph(located.item, tables)
    names = [*aggregate.dimensions, *aggregate.measures, *aggregate.filters]
    joined = joins_needed((split_field(name)[0] or base for name in names), depends_on)
    fanned = fanned_out(base, (pair for pair in relationships if pair[0] in joined))
    for key in ("dimensions", "measures"):
        for position, reference in enumerate(getattr(aggregate, key)):
            info = _resolve(reference, base, views, fields)
            if info is None:
                yield located.error((*path, key, position), "LW402",
                                    f"aggregate table '{aggregate.name}' names '{reference}', which explore "
                                    f"'{located.item.name}' does not have",
                                    "use view.field names; dimension groups need a timeframe (e.g. request_hour)")
            elif key == "measures" and not aggregate.exact_match and info.is_measure and not _rolls_up(
                    info, split_field(reference)[0] or base, base, views, fields, fanned):
                yield located.error((*path, key, position), "LW403",
                                    cannot_roll_up(reference, located.item.name, aggregate.name),
                                    f"it is a {info.type} measure{_unrollable_why(info, split_field(reference)[0] or base, fanned)};"
                                    " set exact_match: true if the table is for queries that match it exactly,"
                                    " or use measures that roll up (count, sum, min, max, average, or a number"
                                    " or ratio over those)")
    for field_name in aggregate.filters:
        if _resolve(field_name, base, views, fields) is None:
            yield located.error((*path, "filters", field_name), "LW402",
                                f"{unknown_filter_field(field_name)} of aggregate table '{aggregate.name}'")
    materialization = aggregate.materialization
    if datagroup_undefined(materialization.datagroup, datagroups):
        yield located.error((*path, "materialization", "datagroup"), "LW401",
                            undefined_datagroup(materialization.datagroup), DATAGROUP_HINT)
    increment_key = materialization.increment_key
    if increment_key is not None and increment_key_outside(increment_key, aggregate.dimensions, base):
        yield located.error((*path, "materialization", "increment_key"), "LW404",
                            f"increment_key '{increment_key}' is not among the dimensions of aggregate table '{aggregate.name}'",
                            "add it to dimensions (Looker's build fails with 'Unrecognized name' otherwise)")


DATAGROUP_HINT = "declare it under datagroups: in any file of the model, or fix the name"
GENERATED = ("views/", "explores/", "dashboards/")  # folders of the generated LookML files


def _check_model(located: Located[schema.Model], explores: dict[str, Located[schema.Explore]],
                 datagroups: set[str]) -> Iterator[Issue]:
    for position, name in enumerate(located.item.explores):
        if name not in explores:
            yield located.error(("explores", position), "LW406", f"unknown explore '{name}' in model '{located.item.name}'")
    if located.item.persist_with and datagroup_undefined(located.item.persist_with, datagroups):
        yield located.error(("persist_with",), "LW401", undefined_datagroup(located.item.persist_with), DATAGROUP_HINT)
    for position, pattern in enumerate(located.item.include):
        if not pattern.endswith(".lkml") or ".." in pattern.split("/") or pattern.lstrip("/").startswith(GENERATED):
            yield located.error(("include", position), "LW408", f"include '{pattern}' of model '{located.item.name}' "
                                "must name .lkml files of your own inside the LookML folder",
                                "e.g. /custom/*.view.lkml; views/, explores/ and dashboards/ hold the generated files")


def _check_query(located: Located[schema.DeclaredQuery], explores: dict[str, Located[schema.Explore]],
                 tables: dict[str, Located[schema.Table]], fields: dict[str, dict[str, FieldInfo]]) -> Iterator[Issue]:
    explore = explores.get(located.item.explore)
    if explore is None:
        yield located.error(("explore",), "LW406", f"unknown explore '{located.item.explore}'")
        return
    base = explore.item.view or explore.item.name
    views = _explore_views(explore.item)
    for position, reference in enumerate(located.item.fields):
        if _resolve(reference, base, views, fields) is None:
            yield located.error(("fields", position), "LW301", f"Unknown field '{reference}' in query '{located.item.name}'")
    names = {a.name for a in explore.item.aggregate_tables}
    if located.item.must_hit and located.item.must_hit not in names:
        yield located.error(("must_hit",), "LW402", f"explore '{explore.item.name}' has no aggregate table '{located.item.must_hit}'")
