"""Every diagnostic code: exact code, file and line, and that nothing is written on invalid input."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from lookwright.cli import main
from lookwright.errors import Issue, ModelError
from lookwright.lookml.render import render_lookml
from lookwright.lookml.validator import validate_lookml
from lookwright.model.compile import load_model

LOOKML_FIXTURES = Path(__file__).parent / "fixtures" / "lookml"

BASE = """\
warehouse: {project: p, dataset: d}
datagroups:
  - {name: hourly, max_cache_age: 1 hour}
tables:
  - name: orders
    kind: fact
    columns:
      - {name: id, type: STRING}
      - {name: created_at, type: TIMESTAMP}
      - {name: user_id, type: STRING}
      - {name: amount, type: FLOAT64}
    foreign_keys:
      - {column: user_id, references: users.id}
    dimensions:
      - {name: id, primary_key: true}
      - {name: created, type: time, column: created_at}
      - {name: amount, type: number}
    measures:
      - {name: order_count, type: count}
      - {name: total_amount, type: sum, sql: "${amount}"}
      - {name: buyers, type: count_distinct, sql: "${TABLE}.user_id"}
  - name: users
    kind: dimension
    columns:
      - {name: id, type: STRING}
    dimensions:
      - {name: id, primary_key: true}
explores:
  - name: orders
    joins:
      - {view: users}
    aggregate_tables:
      - name: daily
        dimensions: [orders.created_date]
        measures: [orders.total_amount]
        materialization: {datagroup: hourly, increment_key: orders.created_date, increment_offset: 1}
models:
  - {name: shop, connection: bq, explores: [orders]}
"""


def _errors(tmp_path: Path, text: str, extra: dict[str, str] | None = None) -> list[Issue]:
    (tmp_path / "model.yml").write_text(textwrap.dedent(text))
    for name, content in (extra or {}).items():
        (tmp_path / name).write_text(content)
    with pytest.raises(ModelError) as caught:
        load_model(tmp_path)
    return caught.value.diagnostics


def _only(tmp_path: Path, text: str, extra: dict[str, str] | None = None) -> Issue:
    errors = _errors(tmp_path, text, extra)
    assert len(errors) == 1, [e.format() for e in errors]
    return errors[0]


def test_base_model_is_valid(tmp_path: Path) -> None:
    (tmp_path / "model.yml").write_text(BASE)
    model = load_model(tmp_path)
    assert list(model.tables) == ["orders", "users"]


CASES = [
    # (code, old, new, expected line)
    ("LW100", "  - {name: hourly, max_cache_age: 1 hour}", "  - {name: hourly, max_cache_age: 1 hour", 4),
    ("LW101", "      - {name: amount, type: number}", "      - {name: amount, type: number, lable: Amount}", 17),
    ("LW102", "  - {name: shop, connection: bq, explores: [orders]}", "  - {name: shop, explores: [orders]}", 38),
    ("LW103", "      - {name: amount, type: number}", "      - {name: amount, type: numeric}", 17),
    ("LW104", "  - name: users\n", "  - name: Users\n", 22),
    ("LW105", "        materialization: {datagroup: hourly, increment_key: orders.created_date, increment_offset: 1}",
     "        materialization: {datagroup: hourly, increment_key: orders.created_date, increment_offset: one}", 36),
    ("LW301", '      - {name: total_amount, type: sum, sql: "${amount}"}', '      - {name: total_amount, type: sum, sql: "${amout}"}', 20),
    ("LW302", "      - {view: users}", "      - {view: customers}", 31),
    ("LW303", '      - {name: total_amount, type: sum, sql: "${amount}"}', '      - {name: total_amount, type: sum, sql: "${order_count}"}', 20),
    ("LW304", '      - {name: total_amount, type: sum, sql: "${amount}"}', '      - {name: total_amount, type: sum, sql: "${amount} ;; DROP"}', 20),
    ("LW305", "      - {name: order_count, type: count}", "      - {name: order_count, type: count, sql: \"${id}\"}", 19),
    ("LW306", '      - {name: total_amount, type: sum, sql: "${amount}"}', "      - {name: total_amount, type: sum}", 20),
    ("LW307", "      - {name: amount, type: number}", "      - {name: amount, type: number, primary_key: true}", 14),
    ("LW308", "      - {name: amount, type: number}", "      - {name: amount, type: number, column: amt}", 17),
    ("LW401", "materialization: {datagroup: hourly,", "materialization: {datagroup: daily,", 36),
    ("LW402", "        measures: [orders.total_amount]", "        measures: [orders.total_amont]", 35),
    ("LW403", "        measures: [orders.total_amount]", "        measures: [orders.buyers]", 35),
    ("LW404", "increment_key: orders.created_date,", "increment_key: orders.created_week,", 36),
    ("LW406", "explores: [orders]}", "explores: [order]}", 38),
]


@pytest.mark.parametrize(("code", "old", "new", "line"), CASES, ids=[c[0] for c in CASES])
def test_each_error_code_is_reported_with_its_location(tmp_path: Path, code: str, old: str, new: str, line: int) -> None:
    assert old in BASE
    error = _only(tmp_path, BASE.replace(old, new, 1))
    assert (error.code, error.file.endswith("model.yml"), error.line) == (code, True, line), error.format()


def test_join_without_foreign_key_or_sql_on(tmp_path: Path) -> None:
    text = BASE.replace("      - {column: user_id, references: users.id}\n", "").replace("    foreign_keys:\n", "")
    error = _only(tmp_path, text)
    assert (error.code, error.line) == ("LW405", 29)


def test_duplicate_names_across_files_point_at_the_second_definition(tmp_path: Path) -> None:
    other = "tables:\n  - name: users\n    kind: dimension\n    columns: [{name: id, type: STRING}]\n"
    error = _only(tmp_path, BASE, {"more.yml": other})
    assert (error.code, error.file.endswith("more.yml"), error.line) == ("LW201", True, 2)
    assert error.message == "A view named users has been defined multiple times."
    assert error.hint == f"first defined at {tmp_path / 'model.yml'}:22; table names must be unique across files"


def _lookml_messages(fixture: str, code: str) -> list[str]:
    return [f.message for f in validate_lookml(LOOKML_FIXTURES / fixture) if f.code == code]


def test_a_duplicate_table_and_a_duplicate_lookml_view_read_alike(tmp_path: Path) -> None:
    # One rule (field_rules.repeated_names, defined_multiple_times); LookML names its model, YAML has none.
    other = "tables:\n  - name: users\n    kind: dimension\n    columns: [{name: id, type: STRING}]\n"
    (tmp_path / "yaml").mkdir()
    error = _only(tmp_path / "yaml", BASE, {"more.yml": other})
    lookml = tmp_path / "lookml"
    lookml.mkdir()
    (lookml / "shop.model.lkml").write_text('connection: "bq"\ninclude: "/*.view.lkml"\n')
    for name in ("users", "more_users"):
        (lookml / f"{name}.view.lkml").write_text("view: users {\n  sql_table_name: `d.users` ;;\n}\n")
    found = [(f.code, f.message) for f in validate_lookml(lookml)]
    assert found == [("LKML130", error.message.removesuffix(".") + " in model shop.")]


@pytest.mark.parametrize(("new", "message", "first"), [
    # a dimension group's timeframe name, as the generated LookML declares it (Looker's LKML122)
    ("      - {name: created_date, type: string, column: created_at}",
     "Redefinition of field 'orders.created_date'", "16 by time dimension 'created' (its date timeframe)"),
    ("      - {name: amount, type: sum, sql: \"${amount}\"}", "Redefinition of field 'orders.amount'",
     "17 by dimension 'amount'"),
])
def test_a_field_name_a_table_already_has_is_a_redefinition(tmp_path: Path, new: str, message: str,
                                                           first: str) -> None:
    section = "measures:" if "sum" in new else "dimensions:"
    anchor = "      - {name: total_amount, type: sum" if "sum" in new else "      - {name: amount, type: number}"
    text = BASE.replace(anchor, f"{new}\n{anchor}", 1) if section == "measures:" else BASE.replace(
        anchor, f"{anchor}\n{new}", 1)
    error = _only(tmp_path, text)
    assert (error.code, error.line, error.message) == ("LW201", 20 if section == "measures:" else 18, message)
    assert error.hint == (f"first defined at {tmp_path / 'model.yml'}:{first}; dimensions, their timeframes and"
                          " measures share one namespace")


def test_a_yaml_and_a_lookml_field_redefinition_read_alike(tmp_path: Path) -> None:
    error = _only(tmp_path, BASE.replace("      - {name: amount, type: number}", "      - {name: amount, type: number}\n"
                                         "      - {name: created_date, type: string, column: created_at}", 1))
    assert _lookml_messages("redefinition_of_field", "LKML122") == [error.message]


def test_an_aggregate_table_defined_twice_in_an_explore(tmp_path: Path) -> None:
    text = BASE.replace("      - name: daily\n", "      - name: monthly\n", 1).replace(
        "models:\n", "      - {name: monthly, dimensions: [orders.created_month], measures: [orders.total_amount], materialization: {datagroup: hourly}}\n"
        "models:\n", 1)
    error = _only(tmp_path, text)
    assert (error.code, error.line) == ("LW201", 37)
    assert error.message == "Aggregate table monthly is defined more than once in explore orders."
    assert _lookml_messages("aggregate_table_defined_twice", "LKML183") == [error.message]
    assert error.hint == (f"first defined at {tmp_path / 'model.yml'}:33; an explore's aggregate tables need"
                          " distinct names")


def test_all_problems_are_reported_in_one_run(tmp_path: Path) -> None:
    text = BASE.replace('sql: "${amount}"', 'sql: "${amout}"').replace("{view: users}", "{view: customers}")
    codes = [e.code for e in _errors(tmp_path, text)]
    assert codes == ["LW301", "LW302"]


ROLLUPS = """\
  - name: orders_hourly
    kind: rollup
    rollup:
      source: orders
      period: {column: hour, source: created_at, grain: hour}
      group_by: [user_id]
      metrics:
        - {name: n, agg: count}
        - {name: amount_sketch, agg: sketch, sql: amount}
        - {name: p95_amount, agg: percentile, sketch: amount_sketch, percentile: 95}
  - name: orders_daily
    kind: rollup
    rollup:
      source: orders_hourly
      period: {column: day, source: hour, grain: day}
      group_by: [user_id]
      metrics:
        - {name: n, agg: sum, sql: n}
        - {name: p95_amount, agg: max, sql: p95_amount}
"""


def test_rollup_of_a_percentile_is_rejected(tmp_path: Path) -> None:
    error = _only(tmp_path, BASE.replace("explores:\n", ROLLUPS + "explores:\n", 1))
    assert (error.code, error.line) == ("LW505", 46)
    assert "percentile of percentiles" in error.hint


def test_rollup_that_merges_sketches_is_accepted(tmp_path: Path) -> None:
    fixed = ROLLUPS.replace("{name: p95_amount, agg: max, sql: p95_amount}",
                            "{name: amount_sketch, agg: merge_sketch, sql: amount_sketch}")
    (tmp_path / "model.yml").write_text(BASE.replace("explores:\n", fixed + "explores:\n", 1))
    model = load_model(tmp_path)
    assert [c.name for c in model.tables["orders_daily"].columns] == ["day", "user_id", "n", "amount_sketch"]


def test_invalid_yaml_writes_nothing_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "model.yml").write_text(BASE.replace('sql: "${amount}"', 'sql: "${amout}"'))
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_:
        main(["generate", "--model", str(tmp_path), "--lookml-out", str(out / "lookml"), "--sql-out", str(out / "sql")])
    assert exit_.value.code == 2
    assert not out.exists()
    stderr = capsys.readouterr().err
    assert "model.yml:20:" in stderr and "error[LW301]" in stderr and "nothing was written" in stderr


MORE_CASES = [
    ("LW202", "warehouse: {project: p, dataset: d}\n", "", 4),
    ("LW309", "      - {name: order_count, type: count}",
     "      - {name: order_count, type: count}\n      - {name: doubled, type: number, sql: \"${order_count} * 2\", filters: {id: x}}", 20),
    ("LW407", "explores:\n  - name: orders\n", "explores:\n  - name: orders\n    required_access_grants: [finance_only]\n", 30),
    ("LW501", "    kind: fact\n", "    kind: fact\n    partition: {column: amount}\n", 7),
    ("LW502", "    kind: fact\n", "    kind: fact\n    cluster_by: [id, nope]\n", 7),
    ("LW301", "      - {view: users}\n", ("      - {view: users, sql_on: \"${orders.user_id} = ${users.id} AND"
                                           " {% condition orders.created_day %} ${orders.created_raw} {% endcondition %}\"}\n"), 31),
    ("LW311", "      - {view: users}\n", ("      - {view: users, sql_on: \"${orders.user_id} = ${users.id} AND"
                                           " {% condition orders.created_date %} ${orders.created_raw}\"}\n"), 31),
]


@pytest.mark.parametrize(("code", "old", "new", "line"), MORE_CASES, ids=[c[0] for c in MORE_CASES])
def test_more_error_codes_are_reported_with_their_location(tmp_path: Path, code: str, old: str, new: str, line: int) -> None:
    assert old in BASE
    error = _only(tmp_path, BASE.replace(old, new, 1))
    assert (error.code, error.line) == (code, line), error.format()


def test_unknown_foreign_key_target_also_breaks_the_join_it_would_derive(tmp_path: Path) -> None:
    text = BASE.replace("{column: user_id, references: users.id}", "{column: user_id, references: people.id}")
    assert [(e.code, e.line) for e in _errors(tmp_path, text)] == [("LW503", 13), ("LW405", 31)]


def test_unknown_rollup_source(tmp_path: Path) -> None:
    broken = ROLLUPS.replace("source: orders\n", "source: order_lines\n", 1)
    codes = [(e.code, e.line) for e in _errors(tmp_path, BASE.replace("explores:\n", broken + "explores:\n", 1))]
    assert codes[0] == ("LW504", 31)


def test_percentile_metric_needs_a_sketch(tmp_path: Path) -> None:
    broken = ROLLUPS.replace("{name: p95_amount, agg: percentile, sketch: amount_sketch, percentile: 95}",
                             "{name: p95_amount, agg: percentile, percentile: 95}")
    codes = [(e.code, e.line) for e in _errors(tmp_path, BASE.replace("explores:\n", broken + "explores:\n", 1))]
    assert ("LW506", 37) in codes


@pytest.mark.parametrize(("grain", "keep", "message"), [
    ("hour", 1, "keep_periods 1 is not more than increment_offset 1"),
    ("day", 30, "keep_periods keeps the newest days, but only minute and hour periods"),
])
def test_keep_periods_needs_time_periods_longer_than_the_late_window(tmp_path: Path, grain: str, keep: int,
                                                                        message: str) -> None:
    broken = ROLLUPS.replace("grain: hour}\n", f"grain: {grain}}}\n      keep_periods: {keep}\n      increment_offset: 1\n", 1)
    errors = [e for e in _errors(tmp_path, BASE.replace("explores:\n", broken + "explores:\n", 1)) if e.code == "LW511"]
    assert [(e.code, e.line) for e in errors] == [("LW511", 33)]  # the keep_periods line
    assert message in errors[0].message


def test_missing_model_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as caught:
        load_model(tmp_path / "nope")
    assert [d.code for d in caught.value.diagnostics] == ["LW001"]


def test_yaml_anchors_and_merge_keys_are_expanded(tmp_path: Path) -> None:
    text = BASE.replace("      - {name: amount, type: number}",
                        "      - &numeric {name: amount, type: number, hidden: true}\n"
                        "      - {<<: *numeric, name: created_at_raw, column: created_at}")
    (tmp_path / "model.yml").write_text(text)
    dimensions = {d.name: d for d in load_model(tmp_path).tables["orders"].dimensions}
    assert dimensions["created_at_raw"].hidden is True
    assert dimensions["created_at_raw"].type == "number"
    assert dimensions["created_at_raw"].sql == "${TABLE}.created_at"


def test_a_repeated_key_is_an_error_not_a_silent_override(tmp_path: Path) -> None:
    text = BASE.replace('      - {name: total_amount, type: sum, sql: "${amount}"}',
                        '      - name: total_amount\n        type: sum\n        sql: "${amount}"\n        sql: "${id}"')
    error = _only(tmp_path, text)
    assert (error.code, error.line, error.col) == ("LW106", 23, 9)
    assert error.message == "duplicate key 'sql' (first at line 22)"


ROLL_UP_HINT = ("; set exact_match: true if the table is for queries that match it exactly, or use measures that roll up"
                " (count, sum, min, max, average, or a number or ratio over those)")
USER_COUNT = "    measures:\n      - {name: user_count, type: count}\nexplores:\n"
ORDERS_MEASURES = (
    '      - {name: buyers, type: count_distinct, sql: "${TABLE}.user_id"}\n'
    '      - {name: raw_total, type: sum, sql: "${TABLE}.amount"}\n'
    '      - {name: per_buyer, type: number, sql: "${total_amount} / NULLIF(${buyers}, 0)"}\n'
    '      - {name: average_amount, type: ratio, numerator: total_amount, denominator: order_count}\n'
    '      - {name: doubled_total, type: number, sql: "2 * SUM(${amount})"}\n'
)
UNROLLABLE = [
    ("orders.buyers", "it is a count_distinct measure"),
    ("orders.raw_total", "it is a sum measure reading ${TABLE} directly (reference a dimension instead)"),
    ("users.user_count", "it is a count measure of users, whose rows the explore's joins repeat"),
    ("orders.per_buyer", "it is a number measure over a field that does not roll up"),
    ("orders.doubled_total", ("it is a number measure calling SUM (only MIN, MAX and COUNT are recomputed from an"
                              " aggregate table)")),
]


def _aggregate_of(measure: str, exact_match: bool = False) -> str:
    text = BASE.replace('      - {name: buyers, type: count_distinct, sql: "${TABLE}.user_id"}\n', ORDERS_MEASURES, 1)
    text = text.replace("explores:\n", USER_COUNT, 1).replace("measures: [orders.total_amount]", f"measures: [{measure}]")
    return text.replace("        materialization:", "        exact_match: true\n        materialization:") if exact_match else text


@pytest.mark.parametrize(("measure", "why"), UNROLLABLE, ids=[m for m, _ in UNROLLABLE])
def test_a_measure_that_cannot_roll_up_reads_as_the_lookml_warning_about_its_generated_table(
        tmp_path: Path, measure: str, why: str) -> None:
    # One rule (field_rules.measure_rolls_up, cannot_roll_up): LW403 on the YAML without exact_match, and
    # LKML181 (a warning) on the LookML generated from the same YAML with exact_match, same message.
    (tmp_path / "yaml").mkdir()
    error = _only(tmp_path / "yaml", _aggregate_of(measure))
    assert (error.code, error.line) == ("LW403", 41)
    assert error.message == f"Measure {measure} cannot roll up, so aggregate table orders::daily serves only exact-match queries."
    assert error.hint == why + ROLL_UP_HINT
    (tmp_path / "exact").mkdir()
    (tmp_path / "exact" / "model.yml").write_text(_aggregate_of(measure, exact_match=True))
    lookml = tmp_path / "lookml"
    for output in render_lookml(load_model(tmp_path / "exact")):
        (lookml / output.path).parent.mkdir(parents=True, exist_ok=True)
        (lookml / output.path).write_text(output.content)
    found = [(f.severity, f.message) for f in validate_lookml(lookml) if f.code == "LKML181"]
    assert found == [("warning", error.message)]


@pytest.mark.parametrize("measure", ["orders.total_amount", "orders.order_count", "orders.average_amount"])
def test_measures_that_roll_up_need_no_exact_match(tmp_path: Path, measure: str) -> None:
    (tmp_path / "model.yml").write_text(_aggregate_of(measure))
    explore = load_model(tmp_path).explores["orders"]
    assert [a.measures for a in explore.aggregate_tables] == [[measure]]


WAREHOUSE_ONLY = """\
  - name: order_days
    kind: fact
    lookml: false
    partition: {column: day}
    transform: {template: transforms/order_days.sql.j2, incremental_column: day}
    columns:
      - {name: day, type: DATE, required: true}
      - {name: orders, type: INT64}
"""


def test_a_warehouse_only_table_gets_ddl_and_no_view(tmp_path: Path) -> None:
    (tmp_path / "model.yml").write_text(BASE.replace("explores:\n", WAREHOUSE_ONLY + "explores:\n", 1))
    model = load_model(tmp_path)
    assert [t.name for t in model.views()] == ["orders", "users"] and not model.tables["order_days"].lookml
    assert [f.path for f in render_lookml(model) if f.path.startswith("views/")] == [
        "views/orders.view.lkml", "views/users.view.lkml"]
    with pytest.raises(SystemExit) as done:
        main(["generate", "--model", str(tmp_path), "--lookml-out", str(tmp_path / "lookml"),
              "--sql-out", str(tmp_path / "sql")])
    assert done.value.code in (0, None)
    assert sorted(p.name for p in (tmp_path / "lookml" / "views").iterdir()) == ["orders.view.lkml", "users.view.lkml"]
    assert (tmp_path / "sql" / "bigquery" / "ddl" / "order_days.sql").is_file()


def test_lookml_naming_a_warehouse_only_table_is_lw512(tmp_path: Path) -> None:
    """An explore based on a `lookml: false` table, a join of one and a field reference to one: LW512 each, at its line."""
    text = (BASE.replace("    kind: dimension\n", "    kind: dimension\n    lookml: false\n", 1)
            .replace("      - {name: amount, type: number}",
                     "      - {name: amount, type: number}\n      - {name: user, sql: \"${users.id}\"}", 1)
            .replace("models:\n", "  - {name: users}\nmodels:\n", 1))
    errors = [e for e in _errors(tmp_path, text) if e.code == "LW512"]
    assert [(e.code, e.line, e.message) for e in errors] == [
        ("LW512", 18, "orders.user references ${users.id} of users, a warehouse-only table (lookml: false)"),
        ("LW512", 33, "explore orders joins users, a warehouse-only table (lookml: false)"),
        ("LW512", 39, "explore users is based on users, a warehouse-only table (lookml: false)")]
    assert errors[0].hint.startswith("a table with `lookml: false` is built, checked and planned but has no LookML view")
