"""Render YAML dashboards as `dashboards/<name>.dashboard.lookml`, in the shape Looker's
"Get LookML" exports (a YAML document: `- dashboard:` with `elements` and `filters`)."""

from __future__ import annotations

from typing import Any

import yaml

from lookwright.model.dashboards import LOOKER_TYPES
from lookwright.model.ir import DashboardFilterIR, DashboardIR, SemanticModel, TileIR
from lookwright.output.writer import OutputFile, header

DEFAULT_COLUMN_LIMIT = 50


def scalar(value: Any) -> str:
    """One YAML scalar, quoted only when YAML needs it (as PyYAML decides)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = yaml.safe_dump(str(value), width=1_000_000, allow_unicode=True)
    return text.removesuffix("\n...\n").rstrip("\n")


def _flow(items: list[str] | tuple[str, ...]) -> str:
    return "[" + ", ".join(scalar(item) for item in items) + "]"


def _lines(pairs: list[tuple[str, Any]], indent: str) -> list[str]:
    out: list[str] = []
    for key, value in pairs:
        if value is None:
            continue
        if isinstance(value, dict):
            if not value:
                out.append(f"{indent}{key}: {{}}")
                continue
            out.append(f"{indent}{key}:")
            out.extend(f"{indent}  {scalar(k)}: {scalar(v)}" for k, v in value.items())
        elif isinstance(value, (list, tuple)):
            out.append(f"{indent}{key}: {_flow(value)}")
        else:
            out.append(f"{indent}{key}: {scalar(value)}")
    return out


def _element(tile: TileIR) -> list[tuple[str, Any]]:
    pairs: list[tuple[str, Any]] = [
        ("title", tile.title), ("name", tile.tile), ("model", tile.model), ("explore", tile.explore),
        ("type", LOOKER_TYPES[tile.visualization]), ("fields", list(tile.fields)),
        ("pivots", list(tile.pivots) or None),
        ("filters", dict(sorted(tile.own_filters.items())) or None),
        ("sorts", list(tile.sorts) or None),
        ("limit", tile.limit),
        ("column_limit", DEFAULT_COLUMN_LIMIT if tile.pivots else None),
        ("query_timezone", tile.timezone),
    ]
    if tile.note:
        pairs += [("note_state", "collapsed"), ("note_display", "hover"), ("note_text", tile.note)]
    pairs += [("listen", dict(tile.listen) or None), ("row", tile.row), ("col", tile.col),
              ("width", tile.width), ("height", tile.height)]
    return pairs


UI_DISPLAY = {"relative_timeframes": "inline", "day_range_picker": "inline", "advanced": "popover"}


def _filter(dashboard_filter: DashboardFilterIR, model: str) -> list[tuple[str, Any]]:
    return [
        ("name", dashboard_filter.name), ("title", dashboard_filter.title), ("type", "field_filter"),
        ("default_value", dashboard_filter.default),
        ("allow_multiple_values", dashboard_filter.allow_multiple_values),
        ("required", dashboard_filter.required),
        ("ui_config", None),  # placeholder; written as a block below
        ("model", model), ("explore", dashboard_filter.explore), ("listens_to_filters", []),
        ("field", dashboard_filter.field),
    ]


def render_dashboard(dashboard: DashboardIR) -> OutputFile:
    lines = ["---", f"- dashboard: {scalar(dashboard.name)}"]
    lines += _lines([("title", dashboard.title), ("layout", dashboard.layout), ("preferred_viewer", "dashboards-next"),
                     ("description", dashboard.description or ""), ("crossfilter_enabled", False)], "  ")
    lines.append("  elements:")
    for tile in dashboard.tiles:
        body = _lines(_element(tile), "    ")
        lines += ["  - " + body[0].lstrip(), *body[1:]]
    if dashboard.filters:
        lines.append("  filters:")
        for dashboard_filter in dashboard.filters:
            body = []
            for key, value in _filter(dashboard_filter, dashboard.model):
                if key == "ui_config":
                    ui = dashboard_filter.ui
                    body += ["    ui_config:", f"      type: {ui}", f"      display: {UI_DISPLAY.get(ui, 'popover')}",
                             "      options: []"]
                else:
                    body += _lines([(key, value)], "    ")
            lines += ["  - " + body[0].lstrip(), *body[1:]]
    text = header(f"{dashboard.origin.file} (dashboard {dashboard.name})") + "\n".join(lines) + "\n"
    return OutputFile(f"dashboards/{dashboard.name}.dashboard.lookml", text)


def render_dashboards(model: SemanticModel) -> list[OutputFile]:
    return [render_dashboard(dashboard) for dashboard in model.dashboards.values()]
