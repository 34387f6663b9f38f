"""Loads AWS Cost and Usage Report files (CSV or Parquet) into raw_aws_cur."""

from __future__ import annotations

from lookwright.warehouse.base import Warehouse
from lookwright.warehouse.sources.base import Source
from lookwright.warehouse.sources.tabular import (
    finish_stage,
    number_sql,
    parsed_check,
    required_check,
    stage_table_rows,
    timestamp_sql,
)

TABLE = "raw_aws_cur"

CREATE_SQL = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    line_item_usage_start_date TIMESTAMP NOT NULL,  -- UTC
    line_item_usage_end_date TIMESTAMP NOT NULL,    -- UTC
    line_item_unblended_cost DOUBLE NOT NULL,       -- USD
    line_item_product_code VARCHAR NOT NULL,        -- AmazonEC2, AmazonRDS, AWSELB, ...
    line_item_usage_type VARCHAR,
    line_item_line_item_type VARCHAR,               -- Usage, Tax, Credit, ... (NULL if not exported)
    line_item_resource_id VARCHAR,
    line_item_usage_amount DOUBLE,
    product_region VARCHAR,                         -- product_region_code, else product_region
    resource_tags_user_service VARCHAR,             -- NULL when untagged
    resource_tags_user_environment VARCHAR,
    resource_tags_user_team VARCHAR,
    resource_tags_user_cost_center VARCHAR,
    source_file VARCHAR NOT NULL,
    source_line INTEGER NOT NULL,                   -- CSV line, or Parquet row number
    loaded_at TIMESTAMP NOT NULL
)"""

# target column -> normalized header names it may appear under (CUR legacy CSV, Athena/Parquet, 2.0)
COLUMNS: dict[str, list[str]] = {
    "line_item_usage_start_date": ["line_item_usage_start_date"],
    "line_item_usage_end_date": ["line_item_usage_end_date"],
    "line_item_unblended_cost": ["line_item_unblended_cost"],
    "line_item_product_code": ["line_item_product_code"],
    "line_item_usage_type": ["line_item_usage_type"],
    "line_item_line_item_type": ["line_item_line_item_type"],
    "line_item_resource_id": ["line_item_resource_id"],
    "line_item_usage_amount": ["line_item_usage_amount"],
    "product_region": ["product_region_code", "product_region"],
    "resource_tags_user_service": ["resource_tags_user_service"],
    "resource_tags_user_environment": ["resource_tags_user_environment"],
    "resource_tags_user_team": ["resource_tags_user_team"],
    "resource_tags_user_cost_center": ["resource_tags_user_cost_center"],
}
REQUIRED = [
    "line_item_usage_start_date",
    "line_item_usage_end_date",
    "line_item_unblended_cost",
    "line_item_product_code",
]
_TEXT = [name for name in COLUMNS if name not in REQUIRED[:3] and name != "line_item_usage_amount"]


def stage(warehouse: Warehouse, path: str) -> None:
    """Stage every CUR line item, typed, with the first problem of each bad one."""
    stage_table_rows(warehouse, path, COLUMNS, REQUIRED)
    start = timestamp_sql("line_item_usage_start_date")
    end = timestamp_sql("line_item_usage_end_date")
    typed = ", ".join(
        [
            f"{start} AS line_item_usage_start_date",
            f"{end} AS line_item_usage_end_date",
            f"{number_sql('line_item_unblended_cost')} AS line_item_unblended_cost",
            f"{number_sql('line_item_usage_amount')} AS line_item_usage_amount",
            *(f"nullif(trim({name}), '') AS {name}" for name in _TEXT),
        ]
    )
    checks = [
        *(required_check(name) for name in REQUIRED),
        parsed_check("line_item_usage_start_date", start, "timestamp"),
        parsed_check("line_item_usage_end_date", end, "timestamp"),
        parsed_check("line_item_unblended_cost", number_sql("line_item_unblended_cost"), "number"),
        parsed_check("line_item_usage_amount", number_sql("line_item_usage_amount"), "number"),
        (f"{end} < {start}", "'line_item_usage_end_date before line_item_usage_start_date'"),
    ]
    finish_stage(warehouse, typed, checks)


# The column families of CUR (legacy `family/Name` and 2.0 `family_name`): a column outside them
# is a format change worth a warning.
KNOWN = frozenset({
    "identity_*", "bill_*", "line_item_*", "time_interval*", "product*", "pricing_*", "reservation_*",
    "savings_plan_*", "resource_tags*", "cost_category*", "discount*", "split_line_item_*",
})

SOURCE = Source("cur", TABLE, "AWS Cost and Usage Report, CSV or Parquet", stage, KNOWN)
