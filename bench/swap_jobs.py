"""Issue 11: the jobs a BigQuery rebuild sends, on the emulator: a full refresh and a re-partition.

    .venv/bin/python bench/swap_jobs.py                        # the code of this checkout
    PYTHONPATH=OTHER/src .venv/bin/python bench/swap_jobs.py   # another checkout's code (before/after)

Starts the BigQuery API emulator (tests/bq_emulator.py; `python tests/bq_emulator.py install` once),
loads a few hand-made spans (tests/fixtures/build/raw.py), builds the flagship model once, then counts
what the adapter sent (`BigQueryWarehouse.sent`, by kind) for: a full refresh (every table rebuilt)
and a re-partition of `fact_performance_metrics_hourly` (it and its readers rebuilt). "Commit point"
is the transaction that writes the build state; "after it" is every job the swap sends after its COMMIT,
the window in which a reader may see new tables beside old ones (and, before 2026-12-02's atomic
replacement, a re-partitioned table missing between its DROP TABLE IF EXISTS and its copy job).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from bq_emulator import emulator_python, running_emulator
from fixtures.build.raw import T0, span

from lookwright.model.compile import load_model
from lookwright.warehouse.bigquery import BigQueryWarehouse
from lookwright.warehouse.build import STATE_TABLE, BuildReport, build
from lookwright.warehouse.sources import create_raw_tables

PROJECT, DATASET = "lw-bench", "swap"
HOURLY_DAY = "    partition: {column: hour}\n    cluster_by: [service_key, endpoint_key]"
HOURLY_MONTH = "    partition: {column: hour, granularity: month}\n    cluster_by: [service_key, endpoint_key]"


def measure(w: BigQueryWarehouse, what: str, run: Callable[[], BuildReport]) -> None:
    start = len(w.sent)
    began = time.perf_counter()
    report = run()
    seconds = time.perf_counter() - began
    sent = w.sent[start:]
    kinds = Counter(s.kind for s in sent)
    queries = [s.sql for s in sent]
    state = next(i for i, sql in enumerate(queries) if sql.startswith(f"INSERT INTO `{PROJECT}.{DATASET}.{STATE_TABLE}`"))
    begin = max(i for i in range(state) if queries[i] == "BEGIN TRANSACTION")
    end = queries.index("COMMIT TRANSACTION", state)
    after = sent[end + 1:]
    print(f"{what}: {len(report.rebuilt)} tables rebuilt; {len(sent)} jobs ({dict(sorted(kinds.items()))}); commit point"
          f" {end - begin + 1} statements (BEGIN..COMMIT); after it {len(after)} jobs, of which"
          f" {sum(1 for s in after if s.kind == 'copy')} copy jobs,"
          f" {sum(1 for s in after if s.sql.startswith('CREATE OR REPLACE TABLE'))} CREATE OR REPLACE TABLE,"
          f" {sum(1 for s in after if s.sql.startswith('DROP TABLE IF EXISTS'))} DROP TABLE IF EXISTS"
          f" (the table missing until its copy); {seconds:.1f} s", flush=True)


def main() -> None:
    python = emulator_python()
    if python is None:
        sys.exit("bqemulator is not installed: python tests/bq_emulator.py install")
    with tempfile.TemporaryDirectory() as scratch, \
            running_emulator(python, Path(scratch) / "emulator.log", PROJECT) as emulator, \
            BigQueryWarehouse(PROJECT, DATASET, endpoint=emulator.endpoint, timeout_s=120, command="bench") as w:
        w.client.create_dataset(f"{PROJECT}.{DATASET}")
        create_raw_tables(w)
        rows = [span(f"a{i}", "s", T0 + timedelta(minutes=7 * i), 10.0 + i) for i in range(6)]
        for row in rows:
            row = {k: v for k, v in row.items() if v is not None and k not in ("span_attributes", "resource_attributes")}
            w.execute(f"INSERT INTO raw_spans ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
                      list(row.values()))
        model = load_model(ROOT / "semantic")
        build(w, model)
        measure(w, "full refresh", lambda: build(w, model, full_refresh=True))
        folder = Path(scratch) / "semantic"
        shutil.copytree(ROOT / "semantic", folder)
        path = folder / "performance.yml"
        path.write_text(path.read_text().replace(HOURLY_DAY, HOURLY_MONTH, 1))
        edited = load_model(folder)
        measure(w, "re-partition of fact_performance_metrics_hourly", lambda: build(w, edited))


if __name__ == "__main__":
    main()
