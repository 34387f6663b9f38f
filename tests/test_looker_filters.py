"""Looker's date filter expressions as exact half-open intervals at a pinned `now`."""

from __future__ import annotations

import datetime

import pytest

from lookwright.errors import InputError
from lookwright.lookml.filters import Interval, UnsupportedFilter, date_interval, interval_sql

UTC = datetime.UTC
WEDNESDAY = datetime.datetime(2024, 2, 14, 15, 30, tzinfo=UTC)


def d(*parts: int) -> datetime.datetime:
    return datetime.datetime(*parts)  # type: ignore[arg-type]


@pytest.mark.parametrize(("expression", "start", "end"), [
    ("7 days", d(2024, 2, 8), d(2024, 2, 15)),
    ("1 day", d(2024, 2, 14), d(2024, 2, 15)),
    ("  7   Days ", d(2024, 2, 8), d(2024, 2, 15)),
    ("3 hours", d(2024, 2, 14, 13), d(2024, 2, 14, 16)),
    ("2 weeks", d(2024, 2, 5), d(2024, 2, 19)),
    ("3 months", d(2023, 12, 1), d(2024, 3, 1)),
    ("today", d(2024, 2, 14), d(2024, 2, 15)),
    ("yesterday", d(2024, 2, 13), d(2024, 2, 14)),
    ("2 days ago", d(2024, 2, 12), d(2024, 2, 13)),
    ("7 days ago for 90 days", d(2024, 2, 7), d(2024, 5, 7)),
    ("1 month ago for 2 weeks", d(2024, 1, 1), d(2024, 1, 15)),
    ("before 3 days ago", None, d(2024, 2, 11)),
    ("before 2024-01-10", None, d(2024, 1, 10)),
    ("after 2024-01-01", d(2024, 1, 1), None),
    ("2024-01-01 to 2024-02-01", d(2024, 1, 1), d(2024, 2, 1)),
    ("2024/01/01 to 2024/02/01", d(2024, 1, 1), d(2024, 2, 1)),
])
def test_intervals_in_utc(expression: str, start: datetime.datetime | None, end: datetime.datetime | None) -> None:
    assert date_interval(expression, WEDNESDAY, "UTC") == Interval(start, end)


@pytest.mark.parametrize(("expression", "start", "end"), [
    ("7 days", d(2024, 2, 7), d(2024, 2, 14)),  # 03:30 UTC is still the 13th, 19:30, in Los Angeles
    ("today", d(2024, 2, 13), d(2024, 2, 14)),
    ("3 hours", d(2024, 2, 13, 17), d(2024, 2, 13, 20)),
    ("7 days ago for 90 days", d(2024, 2, 6), d(2024, 5, 6)),
])
def test_today_is_the_query_time_zones_today(expression: str, start: datetime.datetime,
                                             end: datetime.datetime) -> None:
    early = datetime.datetime(2024, 2, 14, 3, 30, tzinfo=UTC)
    assert date_interval(expression, early, "America/Los_Angeles") == Interval(start, end)
    assert date_interval(expression, early, "UTC") != Interval(start, end)


def test_a_naive_now_is_utc_and_months_wrap_the_year() -> None:
    assert date_interval("2 months", d(2024, 1, 15, 23), "Europe/Berlin") == Interval(d(2023, 12, 1), d(2024, 2, 1))
    assert date_interval("1 day", d(2024, 1, 15, 23), "Europe/Berlin") == Interval(d(2024, 1, 16), d(2024, 1, 17))


@pytest.mark.parametrize(("expression", "message"), [
    ("this week", "'this week' is not a supported Looker date filter expression"),
    ("next 3 days", "'next 3 days' is not a supported Looker date filter expression"),
    ("7 fortnights", "'7 fortnights' is not a supported Looker date filter expression"),
    ("0 days", "a relative period needs a count of at least 1"),
    ("2024-13-01 to 2024-12-01", "2024-13-01 is not a date"),
    ("2024-02-01 to 2024-01-01", "'2024-02-01 to 2024-01-01' ends before it starts"),
])
def test_unsupported_expressions_are_input_errors(expression: str, message: str) -> None:
    with pytest.raises(UnsupportedFilter) as failure:
        date_interval(expression, WEDNESDAY, "UTC")
    assert str(failure.value) == message
    assert isinstance(failure.value, InputError)


def test_an_unknown_time_zone_is_an_input_error() -> None:
    with pytest.raises(UnsupportedFilter, match=r"^unknown time zone 'Mars/Olympus'$"):
        date_interval("7 days", WEDNESDAY, "Mars/Olympus")


def test_interval_sql_is_half_open() -> None:
    assert interval_sql("t.created_at", Interval(d(2024, 2, 8), d(2024, 2, 15, 6))) == (
        "(t.created_at) >= TIMESTAMP '2024-02-08 00:00:00' AND (t.created_at) < TIMESTAMP '2024-02-15 06:00:00'")
    assert interval_sql("x", Interval(None, d(2024, 1, 1))) == "(x) < TIMESTAMP '2024-01-01 00:00:00'"
    assert interval_sql("x", Interval(d(2024, 1, 1), None)) == "(x) >= TIMESTAMP '2024-01-01 00:00:00'"
