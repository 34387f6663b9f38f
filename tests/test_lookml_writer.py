"""lookwright.lookml.dump.dump is byte-identical to lkml.dump."""

from __future__ import annotations

import lkml
from hypothesis import given, settings
from hypothesis import strategies as st

from lookwright.lookml.dump import dump

SCALAR_KEYS = st.sampled_from(
    ["sql", "label", "type", "hidden", "fields", "timeframes", "query", "materialization",
     "include", "description", "sql_on", "partition_keys", "suggestions", "allowed_values",
     "drill_fields", "value_format", "relationship", "connection"]
)
PLURAL_KEYS = st.sampled_from(
    ["dimensions", "measures", "explores", "joins", "views", "aggregate_tables", "access_grants",
     "datagroups", "sets", "dimension_groups"]
)
TEXT = st.text(alphabet="abc _.$\"{}\n'", min_size=1, max_size=12)
FILTERS = st.lists(st.dictionaries(TEXT, TEXT, min_size=1, max_size=1), min_size=1, max_size=6)


def _body(children: st.SearchStrategy[object]) -> st.SearchStrategy[dict[str, object]]:
    scalars = st.dictionaries(SCALAR_KEYS, children, max_size=4)
    plurals = st.dictionaries(PLURAL_KEYS, st.lists(_named(children), min_size=1, max_size=3), max_size=2)
    return st.builds(lambda a, b: {**a, **b}, scalars, plurals)


def _named(children: st.SearchStrategy[object]) -> st.SearchStrategy[dict[str, object]]:
    return st.builds(lambda name, rest: {"name": name, **rest}, TEXT, st.dictionaries(SCALAR_KEYS, children, max_size=3))


def _blocks(children: st.SearchStrategy[object]) -> st.SearchStrategy[dict[str, object]]:
    with_filters = st.builds(lambda rest, f: {**rest, "filters": f}, _body(children), FILTERS)
    return _named(children) | _body(children).filter(bool) | with_filters


VALUES = st.recursive(TEXT | st.lists(TEXT, max_size=7), _blocks, max_leaves=25)
KEYS = SCALAR_KEYS


def _lkml_or_none(obj: dict) -> str | None:
    try:
        return str(lkml.dump(obj))
    except (TypeError, KeyError, ValueError, AttributeError):  # shapes lkml rejects or crashes on
        return None


@settings(max_examples=200, deadline=None)
@given(st.builds(lambda a, b: {**a, **b}, st.dictionaries(SCALAR_KEYS, VALUES, max_size=4),
                 st.dictionaries(PLURAL_KEYS, st.lists(_named(VALUES), min_size=1, max_size=3), max_size=3)))
def test_dump_is_byte_identical_to_lkml_on_random_dicts(obj: dict) -> None:
    expected = _lkml_or_none(obj)
    if expected is not None:
        assert dump(obj) == expected


def test_dump_matches_lkml_on_a_representative_model() -> None:
    obj = {
        "connection": "bq",
        "includes": ["/views/*.view.lkml", "/explores/*.explore.lkml"],
        "datagroups": [{"name": "etl", "sql_trigger": "SELECT MAX(ts) FROM etl_log", "max_cache_age": "24 hours"}],
        "persist_with": "etl",
        "explores": [{
            "name": "orders",
            "joins": [{"name": "users", "type": "left_outer", "relationship": "many_to_one",
                       "sql_on": "${orders.user_id} = ${users.id}", "fields": ["users.name", "users.state"]}],
            "aggregate_tables": [{
                "name": "monthly",
                "query": {"dimensions": ["orders.created_month"], "measures": ["orders.count", "orders.total"],
                          "filters": [{"orders.status": "complete"}], "timezone": "America/Los_Angeles"},
                "materialization": {"datagroup_trigger": "etl", "increment_key": "orders.created_date",
                                    "increment_offset": "1", "partition_keys": ["created_date"]},
            }],
        }],
        "views": [{"name": "orders", "sql_table_name": "`p.d.orders`",
                   "dimension_groups": [{"name": "created", "type": "time",
                                         "timeframes": ["raw", "time", "date", "week", "month", "year"],
                                         "sql": "${TABLE}.created_at"}],
                   "measures": [{"name": "count", "type": "count", "drill_fields": ["detail*"]},
                                {"name": "total", "type": "sum", "sql": "${amount}", "filters": [{"status": "complete"}]}],
                   "sets": [{"name": "detail", "fields": ["id", "created_date"]}]}],
        "access_grants": [{"name": "can_see_cost", "user_attribute": "dept", "allowed_values": ["finance", "sre"]}],
    }
    assert dump(obj) == lkml.dump(obj)
