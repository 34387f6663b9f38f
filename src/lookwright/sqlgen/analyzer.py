"""BigQuery statements checked offline with Google's ZetaSQL analyzer (PyPI `zetasql`, WebAssembly).

The catalog holds every table the pipeline reads or writes — the model's tables, the raw tables,
the build's state and results tables, and the staging twins a rebuild writes into — under its
bare name and its `project.dataset.table` name. ZetaSQL resolves names and types the way
BigQuery's front end does, so it rejects what BigQuery would (string-literal aliases, DELETE
without WHERE, DATE_TRUNC(date, HOUR), unknown functions); it does not know BigQuery's
transaction, partition or cost rules, which `lookwright.sqlgen.pruning` checks on its result.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lookwright.errors import InputError
from lookwright.model.ir import SemanticModel

SKETCH = "ARRAY<STRUCT<bucket INT64, n INT64>>"
STAGING_SUFFIXES = ("__lw_next", "__lw_copy")  # tables a rebuild or re-partition writes before the swap
_POSITION = re.compile(r"\s*\[at (\d+):(\d+)\]\s*$")

Columns = tuple[tuple[str, str], ...]  # (name, BigQuery type)


@dataclass(frozen=True)
class AnalysisError:
    """What ZetaSQL rejected in one statement, with its 1-based line and column when it said."""

    message: str
    line: int | None = None
    column: int | None = None

    def format(self) -> str:
        where = f" [at {self.line}:{self.column}]" if self.line is not None else ""
        return f"{self.message}{where}"


def _zetasql() -> Any:
    try:
        from zetasql import api
    except ImportError as error:  # an optional dependency: `pip install lookwright[bigquery]`
        raise InputError(f"analysing BigQuery SQL needs the zetasql package ({error}):"
                         " pip install 'lookwright[bigquery]'") from error
    return api


def model_tables(model: SemanticModel, extra: Mapping[str, Columns] | None = None) -> dict[str, Columns]:
    """Every table of the pipeline: the model's, the raw tables, state and results, and staging twins."""
    from lookwright.warehouse.build import (
        STATE_COLUMNS,
        SWAP_COLUMNS,
        SWAP_TABLE,
        TABLE_STATE,
        TABLE_STATE_COLUMNS,
        WATERMARK_COLUMNS,
        WATERMARKS,
    )
    from lookwright.warehouse.layout import LAYOUT_COLUMNS, LAYOUT_TABLE
    from lookwright.warehouse.quality import RESULTS_COLUMNS
    from lookwright.warehouse.sources import RAW_TABLES
    from lookwright.warehouse.sources.ledger import LEDGER, LEDGER_COLUMNS
    from lookwright.warehouse.sources.schema import raw_columns, stage_columns

    tables: dict[str, Columns] = {}
    for table in model.tables.values():
        columns = tuple((c.name, SKETCH if c.type == "SKETCH" else c.type) for c in table.columns)
        tables[table.name] = columns
        for suffix in STAGING_SUFFIXES:
            tables[table.name + suffix] = columns
    for name in RAW_TABLES:
        tables[name] = tuple((c.name, c.type) for c in raw_columns(RAW_TABLES[name]))
        tables[f"_lw_stage_{name}"] = stage_columns(RAW_TABLES[name])
    tables["lookwright_build_state"] = STATE_COLUMNS
    tables[TABLE_STATE] = TABLE_STATE_COLUMNS
    tables[LAYOUT_TABLE] = LAYOUT_COLUMNS
    tables[SWAP_TABLE] = SWAP_COLUMNS
    tables[WATERMARKS] = WATERMARK_COLUMNS
    tables[LEDGER] = LEDGER_COLUMNS
    tables["data_quality_results"] = RESULTS_COLUMNS
    tables.update(extra or {})
    return tables


class BigQueryAnalyzer:
    """A ZetaSQL analyzer with BigQuery's language options over a fixed catalog."""

    def __init__(self, tables: Mapping[str, Columns], datasets: Iterable[str] = ()) -> None:
        """`datasets`: `project.dataset` prefixes under which each table is also found."""
        api = _zetasql()
        from zetasql.api.type_factory import TypeFactory
        from zetasql.types import (
            AnalyzerOptions,
            ErrorMessageMode,
            LanguageFeature,
            LanguageOptions,
            ParameterMode,
            ZetaSQLBuiltinFunctionOptions,
        )
        from zetasql.types.proto_model import ProductMode

        language = LanguageOptions.maximum_features()
        language.product_mode = ProductMode.PRODUCT_EXTERNAL
        # BigQuery has CREATE TABLE ... CLONE (restoring a table snapshot); ZetaSQL marks it in development
        language.enabled_language_features.append(LanguageFeature.FEATURE_CREATE_TABLE_CLONE)
        catalog = api.CatalogBuilder("bigquery")
        prefixes = ["", *(f"{d}." for d in sorted(set(datasets)))]
        for name, columns in sorted(tables.items()):
            for prefix in prefixes:
                builder = api.TableBuilder(prefix + name)
                for column, kind in columns:
                    builder.add_column(column, _type(TypeFactory, kind))
                catalog.add_table(builder.build())
        self._add_functions(api, catalog, prefixes)
        catalog.with_builtin_functions(ZetaSQLBuiltinFunctionOptions(language_options=language))
        from zetasql.core.local_service import ZetaSqlLocalService

        # registered once: sending the catalog with every statement costs ~0.5 s a statement
        self._service = ZetaSqlLocalService.get_instance()
        self._catalog_id = self._service.register_catalog(simple_catalog=catalog.build()).registered_id
        self._options = {}
        for mode in (ParameterMode.PARAMETER_NAMED, ParameterMode.PARAMETER_POSITIONAL):
            options = AnalyzerOptions(language_options=language)
            options.allow_undeclared_parameters = True
            options.parameter_mode = mode
            options.error_message_mode = ErrorMessageMode.ERROR_MESSAGE_ONE_LINE
            options.default_timezone = "UTC"
            self._options[mode == ParameterMode.PARAMETER_POSITIONAL] = options

    @staticmethod
    def _add_functions(api: Any, catalog: Any, prefixes: list[str]) -> None:
        """lookwright's own SQL functions (the merged-sketch quantile), under every dataset prefix."""
        from zetasql.api.builders.function_builder import SignatureBuilder
        from zetasql.api.type_factory import TypeFactory
        from zetasql.types import Function, FunctionEnums, TypeKind

        from lookwright.sqlgen.dialects import QUANTILE_FUNCTION

        signature = (SignatureBuilder().add_argument(_type(TypeFactory, SKETCH))
                     .add_argument(TypeKind.TYPE_DOUBLE).set_return_type(TypeKind.TYPE_DOUBLE).build())
        for argument in [*signature.argument, signature.return_type]:
            argument.num_occurrences = 1
        for prefix in prefixes:
            name = prefix + QUANTILE_FUNCTION
            catalog.add_function(Function(name_path=[name], group="UDF", mode=FunctionEnums.Mode.SCALAR,
                                          signature=[signature]))

    def analyze(self, sql: str, parameters: Sequence[tuple[str | None, str]] = ()) -> Any:
        """The resolved statement; raises AnalysisFailed with ZetaSQL's message.

        `parameters`: (name or None for positional, BigQuery type) of the values the statement was
        sent with; each use is analysed as a value of that type (undeclared, ZetaSQL guesses INT64).
        """
        from zetasql.core.exceptions import ZetaSQLError

        positional = _uses_positional_parameters(sql)
        if parameters:
            sql = typed_parameters(sql, parameters)
        try:
            response = self._service.analyze(sql_statement=sql, options=self._options[positional],
                                             registered_catalog_id=self._catalog_id)
            return response.resolved_statement
        except ZetaSQLError as error:
            raise AnalysisFailed(_error(error)) from error

    def check(self, sql: str, parameters: Sequence[tuple[str | None, str]] = ()) -> AnalysisError | None:
        """None when BigQuery's analyzer accepts the statement, else what it said."""
        try:
            self.analyze(sql, parameters)
        except AnalysisFailed as failed:
            return failed.error
        return None


class AnalysisFailed(Exception):
    """ZetaSQL rejected a statement."""

    def __init__(self, error: AnalysisError) -> None:
        super().__init__(error.format())
        self.error = error


def _error(error: Exception) -> AnalysisError:
    message = str(getattr(error, "message", None) or error)
    message = re.sub(r"^\[[A-Z_]+\]\s*", "", message)
    match = _POSITION.search(message)
    if match is None:
        return AnalysisError(message)
    return AnalysisError(message[: match.start()], int(match[1]), int(match[2]))


_LITERALS = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`|--[^\n]*")


def typed_parameters(sql: str, parameters: Sequence[tuple[str | None, str]]) -> str:
    """Every `@name` and `?` (outside literals) as `CAST(... AS type)` of the type it was bound with."""
    named = {name: kind for name, kind in parameters if name}
    positional = iter([kind for name, kind in parameters if not name])

    def parameter(match: re.Match[str]) -> str:
        text = match[0]
        if text == "?":
            kind = next(positional, None)
            return text if kind is None else f"CAST(? AS {kind})"
        if text.startswith("@") and text[1:] in named:
            return f"CAST({text} AS {named[text[1:]]})"
        return text

    pieces = []
    position = 0
    for literal in _LITERALS.finditer(sql):
        pieces.append(re.sub(r"\?|@[A-Za-z_]\w*", parameter, sql[position:literal.start()]))
        pieces.append(literal[0])
        position = literal.end()
    pieces.append(re.sub(r"\?|@[A-Za-z_]\w*", parameter, sql[position:]))
    return "".join(pieces)


def _uses_positional_parameters(sql: str) -> bool:
    """Whether the statement has a `?` outside string literals, comments and quoted names."""
    stripped = re.sub(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`|--[^\n]*|#[^\n]*", "", sql)
    return "?" in stripped


def _type(factory: Any, kind: str) -> Any:
    from zetasql.types import TypeKind

    simple = {
        "STRING": TypeKind.TYPE_STRING, "INT64": TypeKind.TYPE_INT64, "FLOAT64": TypeKind.TYPE_DOUBLE,
        "NUMERIC": TypeKind.TYPE_NUMERIC, "BIGNUMERIC": TypeKind.TYPE_BIGNUMERIC, "BOOL": TypeKind.TYPE_BOOL,
        "DATE": TypeKind.TYPE_DATE, "DATETIME": TypeKind.TYPE_DATETIME, "TIMESTAMP": TypeKind.TYPE_TIMESTAMP,
        "JSON": TypeKind.TYPE_JSON, "BYTES": TypeKind.TYPE_BYTES, "TIME": TypeKind.TYPE_TIME,
    }
    if kind in simple:
        return factory.create_simple_type(simple[kind])
    if kind == SKETCH:
        int64 = factory.create_simple_type(TypeKind.TYPE_INT64)
        return factory.create_array_type(factory.create_struct_type([("bucket", int64), ("n", int64)]))
    raise InputError(f"no ZetaSQL type for column type {kind}")


_ANALYZERS: dict[tuple[int, tuple[str, ...]], tuple[SemanticModel, BigQueryAnalyzer]] = {}


def analyzer_for(model: SemanticModel, datasets: Sequence[str] = ()) -> BigQueryAnalyzer:
    """The analyzer over the model's catalog, with its own dataset (and any others) as prefixes."""
    prefixes = tuple(sorted({f"{model.warehouse.project}.{model.warehouse.dataset}", *datasets}))
    key = (id(model), prefixes)
    if key not in _ANALYZERS:  # the model is kept with its analyzer, so its id is never reused
        _ANALYZERS[key] = (model, BigQueryAnalyzer(model_tables(model), prefixes))
    return _ANALYZERS[key][1]


def split_script(script: str) -> list[str]:
    """The statements of a `;`-separated script, split where BigQuery's parser splits them."""
    api = _zetasql()
    try:
        bounds = api.Analyzer.find_statement_boundaries(script)
    except Exception:  # noqa: BLE001 - an unparsable script is analysed whole and fails there
        return [script]
    parts = [_trim(script[start:end]) for start, end in bounds]
    return [part for part in parts if part and not _only_comments(part)]


def _trim(statement: str) -> str:
    """Without trailing comment lines and the closing `;`."""
    lines = statement.strip().splitlines()
    while lines and lines[-1].strip().startswith("--"):
        lines.pop()
    return "\n".join(lines).strip().rstrip(";").strip()


def _only_comments(sql: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in sql.splitlines())
