"""Issue 11 benchmark: what a one-column model change rebuilds, against a full rebuild in the same run.

    .venv/bin/python bench/rebuild_scope.py [--requests N] [--days D] [--dir bench/out/rebuild_scope]

Synthesizes small sources with `lookwright synth` (reused when `DIR/sources` holds the same
configuration), loads and builds them into `DIR/base.duckdb`, then for each model change copies that
to `DIR/work.duckdb` and runs one `build` with the changed model, counting the tables rebuilt, the
statements sent and the seconds. The baseline, measured in the same run on the same copy, is what
every column change did before tables were rebuilt by their dependency graph: a full rebuild of
every table (`build(full_refresh=True)` with the changed model). Also: an incremental build with
nothing new and one with nothing new on the changed model's second run (the change applied once).
"""

from __future__ import annotations

import argparse
import re
import shutil
import tempfile
import time
from pathlib import Path

from lookwright.demo.pipeline import DemoPaths, ensure_sources, load_all, source_files
from lookwright.demo.synth import SynthConfig
from lookwright.model.compile import load_model
from lookwright.model.ir import SemanticModel
from lookwright.warehouse.build import BuildReport, build
from lookwright.warehouse.duckdb import DuckDBWarehouse

ROOT = Path(__file__).resolve().parents[1]

# (what, file, pattern, replacement): one column each
CHANGES = (
    ("a metric added to the daily performance rollup", "performance.yml",
     r"^(\s+)- \{name: duration_max_ms, agg: max, sql: duration_max_ms\}",
     (r"\1- {name: duration_max_ms, agg: max, sql: duration_max_ms}\n\1- {name: duration_top_ms, agg: max,"
     r" sql: duration_max_ms}")),
    ("a column of the request fact retyped (INT64 -> FLOAT64)", "performance.yml",
     r"(- \{name: response_size_bytes, type: )INT64", r"\1FLOAT64"),
)


def say(message: str) -> None:
    print(message, flush=True)


def changed_model(folder: Path, name: str, pattern: str, replacement: str) -> SemanticModel:
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(ROOT / "semantic", folder)
    path = folder / name
    text, count = re.subn(pattern, replacement, path.read_text(), count=1, flags=re.MULTILINE)
    assert count == 1, (name, pattern)
    path.write_text(text)
    return load_model(folder)


def measured(base: Path, work: Path, model: SemanticModel, *, full_refresh: bool = False
             ) -> tuple[BuildReport, int, float]:
    shutil.copyfile(base, work)
    with DuckDBWarehouse(work) as warehouse:
        started = time.perf_counter()
        report = build(warehouse, model, full_refresh=full_refresh)
        return report, len(warehouse.sent), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--dir", type=Path, default=ROOT / "bench" / "out" / "rebuild_scope")
    args = parser.parse_args()
    paths = DemoPaths(args.dir)
    args.dir.mkdir(parents=True, exist_ok=True)
    ensure_sources(paths, SynthConfig(days=args.days, requests=args.requests), lambda name: None)
    base, work = args.dir / "base.duckdb", args.dir / "work.duckdb"
    model = load_model(ROOT / "semantic")
    base.unlink(missing_ok=True)
    with DuckDBWarehouse(base) as warehouse:
        load_all(warehouse, source_files(paths), lambda name: None)
        build(warehouse, model)
    report, statements, seconds = measured(base, work, model)
    say(f"{len(model.tables)} tables; an incremental build with nothing new: {statements} statements, {seconds:.2f} s,"
        f" {len(report.rebuilt)} tables rebuilt")
    with tempfile.TemporaryDirectory() as scratch:
        for what, name, pattern, replacement in CHANGES:
            edited = changed_model(Path(scratch) / "semantic", name, pattern, replacement)
            full, full_statements, full_seconds = measured(base, work, edited, full_refresh=True)
            scoped, scoped_statements, scoped_seconds = measured(base, work, edited)
            say(f"{what}:")
            say(f"  before (every table rebuilt): {len(full.rebuilt)} tables, {full_statements} statements,"
                f" {full_seconds:.2f} s")
            say(f"  after: {len(scoped.rebuilt)} tables rebuilt ({', '.join(scoped.rebuilt)}), {scoped_statements}"
                f" statements, {scoped_seconds:.2f} s = {scoped_seconds / full_seconds:.1%} of the time,"
                f" {scoped_statements / full_statements:.1%} of the statements")


if __name__ == "__main__":
    main()
