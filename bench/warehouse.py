"""Issue 3 warehouse benchmark: dashboard queries on raw facts vs rollups, incremental vs full build, build memory.

    .venv/bin/python bench/warehouse.py [--requests N] [--days D] [--dir bench/out/warehouse] [--runs R]

Synthesizes sources with `lookwright synth` (reused when `DIR/sources` holds the same configuration),
loads them into `DIR/base.duckdb` (reused likewise), copies that to `DIR/work.duckdb`, then measures:

  (a) a dashboard query set (daily requests, errors, p95 and cost per service over the last 30 days
      present) on the raw facts vs on the rollups: best/median of R runs, the speed ratio, and that
      the additive results agree and every p95 is within 1%;
  (b) an incremental `build` after one new hour of spans and cost lines vs a full rebuild;
  (c) the peak RSS of a child process running `lookwright build --full-refresh`, which also
      rebuilds from scratch what (b) built incrementally, so the two are compared table by table.

Each figure is printed next to the baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from lookwright.demo.pipeline import DemoPaths, ensure_sources, load_all, source_files
from lookwright.demo.synth import SynthConfig
from lookwright.model.compile import load_model
from lookwright.model.ir import SemanticModel
from lookwright.sqlgen.dialects import DIALECTS
from lookwright.warehouse.build import BuildReport, build
from lookwright.warehouse.duckdb import DuckDBWarehouse
from lookwright.warehouse.sources.ledger import LEDGER

ROOT = Path(__file__).resolve().parents[1]

# 4 million requests are ~10 million spans (a request has 0-3 child spans, 2.5 spans on average).
DEFAULT_REQUESTS = 4_000_000
DEFAULT_DAYS = 30
DASHBOARD_DAYS = 30
QUERY_TARGET = 20.0
INCREMENTAL_TARGET = 0.05
MEMORY_TARGET = 4 * 1024**3
P95_TOLERANCE = 0.01
COST_TOLERANCE = 1e-9
Row = tuple[Any, ...]


def say(message: str) -> None:
    print(message, flush=True)


def timed(action: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


# ---------------------------------------------------------------------------------------- setup

def prepare_base(paths: DemoPaths, config: SynthConfig, base: Path) -> None:
    """Synthesize and load unless DIR already holds exactly this configuration."""
    wanted = {**asdict(config), "start": config.start.isoformat()}
    _, seconds = timed(lambda: ensure_sources(paths, config, lambda name: None))
    manifest = json.loads((paths.sources / "manifest.json").read_text(encoding="utf-8"))
    say(f"sources: {paths.sources} ({manifest['counts']['spans']:,} spans,"
        f" {manifest['counts']['requests']:,} requests, {config.days} days) ready in {seconds:.1f} s")
    marker = base.with_suffix(".json")
    if base.is_file() and marker.is_file() and json.loads(marker.read_text(encoding="utf-8")) == wanted:
        say(f"raw tables: reusing {base}")
        return
    staging = base.with_name(base.name + ".loading")
    staging.unlink(missing_ok=True)
    marker.unlink(missing_ok=True)
    started = time.perf_counter()
    with DuckDBWarehouse(staging) as warehouse:
        load_all(warehouse, source_files(paths), lambda name: None)
        warehouse.execute("CHECKPOINT")
    os.replace(staging, base)
    marker.write_text(json.dumps(wanted), encoding="utf-8")
    say(f"raw tables: loaded into {base} in {time.perf_counter() - started:.1f} s")


def describe_build(report: BuildReport, label: str, seconds: float) -> None:
    slowest = sorted(report.steps, key=lambda s: -s.seconds)[:4]
    parts = ", ".join(f"{s.table} {s.seconds:.2f} s ({s.mode})" for s in slowest)
    say(f"  {label}: {seconds:.2f} s; slowest steps: {parts}")


# ------------------------------------------------------------------------------- (a) dashboards

Tiles = dict[str, str]  # tile name -> its query; every query returns (date, service_key, figures...)


def dashboard_queries(first: date, last: date) -> tuple[Tiles, Tiles]:
    """(raw tiles, rollup tiles) of the dashboard: requests and errors, p95, cost per service and day."""
    d = DIALECTS["duckdb"]
    between = f"BETWEEN DATE '{first}' AND DATE '{last}'"
    cost_sum = d.exact_sum("total_cost")
    raw = {
        "requests, errors": f"""
            SELECT date, service_key, COUNT(*) AS requests, COUNT(*) FILTER (WHERE is_error) AS errors
            FROM fact_performance_requests WHERE date {between}
            GROUP BY date, service_key ORDER BY date, service_key""",
        "p95": f"""
            SELECT date, service_key, quantile_disc(duration_ms, 0.95) AS p95
            FROM fact_performance_requests WHERE date {between}
            GROUP BY date, service_key ORDER BY date, service_key""",
        "cost": f"""
            SELECT date, service_key, {cost_sum} AS cost
            FROM fact_cost_hourly WHERE date {between}
            GROUP BY date, service_key ORDER BY date, service_key""",
    }
    # the model's dashboard-grain rollups: one row per service and day, p95 read from merged sketches
    rollup = {
        "requests, errors": f"""
            SELECT date, service_key, request_count AS requests, error_count AS errors
            FROM fact_performance_service_daily WHERE date {between} ORDER BY date, service_key""",
        "p95": f"""
            SELECT date, service_key, duration_p95_ms AS p95
            FROM fact_performance_service_daily WHERE date {between} ORDER BY date, service_key""",
        "cost": f"""
            SELECT date, service_key, total_cost AS cost
            FROM fact_cost_service_daily WHERE date {between} ORDER BY date, service_key""",
    }
    return raw, rollup


def run_tiles(warehouse: DuckDBWarehouse, tiles: Tiles, runs: int) -> tuple[dict[str, list[float]], dict[str, list[Row]]]:
    """Each tile's time in every run (the whole set runs once per run) and its last result."""
    times: dict[str, list[float]] = {name: [] for name in tiles}
    results: dict[str, list[Row]] = {}
    for _ in range(runs):
        for name, sql in tiles.items():
            started = time.perf_counter()
            results[name] = warehouse.query(sql)
            times[name].append(time.perf_counter() - started)
    return times, results


def set_times(times: dict[str, list[float]]) -> list[float]:
    return [sum(run) for run in zip(*times.values(), strict=True)]


def by_group(rows: list[Row]) -> dict[tuple[Any, Any], Row]:
    return {(row[0], row[1]): row[2:] for row in rows}


def compare_dashboards(raw: dict[str, list[Row]], rollup: dict[str, list[Row]]) -> list[str]:
    """Disagreements: requests and errors must be equal, cost equal to 1e-9 USD, p95 within 1%."""
    problems: list[str] = []
    for name, raw_rows in raw.items():
        exact, rolled = by_group(raw_rows), by_group(rollup[name])
        if exact.keys() != rolled.keys():
            problems.append(f"{name}: {len(exact)} service-days on raw facts vs {len(rolled)} on rollups")
        shared = exact.keys() & rolled.keys()
        if name == "requests, errors":
            problems += [f"{key}: requests, errors {exact[key]} raw vs {rolled[key]} rollup"
                         for key in sorted(shared) if exact[key] != rolled[key]]
        elif name == "p95":
            worst = max((abs(rolled[k][0] - exact[k][0]) / exact[k][0] for k in shared), default=0.0)
            say(f"  p95: worst relative difference {worst:.4%} over {len(shared)} service-days")
            if worst > P95_TOLERANCE:
                problems.append(f"p95 differs by up to {worst:.4%}")
        else:
            gap = max((abs(rolled[k][0] - exact[k][0]) for k in shared), default=0.0)
            say(f"  cost: largest difference {gap:.3g} USD over {len(shared)} service-days")
            if gap > COST_TOLERANCE:
                problems.append(f"cost differs by up to {gap:.3g} USD")
    return problems


def report_tiles(label: str, times: dict[str, list[float]]) -> None:
    parts = ", ".join(f"{name} {statistics.median(t) * 1000:.1f}" for name, t in times.items())
    total = set_times(times)
    say(f"  {label:9}: set best {min(total) * 1000:7.1f} ms, median {statistics.median(total) * 1000:7.1f} ms"
        f" (median per tile, ms: {parts})")


def dashboard_window(warehouse: DuckDBWarehouse) -> tuple[date, date]:
    last = warehouse.query("SELECT MAX(date) FROM fact_performance_metrics_daily")[0][0]
    first = warehouse.query("SELECT MIN(date) FROM fact_performance_metrics_daily")[0][0]
    return max(first, last - timedelta(days=DASHBOARD_DAYS - 1)), last


def bench_dashboards(warehouse: DuckDBWarehouse, runs: int) -> float:
    first, last = dashboard_window(warehouse)
    rows = warehouse.query(f"""
        SELECT (SELECT COUNT(*) FROM fact_performance_requests WHERE date BETWEEN DATE '{first}' AND DATE '{last}'),
               (SELECT COUNT(*) FROM fact_performance_service_daily WHERE date BETWEEN DATE '{first}' AND DATE '{last}')""")[0]
    say(f"(a) dashboard: daily requests, errors, p95, cost per service, {first} .. {last}"
        f" ({(last - first).days + 1} days; {rows[0]:,} request rows vs {rows[1]:,} daily rollup rows), {runs} runs")
    raw_sql, rollup_sql = dashboard_queries(first, last)
    raw_times, raw_rows = run_tiles(warehouse, raw_sql, runs)
    rollup_times, rollup_rows = run_tiles(warehouse, rollup_sql, runs)
    report_tiles("raw facts", raw_times)
    report_tiles("rollups", rollup_times)
    raw_total, rollup_total = set_times(raw_times), set_times(rollup_times)
    ratio = statistics.median(raw_total) / statistics.median(rollup_total)
    tiles = ", ".join(f"{name} {statistics.median(raw_times[name]) / statistics.median(rollup_times[name]):.1f}x"
                      for name in raw_times)
    say(f"  rollups are {ratio:.1f}x faster (median set; best/best {min(raw_total) / min(rollup_total):.1f}x;"
        f" per tile: {tiles}), target >= {QUERY_TARGET:.0f}x: {'met' if ratio >= QUERY_TARGET else 'NOT met'}")
    problems = compare_dashboards(raw_rows, rollup_rows)
    for problem in problems:
        say(f"  MISMATCH {problem}")
    if not problems:
        say("  requests and errors identical, cost identical to 1e-9 USD, every p95 within 1%")
    return ratio


# ------------------------------------------------------------------------------ (b) incremental

SPAN_SHIFT = """
    md5(trace_id || ':+1h') AS trace_id,
    left(md5(span_id || ':+1h'), 16) AS span_id,
    left(md5(parent_span_id || ':+1h'), 16) AS parent_span_id,
    start_time_unix_nano + 3600000000000 AS start_time_unix_nano,
    end_time_unix_nano + 3600000000000 AS end_time_unix_nano,
    start_time + INTERVAL 1 HOUR AS start_time,
    end_time + INTERVAL 1 HOUR AS end_time,
    'bench:appended-hour' AS source_file, CAST(now() AS TIMESTAMP) AS loaded_at"""
APPENDS = {
    "raw_spans": ("start_time", SPAN_SHIFT),
    "raw_aws_cur": ("line_item_usage_start_date", """
        line_item_usage_start_date + INTERVAL 1 HOUR AS line_item_usage_start_date,
        line_item_usage_end_date + INTERVAL 1 HOUR AS line_item_usage_end_date,
        'bench:appended-hour' AS source_file, CAST(now() AS TIMESTAMP) AS loaded_at"""),
    "raw_gcp_billing": ("usage_start_time", """
        usage_start_time + INTERVAL 1 HOUR AS usage_start_time,
        usage_end_time + INTERVAL 1 HOUR AS usage_end_time,
        'bench:appended-hour' AS source_file, CAST(now() AS TIMESTAMP) AS loaded_at"""),
    "raw_db_query_log": ("log_timestamp", """
        log_timestamp + INTERVAL 1 HOUR AS log_timestamp,
        'bench:appended-hour' AS source_file, CAST(now() AS TIMESTAMP) AS loaded_at"""),
}


def append_hour(warehouse: DuckDBWarehouse) -> tuple[datetime, dict[str, int]]:
    """Copy the last hour of every hourly raw table one hour later (new trace and span ids): a new hour lands.

    Azure exports are daily, so the new hour has no Azure cost yet and gets estimated cost, as in production.
    """
    newest = warehouse.query("SELECT date_trunc('hour', MAX(start_time)) FROM raw_spans")[0][0]
    added: dict[str, int] = {}
    with warehouse.transaction():
        for table, (column, shift) in APPENDS.items():
            source = f"FROM {table} WHERE date_trunc('hour', {column}) = TIMESTAMP '{newest}'"
            added[table] = int(warehouse.query(f"SELECT COUNT(*) {source}")[0][0])
            warehouse.execute(f"INSERT INTO {table} SELECT * REPLACE ({shift}) {source}")
            warehouse.execute(  # recorded in the load ledger, as the loaders do: builds read what landed from it
                f"INSERT INTO {LEDGER} (raw_table, source_file, loaded_at, first_event, last_event, row_count)"
                f" SELECT '{table}', source_file, MAX(loaded_at), MIN({column}), MAX({column}), COUNT(*) FROM {table}"
                " WHERE source_file = 'bench:appended-hour' GROUP BY source_file")
    return newest + timedelta(hours=1), added


def snapshot(warehouse: DuckDBWarehouse, model: SemanticModel) -> dict[str, Row]:
    """Per model table: row count and the sums of its additive columns, rounded for comparison."""
    additive = ("request_count", "error_count", "total_cost", "span_count", "attributed_cost")
    found: dict[str, Row] = {}
    for name, table in sorted(model.tables.items()):
        columns = [c.name for c in table.columns if c.name in additive]
        sums = "".join(f", ROUND(SUM({c}), 6)" for c in columns)
        found[name] = warehouse.query(f"SELECT COUNT(*){sums} FROM {name}")[0]
    return found


def bench_incremental(warehouse: DuckDBWarehouse, model: SemanticModel) -> tuple[float, dict[str, Row]]:
    say("(b) incremental build after one new hour vs full rebuild")
    full, full_seconds = timed(lambda: build(warehouse, model, full_refresh=True))
    describe_build(full, "full rebuild (full_refresh=True)", full_seconds)
    noop, noop_seconds = timed(lambda: build(warehouse, model))
    describe_build(noop, "incremental, nothing new", noop_seconds)
    (hour, added), append_seconds = timed(lambda: append_hour(warehouse))
    say(f"  appended hour {hour:%Y-%m-%d %H:00} in {append_seconds:.2f} s: "
        + ", ".join(f"{n:,} rows to {t}" for t, n in added.items()))
    incremental, incremental_seconds = timed(lambda: build(warehouse, model))
    describe_build(incremental, "incremental, one new hour", incremental_seconds)
    landed = warehouse.query(
        f"SELECT COALESCE(SUM(request_count), 0) FROM fact_performance_metrics_hourly WHERE hour = TIMESTAMP '{hour}'")[0][0]
    distinct = warehouse.query(
        "SELECT COUNT(DISTINCT (trace_id, span_id)) FROM raw_spans WHERE source_file = 'bench:appended-hour'")[0][0]
    say(f"  the new hour's hourly rollup counts {int(landed):,} spans: the {int(distinct):,} distinct ones appended"
        f" ({'ok' if landed == distinct else 'WRONG'})")
    ratio = incremental_seconds / full_seconds
    say(f"  incremental {incremental_seconds:.2f} s vs full {full_seconds:.2f} s = {ratio:.1%} of the full rebuild,"
        f" target <= {INCREMENTAL_TARGET:.0%}: {'met' if ratio <= INCREMENTAL_TARGET else 'NOT met'}")
    return ratio, snapshot(warehouse, model)


# ----------------------------------------------------------------------------------- (c) memory

def bench_memory(work: Path) -> int:
    command = [str(Path(sys.executable).parent / "lookwright"), "build", "--warehouse", f"duckdb:{work}",
               "--model", str(ROOT / "semantic"), "--full-refresh"]
    say(f"(c) peak memory of a full build: {' '.join(command)}")
    started = time.perf_counter()
    with open(work.with_suffix(".build.log"), "w", encoding="utf-8") as log:
        pid = os.posix_spawn(command[0], command, dict(os.environ),
                             file_actions=[(os.POSIX_SPAWN_DUP2, log.fileno(), 1),
                                           (os.POSIX_SPAWN_DUP2, log.fileno(), 2)])
        _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - started
    peak = usage.ru_maxrss * 1024  # Linux reports KiB
    say(f"  exit code {os.waitstatus_to_exitcode(status)} after {seconds:.1f} s (build + data-quality checks);"
        f" peak RSS {peak / 1024**3:.2f} GiB, target < 4 GiB: {'met' if peak < MEMORY_TARGET else 'NOT met'}")
    return peak


def compare_snapshots(incremental: dict[str, Row], full: dict[str, Row]) -> None:
    differing = [name for name in incremental if incremental[name] != full[name]]
    if not differing:
        say(f"  incremental result == full rebuild result (row counts and additive sums of all {len(full)} tables)")
    for name in differing:
        say(f"  DIFFERS {name}: incremental {incremental[name]} vs full rebuild {full[name]}")


# ------------------------------------------------------------------- what-if: service-day rollup

# Not in the model: a rollup at the dashboard's grain, built by the same machinery from a copy of
# semantic/, to measure what adding it would give (a) — the daily rollup keeps endpoint, region and
# environment, so a per-service p95 has to merge ~90 sketch buckets of ~45 rows per service-day.
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=DEFAULT_REQUESTS, help="requests over all days (~2.5 spans each)")
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS)
    parser.add_argument("--seed", type=int, default=SynthConfig.seed)
    parser.add_argument("--dir", type=Path, default=ROOT / "bench" / "out" / "warehouse")
    parser.add_argument("--runs", type=int, default=5, help="runs of each dashboard query set")
    args = parser.parse_args(argv)
    config = SynthConfig(seed=args.seed, days=args.days, requests=args.requests)
    paths = DemoPaths(args.dir)
    base, work = args.dir / "base.duckdb", args.dir / "work.duckdb"
    model = load_model(ROOT / "semantic")
    prepare_base(paths, config, base)
    for stale in (work, work.with_name(work.name + ".wal")):
        stale.unlink(missing_ok=True)
    shutil.copyfile(base, work)
    with DuckDBWarehouse(work) as warehouse:
        incremental_ratio, after_incremental = bench_incremental(warehouse, model)
        query_ratio = bench_dashboards(warehouse, args.runs)
    peak = bench_memory(work)
    with DuckDBWarehouse(work) as warehouse:
        compare_snapshots(after_incremental, snapshot(warehouse, model))
    say(f"summary: rollups {query_ratio:.1f}x faster; incremental {incremental_ratio:.1%} of full;"
        f" peak RSS {peak / 1024**3:.2f} GiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
