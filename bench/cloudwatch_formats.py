"""Issue 13: loading one day of CloudWatch metric stream data in the OpenTelemetry 1.0.0 format vs the JSON format.

    .venv/bin/python bench/cloudwatch_formats.py [--days D] [--repeat N] [--dir bench/out/cloudwatch]

Synthesizes the same data points (synth, seed 7) in both formats, then loads each file N times into a
fresh in-memory DuckDB in the same run, and prints the file sizes, the best load time of each and the
ratio to the JSON format (the baseline), checking that both give the same raw_cloudwatch_metrics rows.
"""

from __future__ import annotations

import argparse
import shutil
import time
from dataclasses import replace
from pathlib import Path

from lookwright.demo.synth import SynthConfig, synthesize
from lookwright.warehouse.duckdb import DuckDBWarehouse
from lookwright.warehouse.sources import load

ROWS = "SELECT * EXCLUDE (source_file, source_line, loaded_at) FROM raw_cloudwatch_metrics ORDER BY ALL"


def _best_load(path: Path, repeat: int) -> tuple[float, int, list[tuple[object, ...]]]:
    best, rows, content = float("inf"), 0, []
    for _ in range(repeat):
        with DuckDBWarehouse(":memory:", threads=2) as w:
            started = time.perf_counter()
            report = load(w, "cloudwatch", path)
            best = min(best, time.perf_counter() - started)
            rows, content = report.rows_loaded, w.query(ROWS)
    return best, rows, content


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path("bench/out/cloudwatch"))
    args = parser.parse_args()
    shutil.rmtree(args.dir, ignore_errors=True)
    config = SynthConfig(days=args.days, requests=2_000 * args.days)
    synthesize(args.dir / "json", config)
    synthesize(args.dir / "otel", replace(config, cloudwatch_format="opentelemetry1.0"))
    results = {}
    for name, suffix in (("json", "json"), ("otel", "binpb")):
        files = sorted((args.dir / name / "cloudwatch").glob(f"*.{suffix}"))
        size = sum(f.stat().st_size for f in files)
        timings = [_best_load(f, args.repeat) for f in files]
        results[name] = (size, sum(t for t, _, _ in timings), sum(r for _, r, _ in timings),
                         [row for _, _, content in timings for row in content])
    (json_size, json_s, json_rows, json_content), (otel_size, otel_s, otel_rows, otel_content) = results.values()
    assert json_rows == otel_rows and json_content == otel_content, "the formats loaded different rows"
    print(f"data points: {json_rows:,} ({args.days} day(s), best of {args.repeat})")
    print(f"JSON lines:          {json_size / 1e6:6.1f} MB  {json_s:6.2f} s  (baseline)")
    print(f"OpenTelemetry 1.0.0: {otel_size / 1e6:6.1f} MB  {otel_s:6.2f} s  {otel_s / json_s:.2f}x the JSON load"
          f" time, {otel_size / json_size:.2f}x its size")


if __name__ == "__main__":
    main()
