"""Benchmark `lookwright generate` on a synthetic model of N views.

Usage: python bench/generate.py N [--runs R]

Each view has 15 dimensions (one a timestamp dimension group) and 5 measures, one YAML file per
view, plus one explore per 10 views. Prints wall times of a cold generate and a no-change re-run
(with their CPU time, user + system of every process, which a busy machine disturbs less) and, as
the in-run baseline, the time PyYAML's C loader alone takes to parse the same YAML.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"


def view_yaml(index: int) -> str:
    lines = [f"  - name: view_{index:05d}", "    kind: fact", f"    description: Synthetic view {index}.",
             "    columns:"]
    lines += [f"      - {{name: col_{d:02d}, type: {'TIMESTAMP' if d == 0 else 'STRING' if d < 10 else 'FLOAT64'}}}"
              for d in range(15)]
    if index:
        lines.append("      - {name: parent_id, type: STRING}")
        lines.append("    foreign_keys:")
        lines.append(f"      - {{column: parent_id, references: view_{(index - 1) // 10 * 10:05d}.col_01}}")
    lines.append("    dimensions:")
    lines.append("      - {name: created, type: time, column: col_00, timeframes: [raw, time, hour, date, week, month]}")
    lines.append("      - {name: col_01, primary_key: true}")
    lines += [f"      - {{name: col_{d:02d}, label: Column {d}, description: Dimension {d} of view {index}.}}"
              for d in range(2, 10)]
    lines += [f"      - {{name: col_{d:02d}, type: number}}" for d in range(10, 15)]
    lines.append("    measures:")
    lines.append("      - {name: row_count, type: count}")
    lines += [f"      - {{name: total_{d:02d}, type: sum, sql: '${{col_{d:02d}}}'}}" for d in range(10, 13)]
    lines.append("      - {name: average_13, type: average, sql: '${col_13}'}")
    return "\n".join(lines) + "\n"


def write_model(directory: Path, views: int) -> int:
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    (directory / "warehouse.yml").write_text(
        "warehouse: {project: bench-project, dataset: bench}\n"
        "datagroups:\n  - {name: daily, max_cache_age: 24 hours}\n"
        "models:\n  - name: bench\n    connection: bq\n    explores: ["
        + ", ".join(f"view_{i:05d}" for i in range(0, views, 10)) + "]\n")
    size = 0
    for index in range(views):
        text = "tables:\n" + view_yaml(index)
        if index % 10 == 0:
            joins = "".join(f"      - {{view: view_{j:05d}, relationship: one_to_many}}\n"
                            for j in range(index + 1, min(index + 10, views)))
            text += f"explores:\n  - name: view_{index:05d}\n" + (f"    joins:\n{joins}" if joins else "")
        (directory / f"view_{index:05d}.yml").write_text(text)
        size += len(text)
    return size


def timed(command: list[str], cpu: list[float]) -> float:
    """Wall time of `command`; appends its CPU time (user + system, workers included) to `cpu`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall


def pyyaml_baseline(directory: Path) -> float:
    start = time.perf_counter()
    for path in sorted(directory.glob("*.yml")):
        yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("views", type=int)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    model = OUT / f"model_{args.views}"
    size = write_model(model, args.views)
    cold: list[float] = []
    warm: list[float] = []
    cold_cpu: list[float] = []
    warm_cpu: list[float] = []
    for run in range(args.runs):
        # a new output folder per run: deleting 4,000 files right before re-creating them measures the
        # file system's delayed discard work (seen here: +2 s of system time), not the generator
        target = OUT / f"cold_{run}"
        shutil.rmtree(target, ignore_errors=True)
        lookwright = [sys.executable, "-m", "lookwright.cli", "generate", "--model", str(model),
                      "--lookml-out", str(target / "lookml"), "--sql-out", str(target / "sql")]
        cold.append(timed(lookwright, cold_cpu))
        warm.append(timed(lookwright, warm_cpu))
    baseline = pyyaml_baseline(model)
    files = sum(1 for _ in (OUT / "cold_0" / "lookml").rglob("*.lkml"))
    print(f"views={args.views} yaml_bytes={size} lookml_files={files}")
    print(f"generate (cold, best of {args.runs}): {min(cold):.3f} s (CPU {min(cold_cpu):.3f} s)")
    print(f"generate (no change, best of {args.runs}): {min(warm):.3f} s (CPU {min(warm_cpu):.3f} s)")
    print(f"baseline: PyYAML CSafeLoader parse only: {baseline:.3f} s "
          f"(generate cold = {min(cold) / baseline:.2f}x of parse-only baseline)")


if __name__ == "__main__":
    main()
