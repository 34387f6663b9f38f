"""Issue 11: what one incremental build on BigQuery (the API emulator) reads, statement by statement.

synth (small) -> load the first day -> build -> load the second day (late spans and cost of the first
day included) -> incremental build -> incremental build with nothing new. Every statement the adapter
sent during each incremental build is analysed by ZetaSQL (`lookwright.sqlgen.pruning`): the reads of
partitioned tables, and those not bounded below on their partition column by a constant or a parameter
(every partition read). Needs the emulator: `.venv/bin/python tests/bq_emulator.py install`.

    .venv/bin/python bench/window_reads.py [--requests 600 --days 2] [--verbose]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from bq_emulator import emulator_python, running_emulator

from lookwright.demo.pipeline import DemoPaths, source_files
from lookwright.demo.synth import SynthConfig, synthesize
from lookwright.model.compile import load_model
from lookwright.sqlgen.analyzer import AnalysisFailed, BigQueryAnalyzer, model_tables
from lookwright.sqlgen.pruning import partition_access
from lookwright.warehouse.bigquery import BigQueryWarehouse
from lookwright.warehouse.build import build
from lookwright.warehouse.plan import partition_columns, prunes
from lookwright.warehouse.sources import load

PROJECT, DATASET = "lw-bench", "windows"


def _report(name: str, sent: list[tuple[str, list[tuple[str | None, str]]]], analyzer: BigQueryAnalyzer,
            partitions: dict[str, str], verbose: bool) -> None:
    statements = [(sql, params) for sql, params in sent
                  if sql not in ("BEGIN TRANSACTION", "COMMIT TRANSACTION", "ROLLBACK TRANSACTION")]
    reads, unpruned = 0, Counter[str]()
    errors = 0
    for sql, params in statements:
        try:
            resolved = analyzer.analyze(sql, params)
        except AnalysisFailed:
            errors += 1
            continue
        for access in partition_access(resolved, partitions):
            reads += 1
            if not prunes(access):
                unpruned[f"{access.table} by: {' '.join(sql.split())[:110]}"] += 1
    print(f"{name}: {len(statements)} statements, {reads} reads of partitioned tables,"
          f" {sum(unpruned.values())} of every partition, {errors} not analysed")
    if verbose:
        for line, count in sorted(unpruned.items()):
            print(f"    {count} x {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    python = emulator_python()
    assert python is not None, "bqemulator is not installed: .venv/bin/python tests/bq_emulator.py install"
    model = load_model(ROOT / "semantic")
    with tempfile.TemporaryDirectory() as folder, running_emulator(python, Path(folder) / "emulator.log") as emu:
        config = SynthConfig(days=args.days, requests=args.requests, seed=11)
        synthesize(Path(folder) / "sources", config)
        files = source_files(DemoPaths(Path(folder)))
        first_day = config.start.isoformat()
        with BigQueryWarehouse(PROJECT, DATASET, endpoint=emu.endpoint, timeout_s=120, command="bench") as w:
            w.client.create_dataset(f"{PROJECT}.{DATASET}")
            for kind, path in files:
                if first_day in path.name:
                    load(w, kind, path)
            build(w, model)
            for kind, path in files:
                if first_day not in path.name:
                    load(w, kind, path)
            analyzer = BigQueryAnalyzer(model_tables(model), [f"{PROJECT}.{DATASET}"])
            partitions = partition_columns(model)
            for name in ("incremental build, one new day", "incremental build, nothing new"):
                start = len(w.sent)
                build(w, model)
                sent = [(s.sql, [(n, k) for n, k, _ in s.params]) for s in w.sent[start:] if s.kind == "query"]
                _report(name, sent, analyzer, partitions, args.verbose)


if __name__ == "__main__":
    main()
