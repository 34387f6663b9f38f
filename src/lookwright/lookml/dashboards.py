"""Offline validation of LookML dashboards (`*.dashboard.lookml`, generated or hand-written).

Looker checks dashboards only in its content validator, on a live instance; here every element's
model, explore, fields, filters, sorts, pivots and `listen` targets, and every dashboard filter's
field, are checked against the parsed project, with Looker's wording and the file:line of the value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import yaml

from lookwright.errors import Issue, Location
from lookwright.lookml.project import Explore, Field, Model, Project, View, complete_names

BUILT_IN_MODELS = frozenset({"system__activity"})  # Looker's own models, on every instance
UNKNOWN_FIELD = ("Unknown or inaccessible field {}. Check for typos or append a timeframe to the name if the "
                 "field is type time.")
# code -> (severity, message) for `validate lookml`'s code list
DASHBOARD_CODES: dict[str, tuple[str, str]] = {
    "LKML200": ("error", "Dashboard file is not valid YAML / not a list of `- dashboard:` documents."),
    "LKML201": ("warning", ("Model '<m>' is not in this project (dashboard element or filter); its elements are "
                            "not checked. Looker's own System Activity model is known.")),
    "LKML202": ("error", "Looker: Unknown explore <e> in model <m>."),
    "LKML203": ("error", ("Looker: Unknown or inaccessible field <view.field> (element fields, sorts, pivots, "
                         "filter fields, listen targets).")),
    "LKML204": ("error", "Pivot <field> is not one of the element's fields."),
    "LKML207": ("warning", "Sort field <field> is not one of the element's fields: Looker ignores the sort."),
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


DYNAMIC_KINDS = ("table_calculation", "measure", "dimension")  # the key that names each kind of dynamic field


def _dynamic_fields(node: yaml.Node | None) -> dict[str, str]:
    """Name -> kind of an element's `dynamic_fields` (custom measures and dimensions, table calculations).

    Looker writes them as a YAML list of mappings, older exports as one JSON string; the element's
    fields, sorts, pivots and filters may name them unscoped."""
    entries: list[dict[str, object]] = []
    if isinstance(node, yaml.SequenceNode):
        entries = [{str(k.value): v.value for k, v in item.value if isinstance(v, yaml.ScalarNode)}
                   for item in node.value if isinstance(item, yaml.MappingNode)]
    elif isinstance(node, yaml.ScalarNode):
        try:
            parsed = json.loads(str(node.value))
        except ValueError:
            parsed = []
        entries = [entry for entry in parsed if isinstance(entry, dict)] if isinstance(parsed, list) else []
    found: dict[str, str] = {}
    for entry in entries:
        for kind in DYNAMIC_KINDS:
            name = entry.get(kind)
            if isinstance(name, str) and name:
                found.setdefault(name, kind)
                break
    return found


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


def tile_queries(files: DashboardFiles) -> list[TileQuery]:
    """Every element query of every parsed dashboard (text tiles and merged queries left out)."""
    queries = []
    for dashboard in (parsed.spec for parsed in files.dashboards):
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
            calculations = {name for name, kind in _dynamic_fields(element.get("dynamic_fields")).items()
                            if kind == "table_calculation"}  # computed from the results, not by the query
            fields = [f for f in _items(element.get("fields")) + _items(element.get("dimensions"))
                      + _items(element.get("measures")) if f.text not in calculations]
            filters = {key.text: value.text for key, value in _pairs(element.get("filters"))}
            for key, value in _pairs(element.get("listen")):
                if key.text in defaults:
                    filters.setdefault(value.text, defaults[key.text])
            timezone = _scalar(element.get("query_timezone")) or zone
            queries.append(TileQuery(model.text, explore.text, tuple(f.text for f in fields),
                                     tuple(sorted(filters.items())), timezone.text if timezone else None))
    return queries


@dataclass(frozen=True)
class DashboardFindings:
    """What the dashboard check found: issues to report, and, per absent imported project, the
    findings that project's files might answer (counted in LKML190, not reported)."""

    issues: list[Issue]
    unchecked: dict[str, set[Issue]]


@dataclass(frozen=True)
class Dashboard:
    """One `- dashboard:` document of a dashboard file, as YAML nodes (values keep their lines)."""

    file: str
    spec: dict[str, yaml.Node]

    def elements(self) -> list[tuple[dict[str, yaml.Node], int]]:
        nodes = self.spec.get("elements")
        return [(_mapping(n), n.start_mark.line + 1) for n in nodes.value] if isinstance(nodes, yaml.SequenceNode) else []

    def filters(self) -> list[dict[str, yaml.Node]]:
        nodes = self.spec.get("filters")
        return [_mapping(n) for n in nodes.value] if isinstance(nodes, yaml.SequenceNode) else []


@dataclass(frozen=True)
class DashboardFiles:
    """Every `*.dashboard.lookml` file under the project root, parsed once: the dashboards they
    define, and an LKML200 for each file that is not a list of dashboard documents."""

    dashboards: tuple[Dashboard, ...]
    problems: tuple[Issue, ...]


def parse_dashboards(project: Project) -> DashboardFiles:
    dashboards: list[Dashboard] = []
    problems: list[Issue] = []
    for path in sorted(project.root.rglob("*.dashboard.lookml")):
        relative = path.relative_to(project.root).as_posix()
        try:
            root = yaml.compose(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            problems.append(_issue(relative, mark.line + 1 if mark else 1, "LKML200", f"Dashboard YAML error: {error}"))
            continue
        if not isinstance(root, yaml.SequenceNode):
            problems.append(_issue(relative, 1, "LKML200", "A LookML dashboard file is a list of `- dashboard:` entries"))
            continue
        dashboards += [Dashboard(relative, _mapping(document)) for document in root.value]
    return DashboardFiles(tuple(dashboards), tuple(problems))


def validate_dashboards(project: Project, files: DashboardFiles | None = None) -> DashboardFindings:
    """Every problem of every `*.dashboard.lookml` file under the project root (`files`: those
    files already parsed, by `parse_dashboards`)."""
    files = parse_dashboards(project) if files is None else files
    checker = _Checker(project, {name.text: d for d in files.dashboards if (name := _scalar(d.spec.get("dashboard")))})
    for dashboard in files.dashboards:
        checker.check(dashboard)
    return DashboardFindings([*files.problems, *checker.issues, *checker.foreign_issues()], checker.unchecked)


class _Checker:
    """Checks dashboards against the project; `extends` resolved through the dashboards by name."""

    def __init__(self, project: Project, by_name: dict[str, Dashboard]) -> None:
        self.project, self.by_name = project, by_name
        self.issues: list[Issue] = []
        self.unchecked: dict[str, set[Issue]] = {}
        self.foreign: dict[str, list[tuple[str, int]]] = {}  # model not in the project -> where it is used
        self.complete: dict[str, set[str]] = {}  # model -> the names it resolves completely

    def chain(self, dashboard: Dashboard) -> list[Dashboard]:
        """The dashboard and those it extends, nearest first (a cycle or unknown base ends it)."""
        chain = [dashboard]
        while (base := _scalar(chain[-1].spec.get("extends"))) and base.text in self.by_name:
            parent = self.by_name[base.text]
            if parent in chain:
                break
            chain.append(parent)
        return chain

    def check(self, dashboard: Dashboard) -> None:
        chain = self.chain(dashboard)
        filters: dict[str, Field | None] = {}
        for ancestor in reversed(chain[1:]):  # inherited filters are checked in their own dashboard
            for spec in ancestor.filters():
                if (name := _scalar(spec.get("name"))) is not None:
                    filters[name.text] = self.filter_field(ancestor.file, spec, name, report=False)
        for spec in dashboard.filters():
            if (name := _scalar(spec.get("name"))) is not None:
                filters[name.text] = self.filter_field(dashboard.file, spec, name, report=True)
        for element, line in dashboard.elements():
            self.element(dashboard.file, _inherited(element, chain[1:]), line, filters)

    def report(self, issue: Issue, model: Model | None = None, view_missing: bool = False) -> None:
        """Report `issue`, unless it is about a view or explore an absent imported project may define."""
        if model is not None and model.missing_imports and view_missing:
            for name in model.missing_imports:
                self.unchecked.setdefault(name, set()).add(issue)
            return
        self.issues.append(issue)

    def resolve(self, file: str, model: _Value | None, explore: _Value | None,
                line: int) -> tuple[Model, Explore] | None:
        if model is None:
            return self.including_model(file, explore, line)
        if model.text not in self.project.models:
            self.foreign_model(file, model.text, model.line)
            return None
        target = self.project.models[model.text]
        if explore is None or explore.text not in target.explores:
            name = explore.text if explore else "(none)"
            self.report(_issue(file, explore.line if explore else line, "LKML202",
                               f"Unknown explore {name} in model {model.text}"), target, view_missing=True)
            return None
        return target, target.explores[explore.text]

    def including_model(self, file: str, explore: _Value | None, line: int) -> tuple[Model, Explore] | None:
        """An element without `model:` runs in the model that includes its dashboard file. When no
        model of this project includes the file (a hub's dashboards, included by another project's
        models), a model that has the explore stands in; when none has it, nothing can be judged."""
        if explore is None:
            return None
        models = [m for _, m in sorted(self.project.models.items())]
        including = [m for m in models if any(file in include.matches for include in m.includes)]
        owner = next((m for m in including or models if explore.text in m.explores), None)
        if owner is not None:
            return owner, owner.explores[explore.text]
        if including:
            self.report(_issue(file, explore.line, "LKML202", f"Unknown explore {explore.text} in model "
                               f"{including[0].name}, which includes this dashboard"), including[0], view_missing=True)
        return None

    def foreign_model(self, file: str, model: str, line: int) -> None:
        """Remember an element or filter of a model the project does not have (Looker's own are known)."""
        if model not in BUILT_IN_MODELS:
            self.foreign.setdefault(model, []).append((file, line))

    def foreign_issues(self) -> list[Issue]:
        """One warning per model the project does not have, at its first use, counting its uses."""
        found = []
        for model, uses in sorted(self.foreign.items()):
            file, line = min(uses)
            others = len(uses) - 1
            more = f" (and {others} more use{'' if others == 1 else 's'})" if others else ""
            found.append(_issue(file, line, "LKML201",
                                f"Model '{model}' is not in this project; elements using it are not checked{more}"))
        return found

    def field(self, model: Model, explore: Explore, name: str) -> tuple[Field | None, bool]:
        """The field, and whether its view is missing (the alias names a view the model lacks)."""
        if model.name not in self.complete:
            self.complete[model.name] = complete_names(model)
        # an alias through a view the model lacks or cannot complete (an absent imported project's)
        missing = name.partition(".")[0] not in self.complete[model.name]
        return _field(explore, model.views, name), missing

    def filter_field(self, file: str, spec: dict[str, yaml.Node], name: _Value, report: bool) -> Field | None:
        field = _scalar(spec.get("field"))
        if field is None:
            return None
        if not report:
            resolved = self.quiet_resolve(spec)
        else:
            resolved = self.resolve(file, _scalar(spec.get("model")), _scalar(spec.get("explore")), name.line)
        if resolved is None:
            return None
        found, missing = self.field(*resolved, field.text)
        if found is None and report:
            self.report(_issue(file, field.line, "LKML203", UNKNOWN_FIELD.format(field.text)), resolved[0], missing)
        return found

    def quiet_resolve(self, spec: dict[str, yaml.Node]) -> tuple[Model, Explore] | None:
        model, explore = _scalar(spec.get("model")), _scalar(spec.get("explore"))
        target = self.project.models.get(model.text) if model else None
        if target is None or explore is None or explore.text not in target.explores:
            return None
        return target, target.explores[explore.text]

    def element(self, file: str, element: dict[str, yaml.Node], line: int, filters: dict[str, Field | None]) -> None:
        if "explore" not in element and "model" not in element:
            return  # a text tile, or a merged query (not checked)
        resolved = self.resolve(file, _scalar(element.get("model")), _scalar(element.get("explore")), line)
        if resolved is None:
            return
        model, explore = resolved
        dynamic = _dynamic_fields(element.get("dynamic_fields"))
        fields = _items(element.get("fields")) + _items(element.get("dimensions")) + _items(element.get("measures"))
        names = {f.text for f in fields} | set(dynamic)  # a table calculation is sorted by without being in fields
        for value in fields:
            if value.text not in dynamic:
                found, missing = self.field(model, explore, value.text)
                if found is None:
                    self.report(_issue(file, value.line, "LKML203", UNKNOWN_FIELD.format(value.text)), model, missing)
        for key, value in _pairs(element.get("filters")):
            if key.text not in dynamic:
                found, missing = self.field(model, explore, key.text)
                if found is None:
                    self.report(_issue(file, key.line, "LKML203", f"Unknown field {key.text} in filter"), model, missing)
        for value in _items(element.get("sorts")):
            name = value.text.split()[0]
            if name not in names:
                self.issues.append(_issue(file, value.line, "LKML207",
                                          f"Sort field {name} is not one of the element's fields; Looker ignores the sort"))
        for value in _items(element.get("pivots")):
            if value.text not in names:
                self.issues.append(_issue(file, value.line, "LKML204", f"Pivot {value.text} is not one of the element's fields"))
        self.listens(file, element, model, explore, filters)

    def listens(self, file: str, element: dict[str, yaml.Node], model: Model, explore: Explore,
                filters: dict[str, Field | None]) -> None:
        for key, value in _pairs(element.get("listen")):
            if key.text not in filters:
                self.issues.append(_issue(file, key.line, "LKML205",
                                          f"Element listens to {key.text}, which is not a filter of the dashboard"))
                continue
            target, missing = self.field(model, explore, value.text)
            if target is None:
                self.report(_issue(file, value.line, "LKML203", UNKNOWN_FIELD.format(value.text)), model, missing)
                continue
            source = filters[key.text]
            if source is not None and _family(source) != _family(target):
                self.issues.append(_issue(file, value.line, "LKML206",
                                          f"Listen target {value.text} ({_family(target)}) does not fit dashboard filter "
                                          f"{key.text} ({_family(source)})"))


def _inherited(element: dict[str, yaml.Node], ancestors: list[Dashboard]) -> dict[str, yaml.Node]:
    """An element of an extending dashboard with the keys it leaves out taken from the element of
    the same name in the dashboards it extends (Looker merges elements by name)."""
    name = _scalar(element.get("name"))
    if name is None:
        return element
    merged = dict(element)
    for ancestor in ancestors:
        base = next((e for e, _ in ancestor.elements() if (n := _scalar(e.get("name"))) and n.text == name.text), None)
        for key, value in (base or {}).items():
            merged.setdefault(key, value)
    return merged
