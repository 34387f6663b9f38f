"""`lookwright snapshot` and `restore` on the BigQuery API emulator, every statement sent checked by ZetaSQL.

The emulator (bqemulator 1.4.0) accepts `CREATE SNAPSHOT TABLE t CLONE s`, `DROP SNAPSHOT TABLE` and
`CREATE OR REPLACE TABLE t CLONE s`, but not `FOR SYSTEM_TIME AS OF` nor `OPTIONS (...)` in CREATE
SNAPSHOT TABLE (a parse error), reports no expiry, and ignores OR REPLACE in CREATE TABLE … CLONE (409
Already Exists): on an endpoint override the adapter sends the short form and drops the table before
the clone; the statements real BigQuery gets are checked by ZetaSQL in test_snapshot.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

pytest.importorskip("google.cloud.bigquery", reason="google-cloud-bigquery is not installed")
pytest.importorskip("zetasql", reason="zetasql is not installed")

from bq_emulator import Emulator, bq_emulator_fixture  # noqa: F401
from fixtures.build.raw import MODEL

from lookwright.errors import InputError
from lookwright.sqlgen.analyzer import BigQueryAnalyzer, model_tables
from lookwright.warehouse.bigquery import BigQueryWarehouse
from lookwright.warehouse.build import STATE_TABLE, TABLE_STATE, TransformRenderer, state_ddl
from lookwright.warehouse.snapshot import SUFFIX, list_snapshots, restore_table, take_snapshot

PROJECT, DATASET = "lw-ci", "snapshots"
SEEN = datetime(2025, 3, 4, 0, 0)
REGIONS = ("INSERT INTO `lw-ci.snapshots.dim_region` (region_key, provider, region_code, geography, country,"
           " is_gdpr, is_hipaa_eligible, region_cost_multiplier) VALUES"
           " ('k1', 'aws', 'eu-west-1', 'Europe', 'IE', TRUE, TRUE, 1.0),"
           " ('k2', 'gcp', 'us-east1', 'North America', 'US', FALSE, TRUE, 1.1)")


@pytest.fixture(scope="module")
def bq(bq_emulator: Emulator) -> Iterator[BigQueryWarehouse]:
    with BigQueryWarehouse(PROJECT, DATASET, endpoint=bq_emulator.endpoint, timeout_s=30) as wh:
        wh.client.create_dataset(f"{PROJECT}.{DATASET}")
        model = wh.target(MODEL)
        renderer = TransformRenderer(model, "bigquery")
        for table in model.tables.values():
            wh.execute(renderer.sql.ddl(table))
        wh.execute(state_ddl(renderer))
        wh.execute(f"INSERT INTO `{PROJECT}.{DATASET}.{STATE_TABLE}` (raw_loaded_through) VALUES (?)", [SEEN])
        wh.execute(REGIONS)
        yield wh


def _regions(bq: BigQueryWarehouse) -> list[tuple[object, ...]]:
    return sorted(bq.query(f"SELECT region_key, region_code FROM `{PROJECT}.{DATASET}.dim_region`"))


def test_snapshot_list_restore_on_the_emulator(bq: BigQueryWarehouse) -> None:
    start = len(bq.sent)
    taken = take_snapshot(bq, MODEL)
    assert taken.expires_at is None and taken.location == f"{PROJECT}.{DATASET}"
    created = [s.sql for s in bq.sent[start:] if s.sql.startswith("CREATE SNAPSHOT TABLE")]
    assert len(created) == len(MODEL.tables) + 1  # every model table and the build state
    assert f"CREATE SNAPSHOT TABLE `{PROJECT}.{DATASET}.dim_region{SUFFIX}{taken.snapshot_id}` CLONE" \
           f" `{PROJECT}.{DATASET}.dim_region`" in created
    assert [(s.snapshot_id, s.tables) for s in list_snapshots(bq, MODEL)] == [
        (taken.snapshot_id, tuple(sorted(MODEL.tables)))]
    bq.execute(f"DELETE FROM `{PROJECT}.{DATASET}.dim_region` WHERE region_key = 'k1'")
    assert _regions(bq) == [("k2", "us-east1")]
    before = _regions(bq)
    with pytest.raises(InputError, match=r"^no snapshot 20200101_000000 \(there are: "):
        restore_table(bq, MODEL, "dim_region", "20200101_000000")
    with pytest.raises(InputError, match=r"^unknown table 'dim_nope'"):
        restore_table(bq, MODEL, "dim_nope", taken.snapshot_id)
    assert _regions(bq) == before and not bq.table_exists(TABLE_STATE)  # nothing changed
    restored = restore_table(bq, MODEL, "dim_region", taken.snapshot_id)
    assert (restored.rows_before, restored.rows_after) == (1, 2)
    assert _regions(bq) == [("k1", "eu-west-1"), ("k2", "us-east1")]
    seen = bq.query(f"SELECT table_name, raw_loaded_through FROM `{PROJECT}.{DATASET}.{TABLE_STATE}`")
    assert [(t, v.replace(tzinfo=None)) for t, v in seen] == [("dim_region", SEEN)]
    restore_table(bq, MODEL, "fact_performance_requests", taken.snapshot_id)  # require_partition_filter
    counts = [s.sql for s in bq.sent[start:] if s.sql.startswith(
        f"SELECT COUNT(*) FROM `{PROJECT}.{DATASET}.fact_performance_requests`")]
    assert counts == []  # its rows before and after from the table's metadata, no job over every partition
    analyzer = BigQueryAnalyzer({**model_tables(bq.target(MODEL)), **{
        f"{t}{SUFFIX}{taken.snapshot_id}": model_tables(bq.target(MODEL))[t]
        for t in (*MODEL.tables, STATE_TABLE)}}, [f"{PROJECT}.{DATASET}"])
    mine = [s for s in bq.sent[start:] if s.kind == "query"]
    assert f"CREATE TABLE `{PROJECT}.{DATASET}.dim_region` CLONE `{PROJECT}.{DATASET}.dim_region{SUFFIX}" \
           f"{taken.snapshot_id}`" in [s.sql for s in mine]
    for statement in mine:
        params = [(name, kind) for name, kind, _ in statement.params]
        assert analyzer.check(statement.sql, params) is None, statement.sql
