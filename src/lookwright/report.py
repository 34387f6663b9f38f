"""`lookwright report`: every dashboard of the model drawn from the local warehouse, in ONE HTML file.

Charts are Vega-Lite specs (built with altair) rendered by the Vega/Vega-Lite/Vega-Embed bundle that
vl-convert-python ships, inlined into the page: it loads nothing from the network (a Content
Security Policy forbids it). Every value from the warehouse reaches the page as escaped text or as
JSON data inside a non-executable script element; none is ever parsed as HTML.
"""

from __future__ import annotations

import datetime
import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from lookwright.lookml.project import Project
from lookwright.model.ir import FieldIR, SemanticModel, TileIR
from lookwright.query.run import QueryRun, run_tile
from lookwright.warehouse.base import Warehouse

CSP = ("default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
       "img-src data:; font-src data:; connect-src 'none'")


@dataclass(frozen=True)
class TileView:
    tile: TileIR
    run: QueryRun | None
    error: str | None


def _value(value: Any) -> Any:
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _info(model: SemanticModel, reference: str) -> FieldIR | None:
    view, _, name = reference.partition(".")
    table = model.tables.get(view)
    return table.fields.get(name) if table is not None else None


def _label(model: SemanticModel, reference: str) -> str:
    info = _info(model, reference)
    spec_label = info.field.label if info is not None else None
    if spec_label and info is not None and info.group is None:
        return str(spec_label)
    return reference.partition(".")[2].replace("_", " ")


def chart_spec(model: SemanticModel, view: TileView) -> dict[str, Any] | None:
    """The tile's Vega-Lite spec (None for tables), data inline; column keys are c0, c1, ..."""
    import altair as alt

    assert view.run is not None
    tile, run = view.tile, view.run
    keys = {name: f"c{i}" for i, name in enumerate(run.columns)}
    values = [{keys[name]: _value(v) for name, v in zip(run.columns, row, strict=True)} for row in run.rows]
    measures = [n for n in run.columns if (i := _info(model, n)) is not None and i.is_measure]
    dimensions = [n for n in run.columns if n not in measures]
    pivots = [p for p in tile.pivots if p in dimensions]
    axis = [d for d in dimensions if d not in pivots]

    def kind(name: str) -> str:
        info = _info(model, name)
        if name in measures:
            return "quantitative"
        return "temporal" if info is not None and info.type == "time" and info.timeframe in ("date", "time", "raw", "hour") else "nominal"

    def enc(name: str) -> str:
        return f"{keys[name]}:{kind(name)[0].upper()}"

    tooltip = [alt.Tooltip(enc(n), title=_label(model, n)) for n in run.columns]
    base = alt.Chart(cast(Any, alt).Data(values=values)).properties(width="container", height=220)
    kind_ = tile.visualization
    if kind_ == "table":
        return None
    if kind_ == "single_value":
        chart = base.mark_text(fontSize=40).encode(text=alt.Text(enc(measures[0]), format=",.2f"))
    elif kind_ == "pie":
        chart = base.mark_arc().encode(theta=alt.Theta(enc(measures[0]), title=_label(model, measures[0])),
                                       color=alt.Color(enc(dimensions[0]), title=_label(model, dimensions[0])),
                                       tooltip=tooltip)
    elif kind_ == "scatter":
        x, y = measures[0], measures[1]
        chart = base.mark_point(filled=True, size=80).encode(
            x=alt.X(enc(x), title=_label(model, x)), y=alt.Y(enc(y), title=_label(model, y)), tooltip=tooltip,
            **({"color": alt.Color(enc(dimensions[0]), title=_label(model, dimensions[0]))} if dimensions else {}))
    else:
        marks = {"line": "mark_line", "area": "mark_area", "column": "mark_bar", "bar": "mark_bar"}
        first = axis[0] if axis else dimensions[0]
        mark = getattr(base, marks[kind_])(**({"point": True} if kind_ == "line" else {}))
        along, across = (alt.Y, alt.X) if kind_ == "bar" else (alt.X, alt.Y)
        extra: dict[str, Any] = {}
        if pivots:
            extra["color"] = alt.Color(enc(pivots[0]), title=_label(model, pivots[0]))
        if len(measures) > 1:
            folded = [keys[m] for m in measures]
            titles = {keys[m]: _label(model, m) for m in measures}
            chart = mark.transform_fold(folded, as_=["measure", "value"]).transform_calculate(
                series=" || ".join(f"(datum.measure === '{k}' ? {json.dumps(t)} : '')" for k, t in titles.items())
            ).encode(**{"x" if along is alt.X else "y": along(enc(first), title=_label(model, first), sort=None),
                        "y" if along is alt.X else "x": across("value:Q", title=None),
                        "color": alt.Color("series:N", title=None), "tooltip": tooltip})
        else:
            measure = measures[0]
            chart = mark.encode(**{"x" if along is alt.X else "y": along(enc(first), title=_label(model, first), sort=None),
                                   "y" if along is alt.X else "x": across(enc(measure), title=_label(model, measure)),
                                   "tooltip": tooltip}, **extra)
    return dict(chart.to_dict())


def _table_html(model: SemanticModel, run: QueryRun) -> str:
    head = "".join(f"<th>{html.escape(_label(model, c))}</th>" for c in run.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_format(v))}</td>" for v in row) + "</tr>" for row in run.rows)
    return f'<table class="grid"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _format(value: Any) -> str:
    if value is None:
        return "∅"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(_value(value))


def _json_script(data: Any, element_id: str) -> str:
    text = json.dumps(data, separators=(",", ":")).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def _disclosure(run: QueryRun) -> str:
    served = run.aggregate_table or "no aggregate table (the explore's own table)"
    lines = "\n".join(run.explanation)
    return ("<details><summary>SQL and the aggregate table that serves it</summary>"
            f"<p>Served in Looker by: <b>{html.escape(served)}</b></p>"
            f"<pre>{html.escape(lines)}</pre><pre>{html.escape(run.sql)}</pre></details>")


def _tile_html(model: SemanticModel, view: TileView, index: int, specs: dict[str, Any]) -> str:
    tile = view.tile
    note = f'<p class="note">{html.escape(tile.note)}</p>' if tile.note else ""
    title = f"<h3>{html.escape(tile.title)}</h3>"
    style = f"grid-column: {tile.col + 1} / span {tile.width};"
    if view.run is None:
        body = f'<p class="error">{html.escape(view.error or "")}</p>'
        return f'<section class="tile" style="{style}" data-tile="{html.escape(tile.name)}">{title}{body}</section>'
    spec = chart_spec(model, view)
    if spec is None:
        body = _table_html(model, view.run)
        kind = "table"
    else:
        element = f"chart{index}"
        specs[element] = spec
        body = f'<div class="chart" id="{element}"></div>'
        kind = "chart"
    return (f'<section class="tile" style="{style}" data-tile="{html.escape(tile.name)}" data-kind="{kind}">'
            f"{title}{note}{body}{_disclosure(view.run)}</section>")


PAGE_SCRIPT = """
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message)));
const specs = JSON.parse(document.getElementById('specs').textContent);
function countMarks(node) {
  let n = 0;
  if (node.marktype && node.role === 'mark') n += (node.items || []).length;
  for (const child of (node.items || [])) if (child && child.items) n += countMarks(child);
  return n;
}
Promise.all(Object.entries(specs).map(([id, spec]) =>
  vegaEmbed('#' + id, spec, {renderer: 'svg', actions: false}).then(result => {
    const marks = countMarks(result.view.scenegraph().root);
    document.getElementById(id).dataset.marks = String(marks);
  }).catch(error => { window.__errors.push(String(error)); document.getElementById(id).dataset.marks = 'error'; })
)).then(() => {
  document.body.dataset.errors = String(window.__errors.length);
  document.body.dataset.errorText = window.__errors.join(' | ');
  document.body.dataset.rendered = 'yes';
});
"""

STYLE = """
body { font-family: system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #1c2024; }
nav { background: #1c2024; padding: 10px 20px; position: sticky; top: 0; z-index: 2; }
nav a { color: #fff; margin-right: 18px; text-decoration: none; }
main { padding: 10px 20px; } h1 { font-size: 22px; } h2 { margin-top: 28px; }
.grid24 { display: grid; grid-template-columns: repeat(24, 1fr); gap: 12px; }
.tile { background: #fff; border-radius: 6px; padding: 10px 14px; box-shadow: 0 1px 2px #0002; min-width: 0; }
.tile h3 { margin: 0 0 6px; font-size: 15px; } .note { color: #555; font-size: 12px; margin: 0 0 6px; }
.chart { width: 100%; } table.grid { border-collapse: collapse; font-size: 12px; width: 100%; }
table.grid th, table.grid td { border-bottom: 1px solid #e3e5e8; padding: 3px 6px; text-align: left; }
details { font-size: 12px; margin-top: 6px; } pre { white-space: pre-wrap; background: #f6f8fa; padding: 6px; }
.error { color: #b42318; } .fail { color: #b42318; font-weight: 600; } .pass { color: #067647; }
"""


def render_report(model: SemanticModel, project: Project | None, warehouse: Warehouse,
                  now: datetime.datetime, quality: list[dict[str, Any]], rollups: list[tuple[str, str, str]],
                  vega_bundle: str, on_tile: Callable[[str], None] = lambda _: None) -> str:
    """The whole page. `quality`: data_quality_results rows of the latest run; `rollups`:
    (table, result, detail) rows of the rollup-equivalence check; `vega_bundle`: the JS bundle;
    `on_tile` hears the tile's name after each tile is drawn."""
    from lookwright.query.compile import UnsupportedQuery

    specs: dict[str, Any] = {}
    sections: list[str] = []
    nav: list[str] = []
    index = 0
    coverage: list[tuple[TileIR, QueryRun | None]] = []
    for dashboard in model.dashboards.values():
        tiles: list[str] = []
        for tile in dashboard.tiles:
            try:
                view = TileView(tile, run_tile(model, tile, project, warehouse, now), None)
            except UnsupportedQuery as error:
                view = TileView(tile, None, f"cannot compile this tile: {error}")
            coverage.append((tile, view.run))
            tiles.append(_tile_html(model, view, index, specs))
            index += 1
            on_tile(tile.name)
        anchor = html.escape(dashboard.name)
        nav.append(f'<a href="#{anchor}">{html.escape(dashboard.title)}</a>')
        description = f"<p>{html.escape(dashboard.description)}</p>" if dashboard.description else ""
        sections.append(f'<h2 id="{anchor}">{html.escape(dashboard.title)}</h2>{description}'
                        f'<div class="grid24">{"".join(tiles)}</div>')
    rows = "".join(
        f"<tr><td>{html.escape(tile.name)}</td><td>{html.escape(tile.explore)}</td>"
        f"<td>{html.escape(run.aggregate_table if run and run.aggregate_table else 'none')}</td>"
        f"<td>{html.escape(tile.must_hit or '')}</td></tr>" for tile, run in coverage)
    sections.append('<h2 id="coverage">Rollup coverage</h2><table class="grid"><thead><tr><th>tile</th><th>explore'
                    f"</th><th>aggregate table</th><th>must hit</th></tr></thead><tbody>{rows}</tbody></table>")
    quality_rows = "".join(
        f"<tr><td>{html.escape(str(r['table_name']))}</td><td>{html.escape(str(r['check_name']))}</td>"
        f"<td>{html.escape(str(r['severity']))}</td><td>{html.escape(str(r['failing']))}</td>"
        f"<td class=\"{'pass' if r['passed'] else 'fail'}\">{'pass' if r['passed'] else 'FAIL'}</td></tr>"
        for r in quality)
    sections.append('<h2 id="quality">Data quality</h2><table class="grid"><thead><tr><th>table</th><th>check</th>'
                    f"<th>severity</th><th>failing</th><th>result</th></tr></thead><tbody>{quality_rows}</tbody></table>")
    rollup_rows = "".join(
        f"<tr><td>{html.escape(t)}</td><td class=\"{'pass' if r == 'pass' else 'fail'}\">{html.escape(r)}</td>"
        f"<td>{html.escape(d)}</td></tr>" for t, r, d in rollups)
    sections.append('<h2 id="rollups">Rollup equivalence</h2><p>Every rollup recomputed from its raw rows.</p>'
                    '<table class="grid"><thead><tr><th>table</th><th>result</th><th>detail</th></tr></thead>'
                    f"<tbody>{rollup_rows}</tbody></table>")
    nav += ['<a href="#coverage">Rollup coverage</a>', '<a href="#quality">Data quality</a>',
            '<a href="#rollups">Rollup equivalence</a>']
    bundle = vega_bundle.replace("</script", "<\\/script")
    stamp = html.escape(now.isoformat(timespec="minutes"))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            "<title>lookwright report</title>"
            f"<style>{STYLE}</style></head><body><nav>{''.join(nav)}</nav><main>"
            f"<h1>Performance &amp; cost report</h1><p>From the local warehouse; relative date filters count from "
            f"{stamp} (the newest data).</p>{''.join(sections)}</main>"
            f"{_json_script(specs, 'specs')}<script>{bundle}</script><script>{PAGE_SCRIPT}</script></body></html>\n")
