"""Static LookML checks that reproduce Looker's validator messages (looker.md §6) offline."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from lookwright.errors import Issue, Location
from lookwright.field_rules import (
    COUNT_WITH_SQL,
    MEASURE_REFERENCES_MEASURE,
    UNCLOSED_CONDITION,
    aggregate_references_measure,
    aggregate_table_defined_twice,
    cannot_roll_up,
    count_with_sql,
    datagroup_undefined,
    defined_multiple_times,
    filters_unsupported,
    increment_key_outside,
    list_without_list_field,
    multiple_primary_keys,
    non_aggregate_filters,
    primary_key_conflicts,
    redefined_field,
    repeated_names,
    undefined_datagroup,
    unknown_always_filter_field,
    unknown_field,
    unknown_filter_field,
    unknown_view,
)
from lookwright.lookml.aggregates import covers, joined_aliases, rolls_up
from lookwright.lookml.dashboards import (
    TileQuery,
    parse_dashboards,
    tile_queries,
    validate_dashboards,
)
from lookwright.lookml.project import (
    AggregateTable,
    Explore,
    Field,
    Model,
    Node,
    Project,
    View,
    complete_names,
    expand_field,
    fanned_out_aliases,
    load_project,
    project_of,
)
from lookwright.vocabulary import (
    FIELD_EXPRESSION_KEYS,
    PERSISTED_ONLY_KEYS,
    PERSISTENCE_KEYS,
    SPECIAL_REFERENCES,
    SYMMETRIC_TYPES,
    TRIGGER_KEYS,
    reference_parts,
    templated_filters,
    unclosed_condition,
)

# code -> (severity, message). "Looker:" marks Looker's catalog wording (placeholders filled as
# shown); the rest is lookwright wording for rules the catalog implies but does not word.
# The dialect is assumed to be BigQuery (the toolkit's target), so LKML163 always applies.
CODES: dict[str, tuple[str, str]] = {
    "LKML001": ("error", ("Syntax error: <lkml's parser message> (`;;` problems, unclosed blocks, "
                         "repeated keys)")),
    "LKML101": ("error", ("Looker: Unknown or inaccessible field <view.field>. Check for typos or "
                         "append a timeframe to the name if the field is type time.")),
    "LKML102": ("error", ("Looker: Inaccessible view <v>. <v> is not accessible in explore <e>. "
                         "Check for missing joins in explore <e>.")),
    "LKML103": ("error", "Looker: Unknown view <v>."),
    "LKML104": ("error", ("Looker: Unknown view <v>. View <v> does not exist in model <m>. Check "
                         "for typos or missing include statements in <m>.")),
    "LKML105": ("error", "Looker: Unknown field <f> in filter"),
    "LKML106": ("error", "Looker: always_filter: unknown filter field '<f>'"),
    "LKML110": ("error", ("Looker: Measures with Looker aggregations (sum, average, min, max, list "
                         "types) may not reference other measures.")),
    "LKML111": ("error", ("Looker: Measures of type count do not use the sql parameter. Use "
                         "count_distinct to count by something other than the primary key, or "
                         "remove the sql parameter.")),
    "LKML112": ("error", ("Looker: filters: ` is not supported for measures of non-aggregate type "
                         "'<type>'")),
    "LKML113": ("error", "Looker: A list_field must be defined for measures of type list."),
    "LKML120": ("error", ("Looker: Multiple primary key definitions for view '<v>': '<a>' and "
                         "'<b>'")),
    "LKML121": ("error", ("Looker: Cannot specify both sql_table_name and derived_table for view "
                         "<v>")),
    "LKML122": ("error", "Looker: Redefinition of field '<view.field>'"),
    "LKML130": ("error", ("Looker: A view named <v> has been defined multiple times (the catalog "
                         "elides the rest; we add ' in model <m>.')")),
    "LKML131": ("error", ("Looker: An explore named <e> has been defined multiple times (+ ' in "
                         "model <m>.')")),
    "LKML107": ("error", ("Looker: Variable not found <view.field>. (Liquid references must be "
                         "fully scoped, with the timeframe)")),
    "LKML108": ("error", "Looker: Liquid syntax error: 'condition' tag was never closed"),
    "LKML140": ("error", "Looker: This include does not match any files"),
    "LKML141": ("error", "Datagroup <d> is not defined in model <m>."),
    "LKML114": ("error", ("Looker: The location field type requires both sql_latitude and "
                         "sql_longitude.")),
    "LKML124": ("error", ("Looker: Missing required sql_step in create_process of derived table "
                         "'<v>'.")),
    "LKML150": ("error", 'Looker: Unknown or unexpected parameter "<p>" in <kind> <name>.'),
    "LKML151": ("error", "Looker: label_from_parameter of <view.field> must refer to a parameter."),
    "LKML152": ("error", "Looker: Unknown or excluded suggest_dimension <d> in field <view.field>"),
    "LKML172": ("warning", ("Looker: Persistent Native Derived Table for view <v> references user "
                           "attributes. Persisting this table may result in unexpected behavior. "
                           "(<v> is <explore>::<table> for aggregate tables)")),
    "LKML160": ("error", ("<table> uses more than one persistence strategy: <a>, <b>. Use exactly "
                         "one.")),
    "LKML161": ("error", ("Aggregate table <e>::<t> has no persistence strategy; add "
                         "datagroup_trigger, sql_trigger_value or persist_for to its "
                         "materialization.")),
    "LKML162": ("error", "<param> is only allowed on persisted tables; <table> is not persisted."),
    "LKML163": ("error", ("cluster_keys on BigQuery require partition_keys; add partition_keys to "
                         "<table>.")),
    "LKML164": ("error", ("increment_key and increment_offset need trigger persistence "
                         "(datagroup_trigger, sql_trigger_value or interval_trigger); <table> "
                         "uses <strategy>.")),
    "LKML165": ("error", "increment_offset without increment_key in <table>."),
    "LKML166": ("error", ("increment_key <key> of aggregate table <e>::<t> must be one of its "
                         "dimensions.")),
    "LKML167": ("error", ("publish_as_db_view is not supported with persist_for; <table> uses "
                         "persist_for.")),
    "LKML180": ("warning", ("Aggregate table <e>::<t> can never be used: the explore's <kind> "
                           "field <f> is not one of its dimensions.")),
    "LKML181": ("warning", ("Measure <m> cannot roll up, so aggregate table <e>::<t> serves only "
                           "exact-match queries.")),
    "LKML182": ("error", ("<f> is a filter-only field: list it in the filters of aggregate table "
                         "<e>::<t>, not in its dimensions.")),
    "LKML183": ("error", "Aggregate table <t> is defined more than once in explore <e>."),
    "LKML170": ("warning", "Looker: relationship missing, assumed to be many_to_one."),
    "LKML190": ("warning", ("Imported project <p> is not present, so <n> references into it could "
                           "not be checked. Put it in imported_projects/<p>/ or pass --project "
                           "<p>=DIR.")),
    "LKML191": ("warning", ("<file> is not included by any model, so Looker neither validates nor serves "
                           "it. Include it from a model (lookwright YAML: the model's include:).")),
    "LKML171": ("warning", ("Looker: Field '<label>' cannot be calculated because of a one_to_many "
                           "or many_to_many join. Add a primary key to <view>.")),
}
SEVERITIES = ("error", "warning", "info")
LIQUID_BLOCK = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
# `view.field._value` (scoped) or `field._value` (unscoped); `_user_attributes`, `_filters[...]`,
# `_model._name` and friends start with an underscore and are not field references.
LIQUID_FIELD = re.compile(
    r"(?<![\w.'\"\[])(?:(?P<scope>[a-z]\w*)\.)?(?P<name>[a-z]\w*)\."
    r"_(?P<variable>value|rendered_value|linked_value|filterable_value|sql|is_filtered|"
    r"is_selected|in_query|parameter_value|name|label|link|model|view|explore|field|query)\b"
)
# Liquid variables Looker also defines on a whole view (`{% if users._in_query %}`).
VIEW_LIQUID_VARIABLES = frozenset({"in_query", "is_filtered", "is_selected", "name"})
INACCESSIBLE_VIEW = ("Inaccessible view {0}. {0} is not accessible in explore {1}. "
                     "Check for missing joins in explore {1}.")
UNKNOWN_MODEL_VIEW = ("Unknown view {0}. View {0} does not exist in model {1}. "
                      "Check for typos or missing include statements in {1}.")
FANOUT = ("Field '{0}' cannot be calculated because of a one_to_many or many_to_many join. "
          "Add a primary key to {1}.")


def _finding(node_file: str, line: int, code: str, message: str) -> Issue:
    return Issue(Location(node_file, line), code, message, severity=CODES[code][0])


def finding_json(finding: Issue) -> dict[str, object]:
    """One finding of `validate lookml --format json` (schema version 1)."""
    return {"file": finding.file, "line": finding.line, "severity": finding.severity, "code": finding.code,
            "message": finding.message}


def validate_lookml(project_dir: Path, projects: Mapping[str, Path] | None = None) -> list[Issue]:
    """Every finding for the LookML project in `project_dir`, sorted and de-duplicated.

    `projects` maps imported project names to folders (else `imported_projects/<name>/`)."""
    from lookwright.output.writer import manifest_files

    findings = validate_project(load_project(project_dir, projects))
    generated = set(manifest_files(project_dir))  # views lookwright generates for no explore are left out on purpose
    return [f for f in findings if not (f.code == "LKML191" and f.file in generated)]


def validate_project(project: Project) -> list[Issue]:
    findings: set[Issue] = {
        _finding(p.file, p.line, "LKML001", p.message) for p in project.syntax_problems
    }
    nodes = {item.path: item.nodes for item in project.files}
    dashboard_files = parse_dashboards(project)  # read once: tile queries and the dashboard check
    tiles = tile_queries(dashboard_files)
    unchecked: dict[str, set[Issue]] = {}
    for model in project.models.values():
        checked, blind = _split_unresolvable(model, set(_check_model(model, nodes, tiles=tiles)))
        blind |= set(_incomplete_views(model))
        findings |= checked
        for name in model.missing_imports:
            unchecked.setdefault(name, set()).update(blind)
    for scope in project.unmodelled.values():
        # A file no model includes: only what its own includes bring in is known, so findings
        # about views and datagroups outside that are left to the models that include it.
        found = set(_check_model(scope, nodes, modelled=False))
        checked, _ = _split_unresolvable(scope, found, lenient=True)
        findings |= {f for f in checked if f.code not in MODEL_CONTEXT_CODES}
    dashboards = validate_dashboards(project, dashboard_files)
    for name, blind in dashboards.unchecked.items():
        unchecked.setdefault(name, set()).update(blind)
    findings = {f for f in findings if not f.file.startswith("//")}  # imported projects' files
    findings |= set(_missing_imports(project, unchecked))
    findings |= set(not_included(project))
    findings |= set(dashboards.issues)
    return sorted(findings, key=lambda f: (f.file, f.line, f.code, f.message))


def not_included(project: Project) -> Iterator[Issue]:
    """LKML191 for each local file with views or explores that no model includes.

    Only where the models include some of the project's own files: a project without models, or
    whose models include none of its files (a hub whose files other projects import), is a
    library, and its files are there for others to include."""
    in_models = {path for model in project.models.values() for path in model.files if path != model.file}
    if not any(not path.startswith("//") for path in in_models):
        return
    unmodelled = {path for scope in project.unmodelled.values() for path in scope.files}
    for path in sorted(unmodelled - in_models):
        if not path.startswith("//"):
            yield _finding(path, 1, "LKML191", CODES["LKML191"][1].replace("<file>", path))


# Issues that need the whole model (every view and datagroup it includes) to be right.
MODEL_CONTEXT_CODES = frozenset({"LKML102", "LKML103", "LKML104", "LKML141"})
_BLAME = (
    re.compile(r"Unknown view (?P<view>[^\s.]+)"),
    re.compile(r"Inaccessible view (?P<view>[^\s.]+)"),
    re.compile(r"Unknown or inaccessible field (?P<view>[^\s.]+)\.\S"),
    re.compile(r"Variable not found (?P<view>[^\s.]+)\.\S"),
    re.compile(r"Unknown field (?P<view>[^\s.]+)\.\S+ in filter"),
    re.compile(r"unknown filter field '(?P<view>[^\s.']+)\."),
    re.compile(r"Datagroup (?P<datagroup>\S+) is not defined"),
)


def _blamed(finding: Issue) -> tuple[str, str] | None:
    """("view", name) or ("datagroup", name) a reference finding is about, if any."""
    for pattern in _BLAME:
        if (match := pattern.search(finding.message)) is not None:
            kind = "view" if "view" in pattern.groupindex else "datagroup"
            return kind, match.group(kind)
    return None


def _split_unresolvable(model: Model, findings: set[Issue], lenient: bool = False
                        ) -> tuple[set[Issue], set[Issue]]:
    """(findings to report, findings about views or datagroups the model does not have).

    With an imported project absent (or for a file no model includes, `lenient`) such a view
    or datagroup may well be defined elsewhere, so those findings cannot be judged."""
    if not model.missing_imports and not lenient:
        return findings, set()
    known = complete_names(model)
    keep: set[Issue] = set()
    blind: set[Issue] = set()
    for finding in findings:
        blame = _blamed(finding)
        if blame is not None and (
            (blame[0] == "view" and blame[1] not in known)
            or (blame[0] == "datagroup" and blame[1] not in model.datagroups)
        ):
            blind.add(finding)
        else:
            keep.add(finding)
    return keep, blind


def _missing_imports(project: Project, unchecked: dict[str, set[Issue]]) -> Iterator[Issue]:
    """One finding per imported project that is named but not loaded."""
    places: dict[str, tuple[str, int]] = {}
    for dependency in project.manifest.dependencies:
        if dependency.name not in project.imported:
            places.setdefault(dependency.name, (dependency.file, dependency.line))
    for model in (*project.models.values(), *project.unmodelled.values()):
        for name in model.missing_imports:
            include = next((i for i in model.unloaded if project_of(i.pattern) == name), None)
            if include is not None:
                places.setdefault(name, (include.file, include.line))
    for name, (file, line) in sorted(places.items()):
        count = len({(f.file, f.line, f.code, f.message) for f in unchecked.get(name, set())})
        message = (f"Imported project {name} is not present, so {count} "
                   f"reference{'' if count == 1 else 's'} into it could not be checked. Put it "
                   f"in imported_projects/{name}/ or pass --project {name}=DIR.")
        yield _finding(file, line, "LKML190", message)


def _extends_missing(view: View, model: Model) -> bool:
    return any(parent not in model.views for parent in view.extends)


def _incomplete_views(model: Model) -> Iterator[Issue]:
    """Findings of views extending a view an absent imported project would define: they
    cannot be judged, and count as unchecked references."""
    if not model.missing_imports:
        return
    views = _alias_views(model)
    for view in model.views.values():
        if not view.extension_required and _extends_missing(view, model):
            yield from _check_view(view, views)


# --------------------------------------------------------------------------- model level


def _alias_views(model: Model) -> dict[str, View]:
    """The model's views plus every explore and join alias (`join: assignee { from: user }`),
    which field SQL may reference like a view name. An alias that names different views in
    different explores sees the fields of all of them (a view is checked once, for every
    explore it is used in)."""
    targets: dict[str, list[str]] = {}
    for explore in model.explores.values():
        pairs = [(explore.alias, explore.view_name), *((j.name, j.view_name) for j in explore.joins)]
        for alias, view_name in pairs:
            if alias not in model.views and view_name in model.views:
                names = targets.setdefault(alias, [])
                if view_name not in names:
                    names.append(view_name)
    views = dict(model.views)
    for alias, names in targets.items():
        first = model.views[names[0]]
        fields = tuple(f for name in names for f in model.views[name].fields)
        views[alias] = first if len(names) == 1 else replace(first, name=alias, fields=fields)
    return views


def _check_model(model: Model, nodes: dict[str, tuple[Node, ...]],
                 modelled: bool = True, tiles: Sequence[TileQuery] = ()) -> Iterator[Issue]:
    for include in model.includes:
        if not include.matches:
            yield _finding(include.file, include.line, "LKML140",
                           "This include does not match any files")
    yield from _duplicates(model, nodes)
    if modelled:
        yield from _datagroup_references(model)
    yield from _native_derived_tables(model)
    views = _alias_views(model)
    lenient = bool(model.missing_imports) or not modelled
    for view in model.views.values():
        if view.extension_required:  # checked where it is extended, as Looker does
            continue
        if lenient and _extends_missing(view, model):
            continue  # its fields come partly from elsewhere: see _incomplete_views
        yield from _check_view(view, views)
    for explore in model.explores.values():
        if not explore.extension_required:
            yield from _check_explore(explore, model,
                                      [t for t in tiles if (t.model, t.explore) == (model.name, explore.name)])


def _datagroup_references(model: Model) -> Iterator[Issue]:
    """`datagroup_trigger` and `persist_with` must name a datagroup the model includes."""
    references: list[Node] = [model.persist_with] if model.persist_with is not None else []
    for view in model.views.values():
        if view.derived_table is not None:
            references.extend(view.derived_table.all("datagroup_trigger"))
    for explore in model.explores.values():
        assert explore.node is not None
        references.extend(explore.node.all("persist_with"))
        for table in explore.aggregate_tables:
            if table.materialization is not None:
                references.extend(table.materialization.all("datagroup_trigger"))
    for node in references:
        if datagroup_undefined(node.value, model.datagroups):
            yield _finding(node.file, node.line, "LKML141", undefined_datagroup(node.value, model.name))


def _duplicates(model: Model, nodes: dict[str, tuple[Node, ...]]) -> Iterator[Issue]:
    blocks = (node for path in model.files for node in nodes.get(path, ())
              if node.kind == "block" and node.key in ("view", "explore") and not node.name.startswith("+"))
    for _, _, node in repeated_names((f"{node.key} {node.name}", node) for node in blocks):
        code = "LKML130" if node.key == "view" else "LKML131"
        yield _finding(node.file, node.line, code, defined_multiple_times(node.key, node.name, model.name))


# --------------------------------------------------------------------------- references


def _references(text: str | None) -> Iterator[tuple[str, ...]]:
    yield from reference_parts(text)


def _resolve(view_name: str, field_name: str, views: dict[str, View]) -> Field | None:
    view = views.get(view_name)
    return view.field(field_name) if view is not None else None


def _check_reference(parts: tuple[str, ...], view: View, views: dict[str, View], file: str,
                     line: int) -> Iterator[Issue]:
    if len(parts) == 1:
        if parts[0] in SPECIAL_REFERENCES or view.field(parts[0]) is not None:
            return
        yield _finding(file, line, "LKML101", unknown_field(f"{view.name}.{parts[0]}"))
        return
    target, name = parts[0], parts[1]
    if target not in views:
        yield _finding(file, line, "LKML103", unknown_view(target))
    elif name not in SPECIAL_REFERENCES and _resolve(target, name, views) is None:
        yield _finding(file, line, "LKML101", unknown_field(f"{target}.{name}"))


# --------------------------------------------------------------------------- views


def _check_view(view: View, views: dict[str, View]) -> Iterator[Issue]:
    if view.sql_table_name is not None and view.derived_table is not None:
        yield _finding(view.file, view.line, "LKML121",
                       f"Cannot specify both sql_table_name and derived_table for view {view.name}")
    yield from _primary_keys(view)
    yield from _redefinitions(view)
    for table_ref in _references(view.sql_table_name):
        yield from _table_reference(table_ref, views, view.file, view.line)
    if view.derived_table is not None:
        yield from _check_derived_table(view, views)
    for declared in view.fields:
        yield from _check_field(declared, view, views)


def _table_reference(parts: tuple[str, ...], views: dict[str, View], file: str,
                     line: int) -> Iterator[Issue]:
    if len(parts) >= 2 and parts[1] == "SQL_TABLE_NAME" and parts[0] not in views:
        yield _finding(file, line, "LKML103", unknown_view(parts[0]))


def _primary_keys(view: View) -> Iterator[Issue]:
    keys = [f for f in view.fields if f.primary_key]
    for (first, other), extra in zip(primary_key_conflicts([f.name for f in keys]), keys[1:], strict=True):
        yield _finding(extra.file, extra.line, "LKML120", multiple_primary_keys(view.name, first, other))


def _redefinitions(view: View) -> Iterator[Issue]:
    names = ((name, declared) for declared in view.fields
             for name in dict.fromkeys(expanded.name for expanded in expand_field(declared)))
    for name, _, declared in repeated_names(names):
        yield _finding(declared.file, declared.line, "LKML122", redefined_field(view.name, name))


def _check_field(declared: Field, view: View, views: dict[str, View]) -> Iterator[Issue]:
    node = declared.node
    assert node is not None
    for key in FIELD_EXPRESSION_KEYS:
        for parts in _references(node.get(key)):
            yield from _check_reference(parts, view, views, declared.file, declared.line)
    for text in _liquid_texts(node):
        for variable in _liquid_variables(text, view, views):
            yield _finding(declared.file, declared.line, "LKML107",
                           f"Variable not found {variable}.")
    for key in FIELD_EXPRESSION_KEYS:
        yield from _unclosed_condition(node.get(key), declared.file, declared.line)
        for name in templated_filters(node.get(key)):
            if not _templated_filter_resolves(name, declared, view, views):
                yield _finding(declared.file, declared.line, "LKML107", f"Variable not found {name}.")
    yield from _unexpected_parameters(declared, view)
    yield from _field_references(declared, view, views)
    if declared.kind == "measure":
        yield from _check_measure(declared, view, views)


def _templated_filter_resolves(name: str, declared: Field, view: View, views: dict[str, View]) -> bool:
    """`{% condition view.field %}` names a field of some view; an unscoped name, a field of the
    declaring view; no name at all, in a `filter:` field's own sql, that filter (Looker's `filter` docs)."""
    if not name:
        return declared.kind == "filter"
    scope, _, field_name = name.partition(".")
    if not field_name:
        return view.field(name) is not None
    return _resolve(scope, field_name, views) is not None


def _unclosed_condition(text: str | None, file: str, line: int) -> Iterator[Issue]:
    if unclosed_condition(text):
        yield _finding(file, line, "LKML108", UNCLOSED_CONDITION)


def _liquid_texts(node: Node) -> Iterator[str]:
    for key in ("sql", "html", "label", "description"):
        if (text := node.get(key)) is not None:
            yield text
    for link in node.all("link"):
        for key in ("url", "icon_url", "label"):
            if (text := link.get(key)) is not None:
                yield text


def _liquid_variables(text: str, view: View, views: dict[str, View]) -> Iterator[str]:
    """Field references inside `{{ }}` / `{% %}` that do not resolve to `view.field`."""
    for block in LIQUID_BLOCK.finditer(text):
        for match in LIQUID_FIELD.finditer(block.group(0)):
            scope, name = match.group("scope"), match.group("name")
            if scope is None:
                if name in views and match.group("variable") in VIEW_LIQUID_VARIABLES:
                    continue  # a view (or join alias): `{% if campaign._in_query %}`
                if view.field(name) is None:  # unscoped: only the view's own fields resolve
                    yield name
            elif scope in views and _resolve(scope, name, views) is None:
                yield f"{scope}.{name}"


def _unexpected_parameters(declared: Field, view: View) -> Iterator[Issue]:
    node = declared.node
    assert node is not None
    allowed_on = {
        "timeframes": declared.kind == "dimension_group" and declared.type == "time",
        "intervals": declared.kind == "dimension_group" and declared.type == "duration",
        "sql_start": declared.type == "duration" or declared.type.startswith("duration_"),
        "sql_end": declared.type == "duration" or declared.type.startswith("duration_"),
        "sql_distinct_key": declared.kind == "measure",
        "list_field": declared.kind == "measure",
    }
    for parameter, allowed in allowed_on.items():
        child = node.find(parameter)
        if child is not None and not allowed:
            message = (f'Unknown or unexpected parameter "{parameter}" in '
                       f"{declared.kind} {view.name}.{declared.name}.")
            yield _finding(child.file, child.line, "LKML150", message)


def _field_references(declared: Field, view: View, views: dict[str, View]) -> Iterator[Issue]:
    """label_from_parameter, suggest_dimension and location coordinates of one field."""
    node = declared.node
    assert node is not None
    scoped = f"{view.name}.{declared.name}"
    if (parameter := node.get("label_from_parameter")) is not None:
        target = _scoped_field(parameter, view, views)
        if target is None or target.kind != "parameter":
            yield _finding(declared.file, declared.line, "LKML151",
                           f"label_from_parameter of {scoped} must refer to a parameter.")
    if (suggest := node.get("suggest_dimension")) is not None and node.get(
        "suggest_explore"
    ) is None and _scoped_field(suggest, view, views) is None:
        yield _finding(declared.file, declared.line, "LKML152",
                       f"Unknown or excluded suggest_dimension {suggest} in field {scoped}")
    if declared.type == "location" and not (node.has("sql_latitude") and node.has("sql_longitude")):
        yield _finding(declared.file, declared.line, "LKML114",
                       "The location field type requires both sql_latitude and sql_longitude.")


def _scoped_field(name: str, view: View, views: dict[str, View]) -> Field | None:
    target, field_name = name.split(".", 1) if "." in name else (view.name, name)
    return _resolve(target, field_name, views)


def _check_measure(measure: Field, view: View, views: dict[str, View]) -> Iterator[Issue]:
    if _references_measure(measure, view, views):
        yield _finding(measure.file, measure.line, "LKML110", MEASURE_REFERENCES_MEASURE)
    if count_with_sql(measure.type, measure.sql is not None):
        yield _finding(measure.file, measure.line, "LKML111", COUNT_WITH_SQL)
    if measure.filters and filters_unsupported(measure.type):
        yield _finding(measure.file, measure.line, "LKML112", non_aggregate_filters(measure.type, looker_wording=True))
    node = measure.node
    assert node is not None
    if list_without_list_field(measure.type, node.get("list_field")):
        yield _finding(measure.file, measure.line, "LKML113",
                       "A list_field must be defined for measures of type list.")
    for name, _ in measure.filters:
        target, field_name = name.split(".", 1) if "." in name else (view.name, name)
        if _resolve(target, field_name, views) is None:
            yield _finding(measure.file, measure.line, "LKML105", unknown_filter_field(name))


def _references_measure(measure: Field, view: View, views: dict[str, View]) -> bool:
    for parts in _references(measure.sql):
        target, name = (view.name, parts[0]) if len(parts) == 1 else (parts[0], parts[1])
        referenced = _resolve(target, name, views)
        if referenced is not None and aggregate_references_measure(measure.type, referenced.kind):
            return True
    return False


# --------------------------------------------------------------------------- persistence


def _strategies(node: Node) -> list[str]:
    return [key for key in PERSISTENCE_KEYS if node.has(key)]


def _check_persistence(node: Node, label: str) -> Iterator[Issue]:
    strategies = _strategies(node)
    if len(strategies) > 1:
        message = (f"{label} uses more than one persistence strategy: {', '.join(strategies)}. "
                   "Use exactly one.")
        yield _finding(node.file, node.line, "LKML160", message)
    if not strategies:
        for key in PERSISTED_ONLY_KEYS:
            if (child := node.find(key)) is not None:
                message = f"{key} is only allowed on persisted tables; {label} is not persisted."
                yield _finding(child.file, child.line, "LKML162", message)
    cluster = node.find("cluster_keys")
    if cluster is not None and not node.has("partition_keys"):
        yield _finding(cluster.file, cluster.line, "LKML163",
                       "cluster_keys on BigQuery require partition_keys; add partition_keys to "
                       f"{label}.")
    yield from _check_increment(node, label, strategies)
    publish = node.find("publish_as_db_view")
    if publish is not None and "persist_for" in strategies:
        yield _finding(publish.file, publish.line, "LKML167",
                       "publish_as_db_view is not supported with persist_for; "
                       f"{label} uses persist_for.")


def _check_increment(node: Node, label: str, strategies: list[str]) -> Iterator[Issue]:
    increment = node.find("increment_key") or node.find("increment_offset")
    if increment is None:
        return
    if not any(strategy in TRIGGER_KEYS for strategy in strategies):
        used = ", ".join(strategies) if strategies else "no persistence"
        message = ("increment_key and increment_offset need trigger persistence ("
                   "datagroup_trigger, "
                   f"sql_trigger_value or interval_trigger); {label} uses {used}.")
        yield _finding(increment.file, increment.line, "LKML164", message)
    if not node.has("increment_key"):
        yield _finding(increment.file, increment.line, "LKML165",
                       f"increment_offset without increment_key in {label}.")


def _check_derived_table(view: View, views: dict[str, View]) -> Iterator[Issue]:
    table = view.derived_table
    assert table is not None
    for parts in _references(table.get("sql")):
        yield from _table_reference(parts, views, table.file, table.line)
    yield from _check_persistence(table, f"derived table {view.name}")
    process = table.find("create_process")
    if process is not None and not process.has("sql_step"):
        yield _finding(process.file, process.line, "LKML124",
                       f"Missing required sql_step in create_process of derived table "
                       f"'{view.name}'.")


# --------------------------------------------------------------------------- explores


def _check_explore(explore: Explore, model: Model, tiles: Sequence[TileQuery] = ()) -> Iterator[Issue]:
    views = model.views
    if explore.view_name not in views:
        yield _finding(explore.file, explore.line, "LKML104",
                       UNKNOWN_MODEL_VIEW.format(explore.view_name, model.name))
    for join in explore.joins:
        if join.view_name not in views:
            yield _finding(join.file, join.line, "LKML104",
                           UNKNOWN_MODEL_VIEW.format(join.view_name, model.name))
        if join.relationship is None:
            yield _finding(join.file, join.line, "LKML170",
                           "relationship missing, assumed to be many_to_one.")
        assert join.node is not None
        if (where := join.node.find("sql_always_where")) is not None:
            message = f'Unknown or unexpected parameter "sql_always_where" in join {join.name}.'
            yield _finding(where.file, where.line, "LKML150", message)
        for expression in (join.sql_on, join.node.get("sql_where")):
            yield from _explore_expression(expression, explore, model, join.file, join.line)
        yield from _field_list(join.fields or (), explore, model, join.file, join.line, join.name)
    yield from _explore_expression(explore.sql_always_where, explore, model, explore.file,
                                   explore.line)
    yield from _field_list(explore.fields or (), explore, model, explore.file, explore.line, None)
    yield from _field_list(explore.cancel_grouping_fields, explore, model, explore.file,
                           explore.line, None)
    yield from _explore_filters(explore, model)
    yield from _inaccessible_views(explore, model)
    yield from _fanout(explore, model)
    for table in explore.aggregate_tables:
        yield from _check_aggregate_table(table, explore, model)
        yield from _aggregate_design(table, explore, model, tiles)
        yield from _user_attributes_persisted(table, explore)
    yield from _duplicate_aggregate_tables(explore)


def _explore_field(name: str, explore: Explore, model: Model,
                   exposed_only: bool = True) -> tuple[str, Field | None]:
    """(problem code or "", field) for a scoped `alias.field` inside the explore.

    `exposed_only`: fields left out by the explore's or join's `fields` are inaccessible (not
    applied to SQL expressions and to the `fields` lists themselves)."""
    if "." not in name:
        return "LKML101", None
    alias, field_name = name.split(".", 1)
    view_name = explore.view_for_alias(alias)
    if view_name is None:
        return ("LKML102" if alias in model.views else "LKML103"), None
    if view_name not in model.views:
        return "", None  # the join's unknown view is reported once, as LKML104
    found = _resolve(view_name, field_name, model.views)
    if found is None or (exposed_only and not explore.exposes(alias, field_name)):
        return "LKML101", None
    return "", found


def _explore_problem(code: str, name: str, explore: Explore, file: str, line: int) -> Issue:
    alias = name.split(".", 1)[0]
    if code == "LKML102":
        return _finding(file, line, code, INACCESSIBLE_VIEW.format(alias, explore.name))
    if code == "LKML103":
        return _finding(file, line, code, unknown_view(alias))
    return _finding(file, line, code, unknown_field(name))


def _explore_expression(text: str | None, explore: Explore, model: Model, file: str,
                        line: int) -> Iterator[Issue]:
    yield from _unclosed_condition(text, file, line)
    for name in templated_filters(text):  # `{% condition view.field %}`: a field of the explore
        code, _ = _explore_field(name, explore, model, exposed_only=False)
        if code:
            yield _finding(file, line, "LKML107", f"Variable not found {name}.")
    for parts in _references(text):
        if len(parts) < 2 or parts[1] in SPECIAL_REFERENCES:
            continue
        name = f"{parts[0]}.{parts[1]}"
        code, _ = _explore_field(name, explore, model, exposed_only=False)
        if code:
            yield _explore_problem(code, name, explore, file, line)


def _field_list(items: Iterable[str], explore: Explore, model: Model, file: str, line: int,
                default_alias: str | None) -> Iterator[Issue]:
    for item in items:
        name = item.lstrip("-")
        if name.endswith("*"):
            continue
        if "." not in name and default_alias is not None:
            name = f"{default_alias}.{name}"
        code, _ = _explore_field(name, explore, model, exposed_only=False)
        if code:
            yield _explore_problem(code, name, explore, file, line)


def _explore_filters(explore: Explore, model: Model) -> Iterator[Issue]:
    node = explore.node
    assert node is not None
    for key, message in (("always_filter", unknown_always_filter_field),
                         ("conditionally_filter", unknown_filter_field)):
        block = node.find(key)
        pairs = explore.always_filter if key == "always_filter" else explore.conditionally_filter
        for name, _ in pairs if block is not None else ():
            if _explore_field(name, explore, model)[0]:
                code = "LKML106" if key == "always_filter" else "LKML105"
                yield _finding(block.file if block else explore.file,
                               block.line if block else explore.line, code, message(name))
    for access in node.all("access_filter"):
        name = access.get("field") or ""
        code, _ = _explore_field(name, explore, model)
        if code:
            yield _explore_problem(code, name, explore, access.file, access.line)


def _inaccessible_views(explore: Explore, model: Model) -> Iterator[Issue]:
    aliases = set(explore.aliases())
    for alias in explore.aliases():
        view = model.views.get(explore.view_for_alias(alias) or "")
        if view is None:
            continue
        for declared in view.fields:
            node = declared.node
            assert node is not None
            if not any(explore.exposes(alias, f.name, model.views) for f in expand_field(declared)):
                continue  # the explore's `fields` leave it out: Looker does not resolve it there
            for key in FIELD_EXPRESSION_KEYS:
                for parts in _references(node.get(key)):
                    target = parts[0]
                    if (len(parts) >= 2 and parts[1] not in SPECIAL_REFERENCES
                            and target not in aliases and target != view.name
                            and target in model.views):
                        yield _finding(declared.file, declared.line, "LKML102",
                                       INACCESSIBLE_VIEW.format(target, explore.name))


def _fanout(explore: Explore, model: Model) -> Iterator[Issue]:
    fanned = fanned_out_aliases(explore)
    for alias in sorted(fanned):
        view = model.views.get(explore.view_for_alias(alias) or "")
        if view is None or view.primary_key is not None:
            continue
        cause = _fanout_cause(explore, alias)
        for measure in view.fields:
            if measure.kind == "measure" and measure.type in SYMMETRIC_TYPES:
                label = measure.label or _default_label(alias, measure.name)
                yield _finding(cause[0], cause[1], "LKML171", FANOUT.format(label, view.name))


def _fanout_cause(explore: Explore, alias: str) -> tuple[str, int]:
    for join in explore.joins:
        relationship = join.relationship or "many_to_one"
        if (join.name == alias and relationship in ("many_to_one", "many_to_many")) or (
            relationship in ("one_to_many", "many_to_many") and join.name != alias
        ):
            return join.file, join.line
    return explore.file, explore.line


def _default_label(alias: str, name: str) -> str:
    """Looker's default field label: view label + field name, title-cased."""
    return " ".join(word.capitalize() for word in f"{alias}_{name}".split("_") if word)


def _check_aggregate_table(table: AggregateTable, explore: Explore,
                           model: Model) -> Iterator[Issue]:
    file, line = table.file, table.line
    for name in (*table.dimensions, *table.measures):
        code, _ = _explore_field(name, explore, model)
        if code:
            yield _explore_problem(code, name, explore, file, line)
    for name, _ in table.filters:
        if _explore_field(name, explore, model)[0]:
            yield _finding(file, line, "LKML105", unknown_filter_field(name))
    label = f"aggregate table {explore.name}::{table.name}"
    materialization = table.materialization
    if materialization is None or not _strategies(materialization):
        message = (f"Aggregate table {explore.name}::{table.name} has no persistence strategy; add "
                   "datagroup_trigger, sql_trigger_value or persist_for to its materialization.")
        yield _finding(file, line, "LKML161", message)
    if materialization is None:
        return
    yield from _check_persistence(materialization, label)
    yield from _check_increment_key(table, explore, materialization)


def _check_increment_key(table: AggregateTable, explore: Explore,
                         materialization: Node) -> Iterator[Issue]:
    key = materialization.get("increment_key")
    if key is not None and increment_key_outside(key, table.dimensions, explore.alias):
        node = materialization.find("increment_key")
        assert node is not None
        message = (f"increment_key {key} of aggregate table {explore.name}::{table.name} "
                   "must be one of its dimensions.")
        yield _finding(node.file, node.line, "LKML166", message)


def _explore_filter_kinds(explore: Explore) -> dict[str, tuple[str, str | None]]:
    """Field -> (kind of explore filter, its default value; None for access filters)."""
    kinds: dict[str, tuple[str, str | None]] = {}
    for name in explore.access_filter:
        kinds.setdefault(name, ("access_filter", None))
    for name, value in explore.always_filter:
        kinds.setdefault(name, ("always_filter", value))
    for name, value in explore.conditionally_filter:
        kinds.setdefault(name, ("conditionally_filter", value))
    return kinds


def _serves_exactly(table: AggregateTable, explore: Explore, model: Model, tiles: Sequence[TileQuery]) -> bool:
    """Whether a dashboard element's query has exactly the table's dimensions, measures, filters
    and time zone: Looker then uses the table whatever the measure types (looker.md §2.2 rule 2)."""
    for tile in tiles:
        kinds = {name: _explore_field(name, explore, model)[1] for name in tile.fields}
        if any(found is None for found in kinds.values()):
            continue
        measures = {name for name, found in kinds.items() if found is not None and found.kind == "measure"}
        if (set(table.measures) == measures and set(table.dimensions) == set(kinds) - measures
                and dict(table.filters) == dict(tile.filters) and table.timezone == tile.timezone):
            return True
    return False


def _aggregate_design(table: AggregateTable, explore: Explore, model: Model,
                      tiles: Sequence[TileQuery] = ()) -> Iterator[Issue]:
    """Aggregate tables Looker would never (or only on exact match) use (looker.md §2.3, §6).
    A table whose measures cannot roll up is only worth a warning when no dashboard element of
    the project is its exact match (what Looker's "Get LookML → aggregate tables" writes)."""
    label = f"{explore.name}::{table.name}"
    for name, (kind, value) in _explore_filter_kinds(explore).items():
        if value is not None and any(field == name for field, _ in table.filters):
            # The table filters the field: a query whose always/conditionally_filter value
            # equals the table's filter uses it (exact filter match, AA).
            continue
        if not any(covers(dim, name, explore, model.views) for dim in table.dimensions):
            message = (f"Aggregate table {label} can never be used: the explore's {kind} field "
                       f"{name} is not one of its dimensions.")
            yield _finding(table.file, table.line, "LKML180", message)
    names = [*table.dimensions, *table.measures, *(name for name, _ in table.filters)]
    fanned = fanned_out_aliases(explore, joined_aliases(explore, names))
    exact = _serves_exactly(table, explore, model, tiles)
    for name in table.measures:
        found = _explore_field(name, explore, model)[1]
        alias = name.split(".")[0]
        if not exact and found is not None and found.kind == "measure" and not rolls_up(
            found, alias, explore, model.views, fanned
        ):
            yield _finding(table.file, table.line, "LKML181", cannot_roll_up(name, explore.name, table.name))
    for name in table.dimensions:
        found = _explore_field(name, explore, model)[1]
        if found is not None and found.kind == "filter":
            message = (f"{name} is a filter-only field: list it in the filters of aggregate table "
                       f"{label}, not in its dimensions.")
            yield _finding(table.file, table.line, "LKML182", message)


def _uses_user_attributes(explore: Explore) -> bool:
    assert explore.node is not None
    conditions = (explore.node.get("sql_always_where"), explore.node.get("sql_always_having"))
    return any("_user_attributes" in (text or "") for text in conditions)


def _persisted_user_attributes(name: str, file: str, line: int) -> Issue:
    message = (f"Persistent Native Derived Table for view {name} references user attributes. "
               "Persisting this table may result in unexpected behavior.")
    return _finding(file, line, "LKML172", message)


def _user_attributes_persisted(table: AggregateTable, explore: Explore) -> Iterator[Issue]:
    """A persisted aggregate table bakes in the explore's user-attribute sql_always_where."""
    if _uses_user_attributes(explore):
        yield _persisted_user_attributes(f"{explore.name}::{table.name}", table.file, table.line)


def _native_derived_tables(model: Model) -> Iterator[Issue]:
    """A persisted NDT whose source explore filters on user attributes (looker.md §6)."""
    for view in model.views.values():
        table = view.derived_table
        source = table.find("explore_source") if table is not None else None
        if table is None or source is None or not _strategies(table):
            continue
        explore = model.explores.get(source.name)
        if explore is not None and _uses_user_attributes(explore):
            yield _persisted_user_attributes(view.name, table.file, table.line)


def _duplicate_aggregate_tables(explore: Explore) -> Iterator[Issue]:
    assert explore.node is not None
    for name, _, node in repeated_names((node.name, node) for node in explore.node.all("aggregate_table")):
        yield _finding(node.file, node.line, "LKML183", aggregate_table_defined_twice(name, explore.name))


# --------------------------------------------------------------------------- output


def summary(findings: Iterable[Issue]) -> dict[str, int]:
    counts = {"errors": 0, "warnings": 0, "infos": 0}
    for finding in findings:
        counts[f"{finding.severity}s"] += 1
    return counts


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def count_line(counts: dict[str, int]) -> str:
    """`1 error, 2 warnings, 0 infos`."""
    return ", ".join(_plural(counts[f"{word}s"], word) for word in SEVERITIES)


def report_dict(findings: list[Issue]) -> dict[str, object]:
    """The JSON document of `validate lookml --format json` (schema version 1) as a dict."""
    return {"version": 1, "findings": [finding_json(f) for f in findings], "summary": summary(findings)}


def render(findings: list[Issue], output_format: str, path_prefix: str = "") -> str:
    """Issues as `text`, `json` (schema version 1) or `github` workflow commands.

    `path_prefix` (github only) is joined before each file so annotations find the file in the
    repository; text and json keep paths relative to the LookML project directory."""
    if output_format == "json":
        return json.dumps(report_dict(findings), indent=2, sort_keys=False)
    if output_format == "github":
        return "\n".join(f.github(path_prefix) for f in findings)
    counts = summary(findings)
    lines = [f.format() for f in findings]
    lines.append(count_line(counts))
    return "\n".join(lines)
