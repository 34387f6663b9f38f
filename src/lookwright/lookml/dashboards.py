"""Offline validation of LookML dashboards (`*.dashboard.lookml`, generated or hand-written).

Looker checks dashboards only in its content validator, on a live instance; here every element's
model, explore, fields, filters, sorts, pivots and `listen` targets, and every dashboard filter's
field, are checked against the parsed project, with Looker's wording and the file:line of the value.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import yaml

from lookwright.errors import Issue, Location
from lookwright.lookml.project import Explore, Field, Project, View

UNKNOWN_FIELD = ("Unknown or inaccessible field {}. Check for typos or append a timeframe to the name if the "
                 "field is type time.")
# code -> (severity, message) for `validate lookml`'s code list
DASHBOARD_CODES: dict[str, tuple[str, str]] = {
    "LKML200": ("error", "Dashboard file is not valid YAML / not a list of `- dashboard:` documents."),
    "LKML201": ("error", "Looker: Model '<m>' is not in this project (dashboard element or filter)."),
    "LKML202": ("error", "Looker: Unknown explore <e> in model <m>."),
    "LKML203": ("error", ("Looker: Unknown or inaccessible field <view.field> (element fields, sorts, pivots, "
                         "filter fields, listen targets).")),
    "LKML204": ("error", "Sort or pivot <field> is not one of the element's fields."),
    "LKML205": ("error", "Element listens to <filter>, which is not a filter of the dashboard."),
    "LKML206": ("warning", "Listen target <field> does not fit the type of dashboard filter <filter>."),
}


@dataclass(frozen=True)
class _Value:
    text: str
    line: int


def _issue(file: str, line: int, code: str, message: str) -> Issue:
    return Issue(Location(file, line), code, message, severity=DASHBOARD_CODES[code][0])


def _mapping(node: yaml.Node) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(key.value): value for key, value in node.value}


def _scalar(node: yaml.Node | None) -> _Value | None:
    if isinstance(node, yaml.ScalarNode):
        return _Value(str(node.value), node.start_mark.line + 1)
    return None


def _items(node: yaml.Node | None) -> list[_Value]:
    if isinstance(node, yaml.SequenceNode):
        return [v for item in node.value if (v := _scalar(item)) is not None]
    return []


def _pairs(node: yaml.Node | None) -> list[tuple[_Value, _Value]]:
    out: list[tuple[_Value, _Value]] = []
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            k, v = _scalar(key), _scalar(value)
            if k is not None and v is not None:
                out.append((k, v))
    return out


def _field(explore: Explore, views: dict[str, View], name: str) -> Field | None:
    alias, _, field_name = name.partition(".")
    view = views.get(explore.view_for_alias(alias) or "")
    return view.field(field_name) if view is not None and field_name else None


def _family(field: Field) -> str:
    if field.kind == "measure":
        return "number"
    if field.is_time or field.type == "date":
        return "date"
    return {"number": "number", "tier": "number", "yesno": "yesno"}.get(field.type or "string", "string")


@dataclass(frozen=True)
class TileQuery:
    """The query one dashboard element runs when the dashboard opens: its own filters plus the
    default values of the dashboard filters it listens to, in its query time zone."""

    model: str
    explore: str
    fields: tuple[str, ...]
    filters: tuple[tuple[str, str], ...]
    timezone: str | None


def _documents(project: Project) -> Iterator[dict[str, yaml.Node]]:
    for path in sorted(project.root.rglob("*.dashboard.lookml")):
        try:
            root = yaml.compose(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError:
            continue  # reported as LKML200 by validate_dashboards
        if isinstance(root, yaml.SequenceNode):
            yield from (_mapping(document) for document in root.value)


def tile_queries(project: Project) -> list[TileQuery]:
    """Every element query of every `*.dashboard.lookml` file (text tiles and merged queries left out)."""
    queries = []
    for dashboard in _documents(project):
        defaults: dict[str, str] = {}
        nodes = dashboard.get("filters")
        for node in nodes.value if isinstance(nodes, yaml.SequenceNode) else []:
            spec = _mapping(node)
            name, default = _scalar(spec.get("name")), _scalar(spec.get("default_value"))
            if name is not None and default is not None and default.text:
                defaults[name.text] = default.text
        zone = _scalar(dashboard.get("query_timezone"))
        elements = dashboard.get("elements")
        for node in elements.value if isinstance(elements, yaml.SequenceNode) else []:
            element = _mapping(node)
            model, explore = _scalar(element.get("model")), _scalar(element.get("explore"))
            if model is None or explore is None:
                continue
            fields = _items(element.get("fields")) + _items(element.get("dimensions")) + _items(element.get("measures"))
            filters = {key.text: value.text for key, value in _pairs(element.get("filters"))}
            for key, value in _pairs(element.get("listen")):
                if key.text in defaults:
                    filters.setdefault(value.text, defaults[key.text])
            timezone = _scalar(element.get("query_timezone")) or zone
            queries.append(TileQuery(model.text, explore.text, tuple(f.text for f in fields),
                                     tuple(sorted(filters.items())), timezone.text if timezone else None))
    return queries


def validate_dashboards(project: Project) -> list[Issue]:
    """Every problem of every `*.dashboard.lookml` file under the project root."""
    found: list[Issue] = []
    for path in sorted(project.root.rglob("*.dashboard.lookml")):
        relative = path.relative_to(project.root).as_posix()
        try:
            root = yaml.compose(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            found.append(_issue(relative, mark.line + 1 if mark else 1, "LKML200", f"Dashboard YAML error: {error}"))
            continue
        if not isinstance(root, yaml.SequenceNode):
            found.append(_issue(relative, 1, "LKML200", "A LookML dashboard file is a list of `- dashboard:` entries"))
            continue
        for document in root.value:
            found.extend(_dashboard(project, relative, _mapping(document)))
    return found


def _resolve_explore(project: Project, file: str, model: _Value | None, explore: _Value | None,
                     line: int) -> tuple[Explore, dict[str, View]] | Issue:
    if model is None or model.text not in project.models:
        name = model.text if model else "(none)"
        return _issue(file, model.line if model else line, "LKML201", f"Model '{name}' is not in this project")
    target = project.models[model.text]
    if explore is None or explore.text not in target.explores:
        name = explore.text if explore else "(none)"
        return _issue(file, explore.line if explore else line, "LKML202", f"Unknown explore {name} in model {model.text}")
    return target.explores[explore.text], target.views


def _dashboard(project: Project, file: str, dashboard: dict[str, yaml.Node]) -> Iterator[Issue]:
    filters: dict[str, Field | None] = {}
    filter_nodes = dashboard.get("filters")
    for node in filter_nodes.value if isinstance(filter_nodes, yaml.SequenceNode) else []:
        spec = _mapping(node)
        name = _scalar(spec.get("name"))
        if name is None:
            continue
        filters[name.text] = None
        field = _scalar(spec.get("field"))
        if field is None:
            continue
        resolved = _resolve_explore(project, file, _scalar(spec.get("model")), _scalar(spec.get("explore")), name.line)
        if isinstance(resolved, Issue):
            yield resolved
            continue
        found = _field(*resolved, field.text)
        if found is None:
            yield _issue(file, field.line, "LKML203", UNKNOWN_FIELD.format(field.text))
        filters[name.text] = found
    elements = dashboard.get("elements")
    for node in elements.value if isinstance(elements, yaml.SequenceNode) else []:
        yield from _element(project, file, _mapping(node), node.start_mark.line + 1, filters)


def _element(project: Project, file: str, element: dict[str, yaml.Node], line: int,
             filters: dict[str, Field | None]) -> Iterator[Issue]:
    if "explore" not in element and "model" not in element:
        return  # a text tile, or a merged query (not checked)
    resolved = _resolve_explore(project, file, _scalar(element.get("model")), _scalar(element.get("explore")), line)
    if isinstance(resolved, Issue):
        yield resolved
        return
    explore, views = resolved
    fields = _items(element.get("fields")) + _items(element.get("dimensions")) + _items(element.get("measures"))
    names = {f.text for f in fields}
    for value in fields:
        if _field(explore, views, value.text) is None:
            yield _issue(file, value.line, "LKML203", UNKNOWN_FIELD.format(value.text))
    for key, value in _pairs(element.get("filters")):
        if _field(explore, views, key.text) is None:
            yield _issue(file, key.line, "LKML203", f"Unknown field {key.text} in filter")
    for value in _items(element.get("sorts")):
        name = value.text.split()[0]
        if name not in names:
            yield _issue(file, value.line, "LKML204", f"Sort field {name} is not one of the element's fields")
    for value in _items(element.get("pivots")):
        if value.text not in names:
            yield _issue(file, value.line, "LKML204", f"Pivot {value.text} is not one of the element's fields")
    for key, value in _pairs(element.get("listen")):
        if key.text not in filters:
            yield _issue(file, key.line, "LKML205", f"Element listens to {key.text}, which is not a filter of the dashboard")
            continue
        target = _field(explore, views, value.text)
        if target is None:
            yield _issue(file, value.line, "LKML203", UNKNOWN_FIELD.format(value.text))
            continue
        source = filters[key.text]
        if source is not None and _family(source) != _family(target):
            yield _issue(file, value.line, "LKML206",
                         f"Listen target {value.text} ({_family(target)}) does not fit dashboard filter "
                         f"{key.text} ({_family(source)})")
