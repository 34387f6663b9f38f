"""Loads Azure Cost Management export CSV files into raw_azure_cost."""

from __future__ import annotations

from lookwright.warehouse.base import Warehouse
from lookwright.warehouse.sources.base import Source
from lookwright.warehouse.sources.tabular import (
    finish_stage,
    number_sql,
    parsed_check,
    required_check,
    stage_table_rows,
)

TABLE = "raw_azure_cost"

CREATE_SQL = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    usage_date DATE NOT NULL,                 -- Date (MM/DD/YYYY or YYYY-MM-DD); Azure exports are daily
    meter_category VARCHAR NOT NULL,
    meter_sub_category VARCHAR,
    cost_in_billing_currency DOUBLE NOT NULL,
    billing_currency VARCHAR,
    resource_id VARCHAR,
    resource_location VARCHAR,
    quantity DOUBLE,
    tags JSON,                                -- Tags as a JSON object; NULL when untagged
    tag_service VARCHAR,
    tag_environment VARCHAR,
    tag_team VARCHAR,
    tag_cost_center VARCHAR,
    source_file VARCHAR NOT NULL,
    source_line INTEGER NOT NULL,
    loaded_at TIMESTAMP NOT NULL
)"""

COLUMNS: dict[str, list[str]] = {
    "usage_date": ["date", "usage_date"],
    "meter_category": ["meter_category"],
    "meter_sub_category": ["meter_sub_category"],
    "cost_in_billing_currency": ["cost_in_billing_currency", "pre_tax_cost", "cost"],
    "billing_currency": ["billing_currency", "billing_currency_code"],
    "resource_id": ["resource_id", "instance_id"],
    "resource_location": ["resource_location"],
    "quantity": ["quantity"],
    "tags": ["tags"],
}
REQUIRED = ["usage_date", "meter_category", "cost_in_billing_currency"]
_TEXT = ["meter_category", "meter_sub_category", "billing_currency", "resource_id", "resource_location"]
_TAG_KEYS = {"tag_service": "service", "tag_environment": "environment", "tag_team": "team",
             "tag_cost_center": "cost_center"}

_DATE = "coalesce(CAST(TRY_STRPTIME(trim(usage_date), '%m/%d/%Y') AS DATE), TRY_CAST(trim(usage_date) AS DATE))"
# Older exports write Tags without the outer braces: "service": "checkout","team": "web"
_TAGS_TEXT = (
    "CASE WHEN coalesce(trim(tags), '') = '' THEN NULL"
    " WHEN starts_with(trim(tags), '{') THEN trim(tags) ELSE '{' || trim(tags) || '}' END"
)
_TAGS = f"CASE WHEN json_valid({_TAGS_TEXT}) AND json_type({_TAGS_TEXT}) = 'OBJECT' THEN CAST({_TAGS_TEXT} AS JSON) END"


def stage(warehouse: Warehouse, path: str) -> None:
    """Stage every cost row, typed, with the first problem of each bad one."""
    stage_table_rows(warehouse, path, COLUMNS, REQUIRED)
    tag_columns = [
        f"nullif(json_extract_string({_TAGS}, '$.\"{key}\"'), '') AS {name}"
        for name, key in _TAG_KEYS.items()
    ]
    typed = ", ".join(
        [
            f"{_DATE} AS usage_date",
            f"{number_sql('cost_in_billing_currency')} AS cost_in_billing_currency",
            f"{number_sql('quantity')} AS quantity",
            f"{_TAGS} AS tags",
            *tag_columns,
            *(f"nullif(trim({name}), '') AS {name}" for name in _TEXT),
        ]
    )
    checks = [
        *(required_check(name) for name in REQUIRED),
        parsed_check("usage_date", _DATE, "date"),
        parsed_check("cost_in_billing_currency", number_sql("cost_in_billing_currency"), "number"),
        parsed_check("quantity", number_sql("quantity"), "number"),
        parsed_check("tags", _TAGS, "Tags JSON"),
    ]
    finish_stage(warehouse, typed, checks)


SOURCE = Source("azure-cost", TABLE, "Azure Cost Management export, CSV", stage)
