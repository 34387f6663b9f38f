"""Dashboards of the semantic model: their rules (LW6xx codes at YAML lines) and their tiles as
declared queries (what `validate aggregates`, `suggest aggregates`, `sql` and `report` run).

Codes (stable; tests assert them):
  LW601 duplicate tile or filter name in a dashboard     LW602 unknown explore
  LW603 unknown field (fields, filters, sorts, pivots, listen targets, dashboard filter field)
  LW604 sort or pivot that does not fit the tile's fields
  LW605 listen names a dashboard filter that does not exist
  LW606 listen target whose type does not fit the dashboard filter's field
  LW607 visualization type that does not fit the tile's fields
  LW608 layout: tile outside the 24 columns, or tiles that overlap
  LW609 must_hit names an aggregate table the explore does not have
  LW610 no model has every explore of the dashboard
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from lookwright.errors import Issue
from lookwright.model import schema
from lookwright.model.merged import FieldInfo, Located, MergedModel

COLUMNS = 24
LOOKER_TYPES = {
    "line": "looker_line", "column": "looker_column", "bar": "looker_bar", "scatter": "looker_scatter",
    "single_value": "single_value", "table": "looker_grid", "area": "looker_area", "pie": "looker_pie",
}


@dataclass(frozen=True)
class Placement:
    row: int
    col: int
    width: int
    height: int

    def overlaps(self, other: Placement) -> bool:
        return (self.col < other.col + other.width and other.col < self.col + self.width
                and self.row < other.row + other.height and other.row < self.row + self.height)


def layout(tiles: tuple[schema.Tile, ...]) -> list[Placement]:
    """Newspaper placement: explicit row/col kept; others flow left to right, then down."""
    placed: list[Placement] = []
    row, col, row_height = 0, 0, 0
    for tile in tiles:
        if tile.row is not None or tile.col is not None:
            spot = Placement(tile.row if tile.row is not None else row, tile.col or 0, tile.width, tile.height)
        else:
            if col + tile.width > COLUMNS:
                row, col, row_height = row + row_height, 0, 0
            spot = Placement(row, col, tile.width, tile.height)
        placed.append(spot)
        row, col = spot.row, spot.col + spot.width
        row_height = max(row_height, spot.height)
        if col >= COLUMNS:
            row, col, row_height = row + row_height, 0, 0
    return placed


def split_sort(sort: str) -> tuple[str, str]:
    """'view.field desc' -> ('view.field', 'desc'); the default direction is asc."""
    field, _, direction = sort.partition(" ")
    return field, direction or "asc"


def tile_filters(dashboard: schema.Dashboard, tile: schema.Tile) -> dict[str, str]:
    """The filters a tile's query runs with when the dashboard opens: its own, then the defaults
    of the dashboard filters it listens to (a dashboard filter wins on the same field)."""
    filters = dict(tile.filters)
    by_name = {f.name: f for f in dashboard.filters}
    for name, target in tile.listen.items():
        found = by_name.get(name)
        if found is not None and found.default:
            filters[target] = found.default
    return dict(sorted(filters.items()))


def dashboard_model(dashboard: schema.Dashboard, models: list[schema.Model]) -> str | None:
    """The dashboard's model: as given, else the first (by name) that has every explore it uses."""
    if dashboard.model is not None:
        return dashboard.model
    needed = {t.explore for t in dashboard.tiles} | {f.explore for f in dashboard.filters}
    for model in sorted(models, key=lambda m: m.name):
        if needed <= set(model.explores):
            return model.name
    return None


# --------------------------------------------------------------------------- rules

_Fields = dict[str, dict[str, FieldInfo]]


def check_dashboards(model: MergedModel, fields: _Fields) -> list[Issue]:
    """Every LW6xx problem of every dashboard; `fields` is every view's field index."""
    explores = {e.item.name: e.item for e in model.explores}
    models = [m.item for m in model.models]
    problems: list[Issue] = []
    for located in model.dashboards:
        problems += _check_dashboard(located, explores, fields, models)
    return problems




def _views(explore: schema.Explore) -> list[str]:
    return [explore.view or explore.name, *(join.view for join in explore.joins)]


def resolve(explore: schema.Explore, reference: str, fields: _Fields) -> FieldInfo | None:
    """A `view.field` of an explore (its base view or a joined one)."""
    view, _, name = reference.partition(".")
    if not name or view not in _views(explore) or view not in fields:
        return None
    return fields[view].get(name)


def _unknown(reference: str, explore: str) -> str:
    return (f"Unknown or inaccessible field {reference} in explore {explore}. Check for typos or append a "
            "timeframe to the name if the field is type time.")


def _check_dashboard(located: Located[schema.Dashboard], explores: dict[str, schema.Explore],
                     fields: _Fields, models: list[schema.Model]) -> Iterator[Issue]:
    dashboard = located.item
    names: tuple[tuple[str, list[str]], ...] = (("tiles", [t.name for t in dashboard.tiles]),
                                                ("filters", [f.name for f in dashboard.filters]))
    for key, items in names:
        seen: set[str] = set()
        for position, name in enumerate(items):
            if name in seen:
                yield located.error((key, position, "name"), "LW601",
                                    f"duplicate {key[:-1]} name '{name}' in dashboard '{dashboard.name}'")
            seen.add(name)
    filter_fields: dict[str, FieldInfo] = {}
    for position, dashboard_filter in enumerate(dashboard.filters):
        path = ("filters", position)
        explore = explores.get(dashboard_filter.explore)
        if explore is None:
            yield located.error((*path, "explore"), "LW602", f"unknown explore '{dashboard_filter.explore}'")
            continue
        info = resolve(explore, dashboard_filter.field, fields)
        if info is None:
            yield located.error((*path, "field"), "LW603", _unknown(dashboard_filter.field, explore.name))
        else:
            filter_fields[dashboard_filter.name] = info
    for position, tile in enumerate(dashboard.tiles):
        yield from _check_tile(located, ("tiles", position), tile, explores, fields, filter_fields)
    yield from _check_layout(located, dashboard)
    if dashboard.model is None and dashboard_model(dashboard, models) is None:
        yield located.error(("name",), "LW610", f"no model has every explore of dashboard '{dashboard.name}'",
                            "add the explores to one model, or set `model:`")
    elif dashboard.model is not None and dashboard.model not in {m.name for m in models}:
        yield located.error(("model",), "LW610", f"unknown model '{dashboard.model}'")


def _check_tile(located: Located[schema.Dashboard], path: tuple[str | int, ...], tile: schema.Tile,
                explores: dict[str, schema.Explore], fields: _Fields,
                filter_fields: dict[str, FieldInfo]) -> Iterator[Issue]:
    explore = explores.get(tile.explore)
    if explore is None:
        yield located.error((*path, "explore"), "LW602", f"unknown explore '{tile.explore}' in tile '{tile.name}'")
        return
    infos: dict[str, FieldInfo] = {}
    for position, reference in enumerate(tile.fields):
        info = resolve(explore, reference, fields)
        if info is None:
            yield located.error((*path, "fields", position), "LW603", _unknown(reference, explore.name))
        else:
            infos[reference] = info
    for reference in tile.filters:
        if resolve(explore, reference, fields) is None:
            yield located.error((*path, "filters", reference), "LW603", f"Unknown field {reference} in filter")
    for position, sort in enumerate(tile.sorts):
        field, _ = split_sort(sort)
        if field not in tile.fields:
            yield located.error((*path, "sorts", position), "LW604",
                                f"sort field {field} is not one of the fields of tile '{tile.name}'",
                                "Looker sorts only by selected fields; add it to fields or remove the sort")
    for position, pivot in enumerate(tile.pivots):
        info = infos.get(pivot)
        if pivot not in tile.fields or (info is not None and info.is_measure):
            yield located.error((*path, "pivots", position), "LW604",
                                f"pivot {pivot} must be a dimension among the fields of tile '{tile.name}'")
    yield from _check_listen(located, path, tile, explore, fields, filter_fields)
    if len(infos) == len(tile.fields):
        yield from _check_visualization(located, path, tile, infos)
    if tile.must_hit is not None and tile.must_hit not in {a.name for a in explore.aggregate_tables}:
        yield located.error((*path, "must_hit"), "LW609",
                            f"explore '{explore.name}' has no aggregate table '{tile.must_hit}'",
                            "run `lookwright suggest aggregates` for tables that serve every tile")


def _kind(info: FieldInfo) -> str:
    """The filter family of a field: date, number, yesno or string."""
    if info.type == "time" or info.type == "date":
        return "date"
    if info.type in ("number", "tier") or info.is_measure:
        return "number"
    return "yesno" if info.type == "yesno" else "string"


def _check_listen(located: Located[schema.Dashboard], path: tuple[str | int, ...], tile: schema.Tile,
                  explore: schema.Explore, fields: _Fields, filter_fields: dict[str, FieldInfo]) -> Iterator[Issue]:
    names = {f.name for f in located.item.filters}
    for name, target in tile.listen.items():
        if name not in names:
            yield located.error((*path, "listen", name), "LW605",
                                f"tile '{tile.name}' listens to '{name}', which is not a filter of dashboard "
                                f"'{located.item.name}'", f"dashboard filters: {', '.join(sorted(names)) or 'none'}")
            continue
        info = resolve(explore, target, fields)
        if info is None:
            yield located.error((*path, "listen", name), "LW603", _unknown(target, explore.name))
            continue
        source = filter_fields.get(name)
        if source is not None and _kind(source) != _kind(info):
            yield located.error((*path, "listen", name), "LW606",
                                f"dashboard filter '{name}' is a {_kind(source)} filter but tile '{tile.name}' applies it "
                                f"to {target}, a {_kind(info)} field")


def _check_visualization(located: Located[schema.Dashboard], path: tuple[str | int, ...], tile: schema.Tile,
                         infos: dict[str, FieldInfo]) -> Iterator[Issue]:
    measures = [name for name, info in infos.items() if info.is_measure]
    dimensions = [name for name, info in infos.items() if not info.is_measure]
    need = {
        "single_value": (not dimensions or tile.limit == 1) and len(measures) >= 1,
        "pie": len(dimensions) == 1 and len(measures) == 1 and not tile.pivots,
        "scatter": len(measures) >= 2,
        "table": bool(infos),
    }.get(tile.type, bool(dimensions) and bool(measures))
    if not need:
        wants = {
            "single_value": "at least one measure and no dimension (or limit: 1)",
            "pie": "exactly one dimension and one measure, without pivots",
            "scatter": "at least two measures (x and y)",
            "table": "at least one field",
        }.get(tile.type, "at least one dimension and one measure")
        yield located.error((*path, "type"), "LW607",
                            f"a {tile.type} tile needs {wants}; tile '{tile.name}' has "
                            f"{len(dimensions)} dimension(s) and {len(measures)} measure(s)")


def _check_layout(located: Located[schema.Dashboard], dashboard: schema.Dashboard) -> Iterator[Issue]:
    placed = layout(dashboard.tiles)
    for position, (tile, spot) in enumerate(zip(dashboard.tiles, placed, strict=True)):
        if spot.col + spot.width > COLUMNS:
            yield located.error(("tiles", position, "width"), "LW608",
                                f"tile '{tile.name}' spans columns {spot.col}-{spot.col + spot.width - 1}; "
                                f"a newspaper dashboard has {COLUMNS} (0-{COLUMNS - 1})")
        for earlier in range(position):
            if spot.overlaps(placed[earlier]):
                yield located.error(("tiles", position, "row" if tile.row is not None else "name"), "LW608",
                                    f"tile '{tile.name}' overlaps tile '{dashboard.tiles[earlier].name}'")
                break
