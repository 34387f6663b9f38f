"""Verify a deployed Looker model: explores and fields as generated, numbers equal to the warehouse."""

from __future__ import annotations

import datetime
import decimal
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from looker_sdk.sdk.api40 import models as models40

from lookwright.errors import CheckFailed, InputError, Issue, Location, WarehouseError
from lookwright.looker.client import LookerClient
from lookwright.looker.deploy import declared_queries, looker_query
from lookwright.lookml.project import Explore, Model, load_project
from lookwright.model.ir import QueryIR, SemanticModel
from lookwright.query.compile import QuerySpec, UnsupportedQuery, compile_query
from lookwright.vocabulary import FieldName
from lookwright.warehouse import ConnectOptions, Warehouse, open_warehouse


@dataclass(frozen=True, order=True)
class Mismatch(Issue):
    """One difference between what lookwright generated (or the warehouse says) and Looker: an `Issue`
    (code `verify`) located where the LookML or the YAML declares what differs, with both values."""

    expected: str = ""
    actual: str = ""


def mismatch(location: Location, subject: str, expected: str, actual: str) -> Mismatch:
    return Mismatch(location, "verify", f"expected {expected}, Looker has {actual}", subject=subject,
                    expected=expected, actual=actual)


def _difference(mismatch: Mismatch) -> tuple[str, str, str]:
    return mismatch.subject, mismatch.expected, mismatch.actual


class VerifyFailed(CheckFailed):
    def __init__(self, mismatches: list[Mismatch]) -> None:
        self.mismatches = sorted(mismatches, key=_difference)
        count = len(self.mismatches)
        super().__init__(f"{count} mismatch{'es' if count != 1 else ''} between the generated LookML and Looker")


def looker_type(field: FieldName) -> str:
    """The type Looker reports for a field in explore metadata."""
    if field.kind == "dimension_group":
        prefix = "date" if field.type == "time" else "duration"
        return f"{prefix}_{field.timeframe}"
    return field.type or ("count" if field.kind == "measure" else "string")


def expected_fields(explore: Explore, model: Model) -> dict[str, str]:
    """'alias.field' -> Looker type for every dimension and measure the explore exposes."""
    out: dict[str, str] = {}
    for alias in explore.aliases():
        view = model.views.get(explore.view_for_alias(alias) or "")
        if view is None:
            continue
        for name, field in sorted(view.referencable().items()):
            if field.kind in ("dimension", "dimension_group", "measure"):
                out[f"{alias}.{name}"] = looker_type(field)
    return out


def actual_fields(metadata: models40.LookmlModelExplore) -> dict[str, str]:
    fields = metadata.fields
    if fields is None:
        return {}
    found = [*(fields.dimensions or []), *(fields.measures or [])]
    return {str(f.name): str(f.type) for f in found}


def check_explores(client: LookerClient, lookml_dir: Path, only: str | None = None) -> list[Mismatch]:
    """Every generated explore, view and field must exist in Looker with the same type."""
    project = load_project(lookml_dir)
    configured = {m.name: m for m in client.call("list LookML models", client.sdk.all_lookml_models)}
    mismatches: list[Mismatch] = []
    for model_name, model in sorted(project.models.items()):
        if model_name not in configured:
            mismatches.append(mismatch(Location(model.file, 1), f"model {model_name}", "configured", "missing"))
            continue
        deployed = {e.name for e in configured[model_name].explores or []}
        for name, explore in sorted(model.explores.items()):
            if only is not None and name != only:
                continue
            if name not in deployed:
                mismatches.append(mismatch(Location(explore.file, explore.line), f"explore {model_name}.{name}",
                                           "present", "missing"))
                continue
            metadata = client.call(f"read explore {model_name}.{name}",
                                   lambda m=model_name, n=name: client.sdk.lookml_model_explore(m, n))  # type: ignore[misc]
            mismatches.extend(_compare_fields(Location(explore.file, explore.line), f"{model_name}.{name}",
                                              expected_fields(explore, model), actual_fields(metadata)))
    return mismatches


def _compare_fields(location: Location, where: str, expected: dict[str, str], actual: dict[str, str]) -> list[Mismatch]:
    return [mismatch(location, f"field {where} {name}", kind, actual.get(name, "missing"))
            for name, kind in sorted(expected.items()) if actual.get(name) != kind]


def _normal(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, (int, float, decimal.Decimal)):
        return f"{float(value):.6g}"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return str(value)


def warehouse_rows(warehouse: Warehouse, sql: str, name: str = "") -> list[tuple[str, ...]]:
    """The rows of `sql` (check query `name`) on the warehouse, normalised like Looker's JSON values."""
    try:
        rows = warehouse.query(sql)
    except WarehouseError as error:
        query = f"check query {name}" if name else "check query"
        raise WarehouseError(f"{query} failed in {_where(warehouse)}: {error}") from None
    return sorted(tuple(_normal(v) for v in row) for row in rows)


def _where(warehouse: Warehouse) -> str:
    project, dataset = getattr(warehouse, "project", None), getattr(warehouse, "dataset", None)
    return f"{project}.{dataset}" if project and dataset else str(getattr(warehouse, "path", warehouse.dialect))


def looker_rows(client: LookerClient, query: QueryIR) -> list[tuple[str, ...]]:
    body = looker_query(query, limit="-1")
    text = client.call(f"run {query.name}", lambda: client.sdk.run_inline_query("json", body))
    rows = json.loads(str(text))
    return sorted(tuple(_normal(row.get(name)) for name in query.fields) for row in rows)


def warehouse_query(model: SemanticModel, query: QueryIR, now: datetime.datetime | None = None,
                    dialect: str = "duckdb") -> str:
    """SQL (DuckDB or BigQuery) computing a check query's rows from the warehouse tables, compiled from the model.

    What the query compiler cannot express the way Looker does raises InputError asking for
    hand-written warehouse_sql. `now` is the moment relative date filters count from.
    """
    spec = QuerySpec(query.explore, query.fields, query.filters, query.timezone)
    try:
        return compile_query(model, spec, now, dialect).sql
    except UnsupportedQuery as error:
        raise InputError(f"check query {query.name}: {error.reason}; give it warehouse_sql instead (--queries)") \
            from None


def check_numbers(client: LookerClient, queries: tuple[QueryIR, ...], warehouse: str,
                  model: SemanticModel | None = None, now: datetime.datetime | None = None,
                  options: ConnectOptions | None = None) -> list[Mismatch]:
    """Each check query must return the same rows from Looker and from the warehouse.

    On BigQuery the queries are compiled to BigQuery SQL over the URL's dataset (where the
    pipeline built the tables), as `lookwright build` targets it.
    """
    expected: list[list[tuple[str, ...]]] = []
    with open_warehouse(warehouse, options, must_exist=True) as connection:  # closed before Looker runs them
        built = connection.target(model) if model is not None else None
        for query in queries:
            sql = query.warehouse_sql
            if sql is None:
                if built is None:
                    raise InputError(f"check query {query.name} has no warehouse_sql and no semantic model to compile")
                sql = warehouse_query(built, query, now, connection.dialect)
            expected.append(warehouse_rows(connection, sql, query.name))
    mismatches = []
    for query, rows in zip(queries, expected, strict=True):
        actual = looker_rows(client, query)
        if rows != actual:
            where = Location(query.origin.file, query.origin.line) if query.origin is not None else Location("", 0)
            mismatches.append(mismatch(where, f"query {query.name}", _rows_text(rows), _rows_text(actual)))
    return mismatches


def _rows_text(rows: list[tuple[str, ...]]) -> str:
    return "; ".join(", ".join(row) for row in rows) or "(no rows)"


def parse_warehouse(spec: str) -> str:
    """The URL of a built warehouse: `duckdb:PATH` of an existing file, or `bigquery:PROJECT.DATASET[@ENDPOINT]`."""
    kind, _, location = spec.partition(":")
    if kind == "bigquery" and location:
        return spec
    if kind != "duckdb" or not location:
        raise InputError(f"unsupported warehouse {spec!r}; use duckdb:PATH or bigquery:PROJECT.DATASET")
    if not Path(location).exists():
        raise InputError(f"warehouse file {location} does not exist")
    return spec


def verify(client: LookerClient, lookml_dir: Path, *, explore: str | None = None,
           queries: tuple[QueryIR, ...] = (), warehouse: str | None = None,
           model: SemanticModel | None = None, now: datetime.datetime | None = None,
           options: ConnectOptions | None = None) -> int:
    """Run every check; raise VerifyFailed listing all mismatches; return how many queries were compared.

    `queries` override the semantic model's declared queries. Numbers are compared when a
    warehouse is given; explicit queries without one are an input error. `now` is the moment
    relative date filters are evaluated at on the warehouse side (default: the current time);
    `options`: how to reach BigQuery.
    """
    mismatches = check_explores(client, lookml_dir, explore)
    if queries and warehouse is None:
        raise InputError("check queries need --warehouse duckdb:PATH or bigquery:PROJECT.DATASET")
    chosen = queries or (declared_queries(model) if model is not None else ())
    chosen = tuple(q for q in chosen if explore is None or q.explore == explore)
    if warehouse is not None and chosen:
        mismatches.extend(check_numbers(client, chosen, warehouse, model, now, options))
    if mismatches:
        raise VerifyFailed(mismatches)
    return len(chosen) if warehouse is not None else 0

