"""The real-time per-minute table: only the newest 90 minutes, numbers equal raw within the sketch's
error, refreshed after one new minute by building just the request fact and itself (`build --table`)."""

from __future__ import annotations

import math
import random
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fixtures.build.raw import MODEL, ROOT, insert, key, run, snapshot, span, warehouse

from lookwright.checks.rollups import validate_rollups
from lookwright.errors import InputError, WarehouseError
from lookwright.warehouse.build import build_tables

TABLE = "mv_performance_realtime"
REFRESH = ["fact_performance_requests", TABLE]  # what the every-minute task builds
START = datetime(2025, 3, 3, 9, 0, 0)
MINUTES = 150  # spans over 2.5 hours: the first hour is older than the 90 minutes kept


def _spans(first: int, last: int, seed: int = 3) -> list[tuple[datetime, str, float, bool]]:
    """(start, service, duration, error): 30 spans a minute, two services, one error in 7."""
    rng = random.Random(seed)
    out = []
    for minute in range(first, last):
        for i in range(30):
            at = START + timedelta(minutes=minute, seconds=2 * i, milliseconds=rng.randrange(1000))
            service = "checkout" if i % 3 else "search"
            out.append((at, service, round(math.exp(rng.gauss(4.0, 0.8)), 3), rng.random() < 1 / 7))
    return out


def _load(w: object, spans: list[tuple[datetime, str, float, bool]], tag: str, loaded_at: datetime) -> None:
    insert(w, "raw_spans", [  # type: ignore[arg-type]
        span(f"{tag}{i}", f"{i:016x}", at, value, service=service, status=500 if error else 200, loaded_at=loaded_at)
        for i, (at, service, value, error) in enumerate(spans)])


def test_keeps_the_newest_90_minutes_equal_to_raw_within_the_sketch_error() -> None:
    w = warehouse()
    spans = _spans(0, MINUTES)
    _load(w, spans, "t", datetime(2025, 3, 3, 12))
    run(w)
    rows = w.query(f"SELECT minute, service_key, request_count, error_count, duration_p50_ms, duration_p95_ms,"
                   f" duration_p99_ms, requests_per_second FROM {TABLE} ORDER BY minute, service_key")
    minutes = sorted({r[0] for r in rows})
    assert minutes == [START + timedelta(minutes=m) for m in range(MINUTES - 90, MINUTES)]
    services = {key(w, "checkout"): "checkout", key(w, "search"): "search"}
    assert len(rows) == 90 * 2 and {r[1] for r in rows} == set(services)
    for minute, service_key, requests, errors, p50, p95, p99, rate in rows:
        group = [(v, e) for at, s, v, e in spans if at.replace(second=0, microsecond=0) == minute
                 and s == services[service_key]]
        values = sorted(v for v, _ in group)
        assert (requests, errors) == (len(group), sum(e for _, e in group))
        assert rate == pytest.approx(len(group) / 60)
        for q, estimate in ((0.5, p50), (0.95, p95), (0.99, p99)):
            exact = values[math.ceil(q * len(values)) - 1]
            assert abs(estimate - exact) <= 0.005 * exact + 1e-9, (minute, q, estimate, exact)
    report = validate_rollups(MODEL, w, tables=[TABLE], min_group=1)
    assert [(t.table, t.groups_compared, t.mismatches) for t in report.tables] == [(TABLE, 180, ())]


def test_a_refresh_after_one_new_minute_rebuilds_only_the_fact_and_itself() -> None:
    w = warehouse()
    _load(w, _spans(0, MINUTES), "t", datetime(2025, 3, 3, 12))
    run(w)
    state = w.query("SELECT * FROM lookwright_build_state")
    hourly = w.query("SELECT * FROM fact_performance_metrics_hourly ORDER BY ALL")
    _load(w, _spans(MINUTES, MINUTES + 1, seed=4), "new", datetime(2025, 3, 3, 12, 31))
    report = build_tables(w, MODEL, REFRESH)
    assert [(s.table, s.mode) for s in report.steps] == [
        ("fact_performance_requests", "incremental"), (TABLE, "incremental")]
    # from the newest minute built (MINUTES - 1) back by increment_offset 2
    assert report.step(TABLE).window_start == START + timedelta(minutes=MINUTES - 3)
    minutes = [r[0] for r in w.query(f"SELECT DISTINCT minute FROM {TABLE} ORDER BY minute")]
    assert minutes == [START + timedelta(minutes=m) for m in range(MINUTES + 1 - 90, MINUTES + 1)]
    assert w.query(f"SELECT SUM(request_count) FROM {TABLE} WHERE minute = ?",
                   [START + timedelta(minutes=MINUTES)]) == [(30,)]
    # nothing else moved: the next whole build still sees the new spans
    assert w.query("SELECT * FROM lookwright_build_state") == state
    assert w.query("SELECT * FROM fact_performance_metrics_hourly ORDER BY ALL") == hourly
    refreshed = snapshot(w)[TABLE]
    assert validate_rollups(MODEL, w, tables=[TABLE], min_group=1).tables[0].mismatches == ()
    run(w, full_refresh=True)
    assert snapshot(w)[TABLE] == refreshed


def test_refresh_needs_a_previous_build_and_model_tables() -> None:
    w = warehouse()
    with pytest.raises(WarehouseError, match="never built: run a whole `lookwright build` first"):
        build_tables(w, MODEL, REFRESH)
    with pytest.raises(InputError, match="unknown table"):
        build_tables(w, MODEL, ["mv_nope"])


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lookwright.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, check=False)


def test_build_table_refreshes_from_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    with warehouse(path) as w:
        _load(w, _spans(0, 100), "t", datetime(2025, 3, 3, 12))
        run(w)
        _load(w, _spans(100, 101, seed=4), "new", datetime(2025, 3, 3, 12, 31))
    url = f"duckdb:{path}"
    done = _cli("build", "--warehouse", url, "--table", REFRESH[0], "--table", TABLE, "--skip-checks",
                "--model", str(ROOT / "semantic"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    steps = [line.split("│")[1].strip() for line in done.stderr.splitlines() if line.startswith("│")]
    assert steps == ["fact_performance_requests", TABLE]
    assert "data quality" not in done.stderr
    with warehouse(path) as w:
        assert w.query(f"SELECT MAX(minute) FROM {TABLE}") == [(START + timedelta(minutes=100),)]
    unknown = _cli("build", "--warehouse", url, "--table", "mv_nope", "--model", str(ROOT / "semantic"), cwd=tmp_path)
    assert unknown.returncode == 2 and "mv_nope" in unknown.stderr and "Traceback" not in unknown.stderr
