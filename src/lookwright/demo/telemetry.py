"""Synthetic CloudWatch metrics, application logs and web-vitals beacons, derived from the spans.

Everything comes from the same synthetic requests, so the incidents show everywhere: a latency
spike raises the instance CPU (CloudWatch) and the pages' LCP (RUM); an error burst writes error
log lines carrying the failing spans' trace and span ids (logs).
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from lookwright.demo.synth import SynthConfig

TRACE_ID = ("lower(lpad(to_hex(h(id, 'trace')), 16, '0') || lpad(to_hex(h(id, 'trace2')), 16, '0'))")
SPAN_ID = "lower(lpad(to_hex(h(id * 4 + child_no, 'span')), 16, '0'))"
STREAM = "lookwright-metrics"
ACCOUNT = "123456789012"
SLOT_MINUTES = 5  # EC2 basic monitoring: one data point per 5 minutes, one sample per minute
CLOUDWATCH_FORMATS = ("json", "opentelemetry1.0")  # metric stream OutputFormat values synth writes


class Generator(Protocol):
    """What the writers need of synth's generator."""

    @property
    def config(self) -> SynthConfig: ...

    @property
    def outdir(self) -> Path: ...

    def written(self, relative: str, kind: str, rows: int) -> None: ...

    def sql(self, statement: str, params: list[object] | None = None) -> list[tuple[object, ...]]: ...

    def _copy(self, select: str, relative: str, kind: str, options: str) -> None: ...


def instance_id(name: str) -> str:
    """A stable EC2 instance id (i- and 17 hex digits) for a synthetic instance name."""
    return "i-" + hashlib.sha1(name.encode("utf-8")).hexdigest()[:17]


def create_instances(generator: Generator, rows: list[tuple[int, str, str, int, str]]) -> None:
    """The EC2 instances CloudWatch reports on: (service index, region, environment, node, id)."""
    generator.sql("CREATE TABLE cw_instances (svc_idx INT, region VARCHAR, environment VARCHAR,"
                  " pod_no INT, instance_id VARCHAR)")
    for row in rows:
        generator.sql("INSERT INTO cw_instances VALUES (?, ?, ?, ?, ?)", list(row))


def _day_name(generator: Generator, day: int) -> str:
    start = generator.config.start
    return str((start + timedelta(days=day)).isoformat())


def _t0(generator: Generator) -> str:
    return f"TIMESTAMP '{generator.config.start.isoformat()}'"


def write_cloudwatch(generator: Generator, day: int) -> None:
    """AWS/EC2 CPUUtilization, NetworkIn, NetworkOut and CWAgent procstat_cpu_usage per instance, in the
    stream's output format: JSON lines, or OpenTelemetry 1.0.0 protobuf holding the same data points."""
    slots_per_day = 24 * 60 // SLOT_MINUTES
    slot_us = SLOT_MINUTES * 60_000_000
    t0 = _t0(generator)
    select = f"""
        WITH slots AS (
            SELECT {day * slots_per_day} + unnest(range({slots_per_day})) AS slot
        ),
        saturated AS (  -- a latency spike is CPU saturation on the service's production instances
            SELECT svc_idx, region, first_hour * {60 // SLOT_MINUTES} AS first_slot,
                   (last_hour + 1) * {60 // SLOT_MINUTES} - 1 AS last_slot, max(8 * latency_factor) AS saturation
            FROM incidents WHERE latency_factor > 1 GROUP BY ALL
        ),
        load AS (
            SELECT svc_idx, region, environment, coalesce(pod_no, 0) AS pod_no,
                   CAST((start_ns // 1000 - epoch_us({t0})) // {slot_us} AS BIGINT) AS slot,
                   sum(duration_ms) AS busy_ms, sum(response_bytes) AS bytes_out,
                   sum(request_bytes) AS bytes_in
            FROM spans WHERE child_no = 0 AND span_hour BETWEEN {day * 24} AND {day * 24 + 23}
            GROUP BY ALL
        ),
        points AS (
            SELECT i.instance_id, i.region, s.name AS service, sl.slot,
                   least(98.0, 6 + 4 * u(hash(i.instance_id), sl.slot) + coalesce(l.busy_ms, 0) / 100
                         + coalesce(x.saturation, 0)) AS cpu,
                   2000 + coalesce(l.bytes_out, 0) AS bytes_out, 500 + coalesce(l.bytes_in, 0) AS bytes_in
            FROM cw_instances i CROSS JOIN slots sl
            JOIN svc s ON s.svc_idx = i.svc_idx
            LEFT JOIN load l ON l.svc_idx = i.svc_idx AND l.region = i.region
                 AND l.environment = i.environment AND l.pod_no = i.pod_no AND l.slot = sl.slot
            LEFT JOIN saturated x ON x.svc_idx = i.svc_idx AND x.region = i.region
                 AND i.environment = 'production' AND sl.slot BETWEEN x.first_slot AND x.last_slot
        ),
        metrics AS (
            SELECT *, 'AWS/EC2' AS namespace, 'CPUUtilization' AS metric_name, 'Percent' AS unit,
                   round(cpu * 5, 6) AS total, round(cpu * 1.1, 6) AS peak, round(cpu * 0.9, 6) AS low,
                   0 AS ord FROM points
            UNION ALL
            SELECT *, 'AWS/EC2', 'NetworkIn', 'Bytes', bytes_in, bytes_in, 0, 1 FROM points
            UNION ALL
            SELECT *, 'AWS/EC2', 'NetworkOut', 'Bytes', bytes_out, bytes_out, 0, 2 FROM points
            UNION ALL
            SELECT *, 'CWAgent', 'procstat_cpu_usage', 'Percent', round(cpu * 0.8 * 5, 6),
                   round(cpu * 0.88, 6), round(cpu * 0.72, 6), 3 FROM points
        )
        SELECT '{STREAM}' AS metric_stream_name, '{ACCOUNT}' AS account_id, region, namespace, metric_name,
               CASE WHEN namespace = 'CWAgent'
                    THEN json_object('InstanceId', instance_id, 'exe', service, 'process_name', service)
                    ELSE json_object('InstanceId', instance_id) END AS dimensions,
               epoch_ms({t0}) + slot * {SLOT_MINUTES * 60_000} AS "timestamp",
               json_object('count', 5.0, 'sum', CAST(total AS DOUBLE), 'max', CAST(peak AS DOUBLE),
                           'min', CAST(low AS DOUBLE)) AS value, unit
        FROM metrics ORDER BY slot, instance_id, ord
    """
    name = f"cloudwatch/metrics-{_day_name(generator, day)}"
    if generator.config.cloudwatch_format == "json":
        generator._copy(select, f"{name}.json", "cloudwatch", "FORMAT JSON")
        return
    columns = ("metric_stream_name", "account_id", "region", "namespace", "metric_name", "dimensions",
               "timestamp", "value", "unit")
    points = [dict(zip(columns, row, strict=True)) for row in generator.sql(select)]
    for point in points:
        point["dimensions"], point["value"] = json.loads(str(point["dimensions"])), json.loads(str(point["value"]))
    path = generator.outdir / f"{name}.binpb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(opentelemetry_stream(points, SLOT_MINUTES * 60))
    generator.written(f"{name}.binpb", "cloudwatch", len(points))


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def opentelemetry_stream(points: list[dict[str, Any]], period_seconds: int) -> bytes:
    """JSON-format data points as a metric stream writes them in OpenTelemetry 1.0.0: one length-delimited
    ExportMetricsServiceRequest per period start and region, one Summary metric per metric in it."""
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest,
    )
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue, KeyValueList
    from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric, ResourceMetrics, SummaryDataPoint

    from lookwright.warehouse.sources.cloudwatch_otel import ucum_unit

    def text(key: str, value: str) -> KeyValue:
        return KeyValue(key=key, value=AnyValue(string_value=value))

    groups: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for point in points:
        groups.setdefault((int(point["timestamp"]), str(point["region"])), []).append(point)
    out = bytearray()
    for (_, region), group in groups.items():
        first = group[0]
        arn = f"arn:aws:cloudwatch:{region}:{first['account_id']}:metric-stream/{first['metric_stream_name']}"
        resource = ResourceMetrics()
        resource.resource.attributes.extend([text("cloud.provider", "aws"), text("cloud.account.id",
                                             str(first["account_id"])), text("cloud.region", region),
                                             text("aws.exporter.arn", arn)])
        metrics: dict[tuple[str, str], Metric] = {}
        for point in group:
            key = (str(point["namespace"]), str(point["metric_name"]))
            if key not in metrics:
                metrics[key] = Metric(name=f"amazonaws.com/{key[0]}/{key[1]}", unit=ucum_unit(str(point["unit"])))
            start = int(point["timestamp"]) * 1_000_000
            value = point["value"]
            data_point = SummaryDataPoint(start_time_unix_nano=start, time_unix_nano=start + period_seconds * 10**9,
                                          count=int(value["count"]), sum=float(value["sum"]))
            data_point.quantile_values.add(quantile=0.0, value=float(value["min"]))
            data_point.quantile_values.add(quantile=1.0, value=float(value["max"]))
            dimensions = KeyValueList(values=[text(k, str(v)) for k, v in point["dimensions"].items()])
            data_point.attributes.extend([text("Namespace", key[0]), text("MetricName", key[1]),
                                          KeyValue(key="Dimensions", value=AnyValue(kvlist_value=dimensions))])
            metrics[key].summary.data_points.append(data_point)
        resource.scope_metrics.add().metrics.extend(metrics.values())
        message = ExportMetricsServiceRequest(resource_metrics=[resource]).SerializeToString(deterministic=True)
        out += _varint(len(message)) + message
    return bytes(out)


def write_app_logs(generator: Generator, day: int) -> None:
    """Fluent Bit JSON lines: an error line per failed request, a warning per slow one, a sample of info lines."""
    select = f"""
        WITH roots AS (
            SELECT s.*, v.deployment, v.team, {TRACE_ID} AS trace_id, {SPAN_ID} AS span_id
            FROM spans s JOIN svc v USING (svc_idx)
            WHERE child_no = 0 AND span_hour BETWEEN {day * 24} AND {day * 24 + 23}
        ),
        lines AS (
            SELECT *, 'error' AS level, 0 AS ord,
                   method || ' ' || route || ' failed with ' || http_status AS message FROM roots WHERE error_status
            UNION ALL
            SELECT *, 'warning', 1, 'slow request: ' || method || ' ' || route || ' took '
                   || CAST(round(duration_ms) AS BIGINT) || ' ms' FROM roots WHERE duration_ms > 1500
            UNION ALL
            SELECT *, 'info', 2, method || ' ' || route || ' ' || http_status
            FROM roots WHERE u(id, 'log') < 0.05
        )
        SELECT round((start_ns // 1000 + CAST(duration_ms * 1000 AS BIGINT) + ord) / 1e6, 6) AS "date",
               service, level, message, trace_id, span_id, environment,
               CASE WHEN level = 'error' THEN 'stderr' ELSE 'stdout' END AS stream,
               CASE WHEN deployment = 'k8s' THEN json_object(
                   'pod_name', service || '-' || region || '-' || environment || '-' || pod_no,
                   'namespace_name', team, 'container_name', service,
                   'host', 'node-' || service || '-' || region || '-' || environment || '-' || pod_no) END
                   AS kubernetes
        FROM lines ORDER BY start_ns, id, ord
    """
    generator._copy(select, f"logs/app-{_day_name(generator, day)}.log", "app_logs", "FORMAT JSON")


_RATINGS = {"TTFB": (800, 1800), "LCP": (2500, 4000), "INP": (200, 500), "CLS": (0.1, 0.25)}


def _rating(name: str) -> str:
    good, poor = _RATINGS[name]
    return f"CASE WHEN value <= {good} THEN 'good' WHEN value <= {poor} THEN 'needs-improvement' ELSE 'poor' END"


def write_rum(generator: Generator, day: int) -> None:
    """web-vitals beacons (TTFB, LCP, CLS, and INP for half the views) for half of the page requests."""
    vitals = {
        "TTFB": "duration_ms + 20 + 30 * u(id, 'ttfb')",
        "LCP": "duration_ms + 900 + 1200 * pow(u(id, 'lcp'), 2)",
        "CLS": "round(0.01 + 0.3 * pow(u(id, 'cls'), 4), 4)",
        "INP": "40 + 260 * pow(u(id, 'inp'), 3)",
    }
    parts = " UNION ALL ".join(
        f"SELECT *, '{name}' AS name, {expression} AS value, {index} AS ord FROM views"
        + (" WHERE u(id, 'interacted') < 0.5" if name == "INP" else "")
        for index, (name, expression) in enumerate(vitals.items())
    )
    ratings = " ".join(f"WHEN '{name}' THEN {_rating(name)}" for name in vitals)
    select = f"""
        WITH views AS (
            SELECT * FROM spans
            WHERE child_no = 0 AND method = 'GET' AND route = '/api/' || noun AND u(id, 'rum') < 0.5
              AND environment = 'production' AND span_hour BETWEEN {day * 24} AND {day * 24 + 23}
        ),
        vitals AS ({parts}),
        reported AS (
            SELECT *, CASE name {ratings} END AS rating,
                   start_ns // 1000000 + CASE name WHEN 'TTFB' THEN CAST(value AS BIGINT)
                        WHEN 'LCP' THEN CAST(value AS BIGINT) ELSE 30000 END AS at_ms
            FROM vitals
        )
        SELECT strftime(make_timestamp(at_ms * 1000), '%Y-%m-%dT%H:%M:%S.%gZ') AS "timestamp",
               '/' || noun AS path, 'https://shop.example.com/' || noun AS href,
               name, round(value, 4) AS value, rating, round(value, 4) AS delta,
               'v4-' || (start_ns // 1000000) || '-' || (h(id, name) % 10000000000000) AS id,
               'navigate' AS "navigationType", provider, region, segment AS user_segment, session_id
        FROM reported ORDER BY at_ms, id, ord
    """
    generator._copy(select, f"rum/beacons-{_day_name(generator, day)}.jsonl", "rum", "FORMAT JSON")
