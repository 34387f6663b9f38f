"""Application logs and web-vitals beacons: loaded from their real formats, built, joined, rolled up."""

from __future__ import annotations

import json
import math
import random
from datetime import timedelta
from pathlib import Path

from fixtures.build.raw import MODEL, T0, insert, key, run, span, warehouse

from lookwright.checks.rollups import validate_rollups
from lookwright.warehouse.sources import load


def write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_log_lines_join_their_spans_and_roll_up_per_hour(tmp_path: Path) -> None:
    w = warehouse()
    trace = "5b8efff798038103d269b633813fc60c"
    insert(w, "raw_spans", [span(trace, "eee19b7ec3c1b174", T0 + timedelta(minutes=1), 30, status=500),
                            span("t2", "s2", T0 + timedelta(minutes=2), 10)])
    epoch = (T0 - T0.replace(year=1970, month=1, day=1, hour=0)).total_seconds()
    lines = [
        {"date": epoch + 61, "service": "checkout", "level": "error", "message": "payment declined",
         "trace_id": trace.upper(), "span_id": "eee19b7ec3c1b174", "environment": "production"},
        {"date": epoch + 62, "service": "checkout", "level": "info", "message": "retrying",
         "trace_id": trace, "span_id": "eee19b7ec3c1b174", "environment": "production"},
        {"time": (T0 + timedelta(minutes=70)).isoformat() + "Z", "log": "cache warm",
         "kubernetes": {"container_name": "checkout", "pod_name": "checkout-1"}},
        {"date": epoch + 63, "service": "checkout", "level": "WARN", "message": "bad id", "trace_id": "zz"},
    ]
    report = load(w, "app-logs", write(tmp_path / "app.log", lines))
    assert (report.rows_loaded, [(b.line, b.reason) for b in report.bad_rows]) == (3, [(4, "invalid trace_id: zz")])
    run(w)
    joined = w.query("""
        SELECT l.level, l.message, r.duration_ms, r.is_error FROM fact_log_events l
        JOIN fact_performance_requests r ON r.trace_id = l.trace_id AND r.span_id = l.span_id
        ORDER BY l.timestamp""")
    assert joined == [("error", "payment declined", 30.0, True), ("info", "retrying", 30.0, True)]
    hourly = w.query("""
        SELECT hour, level, environment_key IS NULL, log_count, error_log_count, traced_log_count, logs_per_second
        FROM fact_log_events_hourly ORDER BY hour, level""")
    assert hourly == [(T0, "error", False, 1, 1, 1, 1 / 3600), (T0, "info", False, 1, 0, 1, 1 / 3600),
                      (T0 + timedelta(hours=1), "info", True, 1, 0, 0, 1 / 3600)]
    assert {r[0] for r in w.query("SELECT service_key FROM fact_log_events")} == {key(w, "checkout")}
    (table,) = validate_rollups(MODEL, w, tables=["fact_log_events_hourly"]).tables
    assert (table.groups_compared, table.mismatches) == (3, ())


def test_rum_percentiles_from_sketches_within_their_error(tmp_path: Path) -> None:
    w = warehouse()
    rng = random.Random(5)
    values: dict[tuple[str, str], list[float]] = {}
    beacons = []
    for view in range(600):
        page = "/checkout" if view % 3 else "/"
        at = T0 + timedelta(seconds=view * 5)
        vitals = {"TTFB": math.exp(rng.gauss(5, 0.4)), "LCP": math.exp(rng.gauss(7.5, 0.5)),
                  "CLS": round(max(0.0, rng.gauss(0.08, 0.06)), 4)}
        if view % 2:
            vitals["INP"] = math.exp(rng.gauss(5, 0.7))
        for name, value in vitals.items():
            values.setdefault((page, name), []).append(value)
            beacons.append({"timestamp": at.isoformat() + "Z", "path": page, "name": name, "value": value,
                            "id": f"v4-{view}-{name}", "rating": "good", "provider": "aws",
                            "region": "us-east-1", "user_segment": "pro"})
    # web-vitals reports CLS again when it grows: only the last report of an id counts
    first_cls = beacons[2]
    beacons.insert(0, {**first_cls, "value": 9.0, "timestamp": (T0 - timedelta(seconds=1)).isoformat() + "Z"})
    report = load(w, "rum", write(tmp_path / "beacons.jsonl", beacons))
    assert (report.rows_loaded, report.bad_rows) == (len(beacons), [])
    run(w)
    assert w.query("SELECT COUNT(*) FROM fact_rum_events")[0][0] == len(beacons) - 1
    assert w.query("SELECT metric_value FROM fact_rum_events WHERE metric_id = 'v4-0-CLS'") == [(first_cls["value"],)]
    got = {(page, name): (n, p50, p75, p95) for page, name, n, p50, p75, p95 in w.query("""
        SELECT page_path, metric_name, SUM(sample_count), MAX(value_p50), MAX(value_p75), MAX(value_p95)
        FROM fact_rum_hourly GROUP BY 1, 2""")}
    assert sorted(got) == sorted(values)
    for cell, samples in values.items():
        ordered = sorted(samples)
        assert got[cell][0] == len(samples)
        for q, estimate in zip((0.5, 0.75, 0.95), got[cell][1:], strict=True):
            exact = ordered[math.ceil(q * len(ordered)) - 1]
            # relative error 0.5% (alpha), plus the sketch's 0.001 floor for CLS scores of 0
            assert abs(estimate - exact) <= 0.005 * exact + 0.001 + 1e-9, (cell, q, estimate, exact)
    page_views = w.query("SELECT SUM(sample_count) FROM fact_rum_hourly WHERE metric_name = 'TTFB'")[0][0]
    assert page_views == 600
    (table,) = validate_rollups(MODEL, w, tables=["fact_rum_hourly"]).tables
    assert (table.root, table.groups_compared, table.mismatches) == ("fact_rum_events", 8, ())
