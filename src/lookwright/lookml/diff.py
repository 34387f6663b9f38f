"""What a change to the model means for Looker users: views, explores, fields and aggregate tables
added, removed or changed between two LookML trees, breaking changes first."""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from lookwright.errors import InputError
from lookwright.lookml.project import Explore, Field, Project, View, expand_field, load_project

if TYPE_CHECKING:
    from lookwright.model.ir import SemanticModel

MANIFEST = ".lookwright-manifest.json"


@dataclass(frozen=True, order=True)
class Change:
    """One difference a Looker user can notice."""

    breaking: bool  # a removed or renamed field, view or explore that a query or dashboard uses
    action: str  # added | removed | renamed | changed
    what: str  # view | explore | dimension | dimension_group | measure | filter | parameter | join | aggregate table
    name: str  # view.field, explore, explore::table
    detail: str = ""  # what changed: "type: number → string", "renamed to x", ...
    used_by: tuple[str, ...] = ()  # "query q", "dashboard d"


@dataclass(frozen=True)
class Usage:
    """Who uses which scoped field (explore-independent: `view.field`)."""

    fields: Mapping[str, tuple[str, ...]]  # "view.field" -> ("query requests_by_hour", ...)
    explores: Mapping[str, tuple[str, ...]]  # explore -> users


def _users(pairs: Iterable[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {}
    for key, user in pairs:
        if user not in found.setdefault(key, []):
            found[key].append(user)
    return {key: tuple(sorted(users)) for key, users in found.items()}


def usage(users: Iterable[tuple[str, str, Iterable[str]]], dashboards: Path | None = None) -> Usage:
    """Fields and explores used by `users` (label such as "query q" or "dashboard d", explore, fields)
    and by the LookML dashboards under `dashboards`."""
    field_users: list[tuple[str, str]] = []
    explore_users: list[tuple[str, str]] = []
    for label, explore, fields in users:
        explore_users.append((explore, label))
        field_users += [(scoped, label) for scoped in fields]
    for path in sorted(dashboards.rglob("*.dashboard.lookml")) if dashboards and dashboards.is_dir() else ():
        for title, explore, fields in _dashboard_elements(path):
            explore_users.append((explore, f"dashboard {title}"))
            field_users += [(scoped, f"dashboard {title}") for scoped in fields]
    return Usage(_users(field_users), _users(explore_users))


def _dashboard_elements(path: Path) -> list[tuple[str, str, list[str]]]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return []
    out = []
    for dashboard in document if isinstance(document, list) else []:
        if not isinstance(dashboard, dict):
            continue
        title = str(dashboard.get("dashboard") or dashboard.get("title") or path.name)
        for element in dashboard.get("elements") or []:
            if isinstance(element, dict) and isinstance(element.get("fields"), list):
                out.append((title, str(element.get("explore", "")), [str(f) for f in element["fields"]]))
    return out


def _field_facts(field: Field) -> dict[str, str]:
    grants = field.node.get_list("required_access_grants") if field.node is not None else None
    facts = {"type": field.type, "sql": field.sql or "", "label": field.label or "",
             "access grant": ", ".join(grants or ())}
    if field.kind == "dimension_group":
        facts["timeframes"] = ", ".join(field.timeframes)
    if field.kind == "measure":
        facts["filters"] = ", ".join(f"{k}: {v}" for k, v in field.filters)
    return facts


def _shown(value: str) -> str:
    value = " ".join(value.split())
    return repr(value) if len(value) <= 60 else repr(value[:57] + "...")


def _field_changes(before: View, after: View, use: Usage) -> list[Change]:
    old = {f.name: f for f in before.fields}
    new = {f.name: f for f in after.fields}
    changes: list[Change] = []
    added = [new[n] for n in new if n not in old]
    renamed_to: dict[str, str] = {}
    for name in (n for n in old if n not in new):
        twin = next((f for f in added if f.kind == old[name].kind and f.sql == old[name].sql
                     and f.type == old[name].type and f.name not in renamed_to.values()), None)
        if twin is not None:
            renamed_to[name] = twin.name
    for name, field in old.items():
        if name in new:
            before_facts, after_facts = _field_facts(field), _field_facts(new[name])
            details = [f"{key}: {_shown(before_facts[key])} → {_shown(after_facts.get(key, ''))}"
                       for key in before_facts if before_facts[key] != after_facts.get(key, "")]
            gone = _names(field) - _names(new[name])
            users = _used(before.name, gone, use)
            if details:
                changes.append(Change(bool(users) or (field.type != new[name].type and bool(_used(before.name, _names(field), use))),
                                      "changed", field.kind, f"{before.name}.{name}", "; ".join(details),
                                      users or _used(before.name, _names(field), use)))
            continue
        users = _used(before.name, _names(field), use)
        if name in renamed_to:
            changes.append(Change(bool(users), "renamed", field.kind, f"{before.name}.{name}",
                                  f"to {before.name}.{renamed_to[name]} (same SQL)", users))
        else:
            changes.append(Change(bool(users), "removed", field.kind, f"{before.name}.{name}", "", users))
    for field in added:
        if field.name not in renamed_to.values():
            changes.append(Change(False, "added", field.kind, f"{after.name}.{field.name}", f"type {field.type}"))
    return changes


def _names(field: Field) -> set[str]:
    return {expanded.name for expanded in expand_field(field)}


def _used(view: str, names: set[str], use: Usage) -> tuple[str, ...]:
    return tuple(sorted({user for name in names for user in use.fields.get(f"{view}.{name}", ())}))


def _view_users(view: View, use: Usage) -> tuple[str, ...]:
    return _used(view.name, {n for f in view.fields for n in _names(f)}, use)


def _explore_changes(before: Explore, after: Explore) -> list[Change]:
    changes: list[Change] = []
    old_joins = {j.name: j for j in before.joins}
    new_joins = {j.name: j for j in after.joins}
    for name in sorted(old_joins.keys() - new_joins.keys()):
        changes.append(Change(False, "removed", "join", f"{before.name} → {name}"))
    for name in sorted(new_joins.keys() - old_joins.keys()):
        changes.append(Change(False, "added", "join", f"{after.name} → {name}"))
    for name in sorted(old_joins.keys() & new_joins.keys()):
        a, b = old_joins[name], new_joins[name]
        details = [f"{key}: {_shown(str(x or ''))} → {_shown(str(y or ''))}"
                   for key, x, y in (("sql_on", a.sql_on, b.sql_on), ("relationship", a.relationship, b.relationship),
                                     ("type", a.type, b.type)) if x != y]
        if details:
            changes.append(Change(False, "changed", "join", f"{before.name} → {name}", "; ".join(details)))
    old_tables = {t.name: t for t in before.aggregate_tables}
    new_tables = {t.name: t for t in after.aggregate_tables}
    for name in sorted(old_tables.keys() - new_tables.keys()):
        changes.append(Change(False, "removed", "aggregate table", f"{before.name}::{name}"))
    for name in sorted(new_tables.keys() - old_tables.keys()):
        table = new_tables[name]
        changes.append(Change(False, "added", "aggregate table", f"{after.name}::{name}",
                              f"{len(table.dimensions)} dimensions, {len(table.measures)} measures"))
    for name in sorted(old_tables.keys() & new_tables.keys()):
        old, new = old_tables[name], new_tables[name]
        details = []
        for key, x, y in (("dimensions", old.dimensions, new.dimensions), ("measures", old.measures, new.measures)):
            if set(x) - set(y):
                details.append(f"{key} removed: {', '.join(sorted(set(x) - set(y)))}")
            if set(y) - set(x):
                details.append(f"{key} added: {', '.join(sorted(set(y) - set(x)))}")
        if old.filters != new.filters:
            details.append("filters changed")
        a_node = old.materialization.pairs if old.materialization is not None else ()
        b_node = new.materialization.pairs if new.materialization is not None else ()
        if a_node != b_node:
            details.append("materialization changed")
        if details:
            changes.append(Change(False, "changed", "aggregate table", f"{before.name}::{name}", "; ".join(details)))
    return changes


def compare(before: Project, after: Project, use: Usage) -> list[Change]:
    """Every user-visible difference, breaking changes first, then by action and name."""
    changes: list[Change] = []
    for name in sorted(before.views.keys() - after.views.keys()):
        users = _view_users(before.views[name], use)
        changes.append(Change(bool(users), "removed", "view", name, "", users))
    for name in sorted(after.views.keys() - before.views.keys()):
        changes.append(Change(False, "added", "view", name, f"{len(after.views[name].fields)} fields"))
    for name in sorted(before.views.keys() & after.views.keys()):
        changes += _field_changes(before.views[name], after.views[name], use)
    for name in sorted(before.explores.keys() - after.explores.keys()):
        users = use.explores.get(name, ())
        changes.append(Change(bool(users), "removed", "explore", name, "", users))
    for name in sorted(after.explores.keys() - before.explores.keys()):
        changes.append(Change(False, "added", "explore", name))
    for name in sorted(before.explores.keys() & after.explores.keys()):
        changes += _explore_changes(before.explores[name], after.explores[name])
    order = {"removed": 0, "renamed": 1, "changed": 2, "added": 3}
    return sorted(changes, key=lambda c: (not c.breaking, order[c.action], c.name, c.what))


# --------------------------------------------------------------------------- the two sides


def project_of(files: Mapping[str, str]) -> Project:
    """Parse LookML files given as {relative path: text}."""
    with tempfile.TemporaryDirectory(prefix="lookwright-diff-") as tmp:
        root = Path(tmp)
        for path, text in files.items():
            if path.endswith(".lkml"):
                target = root / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
        return load_project(root)


def directory_files(directory: Path) -> dict[str, str]:
    """The generated LookML files on disk (those its manifest lists; every .lkml file without one)."""
    if not directory.is_dir():
        return {}
    listed = _manifest_paths((directory / MANIFEST).read_text(encoding="utf-8")) \
        if (directory / MANIFEST).is_file() else None
    paths = listed if listed is not None else [p.relative_to(directory).as_posix() for p in directory.rglob("*.lkml")]
    return {path: (directory / path).read_text(encoding="utf-8") for path in sorted(paths)
            if (directory / path).is_file()}


def _manifest_paths(text: str) -> list[str] | None:
    try:
        files = json.loads(text).get("files")
    except (ValueError, AttributeError):
        return None
    return sorted(files) if isinstance(files, dict) else None


def _git(*args: str) -> str:
    try:
        done = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
    except FileNotFoundError as error:
        raise InputError("lookwright diff BASE needs git") from error
    if done.returncode != 0:
        raise InputError(f"git {' '.join(args)}: {done.stderr.strip() or 'failed'}")
    return done.stdout


def git_tree(base: str, directory: Path) -> dict[str, str]:
    """Every file committed at `base` under `directory` (relative to the working directory), by relative path."""
    _git("rev-parse", "--verify", "--quiet", f"{base}^{{commit}}")
    prefix = directory.as_posix().rstrip("/") + "/"
    listed = _git("ls-tree", "-r", "--name-only", base, "--", prefix).splitlines()
    return {name.removeprefix(prefix): _git("show", f"{base}:./{name}") for name in listed}


def git_files(base: str, directory: Path) -> dict[str, str]:
    """The generated LookML files committed at `base` under `directory` (its manifest's, or every .lkml)."""
    tree = git_tree(base, directory)
    manifest = _manifest_paths(tree[MANIFEST]) if MANIFEST in tree else None
    wanted = manifest if manifest is not None else [name for name in tree if name.endswith(".lkml")]
    return {path: tree[path] for path in sorted(wanted) if path in tree}


def git_queries(base: str, model_dir: Path) -> list[tuple[str, str, tuple[str, ...]]]:
    """Who used which fields in the model committed at `base`: its declared queries and dashboard
    tiles, as `model_users` gives them (none if it does not load)."""
    from lookwright.errors import LookwrightError
    from lookwright.model.compile import load_model

    files = git_tree(base, model_dir)
    with tempfile.TemporaryDirectory(prefix="lookwright-diff-") as tmp:
        root = Path(tmp) / model_dir.name
        for path, text in files.items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(text, encoding="utf-8")
        try:
            model = load_model(root)
        except LookwrightError:
            return []
    return model_users(model)


def model_users(model: SemanticModel) -> list[tuple[str, str, tuple[str, ...]]]:
    """("query q" | "dashboard d", explore, fields) for every declared query and dashboard tile."""
    users = [(f"query {name}", query.explore, tuple(query.fields)) for name, query in model.queries.items()]
    return users + [(f"dashboard {tile.dashboard}", tile.explore, tile.fields) for tile in model.tiles()]


# --------------------------------------------------------------------------- output


def counts(changes: list[Change]) -> str:
    breaking = sum(c.breaking for c in changes)
    by_action = {action: sum(c.action == action for c in changes) for action in ("added", "removed", "renamed", "changed")}
    parts = [f"{breaking} breaking"] + [f"{n} {action}" for action, n in by_action.items() if n]
    return ", ".join(parts)


def _line(change: Change) -> str:
    text = f"{change.action} {change.what} {change.name}"
    if change.detail:
        text += f": {change.detail}"
    if change.used_by:
        text += f" (used by {', '.join(change.used_by)})"
    return text


def render_text(changes: list[Change], title: str) -> str:
    if not changes:
        return f"{title}: no changes for Looker users\n"
    lines = [f"{title}: {counts(changes)}"]
    breaking = [c for c in changes if c.breaking]
    if breaking:
        lines.append("BREAKING (a declared query or dashboard uses these):")
        lines += [f"  ! {_line(c)}" for c in breaking]
    rest = [c for c in changes if not c.breaking]
    if rest:
        lines.append("Changes:")
        marks = {"added": "+", "removed": "-", "renamed": "~", "changed": "~"}
        lines += [f"  {marks[c.action]} {_line(c)}" for c in rest]
    return "\n".join(lines) + "\n"


def render_markdown(changes: list[Change], title: str) -> str:
    if not changes:
        return f"### {title}\n\nNo changes for Looker users.\n"
    lines = [f"### {title}", "", f"**{counts(changes)}**", ""]
    breaking = [c for c in changes if c.breaking]
    if breaking:
        lines += ["#### :warning: Breaking changes", "", "| change | field | detail | used by |", "|---|---|---|---|"]
        lines += [f"| {c.action} {c.what} | `{c.name}` | {_md(c.detail)} | {_md(', '.join(c.used_by))} |"
                  for c in breaking]
        lines.append("")
    rest = [c for c in changes if not c.breaking]
    if rest:
        lines += ["#### Changes", "", "| change | name | detail |", "|---|---|---|"]
        lines += [f"| {c.action} {c.what} | `{c.name}` | {_md(c.detail)} |" for c in rest]
        lines.append("")
    return "\n".join(lines)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
