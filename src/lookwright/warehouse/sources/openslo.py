"""Loads service level objectives written as OpenSLO v1 documents (YAML) into raw_service_slos.

One row per objective of every `kind: SLO` document (https://github.com/OpenSLO/OpenSLO, v1):
`spec.service`, `metadata.name`, the `sli` label, the indicator's kind (`ratioMetric` or
`thresholdMetric`, inline or by `indicatorRef`), budgeting method, time window, and each objective's
`op`, `value` and `target`. Other kinds (Service, SLI, AlertPolicy, ...) are skipped. A document that
is not a valid SLO is a bad row at its `kind:` line; a file that is not YAML loads nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from lookwright.errors import InputError
from lookwright.warehouse.base import Warehouse
from lookwright.warehouse.sources.base import Source
from lookwright.warehouse.sources.tabular import (
    REJECTS_TABLE,
    ROWS_TABLE,
    finish_stage,
    number_sql,
    parsed_check,
    required_check,
)

TABLE = "raw_service_slos"

CREATE_SQL = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    service VARCHAR NOT NULL,                 -- spec.service
    slo_name VARCHAR NOT NULL,                -- metadata.name
    sli VARCHAR,                              -- metadata.labels.sli (availability, latency, ...)
    indicator_kind VARCHAR NOT NULL,          -- ratioMetric | thresholdMetric | ref (indicatorRef)
    budgeting_method VARCHAR NOT NULL,        -- Occurrences | Timeslices | RatioTimeslices
    time_window VARCHAR,                      -- spec.timeWindow[0].duration, e.g. 28d
    objective_name VARCHAR,                   -- objectives[].displayName
    op VARCHAR,                               -- objectives[].op: lte | lt | gte | gt (threshold objectives)
    threshold_value DOUBLE,                   -- objectives[].value
    target DOUBLE NOT NULL,                   -- objectives[].target, 0-1
    source_file VARCHAR NOT NULL,
    source_line INTEGER NOT NULL,
    loaded_at TIMESTAMP NOT NULL
)"""

_TEXT = ("service", "slo_name", "sli", "indicator_kind", "budgeting_method", "time_window",
         "objective_name", "op", "threshold_value", "target")
_OPS = ("lte", "lt", "gte", "gt")
_METHODS = ("Occurrences", "Timeslices", "RatioTimeslices")
_SAFE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _documents(path: str) -> list[tuple[int, Any]]:
    """(line of the document's `kind:` or first line, plain value) of every YAML document."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        nodes = list(yaml.compose_all(text, Loader=_SAFE))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise InputError(f"{path}{where}: not valid YAML ({getattr(error, 'problem', error)}); "
                         "an OpenSLO file is YAML documents separated by ---") from None
    found = []
    for node in nodes:
        if node is None:
            continue
        line = _line(node)
        if isinstance(node, yaml.MappingNode):
            line = next((_line(k) for k, _ in node.value if isinstance(k, yaml.ScalarNode) and k.value == "kind"), line)
        found.append((line, yaml.safe_load(yaml.serialize(node))))
    return found


def _indicator_kind(spec: dict[str, Any]) -> str | None:
    if isinstance(spec.get("indicatorRef"), str):
        return "ref"
    indicator = spec.get("indicator")
    inner = indicator.get("spec") if isinstance(indicator, dict) else None
    if isinstance(inner, dict):
        for kind in ("ratioMetric", "thresholdMetric"):
            if isinstance(inner.get(kind), dict):
                return kind
    return None


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str | None:
    return None if value is None or isinstance(value, (dict, list)) else str(value)


def _rows(line: int, document: object) -> tuple[list[dict[str, object]], str | None]:
    """The objective rows of one document, or the reason it is not a valid SLO."""
    if not isinstance(document, dict):
        return [], "not an OpenSLO document (a YAML mapping with apiVersion and kind)"
    if document.get("kind") != "SLO":
        return [], None
    if document.get("apiVersion") != "openslo/v1":
        return [], f"apiVersion {document.get('apiVersion')!r} is not openslo/v1"
    metadata = _mapping(document.get("metadata"))
    spec = _mapping(document.get("spec"))
    kind = _indicator_kind(spec)
    if kind is None:
        return [], "spec has neither an indicator with ratioMetric/thresholdMetric nor an indicatorRef"
    method = spec.get("budgetingMethod")
    if method not in _METHODS:
        return [], f"budgetingMethod {method!r} is not one of {', '.join(_METHODS)}"
    objectives = spec.get("objectives")
    if not isinstance(objectives, list) or not objectives or not all(isinstance(o, dict) for o in objectives):
        return [], "spec.objectives must be a non-empty list of objectives"
    labels = _mapping(metadata.get("labels"))
    windows = spec.get("timeWindow")
    window = windows[0].get("duration") if isinstance(windows, list) and windows and isinstance(windows[0], dict) else None
    rows = []
    for objective in objectives:
        op = _text(objective.get("op"))
        if op is not None and op not in _OPS:
            return [], f"objective op {op!r} is not one of {', '.join(_OPS)}"
        rows.append({
            "source_line": line, "service": _text(spec.get("service")), "slo_name": _text(metadata.get("name")),
            "sli": _text(labels.get("sli")), "indicator_kind": kind, "budgeting_method": method,
            "time_window": _text(window), "objective_name": _text(objective.get("displayName")), "op": op,
            "threshold_value": _text(objective.get("value")), "target": _text(objective.get("target")),
        })
    return rows, None


def stage(warehouse: Warehouse, path: str) -> None:
    """Stage every objective of every SLO document, typed, with the first problem of each bad one."""
    rows: list[dict[str, object]] = []
    rejects: list[dict[str, object]] = []
    for line, document in _documents(path):
        found, reason = _rows(line, document)
        rows += found
        if reason is not None:
            rejects.append({"source_line": line, "bad_reason": reason})
    structure = json.dumps({"source_line": "INTEGER", **dict.fromkeys(_TEXT, "VARCHAR")})
    columns = ", ".join(f"r.{name}" for name in ("source_line", *_TEXT))
    warehouse.execute(f"CREATE OR REPLACE TEMP TABLE {ROWS_TABLE} AS SELECT {columns}"
                      f" FROM (SELECT unnest(from_json(CAST(? AS JSON), '[{structure}]')) AS r)", [json.dumps(rows)])
    warehouse.execute(f"CREATE OR REPLACE TEMP TABLE {REJECTS_TABLE} AS SELECT r.source_line, r.bad_reason FROM"
                      " (SELECT unnest(from_json(CAST(? AS JSON), '[{\"source_line\":\"INTEGER\",\"bad_reason\":\"VARCHAR\"}]'))"
                      " AS r)", [json.dumps(rejects)])
    value, target = number_sql("threshold_value"), number_sql("target")
    typed = (f"trim(service) AS service, trim(slo_name) AS slo_name, sli, indicator_kind, budgeting_method,"
             f" time_window, objective_name, op, {value} AS threshold_value, {target} AS target")
    checks = [
        required_check("service"), required_check("slo_name"), required_check("target"),
        parsed_check("target", target, "number"),
        parsed_check("threshold_value", value, "number"),
        (f"{target} < 0 OR {target} >= 1", "'target must be in [0, 1) (OpenSLO v1): ' || target"),
        ("(op IS NULL) <> (threshold_value IS NULL)", "'an objective with op needs a value, and a value needs an op'"),
    ]
    finish_stage(warehouse, typed, checks)


SOURCE = Source("openslo", TABLE, "service level objectives, OpenSLO v1 YAML documents", stage)
