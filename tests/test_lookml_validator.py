"""Each validator message has a minimal triggering fixture; the valid project triggers none."""

from __future__ import annotations

import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lookwright.errors import Issue, Location
from lookwright.lookml.aggregates import explain_query
from lookwright.lookml.project import (
    load_project,
    parse_file,
    parse_file_with_lkml,
    resolve_include,
)
from lookwright.lookml.validator import CODES, render, validate_lookml

FIXTURES = Path(__file__).parent / "fixtures" / "lookml"


def finding(file: str, line: int, severity: str, code: str, message: str) -> Issue:
    """A validator finding: located to file and line (no column), severity from its code."""
    return Issue(Location(file, line), code, message, severity=severity)

UNKNOWN_FIELD = ("Unknown or inaccessible field {0}. Check for typos or append a timeframe to "
                 "the name if the field is type time.")

CASES = [
    ("syntax_unterminated_sql", "orders.view.lkml", 3, "error", "LKML001",
     "Syntax error: an expression is not terminated with ';;' before end of file"),
    ("syntax_semicolons_in_sql", "orders.view.lkml", 3, "error", "LKML001",
     "Syntax error: Unable to find a matching expression for '<literal>' on line 3"),
    ("syntax_single_semicolon", "orders.view.lkml", 2, "error", "LKML001",
     "Syntax error: Unexpected ';' (expressions end with ';;') on line 2"),
    ("syntax_repeated_key", "orders.view.lkml", 4, "error", "LKML001",
     'Syntax error: Key "type" already exists in tree and would overwrite the existing value.'),
    ("unknown_field", "orders.view.lkml", 26, "error", "LKML101",
     UNKNOWN_FIELD.format("orders.amout")),
    ("dimension_group_without_timeframe", "orders.view.lkml", 26, "error", "LKML101",
     UNKNOWN_FIELD.format("orders.created")),
    ("unknown_aggregate_field", "shop.model.lkml", 9, "error", "LKML101",
     UNKNOWN_FIELD.format("orders.created_day")),
    ("aggregate_field_excluded_by_fields", "shop.model.lkml", 17, "error", "LKML101",
     UNKNOWN_FIELD.format("orders.amount")),
    ("unknown_cancel_grouping_field", "shop.model.lkml", 4, "error", "LKML101",
     UNKNOWN_FIELD.format("orders.idd")),
    ("liquid_variable_not_found", "orders.view.lkml", 26, "error", "LKML107",
     "Variable not found orders.created."),
    ("liquid_variable_unscoped_unknown", "orders.view.lkml", 26, "error", "LKML107",
     "Variable not found amout."),
    ("templated_filter_unknown_field", "shop.model.lkml", 5, "error", "LKML107",
     "Variable not found orders.creatd_date."),
    ("templated_filter_unscoped_unknown", "events.view.lkml", 27, "error", "LKML107",
     "Variable not found date_rang."),
    ("templated_filter_unclosed", "shop.model.lkml", 5, "error", "LKML108",
     "Liquid syntax error: 'condition' tag was never closed"),
    ("unknown_datagroup", "shop.model.lkml", 11, "error", "LKML141",
     "Datagroup nightly is not defined in model shop."),
    ("location_without_coordinates", "orders.view.lkml", 26, "error", "LKML114",
     "The location field type requires both sql_latitude and sql_longitude."),
    ("create_process_without_sql_step", "orders.view.lkml", 3, "error", "LKML124",
     "Missing required sql_step in create_process of derived table 'orders'."),
    ("label_from_parameter_not_parameter", "orders.view.lkml", 26, "error", "LKML151",
     "label_from_parameter of orders.metric must refer to a parameter."),
    ("unknown_suggest_dimension", "orders.view.lkml", 26, "error", "LKML152",
     "Unknown or excluded suggest_dimension statuses.name in field orders.status"),
    ("persisted_user_attributes", "shop.model.lkml", 11, "warning", "LKML172",
     ("Persistent Native Derived Table for view orders::monthly references user attributes. "
     "Persisting this table may result in unexpected behavior.")),
    ("persisted_ndt_user_attributes", "user_facts.view.lkml", 2, "warning", "LKML172",
     ("Persistent Native Derived Table for view user_facts references user attributes. "
     "Persisting this table may result in unexpected behavior.")),
    ("inaccessible_view", "orders.view.lkml", 26, "error", "LKML102",
     ("Inaccessible view users. users is not accessible in explore orders. "
     "Check for missing joins in explore orders.")),
    # the explore's `fields` name the referencing field through a set: still resolved there
    ("inaccessible_view_through_set", "orders.view.lkml", 26, "error", "LKML102",
     ("Inaccessible view users. users is not accessible in explore orders. "
     "Check for missing joins in explore orders.")),
    ("unknown_view_reference", "orders.view.lkml", 26, "error", "LKML103",
     "Unknown view customers."),
    ("unknown_explore_view", "shop.model.lkml", 6, "error", "LKML104",
     ("Unknown view order_items. View order_items does not exist in model shop. "
     "Check for typos or missing include statements in shop.")),
    ("unknown_join_view", "shop.model.lkml", 5, "error", "LKML104",
     ("Unknown view customers. View customers does not exist in model shop. "
     "Check for typos or missing include statements in shop.")),
    ("unknown_measure_filter_field", "orders.view.lkml", 26, "error", "LKML105",
     "Unknown field amuont in filter"),
    ("unknown_aggregate_filter_field", "shop.model.lkml", 9, "error", "LKML105",
     "Unknown field orders.status in filter"),
    ("unknown_always_filter_field", "shop.model.lkml", 5, "error", "LKML106",
     "always_filter: unknown filter field 'orders.created'"),
    ("aggregate_measure_references_measure", "orders.view.lkml", 30, "error", "LKML110",
     ("Measures with Looker aggregations (sum, average, min, max, list types) may not reference "
     "other measures.")),
    ("count_with_sql", "orders.view.lkml", 26, "error", "LKML111",
     ("Measures of type count do not use the sql parameter. Use count_distinct to count by "
     "something other than the primary key, or remove the sql parameter.")),
    ("filters_on_number_measure", "orders.view.lkml", 31, "error", "LKML112",
     "filters: ` is not supported for measures of non-aggregate type 'number'"),
    ("list_without_list_field", "orders.view.lkml", 26, "error", "LKML113",
     "A list_field must be defined for measures of type list."),
    ("multiple_primary_keys", "orders.view.lkml", 26, "error", "LKML120",
     "Multiple primary key definitions for view 'orders': 'id' and 'order_number'"),
    ("table_and_derived_table", "orders.view.lkml", 1, "error", "LKML121",
     "Cannot specify both sql_table_name and derived_table for view orders"),
    ("redefinition_of_field", "orders.view.lkml", 26, "error", "LKML122",
     "Redefinition of field 'orders.created_date'"),
    ("duplicate_view", "orders_copy.view.lkml", 1, "error", "LKML130",
     "A view named orders has been defined multiple times in model shop."),
    ("duplicate_explore", "shop.model.lkml", 6, "error", "LKML131",
     "An explore named orders has been defined multiple times in model shop."),
    ("include_matches_nothing", "shop.model.lkml", 3, "error", "LKML140",
     "This include does not match any files"),
    ("timeframes_on_dimension", "orders.view.lkml", 28, "error", "LKML150",
     'Unknown or unexpected parameter "timeframes" in dimension orders.shipped.'),
    ("sql_distinct_key_on_dimension", "orders.view.lkml", 28, "error", "LKML150",
     'Unknown or unexpected parameter "sql_distinct_key" in dimension orders.shipped.'),
    ("sql_always_where_on_join", "shop.model.lkml", 8, "error", "LKML150",
     'Unknown or unexpected parameter "sql_always_where" in join users.'),
    ("two_persistence_strategies", "orders.view.lkml", 2, "error", "LKML160",
     ("derived table orders uses more than one persistence strategy: datagroup_trigger, "
     "persist_for. Use exactly one.")),
    ("aggregate_without_persistence", "shop.model.lkml", 9, "error", "LKML161",
     ("Aggregate table orders::daily has no persistence strategy; add datagroup_trigger, "
     "sql_trigger_value or persist_for to its materialization.")),
    ("partition_keys_not_persisted", "orders.view.lkml", 4, "error", "LKML162",
     "partition_keys is only allowed on persisted tables; derived table orders is not persisted."),
    ("cluster_keys_without_partition_keys", "orders.view.lkml", 5, "error", "LKML163",
     ("cluster_keys on BigQuery require partition_keys; add partition_keys to derived table "
     "orders.")),
    ("increment_key_with_persist_for", "orders.view.lkml", 5, "error", "LKML164",
     ("increment_key and increment_offset need trigger persistence (datagroup_trigger, "
     "sql_trigger_value or interval_trigger); derived table orders uses persist_for.")),
    ("increment_offset_without_key", "orders.view.lkml", 5, "error", "LKML165",
     "increment_offset without increment_key in derived table orders."),
    ("increment_key_not_in_dimensions", "shop.model.lkml", 16, "error", "LKML166",
     ("increment_key orders.created_date of aggregate table orders::daily must be one of its "
     "dimensions.")),
    ("publish_as_db_view_with_persist_for", "orders.view.lkml", 5, "error", "LKML167",
     ("publish_as_db_view is not supported with persist_for; derived table orders uses "
     "persist_for.")),
    ("aggregate_explore_filter_not_dimension", "shop.model.lkml", 14, "warning", "LKML180",
     ("Aggregate table orders::by_user can never be used: the explore's conditionally_filter "
     "field orders.created_date is not one of its dimensions.")),
    ("aggregate_measure_cannot_roll_up", "shop.model.lkml", 9, "warning", "LKML181",
     ("Measure orders.buyers cannot roll up, so aggregate table orders::monthly serves only "
     "exact-match queries.")),
    ("aggregate_filter_only_dimension", "shop.model.lkml", 9, "error", "LKML182",
     ("orders.period is a filter-only field: list it in the filters of aggregate table "
     "orders::monthly, not in its dimensions.")),
    ("aggregate_table_defined_twice", "shop.model.lkml", 18, "error", "LKML183",
     "Aggregate table monthly is defined more than once in explore orders."),
    ("relationship_missing", "shop.model.lkml", 5, "warning", "LKML170",
     "relationship missing, assumed to be many_to_one."),
    ("fanout_without_primary_key", "shop.model.lkml", 5, "warning", "LKML171",
     ("Field 'Users Count' cannot be calculated because of a one_to_many or many_to_many join. "
     "Add a primary key to users.")),
    # Findings that surface only once includes inside included files are followed.
    ("nested_include_matches_nothing", "explores/orders.explore.lkml", 2, "error", "LKML140",
     "This include does not match any files"),
    ("nested_include_fanout", "explores/users.explore.lkml", 4, "warning", "LKML171",
     ("Field 'Users Count' cannot be calculated because of a one_to_many or many_to_many join. "
      "Add a primary key to users.")),
    # users (the two references to it, and buyers, which extends it) would come from the missing
    # project.
    ("imported_project_missing", "manifest.lkml", 3, "warning", "LKML190",
     ("Imported project hub_lib is not present, so 3 references into it could not be checked. "
      "Put it in imported_projects/hub_lib/ or pass --project hub_lib=DIR.")),
    # a hand-written view the model's includes leave out (issue 9)
    ("file_not_included", "returns.view.lkml", 1, "warning", "LKML191",
     ("returns.view.lkml is not included by any model, so Looker neither validates nor serves it. "
      "Include it from a model (lookwright YAML: the model's include:).")),
]
# Valid LookML that real projects use and an earlier validator flagged (issue 10's patterns).
VALID_PATTERNS = [
    "views_per_model",  # two `view: metrics` in two models' folders
    "hub_without_model",  # the same, in a project with no model (explore files include views)
    "unscoped_explore_fields",  # always_filter / conditionally_filter / aggregate_table
    "nested_includes",  # model -> explore file -> view files
    "join_and_view_name_aliases",  # join from:, explore view_name:, ${alias.field}
    "extension_required",  # checked only where extended
    "aggregate_filter_matches_always_filter",
    "dashboard_includes",  # *.dashboard and *.dashboard.lookml
    "liquid_variables",  # _in_query on a view, _user_attributes, _filters, _model._name ...
    "templated_filters",  # {% condition view.field %} sql {% endcondition %} in sql_on, sql_always_where, sql
    "templated_filters_own_view",  # {% condition %} in a filter's sql, {% condition own_filter %} unscoped
    "duration_dimension",  # type: duration_day with sql_start / sql_end
    "type_cast_reference",  # ${created_raw::datetime}
    "imported_project_present",  # manifest local_dependency + imported_projects/hub_lib/
    "include_with_project_name",  # `/shop/views/*` in project shop (generated hub projects)
    "explore_fields_leave_out_reference",  # fields: [ALL_FIELDS*, -x] and a set leave out a field
]


@pytest.mark.parametrize(("case", "file", "line", "severity", "code", "message"), CASES,
                         ids=[c[0] for c in CASES])
def test_each_fixture_triggers_exactly_its_finding(
    case: str, file: str, line: int, severity: str, code: str, message: str
) -> None:
    findings = validate_lookml(FIXTURES / case)
    if case == "aggregate_field_excluded_by_fields":  # the join's `fields` hides users.id too
        assert findings[1] == finding(file, line, severity, code,
                                      UNKNOWN_FIELD.format("users.id"))
        findings = findings[:1]
    assert findings == [finding(file, line, severity, code, message)]


def test_every_documented_code_has_a_triggering_fixture() -> None:
    assert set(CODES) == {c[4] for c in CASES}
    assert {code: CODES[code][0] for code in CODES} == {c[4]: c[3] for c in CASES}


@pytest.fixture(autouse=True)
def _private_parse_cache(tmp_path_factory: pytest.TempPathFactory,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOKWRIGHT_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.mark.parametrize("case", VALID_PATTERNS)
def test_valid_lookml_patterns_trigger_no_finding(case: str) -> None:
    assert validate_lookml(FIXTURES / case) == []


def test_a_missing_imported_project_can_be_given_with_project() -> None:
    hub_lib = FIXTURES / "imported_project_present" / "imported_projects" / "hub_lib"
    assert validate_lookml(FIXTURES / "imported_project_missing", {"hub_lib": hub_lib}) == []


def test_the_cli_takes_imported_projects(capsys: pytest.CaptureFixture[str]) -> None:
    from lookwright.cli import main

    hub_lib = FIXTURES / "imported_project_present" / "imported_projects" / "hub_lib"
    project = str(FIXTURES / "imported_project_missing")
    outcomes = []
    for option in (f"hub_lib={hub_lib}", "hub_lib"):
        with pytest.raises(SystemExit) as exit_info:
            main(["validate", "lookml", project, "--project", option])
        captured = capsys.readouterr()
        outcomes.append((exit_info.value.code, captured.out, captured.err))
    assert outcomes[0] == (0, "0 errors, 0 warnings, 0 infos\n", "")
    assert outcomes[1][0] == 2 and "--project expects NAME=DIR, got 'hub_lib'" in outcomes[1][2]


def test_each_model_sees_only_its_own_includes() -> None:
    project = load_project(FIXTURES / "views_per_model")
    assert {name: [f.name for f in model.views["metrics"].fields]
            for name, model in project.models.items()} == {"app": ["screen", "screens"],
                                                           "web": ["page", "pages"]}
    nested = load_project(FIXTURES / "nested_includes").models["shop"]
    assert nested.files == ("views/orders.view.lkml", "views/users.view.lkml",
                            "explores/orders.explore.lkml", "shop.model.lkml")


def test_the_fast_parser_agrees_with_lkml_on_every_fixture() -> None:
    for path in sorted(FIXTURES.rglob("*.lkml")):
        text = path.read_text()
        assert parse_file(text, "f.lkml") == parse_file_with_lkml(text, "f.lkml"), path


def test_parses_are_cached_by_content_and_a_broken_entry_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOKWRIGHT_CACHE_DIR", str(tmp_path / "cache"))
    expected = validate_lookml(FIXTURES / "nested_include_fanout")
    entries = sorted(p for p in (tmp_path / "cache").rglob("*") if p.is_file())
    assert len(entries) == 4  # one per .lkml file
    assert validate_lookml(FIXTURES / "nested_include_fanout") == expected
    for entry in entries:
        entry.write_bytes(b"not marshal")
    assert validate_lookml(FIXTURES / "nested_include_fanout") == expected


def test_parsing_in_two_processes_gives_the_same_project(monkeypatch: pytest.MonkeyPatch) -> None:
    from lookwright.lookml import files

    monkeypatch.setenv("LOOKWRIGHT_NO_CACHE", "1")
    serial = load_project(FIXTURES / "valid")
    monkeypatch.setattr(files, "PARALLEL_MIN_FILES", 1)
    monkeypatch.setattr(files, "PARALLEL_MIN_BYTES", 0)
    parallel = load_project(FIXTURES / "valid")
    assert parallel.files == serial.files and parallel.models == serial.models


def test_the_valid_project_triggers_no_finding() -> None:
    # It holds the near misses of every rule: ${created_raw}, ${orders.SQL_TABLE_NAME}, a count
    # without sql, filters on a sum, sql_distinct_key on a measure, list with list_field,
    # an aggregate table added by an explore refinement, increment_key among the dimensions,
    # cluster_keys with partition_keys on persisted tables, relationships everywhere, PKs.
    assert validate_lookml(FIXTURES / "valid") == []


def test_validator_agrees_with_the_matcher_on_aggregate_tables() -> None:
    # The matcher fixtures hold tables that only serve exact matches or can never be used;
    # the validator warns about exactly those (same roll-up and coverage rules).
    findings = {
        name: [(f.line, f.code, f.message.split(" ")[1]) for f in validate_lookml(FIXTURES / name)]
        for name in ("agg_fanout", "agg_order_items", "agg_orders")
    }
    assert findings == {
        "agg_fanout": [(14, "LKML181", "users.count"), (31, "LKML181", "users.count")],
        "agg_order_items": [(25, "LKML181", "order_items.total_sale_price"),
                            (47, "LKML180", "table"), (47, "LKML180", "table"),
                            (57, "LKML180", "table"), (57, "LKML180", "table")],
        "agg_orders": [(13, "LKML181", "orders.buyers"), (13, "LKML181", "orders.buyers_per_order"),
                       (13, "LKML181", "orders.median_amount"),
                       (13, "LKML181", "orders.raw_revenue"),
                       (25, "LKML181", "orders.buyers")],
    }


def test_loader_keeps_lines_and_expands_dimension_groups() -> None:
    project = load_project(FIXTURES / "valid")
    orders = project.models["shop"].views["orders"]
    created_month = orders.field("created_month")
    days_open = orders.field("days_open")
    assert created_month is not None and days_open is not None
    assert (created_month.file, created_month.line, created_month.group,
            created_month.timeframe) == ("views/orders.view.lkml", 38, "created", "month")
    assert (days_open.kind, days_open.type, days_open.timeframe) == ("dimension_group",
                                                                     "duration", "day")
    assert orders.field("created") is None
    assert orders.primary_key == "id"


def test_refinements_add_aggregate_tables_and_override_parameters() -> None:
    model = load_project(FIXTURES / "valid").models["shop"]
    explore = model.explores["orders"]
    assert [(t.name, t.file, t.line) for t in explore.aggregate_tables] == [
        ("sales_daily", "explores/orders_aggregates.explore.lkml", 2)
    ]
    assert [join.name for join in explore.joins] == ["users", "order_facts"]
    state = model.views["users"].field("state")
    assert state is not None and state.label == "State" and state.line == 10
    assert model.files == ("views/order_facts.view.lkml", "views/orders.view.lkml",
                           "views/users.view.lkml", "explores/orders_aggregates.explore.lkml",
                           "shop.model.lkml")


def test_includes_resolve_from_the_root_or_the_model_directory() -> None:
    files = ["models/shop.model.lkml", "models/views/a.view.lkml", "views/b.view.lkml",
             "views/deep/c.view.lkml"]
    assert resolve_include("/views/*.view.lkml", "models/shop.model.lkml", files) == (
        "views/b.view.lkml",)
    assert resolve_include("/views/**/*.view.lkml", "models/shop.model.lkml", files) == (
        "views/b.view.lkml", "views/deep/c.view.lkml")
    assert resolve_include("views/*.view", "models/shop.model.lkml", files) == (
        "models/views/a.view.lkml",)
    assert resolve_include("../views/*.view", "models/shop.model.lkml", files) == (
        "views/b.view.lkml",)
    numbered = ["x/1_old.explore.lkml", "x/ab.explore.lkml", "x/b.dashboard.lookml"]
    assert resolve_include("/x/[!0-9]*", "m.model.lkml", numbered) == (
        "x/ab.explore.lkml", "x/b.dashboard.lookml")
    assert resolve_include("/x/[0-9]*.explore", "m.model.lkml", numbered) == (
        "x/1_old.explore.lkml",)
    assert resolve_include("//hub/views/*.view", "m.model.lkml", ["//hub/views/a.view.lkml"]) == (
        "//hub/views/a.view.lkml",)


def test_extends_copies_fields_of_the_base_view(tmp_path: Path) -> None:
    (tmp_path / "shop.model.lkml").write_text(
        'connection: "bq"\ninclude: "/*.view.lkml"\nexplore: orders {}\n')
    (tmp_path / "orders.view.lkml").write_text(
        "view: base {\n  extension: required\n  dimension: id {\n    primary_key: yes\n"
        "    sql: ${TABLE}.id ;;\n  }\n}\n\nview: orders {\n  extends: [base]\n"
        "  sql_table_name: `shop.orders` ;;\n  measure: total {\n    type: sum\n"
        "    sql: ${id} ;;\n  }\n}\n")
    orders = load_project(tmp_path).models["shop"].views["orders"]
    assert [(f.name, f.line) for f in orders.fields] == [("id", 3), ("total", 12)]
    assert orders.primary_key == "id"
    assert validate_lookml(tmp_path) == []


def test_a_file_that_is_not_utf8_is_a_syntax_finding(tmp_path: Path) -> None:
    (tmp_path / "a.view.lkml").write_bytes(b"view: a {\n  label: \"\xff\"\n}\n")
    assert validate_lookml(tmp_path) == [
        finding("a.view.lkml", 1, "error", "LKML001",
                "Syntax error: not UTF-8 text (invalid start byte)")]


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Fail with TimeoutError if the block runs longer (SIGALRM interrupts even a spinning pure-Python lexer)."""
    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"the validator ran longer than {seconds} s (hung?)")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def validate_mutated(source: Path, mutated: str) -> list[Issue]:
    """validate_lookml on a copy of the valid fixture whose `source` file reads `mutated`, within 10 s."""
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        for path in (FIXTURES / "valid").rglob("*.lkml"):
            target = root / path.relative_to(FIXTURES / "valid")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(mutated if path == source else path.read_text())
        with time_limit(10):
            return validate_lookml(root)


@pytest.mark.parametrize(("insert", "line", "message"), [
    (";", 1, "Syntax error: Unexpected ';' (expressions end with ';;') on line 1"),  # hung lkml's lexer
    ("{", 1, "Syntax error: Unable to find a matching expression for '{' on line 1"),
    ("view: x {", 41, "Syntax error: Unable to find a matching expression for '<stream end>' on line 41"),
])
def test_broken_lookml_gives_exactly_its_syntax_finding_in_time(insert: str, line: int, message: str) -> None:
    source = FIXTURES / "valid" / "shop.model.lkml"
    assert validate_mutated(source, insert + source.read_text()) == [
        finding("shop.model.lkml", line, "error", "LKML001", message)]


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_mutated_lookml_never_crashes_or_hangs_the_validator(data: st.DataObject) -> None:
    # lkml's own lexer hung on a lone ';' before the guard; any text must give findings, in time.
    source = data.draw(st.sampled_from(sorted((FIXTURES / "valid").rglob("*.lkml"))))
    text = source.read_text()
    position = data.draw(st.integers(0, len(text)))
    insert = data.draw(st.sampled_from(["{", "}", ";", ";;", ":", "[", "]", '"', "${", "}}",
                                        "view: x {", "\n", "+", "-", "*", ""]))
    cut = data.draw(st.integers(0, 3))
    mutated = text[:position] + insert + text[position + cut:]
    # The fast parser accepts exactly what lkml accepts, with the same tree.
    assert parse_file(mutated, "f.lkml") == parse_file_with_lkml(mutated, "f.lkml")
    findings = validate_mutated(source, mutated)
    if mutated == text:
        assert findings == []  # the valid fixture has none
    relative = source.relative_to(FIXTURES / "valid").as_posix()
    for issue in findings:
        assert issue.code in CODES and issue.severity in ("error", "warning", "info"), issue
        assert issue.location.line is not None and issue.location.line >= 1, issue
        if issue.code == "LKML001":  # a syntax error can only be in the file that changed
            assert issue.location.file == relative, issue


def test_render_formats() -> None:
    findings = [finding("a.view.lkml", 3, "error", "LKML101", "boom"),
                finding("b.view.lkml", 1, "warning", "LKML170", "hm")]
    assert render(findings, "text") == (
        "a.view.lkml:3: error[LKML101]: boom\nb.view.lkml:1: warning[LKML170]: hm\n"
        "1 error, 1 warning, 0 infos")
    assert render(findings, "github") == (
        "::error file=a.view.lkml,line=3,title=LKML101::boom\n"
        "::warning file=b.view.lkml,line=1,title=LKML170::hm")
    odd = [finding("v,1.lkml", 2, "info", "X", "50% done\nnext")]
    assert render(odd, "github", path_prefix="lookml") == (
        "::notice file=lookml/v%2C1.lkml,line=2,title=X::50%25 done%0Anext")


def test_exact_match_tile_tables_are_not_warned_about() -> None:
    # A count_distinct table that exactly matches a dashboard element's query (its filter is the
    # default of the dashboard filter the element listens to, same time zone) serves that tile
    # whatever its measure types (Looker's aggregate awareness, "exact match"): no LKML181. The
    # weekly table matches no element (the weekly tile adds its own filter), so it still warns.
    fixture = FIXTURES / "aggregate_exact_match_tile"
    findings = [(f.file, f.line, f.code, f.message) for f in validate_lookml(fixture)]
    assert findings == [("shop.model.lkml", 22, "LKML181",
                         ("Measure orders.buyers cannot roll up, so aggregate table orders::buyers_per_week "
                         "serves only exact-match queries."))]
    project = load_project(fixture)
    chosen = explain_query(project, "orders", ["orders.created_month", "orders.buyers"],
                           {"orders.created_date": "90 days"}, "America/New_York")
    assert chosen.used == "buyers_per_month"
