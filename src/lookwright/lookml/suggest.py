"""`suggest aggregates`: the smallest set of aggregate tables that serves every dashboard tile.

Per explore and query time zone, every tile whose measures roll up (sum, count, min, max, average
not fanned out by a join, and number measures built only from those) is served by ONE table grouping
by all their dimensions, filter fields and the fields of the dashboard filters they listen to (so a
user's filter keeps hitting it). A tile with a measure that cannot roll up (percentiles, distinct
counts, symmetric aggregates) can only be served by an exact match: one table per distinct query.
That is what Looker's "Get LookML -> aggregate tables" does, across all dashboards at once.
"""

from __future__ import annotations

from collections.abc import Iterator

from lookwright.lookml.aggregates import explore_filter_fields, joined_aliases, rolls_up
from lookwright.lookml.project import Project, fanned_out_aliases
from lookwright.model import schema
from lookwright.model.ir import SemanticModel, TileIR
from lookwright.output.writer import header


def _rolls_up(tile: TileIR, project: Project) -> bool:
    explore, views = project.explore(tile.explore)
    fanned = fanned_out_aliases(explore, joined_aliases(explore, [*tile.fields, *tile.filters]))
    for name in tile.fields:
        alias, _, field_name = name.partition(".")
        view = views.get(explore.view_for_alias(alias) or "")
        found = view.field(field_name) if view is not None else None
        if found is not None and found.kind == "measure" and not rolls_up(found, alias, explore, views, fanned):
            return False
    return True


def _kinds(tile: TileIR, model: SemanticModel) -> tuple[list[str], list[str]]:
    """(dimensions, measures) of a tile, by the semantic model's field kinds."""
    dimensions: list[str] = []
    measures: list[str] = []
    for name in tile.fields:
        view, _, field_name = name.partition(".")
        info = model.tables[view].fields.get(field_name)
        (measures if info is not None and info.is_measure else dimensions).append(name)
    return dimensions, measures


def _datagroup(model: SemanticModel, explore: str) -> str:
    persist_with = model.explores[explore].persist_with
    if persist_with:
        return persist_with
    for target in model.models.values():
        if explore in target.explores and target.persist_with:
            return target.persist_with
    return next(iter(model.datagroups), "default")


def suggest(model: SemanticModel, project: Project) -> dict[str, list[schema.AggregateTable]]:
    """explore -> the aggregate tables serving all its tiles (explores in name order)."""
    out: dict[str, list[schema.AggregateTable]] = {}
    tiles_by_explore: dict[str, list[TileIR]] = {}
    for tile in model.tiles():
        tiles_by_explore.setdefault(tile.explore, []).append(tile)
    for explore in sorted(tiles_by_explore):
        out[explore] = list(_tables(model, project, explore, tiles_by_explore[explore]))
    return out


def _tables(model: SemanticModel, project: Project, explore: str, tiles: list[TileIR]) -> Iterator[schema.AggregateTable]:
    materialization = schema.Materialization(datagroup=_datagroup(model, explore))
    found, _ = project.explore(explore)
    required = explore_filter_fields(found)
    rollable = [t for t in tiles if _rolls_up(t, project)]
    zones = sorted({t.timezone for t in rollable})
    for zone in zones:
        group = [t for t in rollable if t.timezone == zone]
        dimensions: set[str] = set(required)
        measures: set[str] = set()
        for tile in group:
            tile_dimensions, tile_measures = _kinds(tile, model)
            dimensions |= {*tile_dimensions, *tile.filters, *tile.listen.values()}
            measures |= set(tile_measures)
        name = f"tiles_{explore}" if len(zones) == 1 else f"tiles_{explore}_{zone.lower().replace('/', '_')}"
        yield schema.AggregateTable(name=name, dimensions=sorted(dimensions), measures=sorted(measures),
                                    timezone=zone, materialization=materialization)
    seen: set[tuple[object, ...]] = set()
    for tile in tiles:
        if tile in rollable:
            continue
        tile_dimensions, tile_measures = _kinds(tile, model)
        key = (tuple(sorted(tile_dimensions)), tuple(sorted(tile_measures)), tuple(tile.filters.items()), tile.timezone)
        if key in seen:
            continue
        seen.add(key)
        yield schema.AggregateTable(name=f"tile_{tile.tile}", dimensions=sorted(tile_dimensions),
                                    measures=sorted(tile_measures), filters=dict(tile.filters),
                                    timezone=tile.timezone, exact_match=True, materialization=materialization)


def render_yaml(suggested: dict[str, list[schema.AggregateTable]], source: str) -> str:
    """The tables as semantic-model YAML: paste each list under its explore's `aggregate_tables`."""
    from lookwright.lookml.dashboard_render import scalar

    def flow(items: list[str]) -> str:
        return "[" + ", ".join(scalar(item) for item in items) + "]"

    lines = ["version: 1", "explores:"]
    for explore, tables in suggested.items():
        lines += [f"  - name: {explore}", "    aggregate_tables:"]
        for table in tables:
            lines += [f"      - name: {table.name}", f"        dimensions: {flow(table.dimensions)}",
                      f"        measures: {flow(table.measures)}"]
            if table.filters:
                pairs = ", ".join(f"{scalar(k)}: {scalar(v)}" for k, v in table.filters.items())
                lines.append(f"        filters: {{{pairs}}}")
            lines.append(f"        timezone: {scalar(table.timezone)}")
            if table.exact_match:
                lines.append("        exact_match: true")
            lines.append(f"        materialization: {{datagroup: {table.materialization.datagroup}}}")
    return header(source) + "\n".join(lines) + "\n"
