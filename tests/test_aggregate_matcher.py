"""Aggregate awareness cases modelled on Looker's docs, with Looker's exact comment lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from lookwright.errors import InputError
from lookwright.lookml.aggregates import Miss, Skipped, explain_query
from lookwright.lookml.project import Project, load_project

FIXTURES = Path(__file__).parent / "fixtures" / "lookml"
LA = "America/Los_Angeles"
NO_GROUPING = ("Looker did not do any grouping (because of a primary_key or cancel_grouping_fields "
               "parameter) and therefore the query can't be rolled up.")
NEITHER = ("query contained the following filters that were neither included as fields nor "
           "exactly matched by filters in the aggregate table: ")


def missing(fields: str) -> str:
    return f"it does not include the following fields in the query: {fields}"


def cannot_roll_up(fields: str) -> str:
    return f"it contains the following measures that cannot roll up: {fields}"


def better(table: str) -> str:
    return f"{table} was a better fit for optimization."


CASES: list[tuple[str, str, str, list[str], dict[str, str], str | None, str | None,
                  list[str]]] = [
    ("monthly query prefers the monthly table", "agg_orders", "orders",
     ["orders.created_month", "orders.total_revenue"], {}, LA, "sales_monthly",
     ["-- use existing orders::sales_monthly",
      "-- Did not use orders::sales_weekly; " + missing("orders.created_month"),
      "-- Did not use orders::sales_daily; " + better("orders::sales_monthly"),
      ("-- Did not use orders::sales_last_3_days; contained filters not in the query: "
      "orders.created_date")]),
    ("weekly query uses the weekly table, daily also fits", "agg_orders", "orders",
     ["orders.created_week", "orders.count"], {}, LA, "sales_weekly",
     ["-- use existing orders::sales_weekly",
      "-- Did not use orders::sales_daily; " + better("orders::sales_weekly"),
      "-- Did not use orders::sales_monthly; " + missing("orders.created_week"),
      "-- Did not use orders::sales_last_3_days; " + missing("orders.count")]),
    ("year derives from month and date, not from week", "agg_orders", "orders",
     ["orders.created_year", "orders.count"], {}, LA, "sales_monthly",
     ["-- use existing orders::sales_monthly",
      "-- Did not use orders::sales_weekly; " + missing("orders.created_year"),
      "-- Did not use orders::sales_daily; " + better("orders::sales_monthly"),
      "-- Did not use orders::sales_last_3_days; " + missing("orders.count")]),
    ("day_of_week derives from date only", "agg_orders", "orders",
     ["orders.created_day_of_week", "orders.total_revenue"], {}, LA, "sales_daily",
     ["-- use existing orders::sales_daily",
      "-- Did not use orders::sales_weekly; " + missing("orders.created_day_of_week"),
      "-- Did not use orders::sales_monthly; " + missing("orders.created_day_of_week"),
      ("-- Did not use orders::sales_last_3_days; contained filters not in the query: "
      "orders.created_date")]),
    ("a finer timeframe than any table is not served", "agg_orders", "orders",
     ["orders.created_hour", "orders.count"], {}, LA, None,
     ["-- Did not use orders::sales_weekly; " + missing("orders.created_hour"),
      "-- Did not use orders::sales_daily; " + missing("orders.created_hour"),
      "-- Did not use orders::sales_monthly; " + missing("orders.created_hour"),
      "-- Did not use orders::sales_last_3_days; " + missing("orders.created_hour, orders.count")]),
    ("query time zone must equal the table's", "agg_orders", "orders",
     ["orders.created_month", "orders.count"], {}, "UTC", None,
     ["-- Did not use orders::sales_weekly; " + missing("orders.created_month"),
      ("-- Did not use orders::sales_daily; the query timezone UTC does not match the aggregate "
      "table timezone America/Los_Angeles"),
      ("-- Did not use orders::sales_monthly; the query timezone UTC does not match the aggregate "
      "table timezone America/Los_Angeles"),
      "-- Did not use orders::sales_last_3_days; " + missing("orders.count")]),
    ("a missing query time zone is the database's", "agg_orders", "orders",
     ["orders.created_week", "orders.count"], {}, None, None,
     [("-- Did not use orders::sales_weekly; the query timezone (database time zone) does not "
      "match the aggregate table timezone America/Los_Angeles"),
      ("-- Did not use orders::sales_daily; the query timezone (database time zone) does not "
      "match the aggregate table timezone America/Los_Angeles"),
      "-- Did not use orders::sales_monthly; " + missing("orders.created_week"),
      "-- Did not use orders::sales_last_3_days; " + missing("orders.count")]),
    ("time zone is irrelevant without time fields; coarsest table wins ties", "agg_orders",
     "orders",
     ["orders.total_revenue"], {}, "UTC", "sales_monthly",
     ["-- use existing orders::sales_monthly",
      "-- Did not use orders::sales_weekly; " + better("orders::sales_monthly"),
      "-- Did not use orders::sales_daily; " + better("orders::sales_monthly"),
      ("-- Did not use orders::sales_last_3_days; contained filters not in the query: "
      "orders.created_date")]),
    ("a filter on a field no table has", "agg_orders", "orders",
     ["orders.created_month", "orders.total_revenue"], {"orders.status": "complete"}, LA, None,
     ["-- Did not use orders::sales_weekly; " + missing("orders.created_month"),
      "-- Did not use orders::sales_daily; " + NEITHER + "orders.status.",
      "-- Did not use orders::sales_monthly; " + NEITHER + "orders.status.",
      ("-- Did not use orders::sales_last_3_days; contained filters not in the query: "
      "orders.created_date")]),
    ("the table's time filter identical in the query", "agg_orders", "orders",
     ["orders.created_date", "orders.status", "orders.total_revenue"],
     {"orders.created_date": "3 days"}, LA, "sales_last_3_days",
     ["-- use existing orders::sales_last_3_days",
      "-- Did not use orders::sales_weekly; " + missing("orders.created_date, orders.status"),
      "-- Did not use orders::sales_daily; " + missing("orders.status"),
      "-- Did not use orders::sales_monthly; " + missing("orders.created_date, orders.status")]),
    ("a narrower time range is not trusted (conservative)", "agg_orders", "orders",
     ["orders.created_date", "orders.status", "orders.total_revenue"],
     {"orders.created_date": "2 days"}, LA, None,
     ["-- Did not use orders::sales_weekly; " + missing("orders.created_date, orders.status"),
      "-- Did not use orders::sales_daily; " + missing("orders.status"),
      "-- Did not use orders::sales_monthly; " + missing("orders.created_date, orders.status"),
      ("-- Did not use orders::sales_last_3_days; contained filters not in the query: "
      "orders.created_date")]),
    ("a time filter is served by a finer dimension", "agg_orders", "orders",
     ["orders.total_revenue"], {"orders.created_month": "2024-01"}, LA, "sales_monthly",
     ["-- use existing orders::sales_monthly",
      "-- Did not use orders::sales_weekly; " + NEITHER + "orders.created_month.",
      "-- Did not use orders::sales_daily; " + better("orders::sales_monthly"),
      ("-- Did not use orders::sales_last_3_days; contained filters not in the query: "
      "orders.created_date")]),
    ("count_distinct cannot roll up to a coarser grain", "agg_orders", "orders",
     ["orders.created_month", "orders.buyers"], {}, LA, None,
     ["-- Did not use orders::sales_weekly; " + missing("orders.created_month, orders.buyers"),
      "-- Did not use orders::sales_daily; " + cannot_roll_up("orders.buyers"),
      "-- Did not use orders::sales_monthly; " + cannot_roll_up("orders.buyers"),
      "-- Did not use orders::sales_last_3_days; " + missing("orders.buyers")]),
    ("count_distinct is fine on an exact match", "agg_orders", "orders",
     ["orders.created_month", "orders.count", "orders.total_revenue", "orders.buyers"], {}, LA,
     "sales_monthly",
     ["-- use existing orders::sales_monthly",
      "-- Did not use orders::sales_weekly; " + missing("orders.created_month, orders.buyers"),
      "-- Did not use orders::sales_daily; " + cannot_roll_up("orders.buyers"),
      "-- Did not use orders::sales_last_3_days; " + missing("orders.count, orders.buyers")]),
    ("expression measures roll up only over rollable measures without ${TABLE}", "agg_orders",
     "orders", ["orders.created_month", "orders.average_order", "orders.raw_revenue",
                "orders.buyers_per_order", "orders.approximate_buyers", "orders.median_amount"],
     {}, LA, None,
     ["-- Did not use orders::sales_weekly; " + missing(
         "orders.created_month, orders.average_order, orders.raw_revenue, "
         "orders.buyers_per_order, orders.approximate_buyers, orders.median_amount"),
      "-- Did not use orders::sales_daily; " + cannot_roll_up(
          "orders.raw_revenue, orders.buyers_per_order, orders.median_amount"),
      "-- Did not use orders::sales_monthly; " + missing(
          "orders.average_order, orders.raw_revenue, orders.buyers_per_order, "
          "orders.approximate_buyers, orders.median_amount"),
      "-- Did not use orders::sales_last_3_days; " + missing(
          "orders.average_order, orders.raw_revenue, orders.buyers_per_order, "
          "orders.approximate_buyers, orders.median_amount")]),
    ("rollable expression and approximate measures use the daily table", "agg_orders", "orders",
     ["orders.created_quarter", "orders.average_order", "orders.approximate_buyers"], {}, LA,
     "sales_daily",
     ["-- use existing orders::sales_daily",
      "-- Did not use orders::sales_weekly; " + missing(
          "orders.created_quarter, orders.average_order, orders.approximate_buyers"),
      "-- Did not use orders::sales_monthly; " + missing(
          "orders.average_order, orders.approximate_buyers"),
      "-- Did not use orders::sales_last_3_days; " + missing(
          "orders.average_order, orders.approximate_buyers")]),
    ("a query on the primary key is not grouped", "agg_orders", "orders",
     ["orders.id", "orders.count"], {}, LA, None,
     [f"-- Did not use orders::{table}; " + NO_GROUPING
      for table in ("sales_weekly", "sales_daily", "sales_monthly", "sales_last_3_days")]),
    ("Looker's order_items example: a filter neither a field nor matched", "agg_order_items",
     "order_items", ["order_items.status", "order_items.country", "order_items.total_sales"],
     {"order_items.created_year": "2024"}, None, None,
     ["-- Did not use order_items::sales_daily; " + NEITHER + "order_items.created_year.",
      "-- Did not use order_items::sales_by_status; " + NEITHER + "order_items.created_year."]),
    ("a filter exactly matched by the table's filter", "agg_order_items", "order_items",
     ["order_items.status", "order_items.country", "order_items.total_sales"],
     {"order_items.status": "complete"}, None, "sales_daily",
     ["-- use existing order_items::sales_daily",
      "-- Did not use order_items::sales_by_status; " + better("order_items::sales_daily")]),
    ("a table filter absent from the query", "agg_order_items", "order_items",
     ["order_items.status", "order_items.country", "order_items.total_sales"], {}, None,
     "sales_by_status",
     ["-- use existing order_items::sales_by_status",
      ("-- Did not use order_items::sales_daily; contained filters not in the query: "
      "order_items.status")]),
    ("filters covered by an exact match or by a dimension", "agg_order_items", "order_items",
     ["order_items.status", "order_items.total_sales"], {"order_items.status": "complete"}, None,
     "sales_daily",
     ["-- use existing order_items::sales_daily",
      "-- Did not use order_items::sales_by_status; " + better("order_items::sales_daily")]),
    ("access_filter and always_filter fields must be aggregate dimensions",
     "agg_order_items", "secured_items", ["order_items.status", "order_items.total_sales"],
     {"order_items.created_date": "7 days"}, None, "by_status_and_date",
     ["-- use existing secured_items::by_status_and_date",
      "-- Did not use secured_items::by_status; "
      + missing("order_items.country, order_items.created_date"),
      "-- Did not use secured_items::by_status_and_month; "
      + missing("order_items.country, order_items.created_date")]),
    ("cancel_grouping_fields in the query disable grouping", "agg_order_items",
     "secured_items", ["order_items.country", "order_items.total_sales"],
     {"order_items.created_date": "7 days"}, None, None,
     [f"-- Did not use secured_items::{table}; " + NO_GROUPING
      for table in ("by_status", "by_status_and_month", "by_status_and_date")]),
    ("a sum over ${TABLE} cannot roll up", "agg_order_items", "order_items",
     ["order_items.status", "order_items.country", "order_items.total_sale_price"], {}, None, None,
     ["-- Did not use order_items::sales_daily; " + missing("order_items.total_sale_price"),
      "-- Did not use order_items::sales_by_status; "
      + cannot_roll_up("order_items.total_sale_price")]),
    ("measures of the one side of many_to_one are fanned out", "agg_fanout", "orders",
     ["users.state", "users.count"], {}, None, None,
     ["-- Did not use orders::by_state; " + cannot_roll_up("users.count")]),
    ("measures of the many side roll up", "agg_fanout", "orders",
     ["users.state", "orders.total_revenue", "orders.largest_order"], {}, None, "by_state",
     ["-- use existing orders::by_state"]),
    ("one_to_many fans out the base view only when joined", "agg_fanout", "users",
     ["users.state", "users.count"], {}, None, "by_state", ["-- use existing users::by_state"]),
    ("one_to_many join in the query fans out the base view's count, not max", "agg_fanout",
     "users", ["users.state", "users.count", "orders.largest_order"], {}, None, None,
     ["-- Did not use users::by_state; " + cannot_roll_up("users.count")]),
]


@pytest.fixture(scope="module")
def projects() -> dict[str, Project]:
    return {name: load_project(FIXTURES / name)
            for name in ("agg_orders", "agg_order_items", "agg_fanout")}


@pytest.mark.parametrize(
    ("title", "project", "explore", "fields", "filters", "timezone", "used", "lines"),
    CASES, ids=[case[0] for case in CASES],
)
def test_matcher_picks_the_table_looker_would(
    projects: dict[str, Project], title: str, project: str, explore: str, fields: list[str],
    filters: dict[str, str], timezone: str | None, used: str | None, lines: list[str],
) -> None:
    loaded = projects[project]
    explanation = explain_query(loaded, explore, fields, filters, timezone)
    assert (explanation.explore, explanation.used, explanation.lines) == (explore, used, lines)


def test_every_skipped_table_carries_a_typed_reason(projects: dict[str, Project]) -> None:
    explanation = explain_query(projects["agg_orders"], "orders", ["orders.created_month", "orders.total_revenue"],
                                {}, LA)
    assert explanation.used == "sales_monthly"
    assert explanation.skipped == (
        Skipped("sales_weekly", Miss.MISSING_FIELDS, ("orders.created_month",)),
        Skipped("sales_daily", Miss.BETTER_FIT, ("orders::sales_monthly",)),
        Skipped("sales_last_3_days", Miss.EXTRA_FILTERS, ("orders.created_date",)),
    )
    assert explanation.skipped_table("sales_daily") == explanation.skipped[1]
    assert explanation.skipped_table("sales_monthly") is None


def test_unknown_explore_and_field_are_input_errors(projects: dict[str, Project]) -> None:
    loaded = projects["agg_fanout"]
    with pytest.raises(InputError, match="^Unknown explore nope in the LookML project$"):
        explain_query(loaded, "nope", ["users.state"], {}, None)
    with pytest.raises(InputError, match="^Unknown field users.nope in explore users$"):
        explain_query(loaded, "users", ["users.nope"], {}, None)
