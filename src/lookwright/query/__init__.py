"""The one Looker-query -> warehouse SQL compiler, used by `validate sql`, `verify` and dashboards.

`fields.FieldCompiler` expands a view's field references into SQL; `compile.compile_query` builds a
whole query (explore joins, filters, time zone) from a `QuerySpec` into a `CompiledQuery`.
"""
