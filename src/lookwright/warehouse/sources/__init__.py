"""Source loaders: real export files -> raw_* tables, one transaction per file."""

from __future__ import annotations

from pathlib import Path

from lookwright.errors import InputError
from lookwright.warehouse.base import Warehouse
from lookwright.warehouse.sources import (
    app_logs,
    azure_cost,
    cloudwatch,
    cur,
    gcp_billing,
    openslo,
    otlp,
    query_log,
    rum,
)
from lookwright.warehouse.sources.base import BadRow, LoadReport, Source
from lookwright.warehouse.sources.base import load_file as _load_file
from lookwright.warehouse.sources.ledger import ensure_ledger
from lookwright.warehouse.sources.schema import bigquery_raw_ddl

_MODULES = (otlp, cur, gcp_billing, azure_cost, query_log, cloudwatch, app_logs, rum, openslo)

SOURCES: dict[str, Source] = {module.SOURCE.kind: module.SOURCE for module in _MODULES}

# raw table name -> its CREATE TABLE statement (the column contract the transforms read)
RAW_TABLES: dict[str, str] = {module.TABLE: module.CREATE_SQL for module in _MODULES}


def create_raw_tables(warehouse: Warehouse) -> None:
    """Create every raw table that does not exist yet (on BigQuery in BigQuery types, partitioned by day)."""
    for table in RAW_TABLES:
        warehouse.execute(raw_ddl(warehouse, table))
    ensure_ledger(warehouse)


def raw_ddl(warehouse: Warehouse, table: str) -> str:
    """CREATE TABLE IF NOT EXISTS of one raw table in the warehouse's dialect."""
    if warehouse.dialect != "bigquery":
        return RAW_TABLES[table]
    return bigquery_raw_ddl(table, RAW_TABLES[table], f"`{getattr(warehouse, 'qualify', str)(table)}`")


def load(warehouse: Warehouse, kind: str, path: Path) -> LoadReport:
    """Load one file of a source kind; its earlier rows are replaced, all or nothing."""
    source = SOURCES.get(kind)
    if source is None:
        raise InputError(f"unknown source kind {kind!r}: expected one of {', '.join(SOURCES)}")
    if warehouse.dialect == "bigquery":
        from lookwright.warehouse.sources.bigquery_load import load_bigquery_file

        return load_bigquery_file(warehouse, source, path, raw_ddl(warehouse, source.table))
    return _load_file(warehouse, source, path, raw_ddl(warehouse, source.table))


DATA_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet", ".log", ".yaml", ".yml", ".binpb", ".pb")
NOT_DATA = ("manifest.json", "incidents.json")
GZIP_KINDS = ("cloudwatch",)  # kinds whose loader reads GZIP files (`.gz`): found in their folders too
FOLDER_ALIASES = {"logs": "app-logs"}  # folder names `lookwright synth` uses that are not a kind's name


def _kind_of_folder(name: str) -> str | None:
    kind = name.lower().replace("_", "-")
    kind = FOLDER_ALIASES.get(kind, kind)
    return kind if kind in SOURCES else None


def _synth_manifest(directory: Path) -> list[tuple[str, Path]] | None:
    """(kind, file) of a `lookwright synth` folder, from its manifest.json."""
    import json

    try:
        recorded = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
        files = recorded["files"] if recorded.get("generator") == "lookwright synth" else None
        return None if files is None else [(str(f["kind"]).replace("_", "-"), directory / str(f["path"]))
                                           for f in files]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def recognize(path: Path, only: str | None = None) -> list[tuple[str, Path]]:
    """(kind, file) for every export file under `path` whose kind is known, sorted by file.

    A file's kind is the nearest folder above it named like a source (`otlp/`, `cur/`, `gcp_billing/`
    or `gcp-billing/`, ...), as `lookwright synth` lays them out; `only` forces one kind for every
    data file. A file given directly takes `only` or its folder's kind. A `lookwright synth` folder is
    read from its manifest.json."""
    listed = _synth_manifest(path) if path.is_dir() else None
    if listed is not None:
        return sorted((kind, file) for kind, file in listed if only is None or kind == only)
    candidates = [path] if path.is_file() else sorted(
        p for p in path.rglob("*")
        if p.is_file() and p.suffix.lower() in (*DATA_SUFFIXES, ".gz") and p.name not in NOT_DATA)
    found = []
    for file in candidates:
        kind = only or next((k for part in reversed(file.parent.parts) if (k := _kind_of_folder(part))), None)
        if kind is None and path.is_file():
            raise InputError(f"{file}: cannot tell which export it is from its folder; pass --source "
                             f"({', '.join(sorted(SOURCES))})")
        if kind is not None and (file.suffix.lower() != ".gz" or kind in GZIP_KINDS or path.is_file()):
            found.append((kind, file))
    return found


__all__ = ["RAW_TABLES", "SOURCES", "BadRow", "LoadReport", "Source", "create_raw_tables", "load", "recognize"]
