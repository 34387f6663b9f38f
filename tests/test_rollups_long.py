"""Weekly and monthly rollups from the daily ones: counts equal raw, percentiles within the sketch's error."""

from __future__ import annotations

import math
import random
from datetime import date, datetime, timedelta

import pytest
from fixtures.build.raw import MODEL, insert, key, run, snapshot, span, warehouse

from lookwright.checks.rollups import validate_rollups
from lookwright.warehouse.build import periods_before

START = datetime(2025, 2, 20, 9)  # a Thursday; the spans run into March
LONG = ["fact_performance_service_weekly", "fact_performance_service_monthly", "fact_cost_service_monthly"]


def _spans() -> dict[datetime, float]:
    rng = random.Random(9)
    return {START + timedelta(hours=7 * i): round(math.exp(rng.gauss(4.5, 0.7)), 3) for i in range(60)}


def test_weekly_and_monthly_equal_raw_within_the_sketch_error() -> None:
    w = warehouse()
    spans = _spans()
    insert(w, "raw_spans", [span(f"t{i}", f"{i:016x}", at, value, status=500 if i % 10 == 0 else 200)
                            for i, (at, value) in enumerate(spans.items())])
    run(w)
    weekly = w.query("SELECT week, service_key, request_count, error_count, duration_p50_ms, duration_p95_ms"
                     " FROM fact_performance_service_weekly ORDER BY week")
    monthly = w.query("SELECT month, request_count, error_count, duration_p95_ms, duration_max_ms"
                      " FROM fact_performance_service_monthly ORDER BY month")
    weeks = sorted({(at.date() - timedelta(days=at.weekday())) for at in spans})
    assert [row[0] for row in weekly] == weeks and weeks[0] == date(2025, 2, 17)
    assert {row[1] for row in weekly} == {key(w, "checkout")}
    months = [date(2025, 2, 1), date(2025, 3, 1)]
    assert [row[0] for row in monthly] == months
    for period, rows, first in ((weekly, weeks, lambda d: d - timedelta(days=d.weekday())),
                                (monthly, months, lambda d: d.replace(day=1))):
        for row, start in zip(period, rows, strict=True):
            values = sorted(v for at, v in spans.items() if first(at.date()) == start)
            index = 2 if period is weekly else 1
            assert row[index] == len(values)
            assert row[index + 1] == sum(1 for i, at in enumerate(spans) if i % 10 == 0 and first(at.date()) == start)
            for q, estimate in ((0.95, row[index + 3] if period is weekly else row[index + 2]),):
                exact = values[math.ceil(q * len(values)) - 1]
                assert abs(estimate - exact) <= 0.005 * exact + 1e-9, (start, q, estimate, exact)
    assert monthly[0][4] == max(v for at, v in spans.items() if at.month == 2)
    report = validate_rollups(MODEL, w, tables=LONG)
    assert [(t.table, t.mismatches) for t in report.tables] == [(name, ()) for name in sorted(LONG)]
    assert [t.groups_compared for t in sorted(report.tables, key=lambda t: t.table)] == [0, 2, len(weeks)]


def test_long_rollups_rebuild_incrementally_to_the_same_rows() -> None:
    w = warehouse()
    spans = list(_spans().items())
    insert(w, "raw_spans", [span(f"t{i}", f"{i:016x}", at, value) for i, (at, value) in enumerate(spans[:40])])
    run(w)
    insert(w, "raw_spans", [span(f"t{i}", f"{i:016x}", at, value, loaded_at=datetime(2025, 3, 20))
                            for i, (at, value) in enumerate(spans[40:], 40)])
    report = run(w)
    assert {report.step(name).mode for name in LONG[:2]} == {"incremental"}  # no cost: the cost one stays empty
    incremental = snapshot(w)
    run(w, full_refresh=True)
    assert snapshot(w) == incremental


@pytest.mark.parametrize(("start", "periods", "grain", "expected"), [
    (datetime(2025, 3, 1), 1, "month", datetime(2025, 2, 1)),
    (datetime(2025, 1, 1), 2, "month", datetime(2024, 11, 1)),
    (datetime(2025, 3, 3), 1, "week", datetime(2025, 2, 24)),
    (datetime(2025, 3, 3, 5), 3, "hour", datetime(2025, 3, 3, 2)),
])
def test_periods_before(start: datetime, periods: int, grain: str, expected: datetime) -> None:
    assert periods_before(start, periods, grain) == expected
