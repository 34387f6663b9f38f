"""Transforms reworked for 10-million-span builds (bench/warehouse.py) keep their exact results."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fixtures.build.raw import LOADED, T0, cur, insert, run, snapshot, span, warehouse

H = timedelta(hours=1)


def test_bridge_trace_cost_rebuilds_only_the_window_and_equals_a_full_rebuild() -> None:
    w = warehouse()
    insert(w, "raw_spans", [span(name, name, T0 + i * H + timedelta(minutes=5)) for i, name in enumerate("abcd")])
    insert(w, "raw_aws_cur", [cur(T0 + i * H, 1.0, service="checkout", environment="production") for i in range(2)])
    assert run(w).step("bridge_trace_cost").mode == "full"
    # hours 2 and 3 have no cost lines yet: each is estimated at the latest cost per request, 2.0 / 2
    assert w.query("SELECT trace_id, attributed_cost FROM bridge_trace_cost ORDER BY trace_id") == [
        ("a", 1.0), ("b", 1.0), ("c", 1.0), ("d", 1.0)]
    insert(w, "raw_aws_cur", [cur(T0 + 2 * H, 5.0, service="checkout", environment="production",
                                  loaded_at=LOADED + timedelta(days=1))])
    step = run(w).step("bridge_trace_cost")
    assert (step.mode, step.window_start, step.rows) == ("incremental", T0 + 2 * H, 4)
    traces = w.query("SELECT trace_id, span_count, attributed_cost FROM bridge_trace_cost ORDER BY trace_id")
    assert [t[:2] for t in traces] == [("a", 1), ("b", 1), ("c", 1), ("d", 1)]
    # hour 3 is still estimated, now from 7.0 over 3 requests
    assert [t[2] for t in traces] == pytest.approx([1.0, 1.0, 5.0, 7.0 / 3], abs=1e-12)
    incremental = snapshot(w)
    run(w, full_refresh=True)
    assert snapshot(w) == incremental


def test_dim_service_reads_language_and_deployment_over_distinct_resources() -> None:
    w = warehouse()
    rows = []
    for i, (pod, host, language) in enumerate([("pod-1", "node-1", "rust"), ("pod-1", "node-1", "rust"),
                                               (None, "vm-1", "go"), (None, None, "python")]):
        row = span(f"t{i}", f"s{i}", T0 + timedelta(minutes=i), service="search")
        row.update(k8s_pod_name=pod, host_name=host,
                   resource_attributes=f'{{"telemetry.sdk.language": "{language}"}}')
        rows.append(row)
    child = span("t0", "c0", T0, service="search", parent="s0")
    child.update(kind=3, resource_attributes='{"telemetry.sdk.language": "ada"}')  # a client span: not read
    insert(w, "raw_spans", [*rows, child])
    run(w)
    assert w.query("SELECT language, deployment_type FROM dim_service WHERE service_name = 'search'") == [
        ("go", "kubernetes")]
