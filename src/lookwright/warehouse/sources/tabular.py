"""Row-shaped sources (CSV, Parquet, JSON lines) staged as text columns, then typed and checked."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from lookwright.errors import InputError
from lookwright.warehouse.base import Warehouse
from lookwright.warehouse.sources.base import STAGE_TABLE, lines_sql, sql_string
from lookwright.warehouse.sources.base import normalized as normalize_name

ROWS_TABLE = "_lw_rows"
REJECTS_TABLE = "_lw_rejects"
_REJECT_SCAN = "_lw_reject_scans"
_REJECT_ERRORS = "_lw_reject_errors"
Check = tuple[str, str]  # (SQL condition that makes a row bad, SQL expression for the reason)


def _csv_header(path: str) -> list[str]:
    """The names in the first line; read here because sniffing fails on files with bad rows."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        names = next(csv.reader(handle), [])
    if not names:
        raise InputError(f"{path}: empty CSV file, expected a header line")
    return names


def _csv_options(names: list[str]) -> str:
    columns = ", ".join(f"{sql_string(name)}: 'VARCHAR'" for name in names)
    return (
        f"columns = {{{columns}}}, auto_detect = false, header = true,"
        " delim = ',', quote = '\"', escape = '\"'"
    )


def _header(warehouse: Warehouse, reader: str) -> dict[str, str]:
    rows = warehouse.query(f"DESCRIBE SELECT * FROM {reader}")
    return {normalize_name(str(row[0])): str(row[0]) for row in rows}


def _pick(header: dict[str, str], columns: dict[str, list[str]], required: Sequence[str], path: str) -> str:
    """SELECT list mapping each target column to the first alias present in the header."""
    selected = []
    missing = []
    for target, aliases in columns.items():
        found = [header[alias] for alias in aliases if alias in header]
        if not found and target in required:
            missing.append(aliases[0])
        source = '"' + found[0].replace('"', '""') + '"' if found else "NULL"
        selected.append(f"CAST({source} AS VARCHAR) AS {target}")
    if missing:
        raise InputError(f"{path}: missing required column(s): {', '.join(missing)}")
    return ", ".join(selected)


def _content_lines(path: str) -> list[int]:
    """1-based numbers of the non-blank lines after the header line."""
    numbers = [n for n, text in enumerate(Path(path).read_bytes().split(b"\n"), 1) if text.strip()]
    return numbers[1:]


def _stage_csv(warehouse: Warehouse, path: str, columns: dict[str, list[str]], required: Sequence[str]) -> None:
    names = _csv_header(path)
    options = _csv_options(names)
    select = _pick({normalize_name(name): name for name in names}, columns, required, path)
    warehouse.execute(f"""
        CREATE OR REPLACE TEMP TABLE _lw_csv AS SELECT ordinality AS row_number, {select}
        FROM read_csv({sql_string(path)}, {options}, store_rejects = true,
                      rejects_scan = '{_REJECT_SCAN}', rejects_table = '{_REJECT_ERRORS}')
             WITH ORDINALITY
    """)
    warehouse.execute(f"""
        CREATE OR REPLACE TEMP TABLE {REJECTS_TABLE} AS
        SELECT CAST(line AS INTEGER) AS source_line,
               'malformed CSV row: ' || lower(first(error_type ORDER BY column_idx)) AS bad_reason
        FROM {_REJECT_ERRORS} GROUP BY line
    """)
    rejected = {int(row[0]) for row in warehouse.query(f"SELECT source_line FROM {REJECTS_TABLE}")}
    accepted = [n for n in _content_lines(path) if n not in rejected]
    count = warehouse.query("SELECT count(*) FROM _lw_csv")[0][0]
    # Rows spanning several lines (quoted newlines) break the line map; fall back to row + 1.
    line = "list_extract(?::INTEGER[], row_number)" if len(accepted) == count else "row_number + 1"
    params = [accepted] if len(accepted) == count else None
    warehouse.execute(
        f"CREATE OR REPLACE TEMP TABLE {ROWS_TABLE} AS"
        f" SELECT CAST({line} AS INTEGER) AS source_line, {', '.join(columns)} FROM _lw_csv",
        params,
    )
    for table in ("_lw_csv", _REJECT_ERRORS, _REJECT_SCAN):
        warehouse.execute(f"DROP TABLE IF EXISTS {table}")


def _stage_parquet(warehouse: Warehouse, path: str, columns: dict[str, list[str]], required: Sequence[str]) -> None:
    reader = f"read_parquet({sql_string(path)})"
    select = _pick(_header(warehouse, reader), columns, required, path)
    warehouse.execute(
        f"CREATE OR REPLACE TEMP TABLE {ROWS_TABLE} AS"
        f" SELECT CAST(ordinality AS INTEGER) AS source_line, {select} FROM {reader} WITH ORDINALITY"
    )
    warehouse.execute(
        f"CREATE OR REPLACE TEMP TABLE {REJECTS_TABLE}"
        " (source_line INTEGER, bad_reason VARCHAR)"
    )


def stage_table_rows(
    warehouse: Warehouse, path: str, columns: dict[str, list[str]], required: Sequence[str]
) -> None:
    """Stage a CSV or Parquet file (chosen by extension) as text columns named after `columns`.

    `columns` maps each target column to the normalized header names it may appear under.
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        _stage_csv(warehouse, path, columns, required)
    elif suffix == ".parquet":
        _stage_parquet(warehouse, path, columns, required)
    else:
        raise InputError(f"{path}: expected a .csv or .parquet file, not {suffix or 'no extension'}")


def stage_json_rows(warehouse: Warehouse, path: str, structure: str, columns: dict[str, str]) -> None:
    """Stage a JSON-lines file; `columns` maps each target column to an expression over `r`."""
    select = ", ".join(f"CAST({expr} AS VARCHAR) AS {name}" for name, expr in columns.items())
    warehouse.execute(f"""
        CREATE OR REPLACE TEMP TABLE _lw_json AS
        SELECT source_line,
               CASE WHEN NOT json_valid(line) THEN 'invalid JSON'
                    WHEN json_type(line) <> 'OBJECT' THEN 'not a JSON object' END AS bad_reason,
               CASE WHEN json_valid(line) AND json_type(line) = 'OBJECT'
                    THEN from_json(line, '{structure}') END AS r
        FROM ({lines_sql(path)})
    """)
    warehouse.execute(
        f"CREATE OR REPLACE TEMP TABLE {ROWS_TABLE} AS"
        f" SELECT source_line, {select} FROM _lw_json WHERE bad_reason IS NULL"
    )
    warehouse.execute(
        f"CREATE OR REPLACE TEMP TABLE {REJECTS_TABLE} AS"
        " SELECT source_line, bad_reason FROM _lw_json WHERE bad_reason IS NOT NULL"
    )
    warehouse.execute("DROP TABLE _lw_json")


def required_check(column: str) -> Check:
    return (f"coalesce(trim({column}), '') = ''", f"'missing {column}'")


def parsed_check(column: str, parsed: str, kind: str) -> Check:
    """A non-empty value that does not parse: `parsed` is NULL although the text is not."""
    return (
        f"coalesce(trim({column}), '') <> '' AND ({parsed}) IS NULL",
        f"'invalid {kind} in {column}: ' || {column}",
    )


def timestamp_sql(column: str) -> str:
    """ISO 8601 / BigQuery text timestamps (`...Z`, `... UTC`, offsets) as a UTC TIMESTAMP."""
    return f"CAST(TRY_CAST(trim({column}) AS TIMESTAMPTZ) AS TIMESTAMP)"


def integer_sql(column: str) -> str:
    """Whole numbers only: a cast alone would round `1.5` to 2."""
    return f"CASE WHEN regexp_full_match(trim({column}), '[+-]?[0-9]+') THEN TRY_CAST(trim({column}) AS BIGINT) END"


def number_sql(column: str) -> str:
    return f"TRY_CAST(trim({column}) AS DOUBLE)"


def finish_stage(warehouse: Warehouse, typed_columns: str, checks: Sequence[Check]) -> None:
    """Build the stage table from the staged text rows: typed columns plus the first failed check."""
    cases = " ".join(f"WHEN {condition} THEN {reason}" for condition, reason in checks)
    warehouse.execute(f"""
        CREATE OR REPLACE TEMP TABLE {STAGE_TABLE} AS
        SELECT {typed_columns}, source_line, CASE {cases} END AS bad_reason FROM {ROWS_TABLE}
        UNION ALL BY NAME
        SELECT source_line, bad_reason FROM {REJECTS_TABLE}
    """)
    warehouse.execute(f"DROP TABLE {ROWS_TABLE}")
    warehouse.execute(f"DROP TABLE {REJECTS_TABLE}")


def tags_object_sql(tags: str) -> str:
    """`[{key, value}]` label text as a JSON object text, NULL when not such an array."""
    pairs = (
        f"from_json({tags}, '[{{\"key\":\"VARCHAR\",\"value\":\"VARCHAR\"}}]')"
    )
    body = (
        f"array_to_string(list_transform({pairs}, lambda p: to_json(coalesce(p.key, ''))::VARCHAR"
        " || ':' || to_json(p.value)::VARCHAR), ',')"
    )
    return (
        f"CASE WHEN json_valid({tags}) AND json_type({tags}) = 'ARRAY' AND json_array_length({tags}) > 0"
        f" THEN CAST('{{' || {body} || '}}' AS JSON) END"
    )
