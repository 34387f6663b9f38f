"""Rollup equivalence on data: every rollup table recomputed from its root raw table and compared.

Each rollup column is resolved to what it means on the ROOT raw rows (a rollup of a rollup goes
back through every level, composing the period truncations), the same grouping is computed from
those rows, and the two results are joined on the period + group_by keys:

- additive (count, count_if, sum, min, max and sums/maxes/mins re-aggregated from them): exact
  (integers equal, floats within a relative 1e-9);
- ratio and per_second: recomputed from the raw parts, relative 1e-9;
- percentile: against the EXACT nearest-rank percentile of the raw rows (DuckDB `quantile_disc`,
  the value of rank ceil(p·n), which is what the sketch's "first bucket whose cumulative count
  reaches p·n" reads), within the relative tolerance, on groups with at least `min_group` rows;
  values below the sketch floor (0.001, see `Dialect.sketch_bucket`) compare as the floor;
- sketch: the sketch's total count against the raw row count, exactly.

A column with no meaning on the raw rows (any_value; a re-aggregation such as `max` of a sum,
which the model validator already rejects as LW505) is skipped, with the reason in the report.

Rollup rows whose period is older than the oldest raw period (raw retention is shorter than
rollup retention) are not compared; they are counted in `groups_outside_raw`. A rollup keeping only
its newest periods (`keep_periods`) is compared from its oldest kept period on.

JSON (`render_json`, version 1):
{"version": 1, "tables": [{"table", "groups_compared", "groups_outside_raw",
  "metrics": [{"metric", "kind", "compared", "mismatches"[, "reason" when kind is "skipped"]}],
  "mismatches": [{"keys": {column: value}, "metric", "rollup", "raw"}]}]}
A group present on one side only is a mismatch of metric "group" with rollup "missing" or
"present" and raw the number of raw rows in the group. Dates and timestamps are ISO strings.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from lookwright.errors import CheckFailed, InputError, Issue, Location, WarehouseError
from lookwright.model.ir import SemanticModel, TableIR
from lookwright.model.schema import RollupMetric
from lookwright.sqlgen.dialects import DIALECTS, Dialect
from lookwright.sqlgen.render import read_all
from lookwright.warehouse.base import Warehouse

DEFAULT_TOLERANCE = 0.01
DEFAULT_MIN_GROUP = 100
FLOAT_RELATIVE = 1e-9
SKETCH_FLOOR = 0.001  # Dialect.sketch_bucket clamps smaller values to this


@dataclass(frozen=True)
class Aggregate:
    """An aggregate over root rows: count, count_if, sum, min, max (expression over root columns)."""

    func: str
    expression: str


@dataclass(frozen=True)
class Ratio:
    numerator: Meaning
    denominator: Meaning
    multiplier: float | None


@dataclass(frozen=True)
class PerSecond:
    of: Meaning
    seconds: int


@dataclass(frozen=True)
class Percentile:
    expression: str
    fraction: float


@dataclass(frozen=True)
class Sketch:
    expression: str


Meaning = Aggregate | Ratio | PerSecond | Percentile | Sketch


class Unsupported(InputError):
    """A rollup column with no meaning on the raw rows; the message is the reason."""


def kind_of(meaning: Meaning) -> str:
    if isinstance(meaning, Aggregate):
        return "additive"
    if isinstance(meaning, Ratio):
        return "ratio"
    if isinstance(meaning, PerSecond):
        return "per_second"
    if isinstance(meaning, Percentile):
        return "percentile"
    return "sketch"


def _fraction(percentile: float) -> float:
    """95 -> 0.95 and 99.9 -> 0.999 exactly as the rollup SQL writes it."""
    return float(f"{percentile / 100:.10g}")


def _metric(table: TableIR, name: str) -> RollupMetric | None:
    assert table.rollup is not None
    return next((m for m in table.rollup.metrics if m.name == name), None)


def resolve(model: SemanticModel, table: TableIR, name: str, dialect: Dialect) -> Meaning:
    """What rollup column `name` of `table` means on the root raw rows; raises Unsupported."""
    rollup = table.rollup
    assert rollup is not None
    metric = _metric(table, name)
    if metric is None:
        raise Unsupported(f"{name} is not a metric of {table.name}")
    if metric.agg == "ratio":
        return Ratio(resolve(model, table, str(metric.numerator), dialect),
                     resolve(model, table, str(metric.denominator), dialect), metric.multiplier)
    if metric.agg == "per_second":
        return PerSecond(resolve(model, table, str(metric.of), dialect), dialect.seconds(rollup.period.grain))
    if metric.agg == "percentile":
        sketch = resolve(model, table, str(metric.sketch), dialect)
        if not isinstance(sketch, Sketch):
            raise Unsupported(f"{name} reads {metric.sketch}, which is not a sketch")
        return Percentile(sketch.expression, _fraction(metric.percentile or 50))
    if metric.agg == "any_value":
        raise Unsupported("any_value is not determined by the raw rows")
    source = model.tables[rollup.source]
    if source.rollup is None:
        return _from_root(metric)
    return _compose(model, source, metric, dialect)


def _from_root(metric: RollupMetric) -> Meaning:
    if metric.agg == "count":
        return Aggregate("count", "*")
    if metric.agg in ("count_if", "sum", "min", "max"):
        return Aggregate(metric.agg, str(metric.sql))
    if metric.agg == "sketch":
        return Sketch(str(metric.sql))
    raise Unsupported(f"{metric.agg} needs a rollup source")


def _compose(model: SemanticModel, source: TableIR, metric: RollupMetric, dialect: Dialect) -> Meaning:
    """`metric` re-aggregates a column of the rollup `source`: valid only where that is exact."""
    below = resolve(model, source, str(metric.sql), dialect) if _metric(source, str(metric.sql)) else None
    if metric.agg == "merge_sketch" and isinstance(below, Sketch):
        return below
    if isinstance(below, Aggregate):
        if metric.agg == "sum" and below.func in ("count", "count_if", "sum"):
            return below
        if metric.agg == below.func and metric.agg in ("min", "max"):
            return below
    what = f"{metric.sql}" if below is None else f"{kind_of(below)} {metric.sql}"
    raise Unsupported(f"{metric.agg} of {what} has no meaning on the raw rows")


def root_of(model: SemanticModel, table: TableIR) -> TableIR:
    while table.rollup is not None:
        table = model.tables[table.rollup.source]
    return table


def key_expression(model: SemanticModel, table: TableIR, column: str, dialect: Dialect) -> str:
    """A key column of `table` as an expression over its root table's columns."""
    rollup = table.rollup
    if rollup is None:
        return column
    source = model.tables[rollup.source]
    if column == rollup.period.column:
        return dialect.trunc(key_expression(model, source, rollup.period.source, dialect), rollup.period.grain)
    if column in rollup.group_by:
        return key_expression(model, source, column, dialect)
    raise Unsupported(f"{table.name}.{column} is not a key of the rollup")


@dataclass(frozen=True)
class Mismatch(Issue):
    """A rollup group whose metric differs from the raw rows (metric "group": a group on one side only):
    an `Issue` (code `rollups`) at the rollup table's YAML line, with the group's keys and both values."""

    keys: tuple[tuple[str, Any], ...] = ()
    metric: str = ""
    rollup: Any = None
    raw: Any = None


def mismatch(table: TableIR, keys: tuple[tuple[str, Any], ...], metric: str, rollup: Any, raw: Any) -> Mismatch:
    subject = f"{table.name} " + ", ".join(f"{name}={value}" for name, value in keys)
    return Mismatch(Location(table.origin.file, table.origin.line), "rollups", f"{metric}: rollup {rollup}, raw {raw}",
                    subject=subject, keys=keys, metric=metric, rollup=rollup, raw=raw)


@dataclass(frozen=True)
class MetricResult:
    metric: str
    kind: str
    compared: int
    mismatches: int
    reason: str = ""


@dataclass(frozen=True)
class TableResult:
    table: str
    root: str
    groups_compared: int
    groups_outside_raw: int
    metrics: tuple[MetricResult, ...]
    mismatches: tuple[Mismatch, ...]


@dataclass(frozen=True)
class RollupReport:
    tables: tuple[TableResult, ...]
    tolerance: float
    min_group: int

    @property
    def mismatch_count(self) -> int:
        return sum(len(t.mismatches) for t in self.tables)


class _RawColumns:
    """Collects the aggregates the raw query computes, one alias per distinct expression."""

    def __init__(self, dialect: Dialect) -> None:
        self.aliases: dict[str, str] = {}
        self.dialect = dialect

    def alias(self, sql: str) -> str:
        return self.aliases.setdefault(sql, f"__a{len(self.aliases)}")

    def expression(self, meaning: Meaning) -> str:
        if isinstance(meaning, Aggregate):
            return self.alias(_aggregate_sql(meaning))
        if isinstance(meaning, Sketch):
            return self.alias("COUNT(*)")
        if isinstance(meaning, Percentile):
            return self.alias(_nearest_rank(meaning.expression, meaning.fraction, self.dialect))
        if isinstance(meaning, PerSecond):
            return f"{self.dialect.float_cast(self.expression(meaning.of))} / {meaning.seconds}"
        ratio = (f"{self.dialect.float_cast(self.expression(meaning.numerator))}"
                 f" / NULLIF({self.expression(meaning.denominator)}, 0)")
        return ratio if meaning.multiplier in (None, 1) else f"{ratio} * {meaning.multiplier!r}"


def _nearest_rank(expression: str, fraction: float, dialect: Dialect) -> str:
    """The exact nearest-rank percentile: the value of rank ceil(p·n)."""
    if dialect.name == "bigquery":
        rank = f"GREATEST(CAST(CEIL({fraction!r} * COUNT({expression})) AS INT64), 1) - 1"
        return f"ARRAY_AGG({expression} IGNORE NULLS ORDER BY {expression})[SAFE_OFFSET({rank})]"
    return f"quantile_disc({expression}, {fraction!r})"


def _aggregate_sql(aggregate: Aggregate) -> str:
    if aggregate.func == "count":
        return "COUNT(*)"
    if aggregate.func == "count_if":
        return f"SUM(CASE WHEN {aggregate.expression} THEN 1 ELSE 0 END)"
    return f"{aggregate.func.upper()}({aggregate.expression})"


@dataclass(frozen=True)
class _Plan:
    keys: tuple[str, ...]
    metrics: tuple[tuple[str, Meaning], ...]
    skipped: tuple[tuple[str, str], ...]
    sql: str


def comparison_sql(model: SemanticModel, table: TableIR, dialect: Dialect) -> _Plan:
    """One query: raw groups FULL JOIN rollup rows on the keys, both sides' values side by side.

    Output columns: k0.., r_k0.. (rollup's keys), __rows (raw rows), __present (rollup row),
    raw_<i> and rollup_<i> per compared metric.
    """
    rollup = table.rollup
    assert rollup is not None
    root = root_of(model, table)
    keys = (rollup.period.column, *rollup.group_by)
    key_sql = [key_expression(model, table, k, dialect) for k in keys]
    metrics: list[tuple[str, Meaning]] = []
    skipped: list[tuple[str, str]] = []
    for metric in rollup.metrics:
        try:
            metrics.append((metric.name, resolve(model, table, metric.name, dialect)))
        except Unsupported as reason:
            skipped.append((metric.name, str(reason)))
    columns = _RawColumns(dialect)
    columns.alias("COUNT(*)")
    raw_values = [columns.expression(meaning) for _, meaning in metrics]
    rolled_values = [_rollup_value(name, meaning, dialect) for name, meaning in metrics]
    grouped = ",\n    ".join([*(f"{sql} AS k{i}" for i, sql in enumerate(key_sql)),
                              *(f"{sql} AS {alias}" for sql, alias in columns.aliases.items())])
    raw_select = ", ".join([*(f"k{i}" for i in range(len(keys))), "__a0 AS __rows",
                            *(f"{value} AS raw_{i}" for i, value in enumerate(raw_values))])
    rolled_select = ", ".join([*(f"{k} AS r_k{i}" for i, k in enumerate(keys)), "TRUE AS __present",
                               *(f"{value} AS rollup_{i}" for i, value in enumerate(rolled_values))])
    join = " AND ".join(f"raw.k{i} IS NOT DISTINCT FROM rolled.r_k{i}" for i in range(len(keys)))
    order = ", ".join(f"COALESCE(raw.k{i}, rolled.r_k{i}) NULLS FIRST" for i in range(len(keys)))
    positions = ", ".join(str(i + 1) for i in range(len(keys)))
    # a table keeping only its newest periods is compared on those: older raw groups were expired
    kept = "" if rollup.keep_periods is None else f" WHERE k0 >= (SELECT MIN({keys[0]}) FROM {table.name})"
    sql = f"""WITH grouped AS (
  SELECT
    {grouped}
  FROM {read_all(root, root.name, dialect)}
  GROUP BY {positions}
),
raw AS (SELECT {raw_select} FROM grouped{kept}),
rolled AS (
  SELECT {rolled_select} FROM {table.name}
  WHERE ({keys[0]} >= (SELECT MIN(k0) FROM raw)) IS TRUE
)
SELECT raw.*, rolled.*
FROM raw FULL OUTER JOIN rolled ON {join}
ORDER BY {order}"""
    return _Plan(keys, tuple(metrics), tuple(skipped), sql)


def _rollup_value(name: str, meaning: Meaning, dialect: Dialect) -> str:
    if isinstance(meaning, Sketch):
        if dialect.name == "bigquery":
            return f"(SELECT SUM(s.n) FROM UNNEST({name}) AS s)"
        return f"list_sum(list_transform({name}, lambda s: s.n))"
    return name


def _number(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def _close(rollup: Any, raw: Any, relative: float) -> bool:
    numbers = (int, float)
    if not (isinstance(rollup, numbers) and isinstance(raw, numbers)) or isinstance(rollup, bool):
        return bool(rollup == raw)  # min/max of strings, dates, booleans
    if isinstance(rollup, int) and isinstance(raw, int):
        return rollup == raw
    a, b = float(rollup), float(raw)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= relative * max(abs(a), abs(b))


def values_match(kind: str, rollup: Any, raw: Any, tolerance: float) -> bool:
    """Whether a rollup value agrees with the raw value under the rules of its kind."""
    rollup, raw = _number(rollup), _number(raw)
    if rollup is None or raw is None:
        return rollup is None and raw is None
    if kind == "percentile":
        a, b = max(float(rollup), SKETCH_FLOOR), max(float(raw), SKETCH_FLOOR)
        return abs(a - b) <= tolerance * b
    if kind in ("additive", "sketch") and (isinstance(raw, int) and isinstance(rollup, float)):
        return rollup == raw
    return _close(rollup, raw, FLOAT_RELATIVE)


def compare_table(model: SemanticModel, warehouse: Warehouse, table: TableIR,
                  tolerance: float = DEFAULT_TOLERANCE, min_group: int = DEFAULT_MIN_GROUP) -> TableResult:
    """Recompute one rollup table from its root raw table and compare every group."""
    dialect = DIALECTS[warehouse.dialect]
    root = root_of(model, table)
    for name in (table.name, root.name):
        if not warehouse.table_exists(name):
            raise CheckFailed(f"table {name} does not exist on the warehouse: run `lookwright build` first")
    try:
        plan = comparison_sql(model, table, dialect)
    except Unsupported as error:
        raise CheckFailed(f"{table.name}: {error}") from error
    rows = warehouse.query_dicts(plan.sql)
    outside = int(warehouse.query(
        f"SELECT COUNT(*) FROM {table.name}"
        f" WHERE ({plan.keys[0]} >= ({_oldest_period(model, table, dialect)})) IS NOT TRUE")[0][0])
    compared = [0] * len(plan.metrics)
    failed = [0] * len(plan.metrics)
    mismatches: list[Mismatch] = []
    for row in rows:
        present, raw_rows = bool(row["__present"]), int(row["__rows"] or 0)
        keys = tuple((k, row[f"k{i}"] if raw_rows else row[f"r_k{i}"]) for i, k in enumerate(plan.keys))
        if not present or not raw_rows:
            mismatches.append(mismatch(table, keys, "group", "present" if present else "missing", raw_rows))
            continue
        for index, (name, meaning) in enumerate(plan.metrics):
            kind = kind_of(meaning)
            if kind == "percentile" and raw_rows < min_group:
                continue
            compared[index] += 1
            rollup, raw = row[f"rollup_{index}"], row[f"raw_{index}"]
            if not values_match(kind, rollup, raw, tolerance):
                failed[index] += 1
                mismatches.append(mismatch(table, keys, name, _number(rollup), _number(raw)))
    results = {name: MetricResult(name, kind_of(meaning), compared[i], failed[i])
               for i, (name, meaning) in enumerate(plan.metrics)}
    results.update({name: MetricResult(name, "skipped", 0, 0, reason) for name, reason in plan.skipped})
    assert table.rollup is not None
    ordered = tuple(results[m.name] for m in table.rollup.metrics)
    return TableResult(table.name, root.name, len(rows), outside, ordered, tuple(mismatches))


def _oldest_period(model: SemanticModel, table: TableIR, dialect: Dialect) -> str:
    assert table.rollup is not None
    period = key_expression(model, table, table.rollup.period.column, dialect)
    root = root_of(model, table)
    return f"SELECT MIN({period}) FROM {read_all(root, root.name, dialect)}"


def rollup_tables(model: SemanticModel) -> list[TableIR]:
    return [table for table in model.tables.values() if table.rollup is not None]


def validate_rollups(model: SemanticModel, warehouse: Warehouse, tolerance: float = DEFAULT_TOLERANCE,
                     min_group: int = DEFAULT_MIN_GROUP, tables: Sequence[str] = ()) -> RollupReport:
    """Compare every rollup table (or the named ones) with its recomputation from raw rows."""
    if warehouse.dialect not in DIALECTS:
        raise WarehouseError(f"validate rollups runs on DuckDB and BigQuery warehouses, not {warehouse.dialect}")
    selected = rollup_tables(model)
    if tables:
        unknown = sorted(set(tables) - {t.name for t in selected})
        if unknown:
            raise CheckFailed(f"not rollup tables of the model: {', '.join(unknown)}")
        selected = [t for t in selected if t.name in tables]
    results = tuple(compare_table(model, warehouse, t, tolerance, min_group) for t in selected)
    return RollupReport(results, tolerance, min_group)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def report_dict(report: RollupReport) -> dict[str, Any]:
    tables = []
    for table in report.tables:
        metrics = []
        for metric in table.metrics:
            entry: dict[str, Any] = {"metric": metric.metric, "kind": metric.kind,
                                     "compared": metric.compared, "mismatches": metric.mismatches}
            if metric.kind == "skipped":
                entry["reason"] = metric.reason
            metrics.append(entry)
        mismatches = [{"keys": {k: _json_value(v) for k, v in m.keys}, "metric": m.metric,
                       "rollup": _json_value(m.rollup), "raw": _json_value(m.raw)} for m in table.mismatches]
        tables.append({"table": table.table, "groups_compared": table.groups_compared,
                       "groups_outside_raw": table.groups_outside_raw, "metrics": metrics,
                       "mismatches": mismatches})
    return {"version": 1, "tables": tables}


def render_json(report: RollupReport) -> str:
    return json.dumps(report_dict(report), indent=2)


def failure_message(report: RollupReport) -> str | None:
    """Why the check fails (rollup values that differ from the raw rows), or None when it passes."""
    count = report.mismatch_count
    return f"{count} rollup mismatch{'es' if count != 1 else ''} against the raw rows" if count else None
