"""Compile a semantic model directory into the typed IR: load -> merge -> rules -> resolve defaults."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from lookwright.errors import ModelError
from lookwright.model import schema
from lookwright.model.dashboards import Placement, dashboard_model, layout, tile_filters
from lookwright.model.ir import (
    ColumnIR,
    DashboardFilterIR,
    DashboardIR,
    DimensionIR,
    ExploreIR,
    JoinIR,
    MeasureIR,
    ModelIR,
    Origin,
    QueryIR,
    SemanticModel,
    TableIR,
    TileIR,
    quantile_function,
)
from lookwright.model.loader import discover, load_files
from lookwright.model.merged import (
    Located,
    MergedModel,
    find_join_key,
    guarded_fields,
    merge,
    table_columns,
)
from lookwright.model.rules import validate
from lookwright.vocabulary import (
    DEFAULT_INTERVALS,
    DEFAULT_TILE_LIMIT,
    DEFAULT_TIMEFRAMES,
    lookml_measure_type,
)

DATE_TYPES = frozenset({"DATE"})


def load_model(directory: Path, check_duplicates: bool = True, paths: list[Path] | None = None) -> SemanticModel:
    """load -> validate -> compile; raises ModelError with every problem found.

    `paths` are the directory's YAML files when the caller has already discovered them.
    `check_duplicates=False` leaves the repeated-key check to the caller
    (`loader.duplicate_key_diagnostics`), which `generate` runs in a parallel process.
    """
    sources = load_files(discover(directory) if paths is None else paths, check_duplicates)
    problems = [d for source in sources for d in source.diagnostics]
    merged = merge(sources)
    if not problems:
        problems = validate(merged)
    if problems:
        raise ModelError(problems)
    return compile_model(merged, str(directory))


def _origin(located: Located[Any]) -> Origin:
    return Origin(located.file, located.line)


def compile_model(merged: MergedModel, root: str) -> SemanticModel:
    """Resolve defaults of a valid merged model into the typed IR."""
    warehouse = merged.warehouses[0]
    tables = merged.table_map()
    grants = guarded_fields(merged)
    compiled = {
        name: _compile_table(tables[name], tables, warehouse.item, grants) for name in sorted(tables)
    }
    explores = {e.item.name: _compile_explore(e, tables) for e in sorted(merged.explores, key=_name)}
    models = {m.item.name: _compile_model(m, explores) for m in sorted(merged.models, key=_name)}
    return SemanticModel(
        root=root,
        files=tuple(source.path for source in merged.sources),
        warehouse=warehouse.item,
        warehouse_origin=_origin(warehouse),
        tables=compiled,
        explores=explores,
        datagroups={d.item.name: (d.item, _origin(d)) for d in sorted(merged.datagroups, key=_name)},
        access_grants={g.item.name: (g.item, _origin(g)) for g in sorted(merged.access_grants, key=_name)},
        models=models,
        queries={q.item.name: _compile_query(q, models) for q in sorted(merged.queries, key=_name)},
        dashboards={d.item.name: _compile_dashboard(d, merged, warehouse.item)
                    for d in sorted(merged.dashboards, key=_name)},
    )


def _compile_dashboard(located: Located[schema.Dashboard], merged: MergedModel,
                       warehouse: schema.Warehouse) -> DashboardIR:
    dashboard = located.item
    model = dashboard_model(dashboard, [m.item for m in merged.models]) or ""
    tiles = tuple(
        _compile_tile(located, position, tile, spot, model, warehouse.timezone)
        for position, (tile, spot) in enumerate(zip(dashboard.tiles, layout(dashboard.tiles), strict=True))
    )
    filters = tuple(_compile_dashboard_filter(f) for f in dashboard.filters)
    return DashboardIR(dashboard.name, dashboard.title, dashboard.description, dashboard.layout, _origin(located),
                       model, filters, tiles)


def _compile_tile(located: Located[schema.Dashboard], position: int, tile: schema.Tile, spot: Placement,
                  model: str, timezone: str) -> TileIR:
    dashboard = located.item
    origin = Origin(located.file, located.source.locate((*located.path, "tiles", position)).line)
    return TileIR(f"{dashboard.name}.{tile.name}", dashboard.name, tile.name, tile.title, tile.type, origin,
                  model, tile.explore, tuple(tile.fields), dict(tile.filters), tile_filters(dashboard, tile),
                  dict(tile.listen), tuple(tile.pivots), tuple(tile.sorts), tile.limit or DEFAULT_TILE_LIMIT,
                  tile.note, tile.must_hit, tile.timezone or dashboard.timezone or timezone,
                  spot.row, spot.col, tile.width, tile.height)


def _compile_dashboard_filter(dashboard_filter: schema.DashboardFilter) -> DashboardFilterIR:
    title = dashboard_filter.title or dashboard_filter.name.replace("_", " ").capitalize()
    return DashboardFilterIR(dashboard_filter.name, title, dashboard_filter.explore, dashboard_filter.field,
                             dashboard_filter.default or "", dashboard_filter.ui,
                             dashboard_filter.allow_multiple_values, dashboard_filter.required)


def _compile_query(located: Located[schema.DeclaredQuery], models: dict[str, ModelIR]) -> QueryIR:
    query = located.item
    owner = next((m.name for m in models.values() if query.explore in m.explores), None)
    return QueryIR(query.name, owner, query.explore, tuple(query.fields), dict(query.filters), query.timezone,
                   must_hit=query.must_hit, origin=_origin(located))


def _name(located: Located[Any]) -> str:
    return str(located.item.name)


def _compile_table(located: Located[schema.Table], tables: dict[str, Located[schema.Table]],
                   warehouse: schema.Warehouse, grants: dict[tuple[str, str], list[str]]) -> TableIR:
    table = located.item
    column_types = table_columns(table, tables)
    declared = {column.name: column for column in table.columns}
    columns = tuple(
        ColumnIR(name, kind, declared[name].description if name in declared else _rollup_description(table, name),
                 declared[name].required if name in declared else False)
        for name, kind in column_types.items()
    )
    dimensions = tuple(_compile_dimension(table, d, column_types, grants) for d in table.dimensions)
    measures = tuple(_compile_measure(table, m, grants, warehouse) for m in table.measures)
    table_id = table.sql_table_name or f"{warehouse.project}.{warehouse.dataset}.{table.name}"
    return TableIR(
        table.name, table.kind, _origin(located), table_id, columns,
        dimensions + _primary_key_dimension(table, column_types), measures,
        label=table.label, description=table.description,
        sets=tuple((name, tuple(refs)) for name, refs in sorted(table.sets.items())),
        partition=table.partition, cluster_by=tuple(table.cluster_by), retention_days=table.retention_days,
        require_partition_filter=table.require_partition_filter, rollup=table.rollup,
        transform=table.transform, checks=tuple(table.checks), primary_key=tuple(table.primary_key or ()),
        lookml=table.lookml,
    )


def _rollup_description(table: schema.Table, name: str) -> str:
    if table.rollup is None:
        return ""
    for metric in table.rollup.metrics:
        if metric.name == name:
            return metric.description
    return ""


def _compile_dimension(table: schema.Table, dimension: schema.Dimension, column_types: dict[str, str],
                       grants: dict[tuple[str, str], list[str]]) -> DimensionIR:
    d = dimension
    kind, sql = d.type, d.sql
    column = d.column or (d.name if sql is None else None)
    if sql is None and kind != "duration":
        sql = f"${{TABLE}}.{column}"
    column_type = column_types.get(column) if column else None
    datatype, convert_tz = d.datatype, d.convert_tz
    if kind == "time" and column_type in DATE_TYPES:
        datatype = datatype or "date"
        convert_tz = False if convert_tz is None else convert_tz
    granted = tuple(grants.get((table.name, d.name), ())) if grants else ()
    # positional, in DimensionIR's field order: keyword arguments cost twice as much over 30,000 dimensions
    return DimensionIR(
        d.name, kind, sql, granted, column_type, d.primary_key, d.hidden, d.label, d.description, d.group_label,
        d.value_format, d.value_format_name, tuple(d.drill_fields) if d.drill_fields else (),
        tuple(d.tiers) if d.tiers is not None else None, d.style,
        tuple(d.timeframes or DEFAULT_TIMEFRAMES) if kind == "time" else (),
        tuple(d.intervals or DEFAULT_INTERVALS) if kind == "duration" else (),
        datatype, convert_tz, d.convert_tz is not False, d.sql_start, d.sql_end,
    )


def _primary_key_dimension(table: schema.Table, column_types: dict[str, str]) -> tuple[DimensionIR, ...]:
    """A hidden primary key for symmetric aggregates when no dimension is flagged as one."""
    if any(d.primary_key for d in table.dimensions) or not table.primary_key:
        return ()
    if len(table.primary_key) == 1:
        sql = f"${{TABLE}}.{table.primary_key[0]}"
    else:
        parts = ", '|', ".join(f"CAST(${{TABLE}}.{c} AS STRING)" for c in table.primary_key)
        sql = f"CONCAT({parts})"
    spec = schema.Dimension(name="pk", primary_key=True, hidden=True, sql=sql,
                            description="Primary key: " + ", ".join(table.primary_key))
    return (replace(_compile_dimension(table, spec, column_types, {}), generated=True),)


def sketch_fraction(measure: schema.Measure) -> float:
    """95 -> 0.95, 99.9 -> 0.999 exactly as written."""
    return float(f"{(measure.percentile or 50) / 100:.10g}")


def _compile_measure(table: schema.Table, measure: schema.Measure,
                     grants: dict[tuple[str, str], list[str]], warehouse: schema.Warehouse) -> MeasureIR:
    kind, sql = lookml_measure_type(measure.type), measure.sql
    if measure.type == "sketch_percentile":
        from lookwright.sqlgen.dialects import DIALECTS

        sql = DIALECTS["bigquery"].sketch_quantile(f"${{TABLE}}.{measure.sketch}", sketch_fraction(measure),
                                                   quantile_function(warehouse))
    elif measure.type == "ratio":
        multiplier = "" if measure.multiplier in (None, 1) else f" * {measure.multiplier:g}"
        sql = f"1.0 * ${{{measure.numerator}}}{multiplier} / NULLIF(${{{measure.denominator}}}, 0)"
    m = measure
    # positional, in MeasureIR's field order (see _compile_dimension)
    return MeasureIR(
        m.name, kind, sql, tuple(grants.get((table.name, m.name), ())) if grants else (), m.type, m.percentile,
        m.sketch, sketch_fraction(m), m.sql_distinct_key, m.list_field, tuple(sorted(m.filters.items())) if m.filters else (),
        m.hidden, m.label, m.description, m.group_label, m.value_format, m.value_format_name,
        tuple(m.drill_fields) if m.drill_fields else (),
    )


def _compile_explore(located: Located[schema.Explore], tables: dict[str, Located[schema.Table]]) -> ExploreIR:
    explore = located.item
    base = explore.view or explore.name
    joins = tuple(_compile_join(explore, position, tables) for position in range(len(explore.joins)))
    return ExploreIR(
        explore.name, base, _origin(located), joins, explore.label, explore.description, explore.hidden,
        tuple(explore.fields) if explore.fields is not None else None, explore.sql_always_where,
        tuple(sorted(explore.always_filter.items())), explore.persist_with,
        tuple(explore.required_access_grants or ()), tuple(explore.aggregate_tables))


def _compile_join(explore: schema.Explore, position: int, tables: dict[str, Located[schema.Table]]) -> JoinIR:
    join = explore.joins[position]
    sql_on: str | None = join.sql_on
    relationship: str | None = join.relationship
    if sql_on is None or relationship is None:
        key = find_join_key(explore, position, tables)
        if key is not None:
            left, left_column, right, right_column, derived = key
            sql_on = sql_on or f"${{{left}.{left_column}}} = ${{{right}.{right_column}}}"
            relationship = relationship or derived
    return JoinIR(join.view, join.type, relationship or "many_to_one", sql_on,
                  tuple(join.fields) if join.fields is not None else None, join.view_label)


def _compile_model(located: Located[schema.Model], explores: dict[str, ExploreIR]) -> ModelIR:
    names = tuple(sorted(located.item.explores))
    views = sorted({view for name in names for view in (explores[name].view, *(j.view for j in explores[name].joins))})
    model = located.item
    return ModelIR(model.name, _origin(located), model.connection, model.label, model.persist_with, names,
                   tuple(views), tuple("/" + pattern.lstrip("/") for pattern in model.include))

