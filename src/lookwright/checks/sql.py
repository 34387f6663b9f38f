"""Compile every view's SQL and field expressions on the warehouse without scanning data."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lookwright.errors import Issue, Location, WarehouseError
from lookwright.model.ir import SemanticModel, TableIR
from lookwright.model.loader import parse_file
from lookwright.query.fields import FieldCompiler, UnresolvedReference
from lookwright.warehouse.base import Warehouse


def sql_failure(view: str, field: str | None, file: str, line: int, message: str) -> Issue:
    """A field (or a whole view when `field` is None) the warehouse refused to compile."""
    return Issue(Location(file, line), "sql", message, subject=f"{view}.{field}" if field else f"view {view}")


def failure_target(failure: Issue) -> tuple[str, str | None]:
    """(view, field or None) of a `sql_failure`; `field` lists the fields of a failing combination."""
    if failure.subject.startswith("view "):
        return failure.subject.removeprefix("view "), None
    view, field = failure.subject.split(".", 1)
    return view, field


def render_json(report: SqlReport) -> str:
    """`validate sql --format json` (schema version 1)."""
    return json.dumps(report_dict(report), indent=2)


def report_dict(report: SqlReport) -> dict[str, object]:
    failures = [{"view": view, "field": field, "file": f.file, "line": f.line, "message": f.message}
                for f in report.failures for view, field in [failure_target(f)]]
    return {"version": 1, "views": report.views, "fields": report.fields, "failures": failures}


def failure_message(report: SqlReport) -> str | None:
    """Why the check fails (fields the warehouse refused), or None when it passes."""
    count = len(report.failures)
    return f"{count} field{'s' if count != 1 else ''} failed to compile" if count else None


@dataclass(frozen=True)
class SqlReport:
    views: int
    fields: int
    failures: tuple[Issue, ...]


@dataclass(frozen=True)
class _Field:
    name: str
    kind: str  # dimension | measure
    sql: str


def _fields(resolver: FieldCompiler) -> tuple[list[_Field], list[Issue]]:
    table = resolver.table
    fields: list[_Field] = []
    broken: list[Issue] = []
    for kind, names in (("dimension", [d.name for d in table.dimensions]),
                        ("measure", [m.name for m in table.measures])):
        for name in names:
            try:
                sql = resolver.dimension(table, name) if kind == "dimension" else resolver.measure(table, name)
            except UnresolvedReference as error:
                broken.append(sql_failure(table.name, name, table.origin.file, table.origin.line,
                                         f"unresolvable reference {error.reference}"))
                continue
            fields.append(_Field(name, kind, sql))
    return fields, broken


def _select(compiler: FieldCompiler, table: TableIR, joined: set[str], fields: list[_Field],
            dialect: str = "duckdb") -> str:
    """One SELECT of the fields that scans nothing; aliases quoted as the dialect quotes names."""
    quote = "`" if dialect == "bigquery" else '"'
    dimensions = [f for f in fields if f.kind == "dimension"]
    measures = [f for f in fields if f.kind == "measure"]
    columns = [f"{f.sql} AS {quote}{f.name}{quote}" for f in (*dimensions, *measures)] or ["1"]
    sources = [f"{compiler.ref(table.name)} AS {quote}{table.name}{quote}"]
    sources += [f"{compiler.ref(name)} AS {quote}{name}{quote}" for name in sorted(joined)]
    sql = f"-- lookwright validate sql: {table.name}\nSELECT {', '.join(columns)}\nFROM {', '.join(sources)}\nWHERE FALSE"
    if dimensions and measures:
        sql += "\nGROUP BY " + ", ".join(str(position) for position in range(1, len(dimensions) + 1))
    return sql + "\nLIMIT 0"


Compile = Callable[[list[_Field]], str | None]


def _bisect(fields: list[_Field], compile_: Compile) -> list[tuple[list[_Field], str]]:
    """The smallest failing groups of fields (single fields unless only a combination fails)."""
    error = compile_(fields)
    if error is None:
        return []
    if len(fields) == 1:
        return [(fields, error)]
    middle = len(fields) // 2
    found = _bisect(fields[:middle], compile_) + _bisect(fields[middle:], compile_)
    return found or [(fields, error)]


def _compile(warehouse: Warehouse, sql: str) -> str | None:
    """None when the warehouse compiles the statement; BigQuery dry-runs it (nothing billed)."""
    dry_run = getattr(warehouse, "dry_run", None)
    try:
        if dry_run is not None:
            dry_run(sql)
        else:
            warehouse.execute(sql)
    except WarehouseError as error:
        return str(error.__cause__ or error)
    return None


Checker = Callable[[str], str | None]


def _check_view(model: SemanticModel, table: TableIR, check: Checker, dialect: str) -> list[Issue]:
    resolver = FieldCompiler(model, table, dialect)
    fields, failures = _fields(resolver)
    view_error = check(_select(resolver, table, set(), [], dialect))
    if view_error is not None:
        return [sql_failure(table.name, None, table.origin.file, table.origin.line, view_error)]

    def compile_(subset: list[_Field]) -> str | None:
        return check(_select(resolver, table, resolver.joined, subset, dialect))

    lines = _field_lines(table)
    for group, message in _bisect(fields, compile_):
        name = ", ".join(f.name for f in group)
        line = lines.get(group[0].name, table.origin.line)
        failures.append(sql_failure(table.name, name, table.origin.file, line, message))
    return failures


def _field_lines(table: TableIR) -> dict[str, int]:
    """Field name -> YAML line of its entry, read from the table's file."""
    path = Path(table.origin.file)
    if not path.is_file():
        return {}
    source = parse_file(path, path.read_text(encoding="utf-8"))
    if source.model is None:
        return {}
    position = next((i for i, t in enumerate(source.model.tables) if t.name == table.name), None)
    if position is None:
        return {}
    lines: dict[str, int] = {}
    spec = source.model.tables[position]
    for section, items in (("dimensions", [d.name for d in spec.dimensions]),
                           ("measures", [m.name for m in spec.measures])):
        for index, name in enumerate(items):
            lines.setdefault(name, source.locate(("tables", position, section, index)).line)
    return lines


@contextmanager
def _connections(connect: Callable[[], Warehouse]) -> Iterator[Callable[[], Warehouse]]:
    """One warehouse connection per worker thread, all closed at the end."""
    local = threading.local()
    opened: list[Warehouse] = []
    lock = threading.Lock()

    def current() -> Warehouse:
        warehouse: Warehouse | None = getattr(local, "warehouse", None)
        if warehouse is None:
            warehouse = connect()
            local.warehouse = warehouse
            with lock:
                opened.append(warehouse)
        return warehouse

    try:
        yield current
    finally:
        for warehouse in opened:
            warehouse.close()


def validate_sql(model: SemanticModel, connect: Callable[[], Warehouse], workers: int = 2) -> SqlReport:
    """Compile every view (in parallel, one connection per worker) and bisect failures to fields."""
    tables = model.views()  # the warehouse-only tables are no views
    with _connections(connect) as current, ThreadPoolExecutor(max_workers=workers) as pool:
        def check(table: TableIR) -> list[Issue]:
            warehouse = current()
            built = warehouse.target(model)
            return _check_view(built, built.tables[table.name], lambda sql: _compile(warehouse, sql),
                               warehouse.dialect)

        results = list(pool.map(check, tables))
    fields = sum(len(t.dimensions) + len(t.measures) for t in tables)
    return SqlReport(len(tables), fields, tuple(f for result in results for f in result))


def validate_sql_offline(model: SemanticModel) -> SqlReport:
    """Compile every view and field for BigQuery and analyse it with ZetaSQL: no warehouse, no account."""
    from lookwright.sqlgen.analyzer import analyzer_for

    analyzer = analyzer_for(model)

    def check(sql: str) -> str | None:
        error = analyzer.check(sql)
        return None if error is None else f"BigQuery (ZetaSQL): {error.format()}"

    tables = model.views()  # the warehouse-only tables are no views
    failures = [f for table in tables for f in _check_view(model, table, check, "bigquery")]
    fields = sum(len(t.dimensions) + len(t.measures) for t in tables)
    return SqlReport(len(tables), fields, tuple(failures))

