"""`lookwright snapshot` / `snapshot list` / `restore`: DuckDB end to end, BigQuery on the emulator and in ZetaSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fixtures.build.raw import (
    LOADED,
    MODEL,
    T0,
    cur,
    insert,
    queries,
    run,
    snapshot,
    span,
    warehouse,
)

from lookwright.cli import main
from lookwright.errors import InputError, WarehouseError
from lookwright.warehouse.build import TABLE_STATE, build_tables
from lookwright.warehouse.duckdb import DuckDBWarehouse
from lookwright.warehouse.snapshot import (
    bigquery_restore_sql,
    bigquery_snapshot_sql,
    list_snapshots,
    restore_table,
    take_snapshot,
)

H = timedelta(hours=1)
NOW = datetime(2026, 12, 1, 18, 40, 5)


def _built(path: Path | str) -> DuckDBWarehouse:
    w = warehouse(path)
    insert(w, "raw_spans", [span(f"s{h}", f"s{h}", T0 + h * H + timedelta(minutes=1), 10 + h) for h in range(6)])
    insert(w, "raw_aws_cur", [cur(T0 + h * H, 1.0, service="checkout", environment="production") for h in range(6)])
    insert(w, "raw_db_query_log", [queries(T0 + h * H, "checkout", "orders", 3) for h in range(6)])
    run(w)
    return w


def _later_data(w: DuckDBWarehouse) -> None:
    insert(w, "raw_spans", [span(f"n{h}", f"n{h}", T0 + (6 + h) * H, 20) for h in range(3)])
    insert(w, "raw_aws_cur", [cur(T0, 2.0, resource="i-2", service="checkout", environment="production",
                                  loaded_at=LOADED + timedelta(days=2))])  # late, for an old hour


def test_duckdb_snapshot_then_restore_one_table_then_build_catches_up(tmp_path: Path) -> None:
    w = _built(tmp_path / "w.duckdb")
    at_snapshot = snapshot(w)
    taken = take_snapshot(w, MODEL, now=NOW)
    assert (taken.snapshot_id, taken.taken_at, taken.expires_at) == ("20261201_184005", NOW, NOW + timedelta(days=90))
    assert taken.location == str(tmp_path / "w.snapshots" / "20261201_184005.duckdb")
    assert taken.tables == tuple(sorted(MODEL.tables))
    copy = DuckDBWarehouse(taken.location)  # a consistent copy of the whole file, raw tables included
    assert snapshot(copy) == at_snapshot
    assert copy.query("SELECT COUNT(*) FROM raw_spans") == [(6,)]
    copy.close()
    _later_data(w)
    run(w)
    after = snapshot(w)
    assert after["fact_cost_hourly"] != at_snapshot["fact_cost_hourly"]
    restored = restore_table(w, MODEL, "fact_cost_hourly", "20261201_184005")
    assert (restored.rows_before, restored.rows_after) == (len(after["fact_cost_hourly"]),
                                                           len(at_snapshot["fact_cost_hourly"]))
    now = snapshot(w)
    assert now["fact_cost_hourly"] == at_snapshot["fact_cost_hourly"]  # only that table went back
    assert {k: v for k, v in now.items() if k != "fact_cost_hourly"} == {
        k: v for k, v in after.items() if k != "fact_cost_hourly"}
    assert w.query(f"SELECT table_name, raw_loaded_through FROM {TABLE_STATE}") == [
        ("fact_cost_hourly", LOADED)]  # what it had seen when the snapshot was taken
    build_tables(w, MODEL, ["fact_cost_hourly"])  # the late line (loaded after the snapshot) comes back too
    assert snapshot(w) == after


def test_restore_keeps_the_tables_definition(tmp_path: Path) -> None:
    w = _built(tmp_path / "w.duckdb")
    take_snapshot(w, MODEL, now=NOW)
    w.execute("DROP TABLE dim_region")
    restore_table(w, MODEL, "dim_region", "20261201_184005")
    sql = w.query("SELECT sql FROM duckdb_tables() WHERE table_name = 'dim_region' AND database_name = 'w'")
    copy = DuckDBWarehouse(tmp_path / "w.snapshots" / "20261201_184005.duckdb")
    assert sql == copy.query("SELECT sql FROM duckdb_tables() WHERE table_name = 'dim_region'")


def test_list_and_expiry(tmp_path: Path) -> None:
    w = _built(tmp_path / "w.duckdb")
    take_snapshot(w, MODEL, now=NOW, expires_in_days=1)
    take_snapshot(w, MODEL, now=NOW + timedelta(hours=1))
    assert [(s.snapshot_id, s.expires_at) for s in list_snapshots(w, MODEL)] == [
        ("20261201_184005", NOW + timedelta(days=1)), ("20261201_194005", NOW + timedelta(days=90, hours=1))]
    take_snapshot(w, MODEL, now=NOW + timedelta(days=1))  # the first has expired: deleted now
    assert [s.snapshot_id for s in list_snapshots(w, MODEL)] == ["20261201_194005", "20261202_184005"]
    assert sorted(p.name for p in (tmp_path / "w.snapshots").iterdir()) == [
        "20261201_194005.duckdb", "20261202_184005.duckdb"]


def test_unknown_table_or_snapshot_changes_nothing(tmp_path: Path) -> None:
    w = _built(tmp_path / "w.duckdb")
    take_snapshot(w, MODEL, now=NOW)
    before = snapshot(w)
    with pytest.raises(InputError, match=r"^unknown table 'fact_nope': a snapshot holds the model's tables \("):
        restore_table(w, MODEL, "fact_nope", "20261201_184005")
    with pytest.raises(InputError, match=r"^no snapshot 20261130_000000 \(there are: 20261201_184005\); "
                                         r"`lookwright snapshot list` shows them$"):
        restore_table(w, MODEL, "fact_cost_hourly", "20261130_000000")
    with pytest.raises(InputError, match=r"^snapshot 'last' is not a snapshot id \(YYYYMMDD_HHMMSS, UTC\)"):
        restore_table(w, MODEL, "fact_cost_hourly", "last")
    assert snapshot(w) == before
    assert not w.table_exists(TABLE_STATE)
    with pytest.raises(WarehouseError, match=r"exists already: take the next one a second later"):
        take_snapshot(w, MODEL, now=NOW)
    empty = warehouse(tmp_path / "empty.duckdb")
    with pytest.raises(WarehouseError, match=r"^the warehouse has no table bridge_service_resource, .*: nothing to"
                                             r" snapshot; build it first \(`lookwright build`\)$"):
        take_snapshot(empty, MODEL, now=NOW)
    assert not (tmp_path / "empty.snapshots").exists()
    with pytest.raises(InputError, match="in-memory DuckDB warehouse has no file to snapshot"):
        take_snapshot(_built(":memory:"), MODEL, now=NOW)


def test_the_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def cli(*args: str) -> tuple[int, str]:
        with pytest.raises(SystemExit) as done:
            main(list(args))
        captured = capsys.readouterr()
        return int(done.value.code or 0), captured.out + captured.err

    _built(tmp_path / "w.duckdb").close()
    url = f"duckdb:{tmp_path / 'w.duckdb'}"
    code, out = cli("snapshot", "list", "--warehouse", url)
    assert (code, out.strip()) == (0, "no snapshots yet: take one with `lookwright snapshot`")
    code, out = cli("snapshot", "--warehouse", url, "--expires-in-days", "7")
    assert code == 0, out
    with DuckDBWarehouse(tmp_path / "w.duckdb") as w:
        (taken,) = list_snapshots(w, MODEL)
    assert out.strip() == (f"snapshot {taken.snapshot_id}: {len(MODEL.tables)} tables in {taken.location},"
                           f" expires {taken.expires_at:%Y-%m-%d %H:%M} UTC")
    assert taken.expires_at == taken.taken_at + timedelta(days=7)
    code, out = cli("snapshot", "list", "--warehouse", url)
    assert code == 0 and taken.snapshot_id in out and f"{taken.taken_at:%Y-%m-%d %H:%M:%S}" in out
    code, out = cli("restore", "--warehouse", url, "--table", "dim_region", "--snapshot", taken.snapshot_id)
    assert code == 0, out
    assert out.startswith(f"restored dim_region from snapshot {taken.snapshot_id}: ")
    code, out = cli("restore", "--warehouse", url, "--table", "dim_nope", "--snapshot", taken.snapshot_id)
    assert code == 2 and out.startswith("error: unknown table 'dim_nope': a snapshot holds") and "Traceback" not in out
    code, out = cli("restore", "--warehouse", url, "--table", "dim_region", "--snapshot", "20200101_000000")
    assert code == 2 and out.startswith("error: no snapshot 20200101_000000 (there are: ")
    code, out = cli("snapshot", "--warehouse", f"duckdb:{tmp_path / 'missing.duckdb'}")
    assert code == 3 and "does not exist" in out and not (tmp_path / "missing.duckdb").exists()
    code, out = cli("restore", "--warehouse", url, "--table", "dim_region")
    assert code == 2 and "Missing option '--snapshot'" in out
    for command in (["snapshot", "--help"], ["snapshot", "list", "--help"], ["restore", "--help"]):
        code, out = cli(*command)
        assert code == 0 and out.startswith("Usage: lookwright ")


# --- BigQuery -------------------------------------------------------------------------------

def test_bigquery_statements_pass_zetasql() -> None:
    pytest.importorskip("zetasql")
    from lookwright.sqlgen.analyzer import BigQueryAnalyzer, model_tables

    columns = model_tables(MODEL)["fact_cost_hourly"]
    home = f"{MODEL.warehouse.project}.{MODEL.warehouse.dataset}"
    snap = f"{home}.fact_cost_hourly__lw_snapshot_20261201_184005"
    tables = {"fact_cost_hourly": columns, "fact_cost_hourly__lw_snapshot_20261201_184005": columns}
    analyzer = BigQueryAnalyzer(tables, [home])  # only what the statements name: a small catalog is fast
    full = bigquery_snapshot_sql(f"{home}.fact_cost_hourly", snap, NOW, NOW + timedelta(days=90),
                                 "lookwright snapshot 20261201_184005 of fact_cost_hourly")
    assert full == (f"CREATE SNAPSHOT TABLE `{snap}` CLONE `{home}.fact_cost_hourly` FOR SYSTEM_TIME AS OF"
                    " TIMESTAMP '2026-12-01 18:40:05+00' OPTIONS (expiration_timestamp ="
                    " TIMESTAMP '2027-03-01 18:40:05+00', description = 'lookwright snapshot 20261201_184005"
                    " of fact_cost_hourly')")
    restore = bigquery_restore_sql(f"{home}.fact_cost_hourly", snap)
    assert restore == [f"CREATE OR REPLACE TABLE `{home}.fact_cost_hourly` CLONE `{snap}`"]
    emulated = bigquery_restore_sql(f"{home}.fact_cost_hourly", snap, emulator=True)
    for sql in (full, bigquery_snapshot_sql(f"{home}.fact_cost_hourly", snap, None, None), *restore, *emulated,
                f"DROP SNAPSHOT TABLE `{snap}`"):
        assert analyzer.check(sql) is None, sql
    (wrong_sql,) = bigquery_restore_sql(f"{home}.fact_cost_hourly", f"{home}.nope__lw_snapshot_1")
    wrong = analyzer.check(wrong_sql)
    assert wrong is not None and "Table not found" in wrong.message
