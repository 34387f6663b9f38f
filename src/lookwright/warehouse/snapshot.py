"""Disaster recovery: a snapshot of every table of the model, and restoring one table from one.

BigQuery: every model table and the build state become table snapshots in the warehouse's dataset,
`<table>__lw_snapshot_<id>`, all `CREATE SNAPSHOT TABLE … CLONE … FOR SYSTEM_TIME AS OF` one instant
(so the set is consistent, whatever a build commits meanwhile) with an `expiration_timestamp`;
BigQuery deletes them when they expire. Restoring is `CREATE OR REPLACE TABLE t CLONE <snapshot>`.
DuckDB: the whole database file is copied with `COPY FROM DATABASE` (one read transaction, and the
file lock keeps every other writer out meanwhile) into `<warehouse>.snapshots/<id>.duckdb`, written
under a temporary name and renamed when complete; expired copies are deleted when the next snapshot
is taken. Restoring replaces the table's definition and rows from the copy in one transaction.

A restored table also gets back what it had seen of the raw tables (the per-table build state), so
the next build recomputes it from the snapshot's watermark on, late loads since then included.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lookwright.errors import InputError, WarehouseError
from lookwright.model.ir import SemanticModel
from lookwright.warehouse.base import TypedNull, Warehouse
from lookwright.warehouse.build import (
    STATE_TABLE,
    TABLE_STATE,
    TABLE_STATE_COLUMNS,
    WATERMARKS,
)

ID_FORMAT = "%Y%m%d_%H%M%S"
ID_PATTERN = re.compile(r"^\d{8}_\d{6}$")
SUFFIX = "__lw_snapshot_"
DEFAULT_EXPIRES_IN_DAYS = 90
INFO_TABLE = "lookwright_snapshot"  # inside a DuckDB snapshot file: its id, time and expiry
ATTACHED = "lw_snapshot"


@dataclass(frozen=True)
class Snapshot:
    """One snapshot: when it was taken (UTC), when it expires, its tables and where it lives."""

    snapshot_id: str
    taken_at: datetime
    expires_at: datetime | None  # None: the warehouse does not say (an emulator)
    tables: tuple[str, ...]
    location: str  # the snapshot file, or the dataset


@dataclass(frozen=True)
class Restored:
    table: str
    snapshot_id: str
    rows_before: int
    rows_after: int


def snapshot_id(at: datetime) -> str:
    return at.strftime(ID_FORMAT)


def _id_time(text: str) -> datetime:
    return datetime.strptime(text, ID_FORMAT)


def snapshot_tables(model: SemanticModel) -> tuple[str, ...]:
    """What a snapshot holds: every table of the model (facts, dimensions, rollups, bridges)."""
    return tuple(sorted(model.tables))


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo is not None else value


def _literal(value: datetime) -> str:
    return f"TIMESTAMP '{_utc(value):%Y-%m-%d %H:%M:%S}+00'"


def bigquery_snapshot_sql(table_id: str, snapshot_table_id: str, at: datetime | None,
                          expires_at: datetime | None, description: str = "") -> str:
    """CREATE SNAPSHOT TABLE of one table as of `at`, expiring at `expires_at` (either omitted: None)."""
    sql = f"CREATE SNAPSHOT TABLE `{snapshot_table_id}` CLONE `{table_id}`"
    if at is not None:
        sql += f" FOR SYSTEM_TIME AS OF {_literal(at)}"
    options = []
    if expires_at is not None:
        options.append(f"expiration_timestamp = {_literal(expires_at)}")
    if description:
        options.append(f"description = '{description}'")
    return sql + (f" OPTIONS ({', '.join(options)})" if options else "")


def bigquery_restore_sql(table_id: str, snapshot_table_id: str, *, emulator: bool = False) -> list[str]:
    """The table replaced by a clone of its snapshot: one atomic statement on BigQuery. The emulator
    ignores OR REPLACE there (409 Already Exists), so against an emulator the table is dropped first."""
    if emulator:
        return [f"DROP TABLE `{table_id}`", f"CREATE TABLE `{table_id}` CLONE `{snapshot_table_id}`"]
    return [f"CREATE OR REPLACE TABLE `{table_id}` CLONE `{snapshot_table_id}`"]


def _check_table(model: SemanticModel, table: str) -> None:
    if table not in model.tables:
        raise InputError(f"unknown table {table!r}: a snapshot holds the model's tables "
                         f"({', '.join(snapshot_tables(model))})")


def _check_id(text: str) -> None:
    if not ID_PATTERN.match(text):
        raise InputError(f"snapshot {text!r} is not a snapshot id (YYYYMMDD_HHMMSS, UTC): "
                         "`lookwright snapshot list` shows them")


def _missing(warehouse: Warehouse, names: Iterable[str]) -> list[str]:
    return [name for name in names if not warehouse.table_exists(name)]


def _ensure_built(warehouse: Warehouse, model: SemanticModel) -> None:
    missing = _missing(warehouse, snapshot_tables(model))
    if missing:
        raise WarehouseError(f"the warehouse has no table {', '.join(missing)}: nothing to snapshot; "
                             "build it first (`lookwright build`)")


def _is_bigquery(warehouse: Warehouse) -> bool:
    return warehouse.dialect == "bigquery"


def take_snapshot(warehouse: Warehouse, model: SemanticModel, *,
                  expires_in_days: int = DEFAULT_EXPIRES_IN_DAYS, now: datetime | None = None) -> Snapshot:
    """Snapshot every model table; nothing is left behind when it fails."""
    if expires_in_days < 1:
        raise InputError(f"--expires-in-days must be at least 1, not {expires_in_days}")
    model = warehouse.target(model)
    _ensure_built(warehouse, model)
    if _is_bigquery(warehouse):
        return _bigquery_snapshot(warehouse, model, expires_in_days)
    taken = _utc(now or datetime.now(UTC)).replace(microsecond=0)
    return _duckdb_snapshot(warehouse, model, taken, taken + timedelta(days=expires_in_days))


def list_snapshots(warehouse: Warehouse, model: SemanticModel) -> list[Snapshot]:
    """Every snapshot there is, oldest first."""
    model = warehouse.target(model)
    return _bigquery_list(warehouse) if _is_bigquery(warehouse) else _duckdb_list(warehouse)


def find_snapshot(warehouse: Warehouse, model: SemanticModel, snapshot: str) -> Snapshot:
    _check_id(snapshot)
    found = {s.snapshot_id: s for s in list_snapshots(warehouse, model)}
    if snapshot not in found:
        known = ", ".join(found) or "none yet"
        raise InputError(f"no snapshot {snapshot} (there are: {known}); `lookwright snapshot list` shows them")
    return found[snapshot]


def restore_table(warehouse: Warehouse, model: SemanticModel, table: str, snapshot: str) -> Restored:
    """Replace one table by its copy in a snapshot; an unknown table or snapshot changes nothing."""
    _check_table(model, table)
    model = warehouse.target(model)
    found = find_snapshot(warehouse, model, snapshot)
    if table not in found.tables:
        raise InputError(f"snapshot {snapshot} has no table {table} (it holds {', '.join(found.tables)})")
    before = warehouse.row_count(table) if warehouse.table_exists(table) else 0
    if _is_bigquery(warehouse):
        _bigquery_restore(warehouse, model, table, snapshot)
    else:
        _duckdb_restore(warehouse, table, found)
    return Restored(table, snapshot, before, warehouse.row_count(table))


def _name(warehouse: Warehouse, table: str) -> str:
    qualify = getattr(warehouse, "qualify", None)
    return f"`{qualify(table)}`" if _is_bigquery(warehouse) and qualify is not None else table


def _seen_by(warehouse: Warehouse, state: str, table_state: str | None, table: str) -> object:
    """What `table` had seen of the raw tables, by the (snapshot's) build state tables."""
    if table_state is not None:
        rows = warehouse.query(f"SELECT raw_loaded_through FROM {table_state} WHERE table_name = ?", [table])
        if rows:
            return rows[0][0]
    rows = warehouse.query(f"SELECT raw_loaded_through FROM {state} WHERE raw_loaded_through IS NOT NULL")
    return rows[0][0] if rows else None


def _record_seen(warehouse: Warehouse, state_ref: str, table: str, seen: object) -> list[tuple[str, list[Any]]]:
    """What the restored table has seen; and its watermark is forgotten (its next step reads it whole once)."""
    value = seen if seen is not None else TypedNull("TIMESTAMP")
    statements: list[tuple[str, list[Any]]] = [
        (f"DELETE FROM {state_ref} WHERE table_name = ?", [table]),
        (f"INSERT INTO {state_ref} (table_name, raw_loaded_through) VALUES (?, ?)", [table, value])]
    if warehouse.table_exists(WATERMARKS):
        marks = f"`{warehouse.qualify(WATERMARKS)}`" if _is_bigquery(warehouse) else WATERMARKS  # type: ignore[attr-defined]
        statements.append((f"DELETE FROM {marks} WHERE table_name = ?", [table]))
    return statements


def _table_state_ddl(warehouse: Warehouse, ref: str) -> str:
    types = {"STRING": "VARCHAR"} if not _is_bigquery(warehouse) else {}
    columns = ", ".join(f"{name} {types.get(kind, kind)}" for name, kind in TABLE_STATE_COLUMNS)
    return f"CREATE TABLE IF NOT EXISTS {ref} ({columns})"


# --- BigQuery ---------------------------------------------------------------------------------

def _dataset(warehouse: Any) -> str:
    return f"{warehouse.project}.{warehouse.dataset}"


def _snapshot_id_of(warehouse: Any, table: str, snapshot: str) -> str:
    return f"{_dataset(warehouse)}.{table}{SUFFIX}{snapshot}"


def _state_tables(warehouse: Warehouse) -> tuple[str, ...]:
    return tuple(name for name in (STATE_TABLE, TABLE_STATE) if warehouse.table_exists(name))


def _bigquery_snapshot(warehouse: Any, model: SemanticModel, expires_in_days: int) -> Snapshot:
    # one instant for every table, read from BigQuery itself (a client clock ahead of it would be
    # "in the future"); an emulator (BigQueryWarehouse.emulator: a client without credentials) takes
    # neither FOR SYSTEM_TIME nor OPTIONS
    emulator = bool(getattr(warehouse, "emulator", False))
    at = _utc(warehouse.query("SELECT CURRENT_TIMESTAMP()")[0][0]).replace(microsecond=0)
    ident = snapshot_id(at)
    expires = at + timedelta(days=expires_in_days)
    tables = (*snapshot_tables(model), *_state_tables(warehouse))
    clash = [t for t in tables if warehouse.table_exists(f"{t}{SUFFIX}{ident}")]
    if clash:
        raise WarehouseError(f"snapshot {ident} exists already ({', '.join(clash)}): take the next one a second later")
    created: list[str] = []
    try:
        for table in tables:
            target = _snapshot_id_of(warehouse, table, ident)
            warehouse.execute(bigquery_snapshot_sql(
                warehouse.qualify(table), target, None if emulator else at, None if emulator else expires,
                "" if emulator else f"lookwright snapshot {ident} of {table}"))
            created.append(target)
    except BaseException:
        for target in created:
            warehouse.execute(f"DROP SNAPSHOT TABLE `{target}`")
        raise
    return Snapshot(ident, at, None if emulator else expires, snapshot_tables(model), _dataset(warehouse))


def _bigquery_list(warehouse: Any) -> list[Snapshot]:
    try:
        items = list(warehouse.client.list_tables(_dataset(warehouse)))
    except Exception as error:  # the client's errors: one message, not a traceback
        raise WarehouseError(f"cannot list the tables of {_dataset(warehouse)}: {error}") from error
    found: dict[str, list[tuple[str, datetime | None]]] = {}
    for item in items:
        table, sep, ident = str(item.table_id).rpartition(SUFFIX)
        if sep and ID_PATTERN.match(ident):
            expires = getattr(item, "expires", None)
            found.setdefault(ident, []).append((table, None if expires is None else _utc(expires)))
    snapshots = []
    for ident, tables in sorted(found.items()):
        model_tables = tuple(sorted(t for t, _ in tables if t not in (STATE_TABLE, TABLE_STATE)))
        expiries = [e for _, e in tables if e is not None]
        snapshots.append(Snapshot(ident, _id_time(ident), min(expiries) if expiries else None, model_tables,
                                  _dataset(warehouse)))
    return snapshots


def _bigquery_restore(warehouse: Any, model: SemanticModel, table: str, snapshot: str) -> None:
    source = _snapshot_id_of(warehouse, table, snapshot)
    for sql in bigquery_restore_sql(warehouse.qualify(table), source,
                                    emulator=bool(getattr(warehouse, "emulator", False))):
        warehouse.execute(sql)
    state = f"`{_snapshot_id_of(warehouse, STATE_TABLE, snapshot)}`"
    table_state = f"`{_snapshot_id_of(warehouse, TABLE_STATE, snapshot)}`"
    if not warehouse.table_exists(f"{STATE_TABLE}{SUFFIX}{snapshot}"):
        return
    has_table_state = warehouse.table_exists(f"{TABLE_STATE}{SUFFIX}{snapshot}")
    seen = _seen_by(warehouse, state, table_state if has_table_state else None, table)
    ref = f"`{warehouse.qualify(TABLE_STATE)}`"
    warehouse.execute(_table_state_ddl(warehouse, ref))
    with warehouse.transaction():
        for sql, params in _record_seen(warehouse, ref, table, seen):
            warehouse.execute(sql, params)


# --- DuckDB -----------------------------------------------------------------------------------

def _folder(warehouse: Any) -> Path:
    path = str(getattr(warehouse, "path", ":memory:"))
    if path == ":memory:":
        raise InputError("an in-memory DuckDB warehouse has no file to snapshot: use duckdb:PATH")
    return Path(path).with_suffix(".snapshots")


def _sql_string(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _duckdb_snapshot(warehouse: Any, model: SemanticModel, taken: datetime, expires: datetime) -> Snapshot:
    folder = _folder(warehouse)
    ident = snapshot_id(taken)
    final = folder / f"{ident}.duckdb"
    if final.exists():
        raise WarehouseError(f"snapshot {final} exists already: take the next one a second later")
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{ident}.duckdb.partial"
    partial.unlink(missing_ok=True)
    current = str(warehouse.query("SELECT current_database()")[0][0])
    warehouse.execute(f"ATTACH {_sql_string(partial)} AS {ATTACHED}")
    try:
        warehouse.execute(f'COPY FROM DATABASE "{current}" TO {ATTACHED}')
        warehouse.execute(f"CREATE TABLE {ATTACHED}.main.{INFO_TABLE} (snapshot_id VARCHAR, taken_at TIMESTAMP,"
                          " expires_at TIMESTAMP, tables VARCHAR)")
        warehouse.execute(f"INSERT INTO {ATTACHED}.main.{INFO_TABLE} VALUES (?, ?, ?, ?)",
                          [ident, taken, expires, ",".join(snapshot_tables(model))])
    except BaseException:
        warehouse.execute(f"DETACH {ATTACHED}")
        partial.unlink(missing_ok=True)
        raise
    warehouse.execute(f"DETACH {ATTACHED}")
    os.replace(partial, final)
    for old in _duckdb_list(warehouse):
        if old.expires_at is not None and old.expires_at <= taken:
            Path(old.location).unlink(missing_ok=True)
    return Snapshot(ident, taken, expires, snapshot_tables(model), str(final))


def _read_info(warehouse: Any, path: Path) -> Snapshot | None:
    warehouse.execute(f"ATTACH {_sql_string(path)} AS {ATTACHED} (READ_ONLY)")
    try:
        rows = warehouse.query(f"SELECT snapshot_id, taken_at, expires_at, tables FROM {ATTACHED}.main.{INFO_TABLE}")
    except WarehouseError:
        return None  # not a lookwright snapshot
    finally:
        warehouse.execute(f"DETACH {ATTACHED}")
    if not rows:
        return None
    ident, taken, expires, tables = rows[0]
    return Snapshot(str(ident), taken, expires, tuple(str(tables).split(",")), str(path))


def _duckdb_list(warehouse: Any) -> list[Snapshot]:
    folder = _folder(warehouse)
    if not folder.is_dir():
        return []
    found = [_read_info(warehouse, path) for path in sorted(folder.glob("*.duckdb"))
             if ID_PATTERN.match(path.stem)]
    return [s for s in found if s is not None]


def _duckdb_restore(warehouse: Any, table: str, snapshot: Snapshot) -> None:
    warehouse.execute(f"ATTACH {_sql_string(Path(snapshot.location))} AS {ATTACHED} (READ_ONLY)")
    try:
        rows = warehouse.query("SELECT sql FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'main'"
                               " AND table_name = ?", [ATTACHED, table])
        if not rows:
            raise InputError(f"snapshot {snapshot.snapshot_id} ({snapshot.location}) has no table {table}")
        names = {str(r[0]) for r in warehouse.query(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = ?", [ATTACHED])}
        table_state = f"{ATTACHED}.main.{TABLE_STATE}" if TABLE_STATE in names else None
        seen = (_seen_by(warehouse, f"{ATTACHED}.main.{STATE_TABLE}", table_state, table)
                if STATE_TABLE in names else None)
        warehouse.execute(_table_state_ddl(warehouse, TABLE_STATE))
        current = str(warehouse.query("SELECT current_database()")[0][0])
        exists = warehouse.query("SELECT COUNT(*) FROM duckdb_tables() WHERE database_name = ?"
                                 " AND schema_name = 'main' AND table_name = ?", [current, table])[0][0]
        with warehouse.transaction():
            if exists:
                warehouse.execute(f"DROP TABLE main.{table}")
            warehouse.execute(str(rows[0][0]))
            warehouse.execute(f"INSERT INTO main.{table} SELECT * FROM {ATTACHED}.main.{table}")
            if STATE_TABLE in names:
                for sql, params in _record_seen(warehouse, TABLE_STATE, table, seen):
                    warehouse.execute(sql, params)
    finally:
        warehouse.execute(f"DETACH {ATTACHED}")
