"""`lookwright validate lookml` and `lookwright explain` through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lookwright.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "lookml"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    captured = capsys.readouterr()
    code = exit_info.value.code
    assert isinstance(code, int)
    return code, captured.out, captured.err


def test_valid_project_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["validate", "lookml", str(FIXTURES / "valid")], capsys)
    assert (code, out, err) == (0, "0 errors, 0 warnings, 0 infos\n", "")


def test_errors_print_text_and_exit_one(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["validate", "lookml", str(FIXTURES / "unknown_view_reference")], capsys)
    assert code == 1
    assert out == ("orders.view.lkml:26: error[LKML103]: Unknown view customers.\n"
                   "1 error, 0 warnings, 0 infos\n")
    assert err == "error: LookML validation failed: 1 error, 0 warnings, 0 infos\n"


def test_json_format_is_stable(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["validate", "lookml", str(FIXTURES / "relationship_missing"),
                        "--format", "json"], capsys)
    assert code == 0
    assert json.loads(out) == {
        "version": 1,
        "findings": [{"file": "shop.model.lkml", "line": 5, "severity": "warning",
                      "code": "LKML170",
                      "message": "relationship missing, assumed to be many_to_one."}],
        "summary": {"errors": 0, "warnings": 1, "infos": 0},
    }


def test_strict_fails_on_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["validate", "lookml", str(FIXTURES / "relationship_missing"),
                          "--strict", "--format", "github"], capsys)
    assert code == 1
    # an absolute project directory gets no path prefix
    assert out == ("::warning file=shop.model.lkml,line=5,title=LKML170::relationship missing, "
                   "assumed to be many_to_one.\n")
    assert err == "error: LookML validation failed: 0 errors, 1 warning, 0 infos\n"


def test_default_directory_is_generated_lookml(capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["validate", "lookml"], capsys)
    assert (code, err) == (2, "error: LookML directory generated_lookml does not exist\n")
    (tmp_path / "generated_lookml").mkdir()
    code, _, err = run(["validate", "lookml"], capsys)
    assert (code, err) == (2, "error: no .lkml files under generated_lookml\n")
    (tmp_path / "generated_lookml" / "a.view.lkml").write_text(
        "view: a {\n  dimension: x {\n    sql: ${y} ;;\n  }\n}\n")
    code, out, _ = run(["validate", "lookml", "--format", "json"], capsys)
    assert code == 1
    assert [(f["file"], f["code"]) for f in json.loads(out)["findings"]] == [
        ("a.view.lkml", "LKML101")]
    code, out, _ = run(["validate", "lookml", "--format", "github"], capsys)
    assert out.startswith("::error file=generated_lookml/a.view.lkml,line=2,title=LKML101::")


def test_explain_prints_looker_comments(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["explain", "--lookml", str(FIXTURES / "agg_orders"),
                          "--explore", "orders", "--fields",
                          "orders.created_month,orders.total_revenue",
                          "--timezone", "America/Los_Angeles"], capsys)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "-- use existing orders::sales_monthly",
        ("-- Did not use orders::sales_weekly; it does not include the following fields in the "
        "query: orders.created_month"),
        ("-- Did not use orders::sales_daily; orders::sales_monthly was a better fit for "
        "optimization."),
        ("-- Did not use orders::sales_last_3_days; contained filters not in the query: "
        "orders.created_date"),
    ]


def test_explain_with_repeated_filters(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["explain", "--lookml", str(FIXTURES / "agg_order_items"),
                        "--explore", "order_items", "--fields",
                        "order_items.status, order_items.country,order_items.total_sales",
                        "--filters", "order_items.status=complete",
                        "--filters", "order_items.created_year=2024"], capsys)
    assert code == 0
    assert out.splitlines() == [
        ("-- Did not use order_items::sales_daily; query contained the following filters that "
        "were neither included as fields nor exactly matched by filters in the aggregate table: "
        "order_items.created_year."),
        ("-- Did not use order_items::sales_by_status; query contained the following filters that "
        "were neither included as fields nor exactly matched by filters in the aggregate table: "
        "order_items.created_year."),
    ]


def test_explain_rejects_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["explain", "--lookml", str(FIXTURES / "agg_orders"), "--explore", "orders"]
    code, _, err = run([*base, "--fields", "orders.count", "--filters", "orders.status"], capsys)
    assert (code, err) == (2, "error: --filters expects FIELD=EXPRESSION, got 'orders.status'\n")
    code, _, err = run([*base, "--fields", "orders.nope"], capsys)
    assert (code, err) == (2, "error: Unknown field orders.nope in explore orders\n")


def test_explain_on_an_explore_without_aggregate_tables(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["explain", "--lookml", str(FIXTURES / "valid"), "--explore", "users",
                        "--fields", "users.id,users.count"], capsys)
    assert (code, out) == (0, "-- explore users has no aggregate tables\n")


def test_explain_refuses_fields_the_explore_excludes(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["explain", "--lookml", str(FIXTURES / "valid"), "--explore", "users",
                        "--fields", "users.state"], capsys)
    assert (code, err) == (2, "error: Unknown field users.state in explore users\n")
