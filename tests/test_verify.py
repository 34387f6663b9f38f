"""verify against the fake Looker: field types from explore metadata, numbers against DuckDB."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest_looker import FIXTURES
from fakes.looker_server import FakeLooker

from lookwright.cli import main
from lookwright.deploy import load_queries
from lookwright.looker_api import LookerClient, RetryPolicy
from lookwright.verify import Mismatch, VerifyFailed, verify

pytest_plugins = ["conftest_looker"]
FAST = RetryPolicy(attempts=3, base_delay=0.01, timeout=5)


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
    verify(client, FIXTURES / "generated_lookml", queries=load_queries(FIXTURES / "queries.json"),
           warehouse=warehouse)


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
    assert failure.value.mismatches == [
        Mismatch("field shop.orders orders.channel", "string", "missing"),
        Mismatch("field shop.orders orders.total_amount", "average", "sum"),
    ]


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
    assert failure.value.mismatches == [
        Mismatch("explore shop.customers", "present", "missing"),
        Mismatch("model other", "configured", "missing"),
    ]


def test_numbers_that_differ_from_the_warehouse_are_reported(deployed: FakeLooker, client: LookerClient,
                                                             warehouse: Path, tmp_path: Path) -> None:
    queries = tmp_path / "queries.yml"
    queries.write_text("- name: revenue\n  model: shop\n  explore: orders\n  fields: [orders.total_amount]\n"
                       "  warehouse_sql: SELECT SUM(amount) + 1 FROM main.orders\n")
    with pytest.raises(VerifyFailed) as failure:
        verify(client, FIXTURES / "generated_lookml", queries=load_queries(queries), warehouse=warehouse)
    assert failure.value.mismatches == [Mismatch("query revenue", "41", "40")]


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
