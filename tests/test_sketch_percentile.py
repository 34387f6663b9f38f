"""sketch_percentile measures: the rollups' stored sketches merged at query time.

Expected values are the exact nearest-rank percentiles of the raw durations, computed here in
Python; the bound is the sketch's documented relative error (0.5%), written out, not imported.
"""

from __future__ import annotations

import math
import random
from datetime import timedelta
from typing import Any

import pytest
from fixtures.build.raw import MODEL, T0, insert, run, span, warehouse

from lookwright.looker.verify import warehouse_query
from lookwright.model.ir import QueryIR
from lookwright.sqlgen.dialects import DIALECTS

RELATIVE_ERROR = 0.005  # "log buckets, 0.5% relative error" (semantic/performance.yml)
SERVICES = {"checkout": 4.0, "payments": 5.5, "search": 2.0}
ROUTES = ("/api/a", "/api/b")
DAYS = 3


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(q * len(ordered)) - 1]


@pytest.fixture(scope="module")
def built() -> tuple[Any, list[tuple[str, str, int, float]]]:
    """A warehouse built from ~1,800 spans over three days; the raw (service, route, day, ms) rows."""
    w = warehouse()
    rng = random.Random(12)
    raw: list[tuple[str, str, int, float]] = []
    rows = []
    for service, mu in SERVICES.items():
        for i in range(600):
            day, route = i % DAYS, ROUTES[i % 2]
            value = round(math.exp(rng.gauss(mu + 0.3 * day, 0.9)), 3)
            start = T0 + timedelta(days=day, minutes=(i * 7) % 600)
            raw.append((service, route, day, value))
            rows.append(span(f"{service}{i}", f"{i:016x}", start, value, service=service, route=route))
    insert(w, "raw_spans", rows)
    run(w)
    return w, raw


def measure_rows(w: Any, explore: str, fields: list[str], filters: dict[str, str] | None = None) -> list[tuple[Any, ...]]:
    query = QueryIR("t", "performance_cost", explore, tuple(fields), filters or {}, "UTC")
    return list(w.query(warehouse_query(MODEL, query)))


@pytest.mark.parametrize("explore", ["fact_performance_metrics_hourly", "fact_performance_metrics_daily",
                                     "fact_performance_service_daily", "fact_performance_cost_joined"])
def test_per_service_percentiles_match_the_raw_rows(built: Any, explore: str) -> None:
    w, raw = built
    fields = ["dim_service.service_name", *(f"{explore}.p{p}_duration_ms" for p in (50, 95, 99))]
    # every day, not the joined explore's always_filter (28 days before now)
    every_day = {"fact_performance_cost_joined.joined_date": "after 2000-01-01"} if explore.endswith("joined") else {}
    got = {row[0]: row[1:] for row in measure_rows(w, explore, fields, every_day)}
    assert sorted(got) == sorted(SERVICES)
    for service in SERVICES:
        values = [ms for s, _, _, ms in raw if s == service]
        for q, value in zip((0.5, 0.95, 0.99), got[service], strict=True):
            exact = nearest_rank(values, q)
            assert abs(value - exact) / exact <= RELATIVE_ERROR + 1e-9, (explore, service, q, value, exact)


def test_all_services_one_day_and_per_route(built: Any) -> None:
    w, raw = built
    day = (T0 + timedelta(days=1)).date().isoformat()
    [(value,)] = measure_rows(w, "fact_performance_metrics_daily", ["fact_performance_metrics_daily.p95_duration_ms"],
                              {"fact_performance_metrics_daily.metric_date": day})
    exact = nearest_rank([ms for _, _, d, ms in raw if d == 1], 0.95)
    assert abs(value - exact) / exact <= RELATIVE_ERROR + 1e-9
    by_route = dict(measure_rows(w, "fact_performance_metrics_hourly",
                                 ["dim_endpoint.route", "fact_performance_metrics_hourly.p99_duration_ms"]))
    assert sorted(by_route) == sorted(ROUTES)
    for route, value in by_route.items():
        exact = nearest_rank([ms for _, r, _, ms in raw if r == route], 0.99)
        assert abs(value - exact) / exact <= RELATIVE_ERROR + 1e-9


def test_not_a_percentile_of_percentiles(built: Any) -> None:
    """The merged p95 over three days differs from the average of the daily p95s (which is wrong)."""
    w, raw = built
    merged = dict(measure_rows(w, "fact_performance_service_daily",
                               ["dim_service.service_name", "fact_performance_service_daily.p95_duration_ms"]))
    for service in SERVICES:
        daily = [nearest_rank([ms for s, _, d, ms in raw if s == service and d == day], 0.95) for day in range(DAYS)]
        exact = nearest_rank([ms for s, _, _, ms in raw if s == service], 0.95)
        assert abs(merged[service] - exact) / exact <= RELATIVE_ERROR + 1e-9
        assert abs(sum(daily) / DAYS - exact) / exact > 2 * RELATIVE_ERROR


def test_measure_is_a_number_measure_over_the_merged_sketch() -> None:
    measure = next(m for m in MODEL.tables["fact_performance_service_daily"].measures if m.name == "p95_duration_ms")
    assert measure.type == "number"
    assert measure.sql == ("`perf-cost-prod.observability.lw_sketch_quantile`"
                           "(ARRAY_CONCAT_AGG(${TABLE}.duration_sketch), 0.95)")


def test_bigquery_expression_and_function_pass_the_zetasql_analyzer() -> None:
    zetasql = pytest.importorskip("zetasql.api")
    from zetasql.api.type_factory import TypeFactory
    from zetasql.types import (
        AnalyzerOptions,
        LanguageOptions,
        TypeKind,
        ZetaSQLBuiltinFunctionOptions,
    )
    from zetasql.types.proto_model import ProductMode

    language = LanguageOptions.maximum_features()
    language.product_mode = ProductMode.PRODUCT_EXTERNAL
    int64 = TypeFactory.create_simple_type(TypeKind.TYPE_INT64)
    double = TypeFactory.create_simple_type(TypeKind.TYPE_DOUBLE)
    sketch = TypeFactory.create_array_type(TypeFactory.create_struct_type([("bucket", int64), ("n", int64)]))
    table = zetasql.TableBuilder("perf-cost-prod.observability.fact_performance_service_daily")
    table.add_column("service_key", TypeFactory.create_simple_type(TypeKind.TYPE_STRING))
    table.add_column("duration_sketch", sketch)
    signature = zetasql.SignatureBuilder().add_argument(sketch).add_argument(double).set_return_type(double).build()
    for argument in (*signature.argument, signature.return_type):
        argument.num_occurrences = 1  # concrete signatures (the builder leaves 0)
    function = zetasql.FunctionBuilder("lw_sketch_quantile").add_signature(signature).build()
    catalog = zetasql.CatalogBuilder("bq")
    catalog.add_table(table.build())
    catalog.add_function(function)
    catalog.with_builtin_functions(ZetaSQLBuiltinFunctionOptions(language_options=language))
    analyzer = zetasql.Analyzer(AnalyzerOptions(language_options=language), catalog.build())
    bigquery = DIALECTS["bigquery"]
    analyzer.analyze_statement(bigquery.quantile_function_ddl("`perf-cost-prod.observability.lw_sketch_quantile`"))
    measure = next(m for m in MODEL.tables["fact_performance_service_daily"].measures if m.name == "p95_duration_ms")
    # the catalog resolves one-part function names; BigQuery resolves `project.dataset.function`
    expression = str(measure.sql).replace("${TABLE}", "t").replace("`perf-cost-prod.observability.lw_sketch_quantile`",
                                                                   "lw_sketch_quantile")
    analyzer.analyze_statement(
        f"SELECT t.service_key, {expression} AS p95 "
        "FROM `perf-cost-prod.observability.fact_performance_service_daily` AS t GROUP BY 1")
    with pytest.raises(Exception, match="not allowed in UNNEST"):  # why the function exists
        analyzer.analyze_statement(
            "SELECT (SELECT SUM(b.n) FROM UNNEST(ARRAY_CONCAT_AGG(t.duration_sketch)) AS b) "
            "FROM `perf-cost-prod.observability.fact_performance_service_daily` AS t")
