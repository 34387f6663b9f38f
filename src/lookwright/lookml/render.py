"""Render the IR into LookML files: one view file per table, one explore file per explore, one
model file per model. Dicts are built in `lkml.dump` shape and serialized by `lookml_writer`.
"""

from __future__ import annotations

from typing import Any

from lookwright.lookml.dump import dump
from lookwright.model import schema
from lookwright.model.ir import (
    DimensionIR,
    ExploreIR,
    MeasureIR,
    ModelIR,
    SemanticModel,
    TableIR,
)
from lookwright.output.writer import OutputFile, header


def render_lookml(model: SemanticModel, tables: list[str] | None = None, *, shared: bool = True) -> list[OutputFile]:
    """View files of `tables` (default: all), plus the explore and model files when `shared`."""
    names = list(model.tables) if tables is None else tables
    files = [_view_file(model.tables[name]) for name in names if model.tables[name].lookml]  # not warehouse-only
    if shared:
        files += [_explore_file(explore) for explore in model.explores.values()]
        files += [_model_file(model, m) for m in model.models.values()]
        from lookwright.lookml.dashboard_render import render_dashboards

        files += render_dashboards(model)
    return sorted(files, key=lambda f: f.path)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _number(value: float) -> str:
    return f"{value:g}"


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    if value is not None and value != [] and value != ():
        target[key] = value


def _view_file(table: TableIR) -> OutputFile:
    view: dict[str, Any] = {"name": table.name, "sql_table_name": f"`{table.table_id}`"}
    _put(view, "label", table.label)
    dimensions = [_dimension(d) for d in table.dimensions if d.type not in ("time", "duration")]
    groups = [_dimension_group(d) for d in table.dimensions if d.type in ("time", "duration")]
    _put(view, "dimensions", dimensions)
    _put(view, "dimension_groups", groups)
    _put(view, "measures", [_measure(m) for m in table.measures])
    _put(view, "sets", [{"name": name, "fields": list(fields)} for name, fields in table.sets])
    text = header(f"{table.origin.file} (table {table.name})") + dump({"views": [view]}) + "\n"
    return OutputFile(f"views/{table.name}.view.lkml", text)


def _common(field: DimensionIR | MeasureIR, target: dict[str, Any]) -> None:
    if field.hidden:
        target["hidden"] = "yes"
    _put(target, "label", field.label)
    _put(target, "description", field.description)
    _put(target, "group_label", field.group_label)
    _put(target, "value_format", field.value_format)
    _put(target, "value_format_name", field.value_format_name)
    _put(target, "drill_fields", list(field.drill_fields) if field.drill_fields else None)


def _dimension(dimension: DimensionIR) -> dict[str, Any]:
    out: dict[str, Any] = {"name": dimension.name}
    if dimension.primary_key:
        out["primary_key"] = "yes"
    out["type"] = dimension.type
    if dimension.tiers is not None:
        out["tiers"] = [_number(t) for t in dimension.tiers]
        _put(out, "style", dimension.style)
    _put(out, "sql", dimension.sql)
    _common(dimension, out)
    _put(out, "required_access_grants", list(dimension.grants))
    return out


def _dimension_group(dimension: DimensionIR) -> dict[str, Any]:
    out: dict[str, Any] = {"name": dimension.name, "type": dimension.type}
    if dimension.type == "time":
        out["timeframes"] = list(dimension.timeframes)
        _put(out, "datatype", dimension.datatype)
        _put(out, "convert_tz", None if dimension.convert_tz is None else _yes(dimension.convert_tz))
        _put(out, "sql", dimension.sql)
    else:
        out["intervals"] = list(dimension.intervals)
        _put(out, "datatype", dimension.datatype)
        _put(out, "sql_start", dimension.sql_start)
        _put(out, "sql_end", dimension.sql_end)
    _common(dimension, out)
    _put(out, "required_access_grants", list(dimension.grants))
    return out


def _measure(measure: MeasureIR) -> dict[str, Any]:
    out: dict[str, Any] = {"name": measure.name, "type": measure.type}
    if measure.percentile is not None and measure.type == "percentile":
        out["percentile"] = _number(measure.percentile)
    _put(out, "sql", measure.sql)
    _put(out, "sql_distinct_key", measure.sql_distinct_key)
    _put(out, "list_field", measure.list_field)
    if measure.filters:
        out["filters"] = [{field: value} for field, value in measure.filters]
    _common(measure, out)
    _put(out, "required_access_grants", list(measure.grants))
    return out


def _explore_file(explore: ExploreIR) -> OutputFile:
    out: dict[str, Any] = {"name": explore.name}
    if explore.view != explore.name:
        out["view_name"] = explore.view
    _put(out, "label", explore.label)
    _put(out, "description", explore.description)
    if explore.hidden:
        out["hidden"] = "yes"
    _put(out, "fields", list(explore.fields) if explore.fields is not None else None)
    _put(out, "sql_always_where", explore.sql_always_where)
    if explore.always_filter:
        out["always_filter"] = {"filters": [{f: v} for f, v in explore.always_filter]}
    _put(out, "persist_with", explore.persist_with)
    _put(out, "required_access_grants", list(explore.required_access_grants))
    _put(out, "joins", [_join(j) for j in explore.joins])
    _put(out, "aggregate_tables", [_aggregate(a) for a in explore.aggregate_tables])
    text = header(f"{explore.origin.file} (explore {explore.name})") + dump({"explores": [out]}) + "\n"
    return OutputFile(f"explores/{explore.name}.explore.lkml", text)


def _join(join: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": join.view, "type": join.type, "relationship": join.relationship}
    _put(out, "sql_on", join.sql_on)
    _put(out, "view_label", join.view_label)
    _put(out, "fields", list(join.fields) if join.fields is not None else None)
    return out


def _aggregate(aggregate: schema.AggregateTable) -> dict[str, Any]:
    query: dict[str, Any] = {"dimensions": list(aggregate.dimensions), "measures": list(aggregate.measures)}
    if aggregate.filters:
        query["filters"] = [{f: v} for f, v in sorted(aggregate.filters.items())]
    _put(query, "timezone", aggregate.timezone)
    materialization: dict[str, Any] = {"datagroup_trigger": aggregate.materialization.datagroup}
    m = aggregate.materialization
    _put(materialization, "increment_key", m.increment_key)
    _put(materialization, "increment_offset", None if m.increment_offset is None else str(m.increment_offset))
    _put(materialization, "partition_keys", list(m.partition_keys or []))
    _put(materialization, "cluster_keys", list(m.cluster_keys or []))
    if m.publish_as_db_view:
        materialization["publish_as_db_view"] = "yes"
    return {"name": aggregate.name, "query": query, "materialization": materialization}


def _model_file(model: SemanticModel, target: ModelIR) -> OutputFile:
    out: dict[str, Any] = {"connection": target.connection}
    _put(out, "label", target.label)
    out["includes"] = [f"/views/{v}.view.lkml" for v in target.views] + [
        f"/explores/{e}.explore.lkml" for e in target.explores] + [
        f"/dashboards/{d.name}.dashboard.lookml" for d in model.dashboards.values() if d.model == target.name]
    # hand-written files after the generated ones: refinements apply to views already defined
    out["includes"] += list(target.include)
    used = _used_datagroups(model, target)
    _put(out, "datagroups", [_datagroup(model.datagroups[name][0]) for name in used])
    _put(out, "persist_with", target.persist_with)
    _put(out, "access_grants", [_grant(g) for g, _ in model.access_grants.values()])
    text = header(f"{target.origin.file} (model {target.name})") + dump(out) + "\n"
    return OutputFile(f"{target.name}.model.lkml", text)


def _used_datagroups(model: SemanticModel, target: ModelIR) -> list[str]:
    names: set[str] = set()
    if target.persist_with:
        names.add(target.persist_with)
    for explore_name in target.explores:
        explore = model.explores[explore_name]
        names.update(a.materialization.datagroup for a in explore.aggregate_tables)
        if explore.persist_with:
            names.add(explore.persist_with)
    return sorted(names)


def _datagroup(datagroup: schema.Datagroup) -> dict[str, Any]:
    out: dict[str, Any] = {"name": datagroup.name}
    _put(out, "label", datagroup.label)
    _put(out, "description", datagroup.description)
    _put(out, "sql_trigger", datagroup.sql_trigger)
    _put(out, "interval_trigger", datagroup.interval_trigger)
    _put(out, "max_cache_age", datagroup.max_cache_age)
    return out


def _grant(grant: schema.AccessGrant) -> dict[str, Any]:
    return {"name": grant.name, "user_attribute": grant.user_attribute,
            "allowed_values": list(grant.allowed_values)}
