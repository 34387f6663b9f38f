"""Loads OTLP/JSON trace exports (one ExportTraceServiceRequest per line) into raw_spans."""

from __future__ import annotations

from lookwright.warehouse.base import Warehouse
from lookwright.warehouse.sources.base import STAGE_TABLE, Source, lines_sql

TABLE = "raw_spans"

CREATE_SQL = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    trace_id VARCHAR NOT NULL,              -- 32 lowercase hex digits
    span_id VARCHAR NOT NULL,               -- 16 lowercase hex digits
    parent_span_id VARCHAR,                 -- NULL for a root span
    name VARCHAR,
    kind INTEGER NOT NULL,                  -- absent = 0; OTLP SpanKind: 1 internal 2 server 3 client 4 producer 5 consumer
    start_time_unix_nano UBIGINT NOT NULL,
    end_time_unix_nano UBIGINT NOT NULL,
    start_time TIMESTAMP NOT NULL,          -- UTC, microseconds
    end_time TIMESTAMP NOT NULL,            -- UTC, microseconds
    duration_ms DOUBLE NOT NULL,
    status_code INTEGER NOT NULL,           -- absent = 0; OTLP StatusCode: 0 unset 1 ok 2 error
    status_message VARCHAR,
    scope_name VARCHAR,
    service_name VARCHAR NOT NULL,          -- resource service.name
    cloud_provider VARCHAR,                 -- resource cloud.provider
    cloud_region VARCHAR,                   -- resource cloud.region
    deployment_environment VARCHAR,         -- resource deployment.environment
    host_name VARCHAR,                      -- resource host.name
    k8s_pod_name VARCHAR,                   -- resource k8s.pod.name
    container_id VARCHAR,                   -- resource container.id
    http_route VARCHAR,                     -- span http.route
    http_request_method VARCHAR,            -- span http.request.method
    http_response_status_code INTEGER,      -- span http.response.status_code
    http_request_body_size BIGINT,          -- span http.request.body.size
    http_response_body_size BIGINT,         -- span http.response.body.size
    enduser_id VARCHAR,                     -- span enduser.id
    session_id VARCHAR,                     -- span session.id
    user_segment VARCHAR,                   -- span user.segment
    span_attributes JSON,                   -- every span attribute as a key -> value object
    resource_attributes JSON,               -- every resource attribute as a key -> value object
    source_file VARCHAR NOT NULL,
    source_line INTEGER NOT NULL,
    loaded_at TIMESTAMP NOT NULL
)"""

_ATTRS = (
    '[{"key":"VARCHAR","value":{"stringValue":"VARCHAR","intValue":"VARCHAR",'
    '"doubleValue":"VARCHAR","boolValue":"VARCHAR"}}]'
)
_STRUCTURE = (
    '{"resourceSpans":[{"resource":{"attributes":' + _ATTRS + '},'
    '"scopeSpans":[{"scope":{"name":"VARCHAR"},"spans":[{"traceId":"VARCHAR","spanId":"VARCHAR",'
    '"parentSpanId":"VARCHAR","name":"VARCHAR","kind":"VARCHAR","startTimeUnixNano":"VARCHAR",'
    '"endTimeUnixNano":"VARCHAR","attributes":' + _ATTRS + ','
    '"status":{"code":"VARCHAR","message":"VARCHAR"}}]}]}]}'
)

_KINDS = {
    "SPAN_KIND_UNSPECIFIED": 0,
    "SPAN_KIND_INTERNAL": 1,
    "SPAN_KIND_SERVER": 2,
    "SPAN_KIND_CLIENT": 3,
    "SPAN_KIND_PRODUCER": 4,
    "SPAN_KIND_CONSUMER": 5,
}
_STATUSES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}


def _enum(expr: str, names: dict[str, int]) -> str:
    """OTLP/JSON enums are integers; some exporters write the enum name instead."""
    cases = " ".join(f"WHEN '{name}' THEN {value}" for name, value in names.items())
    return f"CASE {expr} {cases} ELSE TRY_CAST({expr} AS INTEGER) END"


def _value(attrs: str, key: str) -> str:
    return f"list_filter({attrs}, lambda a: a.key = '{key}')[1].value"


def _text(attrs: str, key: str) -> str:
    v = _value(attrs, key)
    return f"coalesce({v}.stringValue, {v}.intValue, {v}.doubleValue, {v}.boolValue)"


def _integer(attrs: str, key: str) -> str:
    return f"TRY_CAST({_text(attrs, key)} AS BIGINT)"


def _json_object(attrs: str) -> str:
    """Attributes [{key, value: {...Value}}] as a JSON object text key -> typed value."""
    value = (
        "CASE WHEN a.value.stringValue IS NOT NULL THEN to_json(a.value.stringValue)::VARCHAR"
        " WHEN TRY_CAST(a.value.intValue AS BIGINT) IS NOT NULL"
        " THEN TRY_CAST(a.value.intValue AS BIGINT)::VARCHAR"
        " WHEN isfinite(TRY_CAST(a.value.doubleValue AS DOUBLE))"
        " THEN to_json(TRY_CAST(a.value.doubleValue AS DOUBLE))::VARCHAR"
        " WHEN lower(a.value.boolValue) IN ('true', 'false') THEN lower(a.value.boolValue)"
        " ELSE 'null' END"
    )
    pairs = f"list_transform({attrs}, lambda a: to_json(coalesce(a.key, ''))::VARCHAR || ':' || {value})"
    return f"CAST('{{' || array_to_string(coalesce({pairs}, []), ',') || '}}' AS JSON)"


def _hex_check(expr: str, field: str, digits: int) -> list[tuple[str, str]]:
    return [
        (f"coalesce({expr}, '') = ''", f"missing {field}"),
        (f"NOT regexp_full_match({expr}, '[0-9a-fA-F]{{{digits}}}')", f"invalid {field}"),
    ]


def _nanos_check(expr: str, field: str) -> list[tuple[str, str]]:
    return [
        (f"coalesce({expr}, '') = ''", f"missing {field}"),
        (
            f"NOT regexp_full_match({expr}, '[0-9]+') OR TRY_CAST({expr} AS UBIGINT) IS NULL",
            f"invalid {field}",
        ),
    ]


_SPAN_CHECKS: list[tuple[str, str]] = [
    *_hex_check("sp.traceId", "traceId", 32),
    *_hex_check("sp.spanId", "spanId", 16),
    *_nanos_check("sp.startTimeUnixNano", "startTimeUnixNano"),
    *_nanos_check("sp.endTimeUnixNano", "endTimeUnixNano"),
    (
        "TRY_CAST(sp.endTimeUnixNano AS UBIGINT) < TRY_CAST(sp.startTimeUnixNano AS UBIGINT)",
        "endTimeUnixNano before startTimeUnixNano",
    ),
    (f"coalesce({_text('resource_attrs', 'service.name')}, '') = ''", "missing service.name"),
]


def _span_reason() -> tuple[str, str]:
    position = (
        "'resourceSpans[' || (ri - 1) || '].scopeSpans[' || (si - 1) || '].spans[' || (pi - 1) || ']: '"
    )
    cases = " ".join(f"WHEN {condition} THEN '{reason}'" for condition, reason in _SPAN_CHECKS)
    return f"CASE {cases} END", position


def _span_columns() -> str:
    start = "TRY_CAST(sp.startTimeUnixNano AS UBIGINT)"
    end = "TRY_CAST(sp.endTimeUnixNano AS UBIGINT)"
    r, s = "resource_attrs", "sp.attributes"
    return f"""
        lower(sp.traceId) AS trace_id,
        lower(sp.spanId) AS span_id,
        nullif(lower(sp.parentSpanId), '') AS parent_span_id,
        sp.name AS name,
        coalesce({_enum('sp.kind', _KINDS)}, 0) AS kind,
        {start} AS start_time_unix_nano,
        {end} AS end_time_unix_nano,
        make_timestamp(CAST({start} // 1000 AS BIGINT)) AS start_time,
        make_timestamp(CAST({end} // 1000 AS BIGINT)) AS end_time,
        (CAST({end} AS HUGEINT) - CAST({start} AS HUGEINT)) / 1e6 AS duration_ms,
        coalesce({_enum('sp.status.code', _STATUSES)}, 0) AS status_code,
        nullif(sp.status.message, '') AS status_message,
        scope_name,
        {_text(r, 'service.name')} AS service_name,
        {_text(r, 'cloud.provider')} AS cloud_provider,
        {_text(r, 'cloud.region')} AS cloud_region,
        {_text(r, 'deployment.environment')} AS deployment_environment,
        {_text(r, 'host.name')} AS host_name,
        {_text(r, 'k8s.pod.name')} AS k8s_pod_name,
        {_text(r, 'container.id')} AS container_id,
        {_text(s, 'http.route')} AS http_route,
        {_text(s, 'http.request.method')} AS http_request_method,
        {_integer(s, 'http.response.status_code')} AS http_response_status_code,
        {_integer(s, 'http.request.body.size')} AS http_request_body_size,
        {_integer(s, 'http.response.body.size')} AS http_response_body_size,
        {_text(s, 'enduser.id')} AS enduser_id,
        {_text(s, 'session.id')} AS session_id,
        {_text(s, 'user.segment')} AS user_segment,
        {_json_object(s)} AS span_attributes,
        {_json_object(r)} AS resource_attributes"""


def stage(warehouse: Warehouse, path: str) -> None:
    """Stage every span of the file, and one bad row per unusable line or span."""
    reason, position = _span_reason()
    warehouse.execute(f"""
        CREATE OR REPLACE TEMP TABLE {STAGE_TABLE} AS
        WITH lines AS ({lines_sql(path)}),
        parsed AS (
            SELECT source_line, json_valid(line) AS valid,
                   CASE WHEN json_valid(line) THEN from_json(line, '{_STRUCTURE}') END AS request
            FROM lines
        ),
        resources AS (
            SELECT source_line, unnest(request.resourceSpans) AS rs,
                   generate_subscripts(request.resourceSpans, 1) AS ri
            FROM parsed WHERE valid
        ),
        scopes AS (
            SELECT source_line, ri, rs.resource.attributes AS resource_attrs,
                   unnest(rs.scopeSpans) AS ss, generate_subscripts(rs.scopeSpans, 1) AS si
            FROM resources
        ),
        spans AS (
            SELECT source_line, ri, si, resource_attrs, ss.scope.name AS scope_name,
                   unnest(ss.spans) AS sp, generate_subscripts(ss.spans, 1) AS pi
            FROM scopes
        ),
        checked AS (SELECT *, {reason} AS problem FROM spans)
        SELECT {_span_columns()}, source_line,
               CASE WHEN problem IS NOT NULL THEN {position} || problem END AS bad_reason
        FROM checked
        UNION ALL BY NAME
        SELECT source_line,
               CASE WHEN NOT valid THEN 'invalid JSON'
                    ELSE 'not an ExportTraceServiceRequest: no resourceSpans array' END AS bad_reason
        FROM parsed WHERE NOT valid OR request.resourceSpans IS NULL
    """)


SOURCE = Source("otlp", TABLE, "OTLP/JSON trace export, one ExportTraceServiceRequest per line", stage)
