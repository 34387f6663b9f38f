"""Loads real-user-monitoring beacons (web-vitals metrics, JSON lines) into raw_rum_beacons.

Each line is what a page sends with `navigator.sendBeacon(url, JSON.stringify({path, href,
...metric}))` for one web-vitals `Metric` (name, value, rating, delta, id, navigationType,
entries, attribution), plus what the collector adds on receipt: `timestamp` (ISO 8601), the
cloud `provider` and `region` of the edge that received it, and the visitor's `user_segment`
and `session_id`. TTFB is reported exactly once per page load, so it counts page views.
"""

from __future__ import annotations

from lookwright.warehouse.base import Warehouse
from lookwright.warehouse.sources.base import Source
from lookwright.warehouse.sources.tabular import (
    finish_stage,
    number_sql,
    parsed_check,
    required_check,
    stage_json_rows,
    timestamp_sql,
)

TABLE = "raw_rum_beacons"
METRICS = ("CLS", "FCP", "FID", "INP", "LCP", "TTFB")
RATINGS = ("good", "needs-improvement", "poor")

CREATE_SQL = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    beacon_timestamp TIMESTAMP NOT NULL,     -- `timestamp`: when the collector received it, UTC
    page_path VARCHAR NOT NULL,              -- `path`
    page_url VARCHAR,                        -- `href`
    metric_name VARCHAR NOT NULL,            -- LCP, INP, CLS, FCP, TTFB or FID
    metric_value DOUBLE NOT NULL,            -- milliseconds; CLS: unitless layout-shift score
    metric_delta DOUBLE,
    rating VARCHAR,                          -- good, needs-improvement or poor
    metric_id VARCHAR,                       -- web-vitals id (v4-<ms>-<random>), one per metric and page load
    navigation_type VARCHAR,                 -- navigate, reload, back-forward, back-forward-cache, prerender, restore
    cloud_provider VARCHAR,
    cloud_region VARCHAR,
    user_segment VARCHAR,
    session_id VARCHAR,
    source_file VARCHAR NOT NULL,
    source_line INTEGER NOT NULL,
    loaded_at TIMESTAMP NOT NULL
)"""

_STRUCTURE = (
    '{"timestamp":"VARCHAR","path":"VARCHAR","href":"VARCHAR","name":"VARCHAR","value":"VARCHAR",'
    '"delta":"VARCHAR","rating":"VARCHAR","id":"VARCHAR","navigationType":"VARCHAR",'
    '"provider":"VARCHAR","region":"VARCHAR","user_segment":"VARCHAR","session_id":"VARCHAR"}'
)
COLUMNS: dict[str, str] = {
    "beacon_timestamp": "r.timestamp", "page_path": "r.path", "page_url": "r.href",
    "metric_name": "r.name", "metric_value": "r.value", "metric_delta": "r.delta",
    "rating": "r.rating", "metric_id": "r.id", "navigation_type": "r.navigationType",
    "cloud_provider": "r.provider", "cloud_region": "r.region", "user_segment": "r.user_segment",
    "session_id": "r.session_id",
}
KNOWN = frozenset({
    "timestamp", "path", "href", "name", "value", "delta", "rating", "id", "navigation_type",
    "entries", "attribution", "provider", "region", "user_segment", "session_id",
})
_TEXT = ["page_path", "page_url", "rating", "metric_id", "navigation_type", "cloud_provider",
         "cloud_region", "user_segment", "session_id"]


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def stage(warehouse: Warehouse, path: str) -> None:
    """Stage every beacon, typed, with the first problem of each bad one."""
    stage_json_rows(warehouse, path, _STRUCTURE, COLUMNS)
    ts = timestamp_sql("beacon_timestamp")
    value, delta = number_sql("metric_value"), number_sql("metric_delta")
    name = "upper(trim(metric_name))"
    typed = ", ".join([
        f"{ts} AS beacon_timestamp", f"{name} AS metric_name",
        f"{value} AS metric_value", f"{delta} AS metric_delta",
        *(f"nullif(trim({column}), '') AS {column}" for column in _TEXT),
    ])
    checks = [
        *(required_check(column) for column in ("beacon_timestamp", "page_path", "metric_name", "metric_value")),
        parsed_check("beacon_timestamp", ts, "timestamp"),
        (f"NOT {_one_of(name, METRICS)}", "'unknown web-vitals metric: ' || metric_name"),
        parsed_check("metric_value", value, "number"),
        parsed_check("metric_delta", delta, "number"),
        (f"{value} < 0", "'negative value'"),
        (f"nullif(trim(rating), '') IS NOT NULL AND NOT {_one_of('trim(rating)', RATINGS)}",
         "'unknown rating: ' || rating"),
    ]
    finish_stage(warehouse, typed, checks)


SOURCE = Source("rum", TABLE, "web-vitals beacons (real-user monitoring), JSON lines", stage, KNOWN)
