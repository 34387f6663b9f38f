"""Loads GCP BigQuery billing export rows (JSON lines or CSV) into raw_gcp_billing."""

from __future__ import annotations

from pathlib import Path

from lookwright.warehouse.base import Warehouse
from lookwright.warehouse.sources.base import Source
from lookwright.warehouse.sources.tabular import (
    finish_stage,
    number_sql,
    parsed_check,
    required_check,
    stage_json_rows,
    stage_table_rows,
    tags_object_sql,
    timestamp_sql,
)

TABLE = "raw_gcp_billing"

CREATE_SQL = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    service_description VARCHAR NOT NULL,     -- service.description: Compute Engine, Cloud SQL, ...
    sku_description VARCHAR,                  -- sku.description
    usage_start_time TIMESTAMP NOT NULL,      -- UTC
    usage_end_time TIMESTAMP NOT NULL,        -- UTC
    cost DOUBLE NOT NULL,
    currency VARCHAR,
    usage_amount DOUBLE,                      -- usage.amount
    usage_unit VARCHAR,                       -- usage.unit
    project_id VARCHAR,                       -- project.id
    location_region VARCHAR,                  -- location.region
    resource_name VARCHAR,                    -- resource.name
    labels JSON,                              -- labels [{{key, value}}] as a JSON object; NULL if none
    label_service VARCHAR,
    label_environment VARCHAR,
    label_team VARCHAR,
    label_cost_center VARCHAR,
    source_file VARCHAR NOT NULL,
    source_line INTEGER NOT NULL,
    loaded_at TIMESTAMP NOT NULL
)"""

# target column -> where it is in a BigQuery export row (JSON) ...
JSON_COLUMNS: dict[str, str] = {
    "service_description": "r.service.description",
    "sku_description": "r.sku.description",
    "usage_start_time": "r.usage_start_time",
    "usage_end_time": "r.usage_end_time",
    "cost": "r.cost",
    "currency": "r.currency",
    "usage_amount": "r.usage.amount",
    "usage_unit": "r.usage.unit",
    "project_id": "r.project.id",
    "location_region": "r.location.region",
    "resource_name": "r.resource.name",
    "labels": "r.labels",
}
_STRUCTURE = (
    '{"service":{"description":"VARCHAR"},"sku":{"description":"VARCHAR"},'
    '"usage_start_time":"VARCHAR","usage_end_time":"VARCHAR","cost":"VARCHAR","currency":"VARCHAR",'
    '"usage":{"amount":"VARCHAR","unit":"VARCHAR"},"labels":"JSON","project":{"id":"VARCHAR"},'
    '"location":{"region":"VARCHAR"},"resource":{"name":"VARCHAR"}}'
)
# ... and under which normalized CSV header (`service.description` -> service_description)
CSV_COLUMNS: dict[str, list[str]] = {name: [name] for name in JSON_COLUMNS}
REQUIRED = ["service_description", "usage_start_time", "usage_end_time", "cost"]
_TEXT = ["service_description", "sku_description", "currency", "usage_unit", "project_id",
         "location_region", "resource_name"]
_LABEL_KEYS = {"label_service": "service", "label_environment": "environment", "label_team": "team",
               "label_cost_center": "cost_center"}


def stage(warehouse: Warehouse, path: str) -> None:
    """Stage every billing row, typed, with the first problem of each bad one."""
    if Path(path).suffix.lower() in {".csv", ".parquet"}:
        stage_table_rows(warehouse, path, CSV_COLUMNS, REQUIRED)
    else:
        stage_json_rows(warehouse, path, _STRUCTURE, JSON_COLUMNS)
    start, end = timestamp_sql("usage_start_time"), timestamp_sql("usage_end_time")
    labels = f"CASE WHEN nullif(trim(labels), '') IS NOT NULL THEN {tags_object_sql('labels')} END"
    typed = ", ".join(
        [
            f"{start} AS usage_start_time",
            f"{end} AS usage_end_time",
            f"{number_sql('cost')} AS cost",
            f"{number_sql('usage_amount')} AS usage_amount",
            f"{labels} AS labels",
            *(
                f"nullif(json_extract_string({labels}, '$.\"{key}\"'), '') AS {name}"
                for name, key in _LABEL_KEYS.items()
            ),
            *(f"nullif(trim({name}), '') AS {name}" for name in _TEXT),
        ]
    )
    checks = [
        *(required_check(name) for name in REQUIRED),
        parsed_check("usage_start_time", start, "timestamp"),
        parsed_check("usage_end_time", end, "timestamp"),
        parsed_check("cost", number_sql("cost"), "number"),
        parsed_check("usage_amount", number_sql("usage_amount"), "number"),
        ("trim(labels) NOT IN ('', '[]', 'null') AND " + f"({labels}) IS NULL", "'invalid labels: ' || labels"),
        (f"{end} < {start}", "'usage_end_time before usage_start_time'"),
    ]
    finish_stage(warehouse, typed, checks)


SOURCE = Source("gcp-billing", TABLE, "GCP BigQuery billing export rows, JSON lines or CSV", stage)
