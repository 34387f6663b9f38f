"""Issue 13 real-time benchmark: refreshing mv_performance_realtime after one new minute of spans vs a full build.

    .venv/bin/python bench/realtime.py [--requests N] [--days D] [--dir bench/out/realtime]

Synthesizes sources with the demo's synth (reused when DIR/sources holds the same configuration), loads
them into DIR/work.duckdb, builds everything once, then measures in the same run:

  baseline: `build --full-refresh` (every table rebuilt from the raw tables);
  refresh:  one new minute of spans lands (the newest minute copied one minute later, new ids), then
            `build_tables(..., [fact_performance_requests, mv_performance_realtime])` in process, and
            `lookwright build --table fact_performance_requests --table mv_performance_realtime
            --skip-checks` as the every-minute task runs it (a new process: start-up included);

and prints the ratio, which tables the refresh rebuilt, and that the new minute's requests landed and
the table still equals the raw spans within the sketch's error (validate rollups).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from lookwright.checks.rollups import validate_rollups
from lookwright.demo.pipeline import DemoPaths, ensure_sources, load_all, source_files
from lookwright.demo.synth import SynthConfig
from lookwright.model.compile import load_model
from lookwright.warehouse.build import build, build_tables
from lookwright.warehouse.duckdb import DuckDBWarehouse

ROOT = Path(__file__).resolve().parents[1]
TABLE = "mv_performance_realtime"
REFRESH = ["fact_performance_requests", TABLE]
SHIFT = """
    md5(trace_id || ':+1m') AS trace_id,
    left(md5(span_id || ':+1m'), 16) AS span_id,
    left(md5(parent_span_id || ':+1m'), 16) AS parent_span_id,
    start_time_unix_nano + 60000000000 AS start_time_unix_nano,
    end_time_unix_nano + 60000000000 AS end_time_unix_nano,
    start_time + INTERVAL 1 MINUTE AS start_time,
    end_time + INTERVAL 1 MINUTE AS end_time,
    'bench:appended-minute' AS source_file, CAST(now() AS TIMESTAMP) AS loaded_at"""


def say(message: str) -> None:
    print(message, flush=True)


def timed(action: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def append_minute(warehouse: DuckDBWarehouse) -> tuple[datetime, int]:
    """Copy the newest minute of spans one minute later (new trace and span ids): a new minute lands."""
    newest = warehouse.query("SELECT date_trunc('minute', MAX(start_time)) FROM raw_spans")[0][0]
    source = f"FROM raw_spans WHERE date_trunc('minute', start_time) = TIMESTAMP '{newest}'"
    count = int(warehouse.query(f"SELECT COUNT(*) {source}")[0][0])
    warehouse.execute(f"INSERT INTO raw_spans SELECT * REPLACE ({SHIFT}) {source}")
    return newest + timedelta(minutes=1), count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400_000, help="requests over all days (~2.5 spans each)")
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--dir", type=Path, default=ROOT / "bench" / "out" / "realtime")
    args = parser.parse_args(argv)
    model = load_model(ROOT / "semantic")
    paths = DemoPaths(args.dir)
    config = SynthConfig(requests=args.requests, days=args.days)
    _, seconds = timed(lambda: ensure_sources(paths, config, lambda name: None))
    say(f"sources: {paths.sources} ({args.requests:,} requests, {args.days} days) ready in {seconds:.1f} s")
    work = args.dir / "work.duckdb"
    for stale in (work, work.with_name(work.name + ".wal")):
        stale.unlink(missing_ok=True)
    with DuckDBWarehouse(work) as warehouse:
        _, seconds = timed(lambda: load_all(warehouse, source_files(paths), lambda name: None))
        spans = int(warehouse.query("SELECT COUNT(*) FROM raw_spans")[0][0])
        say(f"loaded {spans:,} spans and the cost exports in {seconds:.1f} s")
        _, first = timed(lambda: build(warehouse, model))
        say(f"first build: {first:.2f} s")
        full_report, full = timed(lambda: build(warehouse, model, full_refresh=True))
        say(f"baseline, full build (--full-refresh, {len(full_report.steps)} tables): {full:.2f} s")
        (minute, added), _ = timed(lambda: append_minute(warehouse))
        say(f"appended minute {minute:%Y-%m-%d %H:%M}: {added:,} spans")
        report, seconds = timed(lambda: build_tables(warehouse, model, REFRESH))
        steps = ", ".join(f"{s.table} {s.seconds:.2f} s ({s.mode} from {s.window_start:%H:%M}, {s.rows_written:,} rows)"
                          for s in report.steps)
        say(f"refresh in process: {seconds:.2f} s — {steps}")
        landed = warehouse.query(f"SELECT SUM(request_count), COUNT(DISTINCT minute), MIN(minute) FROM {TABLE}"
                                 f" WHERE minute >= TIMESTAMP '{minute - timedelta(minutes=89)}'")[0]
        new = int(warehouse.query(f"SELECT SUM(request_count) FROM {TABLE} WHERE minute = TIMESTAMP '{minute}'")[0][0])
        kept = warehouse.query(f"SELECT COUNT(DISTINCT minute), MIN(minute), MAX(minute) FROM {TABLE}")[0]
        say(f"  the new minute counts {new:,} spans (appended {added:,}); the table keeps {kept[0]} minutes,"
            f" {kept[1]:%H:%M}-{kept[2]:%H:%M} ({landed[0]:,} requests)")
        rollups = validate_rollups(model, warehouse, tables=[TABLE])
        result = rollups.tables[0]
        say(f"  validate rollups: {result.groups_compared} service-minutes compared, {len(result.mismatches)} mismatches")
        (minute, added), _ = timed(lambda: append_minute(warehouse))
    cli, cli_seconds = timed(lambda: subprocess.run(
        [sys.executable, "-m", "lookwright.cli", "build", "--warehouse", f"duckdb:{work}", "--table", REFRESH[0],
         "--table", TABLE, "--skip-checks", "--model", str(ROOT / "semantic")], capture_output=True, text=True,
        check=False))
    if cli.returncode != 0:
        say(cli.stderr)
        return 1
    say(f"`lookwright build --table {REFRESH[0]} --table {TABLE} --skip-checks` after another minute"
        f" ({added:,} spans): {cli_seconds:.2f} s wall")
    say(f"ratio full build / refresh: {full / seconds:.0f}x in process, {full / cli_seconds:.0f}x with the CLI")
    ok = not result.mismatches and new == added and kept[0] == 90
    shutil.rmtree(args.dir / "staging", ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
