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

from lookwright.build import BuildReport, build
from lookwright.demo import DemoPaths, ensure_sources, load_all, source_files
from lookwright.dialects import DIALECTS
from lookwright.ir import SemanticModel, load_model
from lookwright.synth import SynthConfig
from lookwright.warehouse.duckdb import DuckDBWarehouse

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

def dashboard_queries(first: date, last: date) -> tuple[list[str], list[str]]:
    """(raw queries, rollup queries): one per explore a dashboard would hit, as Looker would group them."""
    d = DIALECTS["duckdb"]
    between = f"BETWEEN DATE '{first}' AND DATE '{last}'"
    cost_sum = d.exact_sum("total_cost")
    raw = [
        f"""SELECT date, service_key, COUNT(*) AS requests, COUNT(*) FILTER (WHERE is_error) AS errors,
               quantile_disc(duration_ms, 0.95) AS p95
            FROM fact_performance_requests WHERE date {between}
            GROUP BY date, service_key ORDER BY date, service_key""",
        f"""SELECT date, service_key, {cost_sum} AS cost
            FROM fact_cost_hourly WHERE date {between}
            GROUP BY date, service_key ORDER BY date, service_key""",
    ]
    rollup = [
        f"""WITH days AS (
              SELECT date, service_key, request_count, error_count, duration_sketch
              FROM fact_performance_metrics_daily WHERE date {between}
            ),
            totals AS (
              SELECT date, service_key, SUM(request_count) AS requests, SUM(error_count) AS errors
              FROM days GROUP BY date, service_key
            ),
            buckets AS (
              SELECT r.date, r.service_key, b.bucket AS bucket, SUM(b.n) AS n
              FROM days AS r {d.unnest("r.duration_sketch", "b")}
              GROUP BY r.date, r.service_key, b.bucket
            ),
            ranked AS (
              SELECT date, service_key, bucket,
                SUM(n) OVER (PARTITION BY date, service_key ORDER BY bucket) AS cumulative,
                SUM(n) OVER (PARTITION BY date, service_key) AS total
              FROM buckets
            ),
            p95 AS (
              SELECT date, service_key, MIN(CASE WHEN cumulative >= 0.95 * total THEN bucket END) AS bucket
              FROM ranked GROUP BY date, service_key
            )
            SELECT t.date, t.service_key, t.requests, t.errors, {d.sketch_value("p.bucket")} AS p95
            FROM totals AS t JOIN p95 AS p ON p.date = t.date AND p.service_key = t.service_key
            ORDER BY t.date, t.service_key""",
        f"""SELECT date, service_key, {cost_sum} AS cost
            FROM fact_performance_cost_joined WHERE date {between} AND total_cost IS NOT NULL
            GROUP BY date, service_key ORDER BY date, service_key""",
    ]
    return raw, rollup


def run_set(warehouse: DuckDBWarehouse, queries: list[str], runs: int) -> tuple[list[float], list[list[Row]]]:
    times: list[float] = []
    results: list[list[Row]] = []
    for _ in range(runs):
        started = time.perf_counter()
        results = [warehouse.query(sql) for sql in queries]
        times.append(time.perf_counter() - started)
    return times, results


def compare_dashboards(raw: list[list[Row]], rollup: list[list[Row]]) -> list[str]:
    """Disagreements: additive figures must match, p95 within 1%; returns one line per problem."""
    problems: list[str] = []
    raw_perf = {(r[0], r[1]): r for r in raw[0]}
    rollup_perf = {(r[0], r[1]): r for r in rollup[0]}
    if raw_perf.keys() != rollup_perf.keys():
        problems.append(f"performance groups differ: {len(raw_perf)} raw vs {len(rollup_perf)} rollup")
    worst = 0.0
    for key in raw_perf.keys() & rollup_perf.keys():
        (_, _, requests, errors, exact), (_, _, r_requests, r_errors, sketched) = raw_perf[key], rollup_perf[key]
        if (requests, errors) != (r_requests, r_errors):
            problems.append(f"{key}: requests/errors {requests}/{errors} raw vs {r_requests}/{r_errors} rollup")
        worst = max(worst, abs(sketched - exact) / exact)
    if worst > P95_TOLERANCE:
        problems.append(f"p95 relative error {worst:.4%} > {P95_TOLERANCE:.0%}")
    raw_cost = {(r[0], r[1]): r[2] for r in raw[1]}
    rollup_cost = {(r[0], r[1]): r[2] for r in rollup[1]}
    if raw_cost.keys() != rollup_cost.keys():
        problems.append(f"cost groups differ: {len(raw_cost)} raw vs {len(rollup_cost)} rollup")
    cost_gap = max((abs(raw_cost[k] - rollup_cost[k]) for k in raw_cost.keys() & rollup_cost.keys()), default=0.0)
    if cost_gap > COST_TOLERANCE:
        problems.append(f"cost differs by up to {cost_gap:.3g} USD")
    say(f"  checked {len(raw_perf)} service-days of requests/errors/p95 and {len(raw_cost)} of cost:"
        f" worst p95 relative error {worst:.4%}, largest cost difference {cost_gap:.3g} USD")
    return problems


def bench_dashboards(warehouse: DuckDBWarehouse, runs: int) -> float:
    last = warehouse.query("SELECT MAX(date) FROM fact_performance_metrics_daily")[0][0]
    first = max(warehouse.query("SELECT MIN(date) FROM fact_performance_metrics_daily")[0][0],
                last - timedelta(days=DASHBOARD_DAYS - 1))
    rows = warehouse.query(f"""
        SELECT (SELECT COUNT(*) FROM fact_performance_requests WHERE date BETWEEN DATE '{first}' AND DATE '{last}'),
               (SELECT COUNT(*) FROM fact_performance_metrics_daily WHERE date BETWEEN DATE '{first}' AND DATE '{last}')""")[0]
    say(f"(a) dashboard: daily requests, errors, p95, cost per service, {first} .. {last}"
        f" ({(last - first).days + 1} days; {rows[0]:,} request rows vs {rows[1]:,} daily rollup rows), {runs} runs each")
    raw_sql, rollup_sql = dashboard_queries(first, last)
    raw_times, raw_rows = run_set(warehouse, raw_sql, runs)
    rollup_times, rollup_rows = run_set(warehouse, rollup_sql, runs)
    for label, times in (("raw facts", raw_times), ("rollups", rollup_times)):
        say(f"  {label:9}: best {min(times) * 1000:8.1f} ms, median {statistics.median(times) * 1000:8.1f} ms")
    ratio = statistics.median(raw_times) / statistics.median(rollup_times)
    say(f"  rollups are {ratio:.1f}x faster (median; best/best {min(raw_times) / min(rollup_times):.1f}x),"
        f" target >= {QUERY_TARGET:.0f}x: {'met' if ratio >= QUERY_TARGET else 'NOT met'}")
    problems = compare_dashboards(raw_rows, rollup_rows)
    for problem in problems:
        say(f"  MISMATCH {problem}")
    if not problems:
        say("  additive results identical (requests, errors exactly; cost to 1e-9 USD), every p95 within 1%")
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
    say(f"  the new hour's hourly rollup counts {int(landed):,} spans (appended {added['raw_spans']:,})")
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
