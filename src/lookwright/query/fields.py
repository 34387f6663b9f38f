"""Expand one view's `${TABLE}` and `${field}` references into plain warehouse SQL, the way Looker does."""

from __future__ import annotations

from collections.abc import Callable

from lookwright.errors import InputError
from lookwright.model.ir import MeasureIR, SemanticModel, TableIR, quantile_function
from lookwright.sqlgen.dialects import DIALECTS, Dialect
from lookwright.vocabulary import replace_conditions, replace_references, split_field

AGGREGATES = {
    "sum": "SUM({})", "average": "AVG({})", "min": "MIN({})", "max": "MAX({})",
    "count_distinct": "COUNT(DISTINCT {})", "sum_distinct": "SUM(DISTINCT {})",
    "average_distinct": "AVG(DISTINCT {})", "median": "quantile_cont({}, 0.5)", "list": "LIST({})",
}


class UnresolvedReference(InputError):
    """A `${...}` reference names no field (or a field that references itself); args[0] is the reference."""

    @property
    def reference(self) -> str:
        return str(self.args[0])


class FieldCompiler:
    """Compiles the fields of one base view (and of the views its references reach) into SQL."""

    def __init__(self, model: SemanticModel, table: TableIR, dialect: str = "duckdb",
                 aggregate: Callable[[TableIR, MeasureIR], str | None] | None = None,
                 condition: Callable[[str, str, str], str | None] | None = None) -> None:
        """`aggregate`, when it returns SQL, replaces a measure's plain aggregate (symmetric forms);
        `condition(field, sql, expanded sql)` is the query's filter on `field` applied to the SQL of a
        templated filter, or None when the query does not filter the field (the filter is then TRUE)."""
        self.model, self.table = model, table
        self.dialect: Dialect = DIALECTS[dialect]
        self.aggregate = aggregate
        self.condition = condition
        self.joined: set[str] = set()  # other views a cross-view reference needs in FROM

    def ref(self, name: str) -> str:
        """The warehouse table of a view, as FROM and JOIN name it."""
        table = self.model.tables[name]
        return self.dialect.table(table.table_id, table.name)

    def dimension(self, table: TableIR, name: str, seen: frozenset[str] = frozenset()) -> str:
        """A field's SQL by its LookML name (a measure's aggregate when `name` is a measure)."""
        info = table.fields.get(name)
        base = info.group if info is not None and info.group is not None else name
        found = next((d for d in table.dimensions if d.name == base), None)
        if found is None:
            measure = next((m for m in table.measures if m.name == name), None)
            if measure is None:
                raise UnresolvedReference(f"{table.name}.{name}")
            return self.measure(table, name, seen)
        if found.sql is None:  # duration: compile both ends
            start = self.expand(table, found.sql_start or "NULL", seen | {base})
            end = self.expand(table, found.sql_end or "NULL", seen | {base})
            return f"({start}), ({end})" if name == base else f"({end})"
        return self.expand(table, found.sql, seen | {base})

    def measure(self, table: TableIR, name: str, seen: frozenset[str] = frozenset()) -> str:
        """A measure's aggregate over its expanded SQL."""
        found = next(m for m in table.measures if m.name == name)
        if self.aggregate is not None and (replaced := self.aggregate(table, found)) is not None:
            return replaced
        if found.declared_type == "sketch_percentile":  # merge the rows' sketches, read the quantile
            quote = "`" if self.dialect.name == "bigquery" else '"'
            return self.dialect.sketch_quantile(f"{quote}{table.name}{quote}.{found.sketch}", found.sketch_fraction,
                                                quantile_function(self.model.warehouse))
        inner = self.expand(table, found.sql, seen | {name}) if found.sql else None
        if found.type == "count":
            return f"COUNT({inner})" if inner else "COUNT(*)"
        if found.type == "number":
            return f"({inner})"
        bigquery = self.dialect.name == "bigquery"
        if found.type in ("percentile", "median"):
            percent = (found.percentile or 50) if found.type == "percentile" else 50
            if bigquery:  # as Looker writes them on BigQuery
                return f"APPROX_QUANTILES({inner}, 1000)[OFFSET({round(percent * 10)})]"
            return f"quantile_cont({inner}, {percent / 100:g})"
        if found.type == "list" and found.list_field:
            inner = self.dimension(table, found.list_field, seen | {name})
            if bigquery:
                return f"STRING_AGG(DISTINCT CAST({inner} AS STRING), '|RECORD|')"
        return AGGREGATES[found.type].format(inner)

    def expand(self, table: TableIR, sql: str, seen: frozenset[str] = frozenset()) -> str:
        """`sql` with every reference replaced by the SQL it names, `${TABLE}` by the view's alias, and
        every templated filter `{% condition view.field %} sql {% endcondition %}` by the query's
        filter on view.field applied to that SQL (TRUE when the query does not filter it), as Looker does."""
        def condition(field: str, inner: str) -> str:
            expanded = self.expand(table, inner, seen)
            found = None if self.condition is None else self.condition(field, inner, expanded)
            return "TRUE" if found is None else f"({found})"

        sql = replace_conditions(sql, condition)

        def replace(reference: str) -> str:
            if reference == "TABLE":
                quote = "`" if self.dialect.name == "bigquery" else '"'
                return f"{quote}{table.name}{quote}"
            view, name = split_field(reference)
            target = table if view in (None, table.name) else self.model.tables.get(view or "")
            if target is None:
                raise UnresolvedReference(reference)
            if target is not self.table:
                self.joined.add(target.name)
            if name in seen and target is table:
                raise UnresolvedReference(f"circular reference {reference}")
            if name == "SQL_TABLE_NAME":
                return self.ref(target.name)
            return f"({self.dimension(target, name, seen if target is table else frozenset())})"

        return replace_references(sql, replace)
