"""verify against the fake Looker: field types from explore metadata, numbers against DuckDB."""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path

import pytest
from conftest_looker import FIXTURES, Generated, read_tree
from fakes.looker_server import FakeLooker

from lookwright.cli import main
from lookwright.errors import InputError, Location
from lookwright.looker.client import LookerClient, RetryPolicy
from lookwright.looker.deploy import load_queries
from lookwright.looker.verify import Mismatch, VerifyFailed, looker_rows, verify, warehouse_query
from lookwright.model.compile import load_model
from lookwright.model.ir import QueryIR, SemanticModel

pytest_plugins = ["conftest_looker"]
FAST = RetryPolicy(attempts=3, base_delay=0.01, timeout=5)


def differences(mismatches: list[Mismatch]) -> list[tuple[str, str, str]]:
    """(subject, expected, actual) of each mismatch, in the order verify reports them."""
    return [(m.subject, m.expected, m.actual) for m in mismatches]


@pytest.fixture
def deployed(fake_looker: FakeLooker) -> FakeLooker:
    """Production already runs exactly the generated LookML."""
    fake_looker.seed({rel: (FIXTURES / "generated_lookml" / rel).read_text()
                      for rel in ("shop.model.lkml", "views/orders.view.lkml", "views/customers.view.lkml")})
    return fake_looker


@pytest.fixture
def client(looker_ini: Path) -> LookerClient:
    return LookerClient.from_ini(looker_ini, policy=FAST)


def test_matching_model_and_numbers_pass(deployed: FakeLooker, client: LookerClient, warehouse: Path) -> None:
    assert verify(client, FIXTURES / "generated_lookml", queries=load_queries(FIXTURES / "queries.json"),
                  warehouse=f"duckdb:{warehouse}") == 2
    assert [p for m, p, s in deployed.log if p.endswith("/queries/run/json")] == ["/api/4.0/queries/run/json"] * 2


def test_missing_field_and_wrong_type_are_reported(deployed: FakeLooker, client: LookerClient,
                                                   tmp_path: Path) -> None:
    lookml = tmp_path / "generated_lookml"
    shutil.copytree(FIXTURES / "generated_lookml", lookml)
    orders = lookml / "views/orders.view.lkml"
    text = orders.read_text().replace("type: sum", "type: average")
    orders.write_text(text.replace("  measure: count {", "  dimension: channel {\n    type: string\n"
                                   "    sql: ${TABLE}.channel ;;\n  }\n\n  measure: count {"))
    with pytest.raises(VerifyFailed) as failure:
        verify(client, lookml)
    assert differences(failure.value.mismatches) == [
        ("field shop.orders orders.channel", "string", "missing"),
        ("field shop.orders orders.total_amount", "average", "sum"),
    ]
    first = failure.value.mismatches[0]  # an Issue at the explore that declares the field
    assert (first.location, first.code, first.message) == (Location("shop.model.lkml", 4), "verify",
                                                           "expected string, Looker has missing")


def test_missing_explore_and_unconfigured_model_are_reported(deployed: FakeLooker, client: LookerClient,
                                                             tmp_path: Path) -> None:
    lookml = tmp_path / "generated_lookml"
    shutil.copytree(FIXTURES / "generated_lookml", lookml)
    model = lookml / "shop.model.lkml"
    model.write_text(model.read_text() + "\nexplore: customers {}\n")
    (lookml / "other.model.lkml").write_text('connection: "warehouse"\ninclude: "/views/*.view.lkml"\n'
                                             "explore: customers {}\n")
    with pytest.raises(VerifyFailed) as failure:
        verify(client, lookml)
    assert differences(failure.value.mismatches) == [
        ("explore shop.customers", "present", "missing"),
        ("model other", "configured", "missing"),
    ]


def test_numbers_that_differ_from_the_warehouse_are_reported(deployed: FakeLooker, client: LookerClient,
                                                             warehouse: Path, tmp_path: Path) -> None:
    queries = tmp_path / "queries.yml"
    queries.write_text("- name: revenue\n  model: shop\n  explore: orders\n  fields: [orders.total_amount]\n"
                       "  warehouse_sql: SELECT SUM(amount) + 1 FROM main.orders\n")
    with pytest.raises(VerifyFailed) as failure:
        verify(client, FIXTURES / "generated_lookml", queries=load_queries(queries), warehouse=f"duckdb:{warehouse}")
    assert differences(failure.value.mismatches) == [("query revenue", "41", "40")]


def test_cli_verify_prints_a_mismatch_table_and_exits_1(deployed: FakeLooker, looker_ini: Path, warehouse: Path,
                                                        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    queries = tmp_path / "queries.yml"
    queries.write_text("- name: revenue\n  model: shop\n  explore: orders\n  fields: [orders.count]\n"
                       "  warehouse_sql: SELECT 5\n")
    with pytest.raises(SystemExit) as exit_:
        main(["verify", "--looker-ini", str(looker_ini), "--project", "lw_project", "--lookml-dir",
              str(FIXTURES / "generated_lookml"), "--queries", str(queries), "--warehouse", f"duckdb:{warehouse}"])
    assert exit_.value.code == 1
    out, err = capsys.readouterr()
    assert "query revenue" in out and "│ 5 " in out and "│ 4 " in out
    assert err.strip() == "error: 1 mismatch between the generated LookML and Looker"


# ---- check queries from the semantic model: the warehouse side compiled from the model ----------


@pytest.fixture
def model() -> SemanticModel:
    return load_model(FIXTURES / "semantic")


@pytest.fixture
def deployed_generated(fake_looker: FakeLooker, generated: Generated) -> FakeLooker:
    """Production runs the LookML `lookwright generate` made from the semantic fixture."""
    fake_looker.seed({rel: text for rel, text in read_tree(generated.lookml_dir).items() if rel.endswith(".lkml")})
    return fake_looker


def test_warehouse_sql_is_compiled_from_the_model(model: SemanticModel) -> None:
    query = QueryIR("q", "shop", "orders", ("customers.country", "orders.created_date", "orders.count"),
                       {"customers.country": "DE,FR", "orders.id": ">= 2"})
    assert warehouse_query(model, query) == (
        'SELECT "customers".country AS "customers.country", CAST(("orders".created_at) AS DATE) '
        'AS "orders.created_date", COUNT(*) AS "orders.count"\n'
        'FROM orders AS "orders"\n'
        'LEFT JOIN customers AS "customers" ON ("orders".customer_id) = ("customers".id)\n'
        "WHERE \"customers\".country IN ('DE', 'FR') AND \"orders\".id >= 2\n"
        "GROUP BY 1, 2")


@pytest.mark.parametrize(("fields", "filters", "why"), [
    (("orders.count",), {"orders.created_date": "this week"},
     "filter orders.created_date: 'this week' is not a supported Looker date filter expression"),
    (("customers.country",), {"customers.country": "D%"}, "filter customers.country: 'D%' is not a plain value list"),
    (("orders.nope",), {}, "orders.nope is not a field of view orders"),
    (("orders.status",), {"orders.count": ">1"}, "filter on measure orders.count"),
])
def test_queries_the_compiler_cannot_express_ask_for_warehouse_sql(model: SemanticModel, fields: tuple[str, ...],
                                                                   filters: dict[str, str], why: str) -> None:
    with pytest.raises(InputError) as failure:
        warehouse_query(model, QueryIR("q", "shop", "orders", fields, filters))
    assert str(failure.value) == f"check query q: {why}; give it warehouse_sql instead (--queries)"


def test_declared_queries_equal_the_numbers_computed_from_the_model(deployed_generated: FakeLooker,
                                                                    generated: Generated, client: LookerClient,
                                                                    warehouse: Path) -> None:
    compared = verify(client, generated.lookml_dir, warehouse=f"duckdb:{warehouse}", model=load_model(generated.model_dir))
    assert compared == 3
    assert [p for m, p, s in deployed_generated.log if p.endswith("/queries/run/json")] == \
        ["/api/4.0/queries/run/json"] * 3


def test_numbers_from_a_wrong_deployed_measure_differ_from_the_model(fake_looker: FakeLooker, generated: Generated,
                                                                     client: LookerClient, warehouse: Path) -> None:
    # production runs an older total_amount that doubled the amount; the model says plain SUM(amount)
    files = {rel: text for rel, text in read_tree(generated.lookml_dir).items() if rel.endswith(".lkml")}
    files["views/orders.view.lkml"] = files["views/orders.view.lkml"].replace(
        "measure: total_amount {\n    type: sum\n    sql: ${amount} ;;",
        "measure: total_amount {\n    type: sum\n    sql: ${amount} * 2 ;;")
    fake_looker.seed(files)
    with pytest.raises(VerifyFailed) as failure:
        verify(client, generated.lookml_dir, warehouse=f"duckdb:{warehouse}", model=load_model(generated.model_dir))
    assert differences(failure.value.mismatches) == [
        ("query german_revenue", "DE, 20, 6.66667", "DE, 40, 6.66667"),
        ("query monthly_revenue", "2024-01, 30.5; 2024-02, 9.5", "2024-01, 61; 2024-02, 19"),
        ("query revenue_by_status", "complete, 32.75, 3; returned, 7.25, 1",
                 "complete, 65.5, 3; returned, 14.5, 1"),
    ]


def test_only_the_chosen_explores_queries_run_and_warehouse_sql_still_overrides(
        deployed_generated: FakeLooker, generated: Generated, client: LookerClient, warehouse: Path) -> None:
    queries = (QueryIR("by hand", "shop", "orders", ("orders.count",), warehouse_sql="SELECT 4"),
               QueryIR("compiled", "shop", "orders", ("orders.status",)))
    assert verify(client, generated.lookml_dir, queries=queries, warehouse=f"duckdb:{warehouse}",
                  model=load_model(generated.model_dir)) == 2
    assert verify(client, generated.lookml_dir, explore="customers", warehouse=f"duckdb:{warehouse}",
                  model=load_model(generated.model_dir)) == 0


def test_cli_verify_compares_the_declared_queries(deployed_generated: FakeLooker, generated: Generated,
                                                  looker_ini: Path, warehouse: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["verify", "--looker-ini", str(looker_ini), "--project", "lw_project", "--lookml-dir",
              str(generated.lookml_dir), "--model", str(generated.model_dir), "--warehouse", f"duckdb:{warehouse}"])
    assert exit_.value.code == 0
    out, _ = capsys.readouterr()
    assert out == "lw_project: generated LookML and Looker agree, 3 check queries equal the warehouse\n"


# ---- Looker's relative date filters, evaluated at a pinned `now` on both sides ------------------

FEB_8 = datetime.datetime(2024, 2, 8, 12, 0, tzinfo=datetime.UTC)
RECENT = QueryIR("recent", "shop", "orders", ("orders.created_date", "orders.count", "orders.total_amount"),
                    {"orders.created_date": "7 days ago for 90 days"}, timezone="UTC")


def test_relative_date_filters_compile_to_a_half_open_range(model: SemanticModel) -> None:
    assert warehouse_query(model, RECENT, now=FEB_8).splitlines()[-2:] == [
        ("WHERE (\"orders\".created_at) >= TIMESTAMP '2024-02-01 00:00:00' "
         "AND (\"orders\".created_at) < TIMESTAMP '2024-05-01 00:00:00'"),
        "GROUP BY 1"]


def test_relative_date_filters_match_lookers_numbers(deployed_generated: FakeLooker, generated: Generated,
                                                     client: LookerClient, warehouse: Path) -> None:
    deployed_generated.now = FEB_8
    last = [QueryIR(f"last {n} days", "shop", "orders", ("orders.count", "orders.total_amount"),
                       {"orders.created_date": f"{n} days"}, timezone="UTC") for n in (7, 8)]
    assert looker_rows(client, RECENT) == [("2024-02-01", "1", "7.25"), ("2024-02-11", "1", "2.25")]
    assert looker_rows(client, last[0]) == [("0", "None")]  # [Feb 2, Feb 9): no order
    assert looker_rows(client, last[1]) == [("1", "7.25")]  # [Feb 1, Feb 9): order 3, Feb 1 09:30
    assert verify(client, generated.lookml_dir, queries=(RECENT, *last), warehouse=f"duckdb:{warehouse}",
                  model=load_model(generated.model_dir), now=FEB_8) == 3


def test_relative_date_filter_numbers_that_differ_are_reported(fake_looker: FakeLooker, generated: Generated,
                                                                client: LookerClient, warehouse: Path) -> None:
    files = {rel: text for rel, text in read_tree(generated.lookml_dir).items() if rel.endswith(".lkml")}
    files["views/orders.view.lkml"] = files["views/orders.view.lkml"].replace(
        "measure: total_amount {\n    type: sum\n    sql: ${amount} ;;",
        "measure: total_amount {\n    type: sum\n    sql: ${amount} * 2 ;;")
    fake_looker.seed(files)
    fake_looker.now = FEB_8
    with pytest.raises(VerifyFailed) as failure:
        verify(client, generated.lookml_dir, queries=(RECENT,), warehouse=f"duckdb:{warehouse}",
               model=load_model(generated.model_dir), now=FEB_8)
    assert differences(failure.value.mismatches) == [("query recent", "2024-02-01, 1, 7.25; 2024-02-11, 1, 2.25",
                                                 "2024-02-01, 1, 14.5; 2024-02-11, 1, 4.5")]


def test_a_looker_clock_a_month_later_selects_other_rows(deployed_generated: FakeLooker, generated: Generated,
                                                         client: LookerClient, warehouse: Path) -> None:
    deployed_generated.now = FEB_8 + datetime.timedelta(days=30)  # Looker: [Mar 2, May 31): no orders
    with pytest.raises(VerifyFailed) as failure:
        verify(client, generated.lookml_dir, queries=(RECENT,), warehouse=f"duckdb:{warehouse}",
               model=load_model(generated.model_dir), now=FEB_8)
    assert differences(failure.value.mismatches) == [("query recent", "2024-02-01, 1, 7.25; 2024-02-11, 1, 2.25",
                                                 "(no rows)")]
