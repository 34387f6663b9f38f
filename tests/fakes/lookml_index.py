"""The fake Looker's own reading of a LookML checkout: views, explores, fields, errors, SQL."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import lkml

REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)\}")
DEFAULT_TIMEFRAMES = ["raw", "time", "date", "week", "month", "quarter", "year"]
TIMEFRAME_SQL = {  # rendered the way Looker's JSON results show them
    "raw": "{}",
    "time": "STRFTIME({}, '%Y-%m-%d %H:%M:%S')",
    "hour": "STRFTIME({}, '%Y-%m-%d %H')",
    "date": "CAST({} AS DATE)",
    "week": "CAST(DATE_TRUNC('week', {}) AS DATE)",
    "month": "STRFTIME({}, '%Y-%m')",
    "quarter": "STRFTIME({0}, '%Y') || '-Q' || QUARTER({0})",
    "year": "YEAR({})",
}
AGGREGATES = {"sum": "SUM({})", "average": "AVG({})", "min": "MIN({})", "max": "MAX({})",
              "count_distinct": "COUNT(DISTINCT {})"}


@dataclass(frozen=True)
class FieldDef:
    view: str
    name: str
    kind: str  # dimension | measure
    type: str
    sql: str
    primary_key: bool = False
    group: str | None = None
    timeframe: str | None = None

    @property
    def full_name(self) -> str:
        return f"{self.view}.{self.name}"


@dataclass(frozen=True)
class ExploreDef:
    model: str
    name: str
    view: str
    joins: tuple[tuple[str, str, str], ...]  # (alias, view, sql_on)


@dataclass
class LookmlIndex:
    project: str
    views: dict[str, dict[str, FieldDef]] = field(default_factory=dict)
    tables: dict[str, str] = field(default_factory=dict)
    view_files: dict[str, str] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)  # model -> connection
    model_files: dict[str, str] = field(default_factory=dict)
    explores: dict[tuple[str, str], ExploreDef] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)

    def error(self, file: str, needle: str, message: str, *, kind: str = "lookml", model: str | None = None) -> None:
        line = next((n for n, text in enumerate(self.texts.get(file, "").splitlines(), 1) if needle in text), 1)
        self.errors.append({"code": kind, "severity": "error", "kind": kind, "message": message,
                            "sanitized_message": message, "file_path": f"{self.project}/{file}",
                            "line_number": line, "model_id": model})

    def explore_fields(self, explore: ExploreDef) -> dict[str, FieldDef]:
        aliases = [(explore.name, explore.view)] + [(alias, view) for alias, view, _ in explore.joins]
        out: dict[str, FieldDef] = {}
        for alias, view in aliases:
            for f in self.views.get(view, {}).values():
                renamed = FieldDef(alias, f.name, f.kind, f.type, f.sql, f.primary_key, f.group, f.timeframe)
                out[renamed.full_name] = renamed
        return out


def _view_fields(name: str, view: dict[str, Any]) -> dict[str, FieldDef]:
    fields: dict[str, FieldDef] = {}
    for dim in view.get("dimensions", []):
        fields[dim["name"]] = FieldDef(name, dim["name"], "dimension", dim.get("type", "string"),
                                       dim.get("sql", "${TABLE}." + dim["name"]), dim.get("primary_key") == "yes")
    for group in view.get("dimension_groups", []):
        sql = group.get("sql", "${TABLE}." + group["name"])
        for tf in group.get("timeframes", DEFAULT_TIMEFRAMES):
            fname = f"{group['name']}_{tf}"
            fields[fname] = FieldDef(name, fname, "dimension", f"date_{tf}", sql, group=group["name"], timeframe=tf)
    for measure in view.get("measures", []):
        fields[measure["name"]] = FieldDef(name, measure["name"], "measure", measure.get("type", "count"),
                                           measure.get("sql", ""))
    return fields


def _table_name(sql_table_name: str) -> str:
    """The warehouse stands in for BigQuery: `project.dataset.table` is the DuckDB table `table`."""
    name = sql_table_name.strip()
    if name.startswith("`") and name.endswith("`"):
        return name.strip("`").split(".")[-1]
    return name


def _add_file(index: LookmlIndex, rel: str, parsed: dict[str, Any]) -> None:
    for view in parsed.get("views", []):
        if view["name"] in index.views:
            index.error(rel, f"view: {view['name']}", f"A view named {view['name']} has been defined multiple times.")
        index.views[view["name"]] = _view_fields(view["name"], view)
        index.tables[view["name"]] = _table_name(view.get("sql_table_name", view["name"]))
        index.view_files[view["name"]] = rel
    if rel.endswith(".model.lkml"):
        model = Path(rel).name.removesuffix(".model.lkml")
        index.models[model] = parsed.get("connection", "")
        index.model_files[model] = rel


def _add_explores(index: LookmlIndex, model: str, parsed: dict[str, Any]) -> None:
    for explore in parsed.get("explores", []):
        base = explore.get("from", explore.get("view_name", explore["name"]))
        joins = tuple((j["name"], j.get("from", j.get("view_name", j["name"])), j.get("sql_on", ""))
                      for j in explore.get("joins", []))
        index.explores[(model, explore["name"])] = ExploreDef(model, explore["name"], base, joins)


def _model_explores(index: LookmlIndex, parsed: dict[str, dict[str, Any]]) -> None:
    """A model's explores: its own and those of the files it includes (Looker's include rules)."""
    for model, rel in sorted(index.model_files.items()):
        _add_explores(index, model, parsed[rel])
        patterns = [p.lstrip("/") for p in parsed[rel].get("includes", [])]
        for other in sorted(parsed):
            if other != rel and not other.endswith(".model.lkml") and any(fnmatch(other, p) for p in patterns):
                _add_explores(index, model, parsed[other])


def _check_references(index: LookmlIndex) -> None:
    for (model, name), explore in sorted(index.explores.items()):
        rel = index.model_files[model]
        for view in [explore.view] + [v for _, v, _ in explore.joins]:
            if view not in index.views:
                index.error(rel, f"explore: {name}", f"Unknown view {view} referenced by explore {name}", model=model)
        if any(view not in index.views for view in [explore.view] + [v for _, v, _ in explore.joins]):
            continue
        visible = index.explore_fields(explore)
        for f in visible.values():
            for ref in REF.findall(f.sql):
                full = ref if "." in ref else f"{f.view}.{ref}"
                if ref != "TABLE" and full not in visible and not _is_group(visible, full):
                    rel_view = index.view_files[explore.view if f.view == explore.name else f.view]
                    index.error(rel_view, ref, f"Unknown or inaccessible field {full}. Check for typos or append "
                                "a timeframe to the name if the field is type time.", model=model)


def _is_group(visible: dict[str, FieldDef], full: str) -> bool:
    view, name = full.split(".")
    return any(f.view == view and f.group == name for f in visible.values())


def load_index(root: Path, project: str) -> LookmlIndex:
    """Read every .lkml file under root; syntax and reference errors become ProjectError dicts."""
    index = LookmlIndex(project)
    files: dict[str, dict[str, Any]] = {}
    for path in sorted(root.rglob("*.lkml")):
        if ".git" in path.parts:
            continue
        rel = path.relative_to(root).as_posix()
        index.texts[rel] = path.read_text()
        try:
            parsed = lkml.load(index.texts[rel])
        except SyntaxError as exc:
            match = re.search(r"line (\d+)", str(exc))
            index.errors.append({"code": "syntax", "severity": "fatal", "kind": "syntax", "message": str(exc),
                                 "sanitized_message": str(exc), "file_path": f"{project}/{rel}",
                                 "line_number": int(match.group(1)) if match else 1})
            continue
        _add_file(index, rel, parsed)
        files[rel] = parsed
    _model_explores(index, files)
    _check_references(index)
    return index


def _expand(index: LookmlIndex, visible: dict[str, FieldDef], f: FieldDef, depth: int = 0) -> str:
    if depth > 10:
        raise ValueError(f"circular reference in {f.full_name}")

    def sub(match: re.Match[str]) -> str:
        ref = match.group(1)
        if ref == "TABLE":
            return f.view
        target = visible[ref if "." in ref else f"{f.view}.{ref}"]
        return f"({_expand(index, visible, target, depth + 1)})"

    sql = REF.sub(sub, f.sql.rstrip().removesuffix(";;").strip())
    if f.timeframe:
        return TIMEFRAME_SQL[f.timeframe].format(sql)
    if f.kind == "measure":
        if f.type == "count":
            return "COUNT(*)"
        if f.type in AGGREGATES:
            return AGGREGATES[f.type].format(sql)
    return sql


def _filter_sql(expr: str, value: str) -> str:
    match = re.fullmatch(r"\s*(>=|<=|>|<|=)?\s*(-?\d+(?:\.\d+)?)\s*", value)
    if match:
        return f"{expr} {match.group(1) or '='} {match.group(2)}"
    options = ", ".join("'" + v.strip().replace("'", "''") + "'" for v in value.split(","))
    return f"{expr} IN ({options})"


class FilterNotUnderstood(ValueError):
    """A filter expression the fake does not read (Looker answers such a query with a 400)."""


# The fake's own reading of the two relative date filters the tests use, written from Looker's docs
# ("Date and time" filter expressions), not from lookwright: "N days" is today and the N-1 days before
# it; "N days ago for M days" starts at the beginning of the day N days ago and lasts M days.
LAST_DAYS = re.compile(r"\s*(\d+)\s+days?\s*", re.IGNORECASE)
AGO_FOR_DAYS = re.compile(r"\s*(\d+)\s+days?\s+ago\s+for\s+(\d+)\s+days?\s*", re.IGNORECASE)


def day_range(value: str, now: datetime.datetime, timezone: str) -> tuple[datetime.datetime, datetime.datetime]:
    """[start, end) in UTC wall-clock time for a relative day filter at `now`."""
    if timezone != "UTC":
        raise FilterNotUnderstood(f"the fake reads relative date filters in UTC only, not {timezone}")
    today = now.astimezone(datetime.UTC).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    day = datetime.timedelta(days=1)
    if match := LAST_DAYS.fullmatch(value):
        return today - (int(match.group(1)) - 1) * day, today + day
    if match := AGO_FOR_DAYS.fullmatch(value):
        start = today - int(match.group(1)) * day
        return start, start + int(match.group(2)) * day
    raise FilterNotUnderstood(f"{value!r} is not a date filter the fake reads")


def _raw_time(index: LookmlIndex, visible: dict[str, FieldDef], f: FieldDef) -> str:
    return _expand(index, visible, FieldDef(f.view, f.name, f.kind, f.type, f.sql, f.primary_key, f.group))


def _where(index: LookmlIndex, visible: dict[str, FieldDef], name: str, value: str, now: datetime.datetime,
           timezone: str) -> str:
    """Plain values, numbers, plain dates; Looker's date expressions on a time field select its raw time."""
    f = visible[name]
    if f.timeframe and not re.fullmatch(r"\s*-?\d+(?:\.\d+)?\s*|\s*\d{4}(-\d{2}){0,2}\s*", value):
        start, end = day_range(value, now, timezone)
        raw = _raw_time(index, visible, f)
        return f"({raw}) >= TIMESTAMP '{start:%Y-%m-%d %H:%M:%S}' AND ({raw}) < TIMESTAMP '{end:%Y-%m-%d %H:%M:%S}'"
    return _filter_sql(_expand(index, visible, f), value)


def compile_query(index: LookmlIndex, model: str, explore_name: str, fields: list[str],
                  filters: dict[str, str], limit: int, now: datetime.datetime | None = None,
                  timezone: str = "UTC") -> str:
    """DuckDB SQL for an explore query; raises KeyError for unknown explores or fields and
    FilterNotUnderstood for date expressions it cannot read."""
    explore = index.explores[(model, explore_name)]
    visible = index.explore_fields(explore)
    chosen = [visible[name] for name in fields]
    select = [f'{_expand(index, visible, f)} AS "{f.full_name}"' for f in chosen]
    sql = f"SELECT {', '.join(select)}\nFROM {index.tables[explore.view]} AS {explore.name}"
    for alias, view, sql_on in explore.joins:
        on = REF.sub(lambda m: _expand(index, visible, visible[m.group(1)]), sql_on.rstrip().removesuffix(";;"))
        sql += f"\nLEFT JOIN {index.tables[view]} AS {alias} ON {on}"
    moment = now if now is not None else datetime.datetime.now(datetime.UTC)
    where = [_where(index, visible, name, value, moment, timezone) for name, value in sorted(filters.items())]
    if where:
        sql += "\nWHERE " + " AND ".join(where)
    dims = [str(n) for n, f in enumerate(chosen, 1) if f.kind == "dimension"]
    if dims:  # Looker groups by the dimensions, measures or not
        sql += "\nGROUP BY " + ", ".join(dims)
    if dims:
        sql += "\nORDER BY " + ", ".join(dims)
    return sql + f"\nLIMIT {limit}"
