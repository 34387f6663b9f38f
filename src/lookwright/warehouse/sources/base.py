"""What every loader shares: load reports, the per-file transaction, and line readers."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lookwright.errors import InputError, WarehouseError
from lookwright.warehouse.base import Warehouse

STAGE_TABLE = "_lw_stage"
# A stage table holds one row per data row of the file: the raw table's columns (without
# source_file/loaded_at), `source_line`, and `bad_reason` (NULL for a good row). A stage returns
# its own data-quality warnings, or None to have the file's top-level fields checked (`known_fields`).
StageFn = Callable[[Warehouse, str], list[str] | None]


@dataclass(frozen=True, order=True)
class BadRow:
    """A row that was not loaded, located to file:line, with the reason."""

    file: str
    line: int
    reason: str


@dataclass(frozen=True)
class LoadReport:
    """The outcome of loading one file."""

    file: str
    table: str
    rows_loaded: int
    bad_rows: list[BadRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # data-quality warnings (e.g. new fields)


@dataclass(frozen=True)
class Source:
    """A source kind: which raw table it fills and how a file of it is staged."""

    kind: str
    table: str
    description: str
    stage: StageFn
    # The top-level field names of the format this loader knows (normalized; `prefix_*` for a
    # family); a file with others is loaded as far as possible and reported with a warning.
    # Empty: not checked.
    known_fields: frozenset[str] = frozenset()

    def knows(self, name: str) -> bool:
        field_name = normalized(name)
        return field_name in self.known_fields or any(
            known.endswith("*") and field_name.startswith(known[:-1]) for known in self.known_fields)


def sql_string(value: str) -> str:
    """A SQL string literal for `value`."""
    return "'" + value.replace("'", "''") + "'"


def lines_sql(path: str) -> str:
    """Non-blank lines of a text file with their 1-based line numbers: (source_line, line)."""
    return f"""
        SELECT source_line, line FROM (
            SELECT unnest(l) AS line, generate_subscripts(l, 1) AS source_line
            FROM (SELECT string_split(content, chr(10)) AS l FROM read_text({sql_string(path)}))
        ) WHERE trim(line) <> ''
    """


def stage_file(warehouse: Warehouse, source: Source, path: str) -> list[str]:
    """Run the source's staging, turning a file that cannot be read into an InputError; its warnings."""
    try:
        found = source.stage(warehouse, path)
        return new_field_warnings(warehouse, source, path) if found is None else found
    except WarehouseError as error:
        raise InputError(f"{path}: cannot load as {source.kind}: {error}") from error


def source_name(path: Path) -> str:
    """The name a file's rows are recorded under (`source_file`): its resolved path; it must exist."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    return path.resolve().as_posix()


def load_file(warehouse: Warehouse, source: Source, path: Path, create_sql: str) -> LoadReport:
    """Load one file in one transaction: replace its earlier rows, insert good rows, report bad ones.

    (BigQuery loads go through `bigquery_load.load_bigquery_file` instead.)
    """
    from lookwright.warehouse.sources import ledger

    name = source_name(path)
    warnings = stage_file(warehouse, source, name)  # a TEMP table: a file that cannot be read creates nothing
    warehouse.execute(create_sql)  # DDL before the transaction: BigQuery forbids it inside
    ledger.ensure_ledger(warehouse)
    loaded_span = ledger.stage_span(warehouse, source.table, STAGE_TABLE, " WHERE bad_reason IS NULL")
    with warehouse.transaction():
        replaced = ledger.previous_range(warehouse, source.table, name)
        bounded, bounds = ledger.replace_predicate(source.table, replaced)  # only the partitions its rows are in
        warehouse.execute(f"DELETE FROM {source.table} WHERE source_file = ?{bounded}", [name, *bounds])
        warehouse.execute(
            f"INSERT INTO {source.table} BY NAME SELECT * EXCLUDE (bad_reason),"
            " ? AS source_file, CAST(now() AS TIMESTAMP) AS loaded_at"
            f" FROM {STAGE_TABLE} WHERE bad_reason IS NULL ORDER BY source_line",
            [name],
        )
        warehouse.execute(*ledger.record_load(warehouse, source.table, name, "CAST(now() AS TIMESTAMP)",
                                              loaded_span, replaced))
        loaded = warehouse.query(f"SELECT count(*) FROM {STAGE_TABLE} WHERE bad_reason IS NULL")
        bad = warehouse.query(
            f"SELECT source_line, bad_reason FROM {STAGE_TABLE} WHERE bad_reason IS NOT NULL"
            " ORDER BY source_line, bad_reason"
        )
        warehouse.execute(f"DROP TABLE {STAGE_TABLE}")
    bad_rows = [BadRow(name, int(line), str(reason)) for line, reason in bad]
    return LoadReport(name, source.table, int(loaded[0][0]), bad_rows, warnings)


def file_fields(warehouse: Warehouse, path: str) -> list[str]:
    """The top-level field names of a file: CSV header, Parquet columns, or JSON-lines object keys."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        with open(path, encoding="utf-8-sig", newline="") as handle:
            return next(csv.reader(handle), [])
    if suffix == ".parquet":
        return [str(row[0]) for row in warehouse.query(f"DESCRIBE SELECT * FROM read_parquet({sql_string(path)})")]
    rows = warehouse.query(
        f"SELECT DISTINCT unnest(json_keys(line)) FROM ({lines_sql(path)})"
        " WHERE json_valid(line) AND json_type(line) = 'OBJECT' ORDER BY 1"
    )
    return [str(row[0]) for row in rows]


def normalized(name: str) -> str:
    """`lineItem/UsageStartDate`, `line_item_usage_start_date`, `service.description` -> snake_case."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip())
    return re.sub(r"[^a-z0-9]+", "_", snake.lower()).strip("_")


def new_field_warnings(warehouse: Warehouse, source: Source, path: str) -> list[str]:
    """A warning naming the fields of the file that the source's format does not have."""
    if not source.known_fields:
        return []
    new = sorted({name for name in file_fields(warehouse, path) if not source.knows(name)})
    if not new:
        return []
    return [(f"{path}: {len(new)} field(s) the {source.kind} loader does not know: {', '.join(new)};"
            " the known fields were loaded and these were ignored (update the loader if they matter)")]
