"""Every transform template rendered for BigQuery (full and incremental, and its window query) passes ZetaSQL."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

pytest.importorskip("zetasql", reason="zetasql is not installed")

from lookwright.model.compile import load_model
from lookwright.sqlgen.analyzer import analyzer_for
from lookwright.warehouse.build import TransformRenderer

ROOT = Path(__file__).resolve().parents[1]
WINDOW = datetime(2025, 3, 3, 10)


def test_every_transform_is_bigquery_sql_zetasql_accepts() -> None:
    model = load_model(ROOT / "semantic")
    analyzer = analyzer_for(model)
    renderer = TransformRenderer(model, "bigquery")
    checked, errors = [], []
    for table in model.tables.values():
        if table.transform is None:
            continue
        statements = [renderer.transform(table, None), renderer.transform(table, WINDOW)]
        window = renderer.extra_window(table, WINDOW)
        statements += [window] if window is not None else []
        for statement in statements:
            if (error := analyzer.check(statement)) is not None:
                errors.append((table.name, error.format()))
        checked.append(table.name)
    assert errors == []
    assert {"fact_resource_metrics_hourly", "fact_log_events", "fact_rum_events", "fact_cost_hourly"} <= set(checked)
