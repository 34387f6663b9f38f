"""Looker's date filter expressions ("7 days", "7 days ago for 90 days", ...) as half-open time intervals."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lookwright.errors import InputError

# Semantics follow https://cloud.google.com/looker/docs/filter-expressions ("Date and time"): a relative
# period counts complete units INCLUDING the current one ("3 days" = today and the 2 days before it, so
# "7 days" = [today-6, tomorrow)); "N days ago" is that one whole day; "N days ago for M days" starts at the
# beginning of that day and lasts M days ([today-N, today-N+M)); "before X" excludes X's start, "after X"
# includes it; "A to B" includes A and excludes B. Weeks start on Monday (Looker's default week_start_day).
UNITS = ("hour", "day", "week", "month")
AMOUNT = r"(\d+)\s+(" + "|".join(UNITS) + r")s?"  # "7 days": (count, unit)
DATE = r"(\d{4})[-/](\d{2})[-/](\d{2})"
LAST = re.compile(AMOUNT)
AGO = re.compile(AMOUNT + r"\s+ago")
AGO_FOR = re.compile(AMOUNT + r"\s+ago\s+for\s+" + AMOUNT)
BEFORE_AGO = re.compile(r"before\s+" + AMOUNT + r"\s+ago")
BEFORE_DATE = re.compile(r"before\s+" + DATE)
AFTER_DATE = re.compile(r"after\s+" + DATE)
RANGE = re.compile(DATE + r"\s+to\s+" + DATE)


class UnsupportedFilter(InputError):
    """A filter expression this interpreter does not understand."""


@dataclass(frozen=True)
class Interval:
    """[start, end) in local wall-clock time of the query time zone; None means unbounded."""

    start: datetime.datetime | None
    end: datetime.datetime | None


def _truncate(moment: datetime.datetime, unit: str) -> datetime.datetime:
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    if unit == "week":
        return day - datetime.timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    return day


def _shift(moment: datetime.datetime, unit: str, count: int) -> datetime.datetime:
    if unit == "month":
        months = moment.year * 12 + moment.month - 1 + count
        return moment.replace(year=months // 12, month=months % 12 + 1)
    step = {"hour": datetime.timedelta(hours=1), "day": datetime.timedelta(days=1),
            "week": datetime.timedelta(weeks=1)}[unit]
    return moment + step * count


def local_now(now: datetime.datetime, timezone: str) -> datetime.datetime:
    """`now` as naive wall-clock time in `timezone` (a naive `now` is taken as UTC)."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise UnsupportedFilter(f"unknown time zone {timezone!r}") from None
    aware = now if now.tzinfo is not None else now.replace(tzinfo=datetime.UTC)
    return aware.astimezone(zone).replace(tzinfo=None)


def _date(groups: tuple[str | None, ...]) -> datetime.datetime:
    year, month, day = (int(str(g)) for g in groups)
    try:
        return datetime.datetime(year, month, day)
    except ValueError:
        raise UnsupportedFilter(f"{year:04d}-{month:02d}-{day:02d} is not a date") from None


def _count(text: str | None) -> int:
    count = int(str(text))
    if count < 1:
        raise UnsupportedFilter("a relative period needs a count of at least 1")
    return count


def _last(m: re.Match[str], current: Callable[[str], datetime.datetime]) -> Interval:
    unit, count = m.group(2), _count(m.group(1))
    this = current(unit)
    return Interval(_shift(this, unit, 1 - count), _shift(this, unit, 1))


def _ago(m: re.Match[str], current: Callable[[str], datetime.datetime]) -> Interval:
    unit = m.group(2)
    start = _shift(current(unit), unit, -int(m.group(1)))
    return Interval(start, _shift(start, unit, 1))


def _ago_for(m: re.Match[str], current: Callable[[str], datetime.datetime]) -> Interval:
    start = _shift(current(m.group(2)), m.group(2), -int(m.group(1)))
    return Interval(start, _shift(start, m.group(4), _count(m.group(3))))


def _before_ago(m: re.Match[str], current: Callable[[str], datetime.datetime]) -> Interval:
    return Interval(None, _shift(current(m.group(2)), m.group(2), -int(m.group(1))))


def _range(m: re.Match[str], current: Callable[[str], datetime.datetime]) -> Interval:
    start, end = _date(m.groups()[:3]), _date(m.groups()[3:])
    if end < start:
        raise UnsupportedFilter(f"{m.group(0)!r} ends before it starts")
    return Interval(start, end)


PATTERNS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str], Callable[[str], datetime.datetime]], Interval]],
                ...] = (
    (LAST, _last), (AGO, _ago), (AGO_FOR, _ago_for), (BEFORE_AGO, _before_ago), (RANGE, _range),
    (BEFORE_DATE, lambda m, _: Interval(None, _date(m.groups()))),
    (AFTER_DATE, lambda m, _: Interval(_date(m.groups()), None)),
)


def date_interval(expression: str, now: datetime.datetime, timezone: str = "UTC") -> Interval:
    """The interval a Looker date filter expression selects at `now`, in `timezone` wall-clock time.

    Raises UnsupportedFilter for anything else.
    """
    text = " ".join(expression.strip().lower().split())
    local = local_now(now, timezone)

    def current(unit: str) -> datetime.datetime:
        return _truncate(local, unit)

    if text in ("today", "yesterday"):
        today = current("day")
        start = today if text == "today" else today - datetime.timedelta(days=1)
        return Interval(start, start + datetime.timedelta(days=1))
    for pattern, build in PATTERNS:
        match = pattern.fullmatch(text)
        if match:
            return build(match, current)
    raise UnsupportedFilter(f"{expression!r} is not a supported Looker date filter expression")


def _literal(moment: datetime.datetime) -> str:
    return f"TIMESTAMP '{moment:%Y-%m-%d %H:%M:%S}'"


def interval_sql(column_sql: str, interval: Interval, date_literals: bool = False) -> str:
    """A SQL condition selecting `column_sql` (a DATE or TIMESTAMP expression) within the interval;
    `date_literals` bounds a DATE column with DATE constants (BigQuery compares no DATE with a TIMESTAMP)."""
    literal = (lambda moment: f"DATE '{moment:%Y-%m-%d}'") if date_literals else _literal
    parts = []
    if interval.start is not None:
        parts.append(f"({column_sql}) >= {literal(interval.start)}")
    if interval.end is not None:
        parts.append(f"({column_sql}) < {literal(interval.end)}")
    return " AND ".join(parts)
