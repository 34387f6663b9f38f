"""CloudWatch Metric Streams -> fact_resource_metrics_hourly, and CPU time as a cost attribution basis."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fixtures.build.raw import MODEL, T0, cur, insert, key, run, span, warehouse

from lookwright.warehouse import DuckDBWarehouse
from lookwright.warehouse.quality import run_checks
from lookwright.warehouse.sources import load

H = timedelta(hours=1)


def datum(metric: str, instance: str, at: datetime, total: float, count: float = 5.0, *,
          namespace: str = "AWS/EC2", process: str | None = None, peak: float | None = None) -> dict[str, object]:
    dimensions = {"InstanceId": instance}
    if process is not None:
        dimensions |= {"exe": process, "process_name": process}
    epoch_ms = int((at - datetime(1970, 1, 1)).total_seconds() * 1000)
    unit = "Bytes" if metric.startswith("Network") else "Percent"
    return {"metric_stream_name": "lw", "account_id": "123456789012", "region": "us-east-1",
            "namespace": namespace, "metric_name": metric, "dimensions": dimensions,
            "timestamp": epoch_ms, "value": {"count": count, "sum": total, "max": peak or total / count,
                                             "min": 0.0}, "unit": unit}


def write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _scenario(tmp_path: Path) -> DuckDBWarehouse:
    """i-shared (untagged, 0.6 USD at T0) runs checkout and payments; i-solo has no process metrics."""
    w = warehouse()
    insert(w, "raw_spans", [
        span("c1", "a1", T0 + timedelta(minutes=1), 10, service="checkout"),
        span("p1", "b1", T0 + timedelta(minutes=2), 20, service="payments"),
        span("p2", "b2", T0 + timedelta(minutes=3), 20, service="payments"),
    ])
    insert(w, "raw_aws_cur", [
        cur(T0, 0.6, resource="i-shared"),
        cur(T0, 0.3, resource="i-solo"),
        cur(T0, 1.0, resource="i-tagged", service="checkout", environment="production"),
    ])
    rows = []
    for minute in range(0, 60, 5):  # basic monitoring: one data point per 5 minutes, 5 samples each
        at = T0 + timedelta(minutes=minute)
        rows += [
            datum("CPUUtilization", "i-shared", at, 5 * 40.0, peak=70.0 if minute == 30 else 40.0),
            datum("NetworkOut", "i-shared", at, 3000.0),
            datum("NetworkIn", "i-shared", at, 600.0, count=1),
            datum("procstat_cpu_usage", "i-shared", at, 5 * 20.0, namespace="CWAgent", process="checkout"),
            datum("procstat_cpu_usage", "i-shared", at, 5 * 10.0, namespace="CWAgent", process="payments"),
        ]
        if minute < 30:
            rows.append(datum("CPUUtilization", "i-solo", at, 5 * 10.0))
    rows.append(rows[0])  # Firehose delivers at least once: a repeated data point counts once
    report = load(w, "cloudwatch", write(tmp_path / "metrics.json", rows))
    assert (report.rows_loaded, report.bad_rows, report.warnings) == (len(rows), [], [])
    run(w)
    return w


def test_resource_metrics_per_instance_and_service(tmp_path: Path) -> None:
    w = _scenario(tmp_path)
    got = w.query("""
        SELECT resource_id, s.service_name, hour, cpu_seconds, cpu_share, cpu_utilization_avg,
               cpu_utilization_max, network_in_bytes, network_out_bytes, instance_hours
        FROM fact_resource_metrics_hourly f JOIN dim_service s USING (service_key) ORDER BY 1, 2""")
    # checkout: 12 points x 5 samples x 20 % x 60 s = 720 CPU seconds; payments 360
    assert [row[:3] for row in got] == [("i-shared", "checkout", T0), ("i-shared", "payments", T0),
                                        ("i-solo", "unattributed", T0)]
    assert [row[3:] for row in got] == [
        pytest.approx((720.0, 2 / 3, 40.0, 70.0, 7200 * 2 / 3, 36000 * 2 / 3, 2 / 3)),
        pytest.approx((360.0, 1 / 3, 40.0, 70.0, 7200 / 3, 36000 / 3, 1 / 3)),
        pytest.approx((0.0, 1.0, 10.0, 10.0, 0.0, 0.0, 0.5)),
    ]
    resource_keys = {r[0] for r in w.query("SELECT resource_key FROM fact_resource_metrics_hourly")}
    assert resource_keys <= {r[0] for r in w.query("SELECT resource_key FROM dim_resource")}
    assert key(w, "aws:i-shared") in resource_keys


def test_untagged_compute_is_attributed_by_cpu_time_and_every_cent_conserved(tmp_path: Path) -> None:
    w = _scenario(tmp_path)
    rows = w.query("""
        SELECT s.service_name, c.attribution_method, c.compute_cost
        FROM fact_cost_hourly c JOIN dim_service s USING (service_key)
        WHERE c.hour = ? ORDER BY 1, 2""", [T0])
    # i-shared 0.6 by CPU seconds 2:1; i-solo (no process metrics) 0.3 by requests 1:2; i-tagged by tag
    assert [r[:2] for r in rows] == [("checkout", "cpu_time"), ("checkout", "tag"), ("checkout", "usage_share"),
                                     ("payments", "cpu_time"), ("payments", "usage_share")]
    assert [r[2] for r in rows] == pytest.approx([0.4, 1.0, 0.1, 0.2, 0.2], abs=1e-12)
    by_day = w.query("SELECT SUM(total_cost) FROM fact_cost_hourly WHERE NOT is_estimated")[0][0]
    assert by_day == pytest.approx(1.9, abs=1e-9)
    cpu_cost = w.query("SELECT SUM(total_cost) FROM fact_cost_hourly WHERE attribution_method = 'cpu_time'")[0][0]
    assert cpu_cost == pytest.approx(0.6, abs=1e-12)
    conservation = [r for r in run_checks(w, MODEL).results if r.check_name == "cost_conserved_per_day"]
    assert [(r.failing, r.passed) for r in conservation] == [(0, True)]
    bridge = w.query("""
        SELECT s.service_name, b.allocation_method, b.allocation_share
        FROM bridge_service_resource b JOIN dim_service s USING (service_key) JOIN dim_resource r USING (resource_key)
        WHERE r.resource_id = 'i-shared' ORDER BY 1""")
    assert [b[:2] for b in bridge] == [("checkout", "cpu_time"), ("payments", "cpu_time")]
    assert [b[2] for b in bridge] == pytest.approx([2 / 3, 1 / 3], abs=1e-12)


def test_late_metrics_are_picked_up_by_an_incremental_build(tmp_path: Path) -> None:
    w = _scenario(tmp_path)
    late = [datum("procstat_cpu_usage", "i-shared", T0 + timedelta(minutes=2), 5 * 30.0,
                  namespace="CWAgent", process="payments")]
    load(w, "cloudwatch", write(tmp_path / "late.json", late))
    report = run(w)
    assert report.step("fact_resource_metrics_hourly").mode == "incremental"
    seconds = w.query("""SELECT s.service_name, cpu_seconds FROM fact_resource_metrics_hourly
                         JOIN dim_service s USING (service_key) WHERE resource_id = 'i-shared' ORDER BY 1""")
    assert seconds == [("checkout", 720.0), ("payments", 450.0)]
    payments = w.query("""SELECT c.compute_cost FROM fact_cost_hourly c JOIN dim_service s USING (service_key)
                          WHERE s.service_name = 'payments' AND c.attribution_method = 'cpu_time'""")
    assert payments[0][0] == pytest.approx(0.6 * 450 / 1170, abs=1e-12)
