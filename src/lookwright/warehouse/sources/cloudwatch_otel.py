"""CloudWatch Metric Streams in the OpenTelemetry output formats (1.0.0 and 0.7.0), as Firehose delivers them.

What AWS documents, and this module relies on (checked against the CloudWatch user guide pages
"CloudWatch metric stream output in OpenTelemetry 1.0.0 format", "... 0.7.0 format", and their
"Translations with OpenTelemetry 1.0.0 / 0.7.0 format" pages, and against the .proto files of
opentelemetry-proto at the v0.7.0 and v1.0.0 tags):

- A file is a sequence of binary protobuf `ExportMetricsServiceRequest` messages, each preceded by
  its length in bytes as an unsigned varint (UnsignedVarInt32: at most 5 bytes). A Firehose record
  holds one or more of them, and a delivered object is the records back to back. Here a *record*
  is one length-delimited message; bad ones are reported as `file:record` with their byte offset.
- Resource attributes: `cloud.provider` (always `aws`), `cloud.account.id`, `cloud.region` and
  `aws.exporter.arn` (the metric stream's ARN, `arn:aws:cloudwatch:REGION:ACCOUNT:metric-stream/NAME`).
- Every metric is a Summary named `amazonaws.com/<namespace>/<metric name>`, its unit the
  case-sensitive UCUM code of the CloudWatch unit (`%` Percent, `By` Bytes, `{Count}` Count, `1`
  None, `By/s` Bytes/Second, ...; mapped back to the CloudWatch name here, an unknown code is kept
  and warned about). One data point per metric datum: start_time_unix_nano = CloudWatch startTime,
  time_unix_nano = endTime, count = SampleCount, sum = Sum, quantile 0.0 = Minimum, quantile 1.0 =
  Maximum, other quantiles = the percentiles the stream was configured to add (0.99 -> p99).
- 1.0.0: data point `attributes` (KeyValue) `Namespace`, `MetricName`, and `Dimensions`, a kvlist
  of dimension name -> value. 0.7.0: data point `labels` (StringKeyValue) `Namespace`,
  `MetricName`, and one label per dimension. AWS says this is the only change a consumer sees, and
  the protos agree: every other field number AWS fills is the same (scope_metrics = 2 =
  instrumentation_library_metrics, summary = 11 = double_summary), while SummaryDataPoint reserves
  field 1, the 0.7 labels. So a record is parsed with opentelemetry-proto's 1.x messages; if a data
  point then carries the unknown field 1 the record is 0.7.0 and is parsed again with the 0.7.0
  messages declared below through protobuf's descriptor API (a minimal, wire-compatible copy of the
  v0.7.0 definitions, only the messages a metric stream uses).

Each data point becomes the row the JSON output format would have written for the same datum
(metric_stream_name from the ARN, account_id, region, namespace, metric_name, dimensions,
timestamp = start in epoch milliseconds, value {count, sum, max, min, p99, ...}, unit), and those
rows go through the JSON loader's own staging and checks, so raw_cloudwatch_metrics means the same
whichever format a stream uses.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError, Message
from google.protobuf.unknown_fields import UnknownFieldSet
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2

from lookwright.errors import InputError
from lookwright.warehouse.base import Warehouse
from lookwright.warehouse.sources.base import STAGE_TABLE

MAX_VARINT_BYTES = 5  # UnsignedVarInt32
RESOURCE_ATTRIBUTES = frozenset({"cloud.provider", "cloud.account.id", "cloud.region", "aws.exporter.arn"})
NAME_PREFIX = "amazonaws.com/"
# UCUM code -> CloudWatch unit (the translation pages' table, read backwards). `NoneTranslated` is
# what AWS's own 1.0.0 example carries for a unitless metric.
_UNITS = {
    "s": "Seconds", "us": "Microseconds", "ms": "Milliseconds",
    "By": "Bytes", "kBy": "Kilobytes", "MBy": "Megabytes", "GBy": "Gigabytes", "TBy": "Terabytes",
    "bit": "Bits", "kbit": "Kilobits", "MBit": "Megabits", "Mbit": "Megabits", "GBit": "Gigabits",
    "Gbit": "Gigabits", "Tbit": "Terabits", "%": "Percent", "{Count}": "Count", "1": "None",
    "NoneTranslated": "None",
}
UCUM_UNITS = {cloudwatch: code for code, cloudwatch in reversed(list(_UNITS.items())) if code != "NoneTranslated"}


def cloudwatch_unit(code: str) -> str | None:
    """The CloudWatch unit of a UCUM code (`By/s` -> Bytes/Second), None when it has none."""
    if code in _UNITS:
        return _UNITS[code]
    top, slash, bottom = code.partition("/")
    if slash and bottom == "s" and top in _UNITS and top not in ("s", "1", "NoneTranslated"):
        return f"{_UNITS[top]}/Second"
    return None


def ucum_unit(unit: str) -> str:
    """The UCUM code CloudWatch writes for a CloudWatch unit (Bytes/Second -> By/s)."""
    top, slash, bottom = unit.partition("/")
    if slash and bottom == "Second":
        return f"{UCUM_UNITS[top]}/s"
    return UCUM_UNITS[unit]


def statistic_name(quantile: float) -> str:
    """The JSON format's name of a quantile: 0.0 min, 1.0 max, 0.99 p99, 0.999 p99.9."""
    if quantile == 0.0:
        return "min"
    if quantile == 1.0:
        return "max"
    return "p" + format((Decimal(repr(quantile)) * 100).normalize(), "f")


# --- OpenTelemetry 0.7.0: the messages a metric stream fills, as declared at opentelemetry-proto v0.7.0
_V07_PACKAGE = "lookwright.otel_v0_7"
_F = descriptor_pb2.FieldDescriptorProto
_SCALARS = {"string": _F.TYPE_STRING, "bool": _F.TYPE_BOOL, "int64": _F.TYPE_INT64, "uint32": _F.TYPE_UINT32,
            "double": _F.TYPE_DOUBLE, "fixed64": _F.TYPE_FIXED64}
# message -> (field name, number, type, repeated); types not in _SCALARS are messages of this file;
# a field named `oneof:NAME:field` belongs to that oneof.
_V07_MESSAGES: dict[str, list[tuple[str, int, str, bool]]] = {
    "ExportMetricsServiceRequest": [("resource_metrics", 1, "ResourceMetrics", True)],
    "ResourceMetrics": [("resource", 1, "Resource", False),
                        ("instrumentation_library_metrics", 2, "InstrumentationLibraryMetrics", True)],
    "Resource": [("attributes", 1, "KeyValue", True), ("dropped_attributes_count", 2, "uint32", False)],
    "AnyValue": [("oneof:value:string_value", 1, "string", False), ("oneof:value:bool_value", 2, "bool", False),
                 ("oneof:value:int_value", 3, "int64", False), ("oneof:value:double_value", 4, "double", False),
                 ("oneof:value:array_value", 5, "ArrayValue", False),
                 ("oneof:value:kvlist_value", 6, "KeyValueList", False)],
    "ArrayValue": [("values", 1, "AnyValue", True)],
    "KeyValueList": [("values", 1, "KeyValue", True)],
    "KeyValue": [("key", 1, "string", False), ("value", 2, "AnyValue", False)],
    "StringKeyValue": [("key", 1, "string", False), ("value", 2, "string", False)],
    "InstrumentationLibrary": [("name", 1, "string", False), ("version", 2, "string", False)],
    "InstrumentationLibraryMetrics": [("instrumentation_library", 1, "InstrumentationLibrary", False),
                                      ("metrics", 2, "Metric", True)],
    # int_gauge 4 ... double_histogram 9 are left out: a stream never writes them (they stay unknown)
    "Metric": [("name", 1, "string", False), ("description", 2, "string", False), ("unit", 3, "string", False),
               ("oneof:data:double_summary", 11, "DoubleSummary", False)],
    "DoubleSummary": [("data_points", 1, "DoubleSummaryDataPoint", True)],
    "DoubleSummaryDataPoint": [("labels", 1, "StringKeyValue", True), ("start_time_unix_nano", 2, "fixed64", False),
                               ("time_unix_nano", 3, "fixed64", False), ("count", 4, "fixed64", False),
                               ("sum", 5, "double", False), ("quantile_values", 6, "ValueAtQuantile", True)],
    "ValueAtQuantile": [("quantile", 1, "double", False), ("value", 2, "double", False)],
}


def _v07_file() -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto(
        name="lookwright/cloudwatch_otel_v0_7.proto", package=_V07_PACKAGE, syntax="proto3")
    for name, fields in _V07_MESSAGES.items():
        message = proto.message_type.add(name=name)
        oneofs: list[str] = []
        for field_name, number, kind, repeated in fields:
            oneof = None
            if field_name.startswith("oneof:"):
                _, oneof, field_name = field_name.split(":")
                if oneof not in oneofs:
                    oneofs.append(oneof)
                    message.oneof_decl.add(name=oneof)
            added = message.field.add(name=field_name, number=number,
                                      label=_F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL)
            if kind in _SCALARS:
                added.type = _SCALARS[kind]
            else:
                added.type = _F.TYPE_MESSAGE
                added.type_name = f".{_V07_PACKAGE}.{kind}"
            if oneof is not None:
                added.oneof_index = oneofs.index(oneof)
    return proto


def _v07_request_class() -> type[Message]:
    pool = descriptor_pool.DescriptorPool()
    pool.Add(_v07_file())
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_V07_PACKAGE}.ExportMetricsServiceRequest"))


V07_REQUEST: type[Message] = _v07_request_class()
V10_REQUEST: type[Message] = metrics_service_pb2.ExportMetricsServiceRequest


@dataclass(frozen=True)
class _Version:
    name: str
    request: type[Message]
    scopes: str  # ResourceMetrics' list of scope/library metrics
    summary: str  # Metric's summary field
    path: str  # how a data point's position is spelled


VERSIONS = {
    "1.0.0": _Version("1.0.0", V10_REQUEST, "scope_metrics", "summary",
                      "resource_metrics[{}].scope_metrics[{}].metrics[{}].summary.data_points[{}]"),
    "0.7.0": _Version("0.7.0", V07_REQUEST, "instrumentation_library_metrics", "double_summary",
                      "resource_metrics[{}].instrumentation_library_metrics[{}].metrics[{}].double_summary"
                      ".data_points[{}]"),
}


# --- the length-delimited stream


def records(path: str, data: bytes) -> Iterator[tuple[int, int, bytes]]:
    """(record number from 1, byte offset of its length prefix, message bytes) of every record.

    A length prefix that is not a valid UnsignedVarInt32, or a message that runs past the end of the
    file, stops the file: the records after it cannot be found, so nothing of the file is loaded."""
    offset, number = 0, 0
    while offset < len(data):
        number += 1
        length, start = 0, offset
        for shift in range(0, 7 * MAX_VARINT_BYTES, 7):
            if start >= len(data):
                raise InputError(f"{path}:{number}: byte {offset}: truncated length prefix: the file ends inside"
                                 " the varint that gives the message's length; the file is incomplete (deliver"
                                 " or copy it again)")
            byte = data[start]
            start += 1
            length |= (byte & 0x7F) << shift
            if not byte & 0x80:
                break
        else:
            raise InputError(f"{path}:{number}: byte {offset}: invalid length prefix: no varint of at most"
                             f" {MAX_VARINT_BYTES} bytes; not a CloudWatch metric stream in an OpenTelemetry format")
        if length >= 2**32:
            raise InputError(f"{path}:{number}: byte {offset}: invalid length prefix: {length} is not an"
                             " UnsignedVarInt32; not a CloudWatch metric stream in an OpenTelemetry format")
        if start + length > len(data):
            raise InputError(f"{path}:{number}: byte {offset}: the message is {length} bytes but only"
                             f" {len(data) - start} are left: the file is truncated (deliver or copy it again)")
        yield number, offset, data[start:start + length]
        offset = start + length


def looks_like_json(data: bytes) -> bool:
    """Whether a file without a telling extension is the JSON output format rather than protobuf."""
    return data.lstrip(b" \t\r\n\xef\xbb\xbf")[:2] == b'{"'


# --- decoding


@dataclass
class Decoded:
    """What a file held: JSON-format rows with their record and position, bad records, what to warn about."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    records: list[int] = field(default_factory=list)  # per row: its record number
    places: list[tuple[int, int, int, int, int, str]] = field(default_factory=list)  # per row: offset, r, s, m, p
    bad: list[tuple[int, str]] = field(default_factory=list)  # (record, reason)
    unknown_fields: set[str] = field(default_factory=set)  # `Message field N`
    unknown_attributes: set[str] = field(default_factory=set)  # `resource NAME` / `data point NAME`
    unknown_units: set[str] = field(default_factory=set)

    def position(self, row: int) -> str:
        """`byte N: <data point path>: ` of a row."""
        offset, *indexes, version = self.places[row]
        return f"byte {offset}: {VERSIONS[version].path.format(*indexes)}: "


def _unknown(message: Message, found: set[str]) -> None:
    """Every field number of `message` and the messages in it that its schema does not have."""
    unknown = UnknownFieldSet(message)
    for index in range(len(unknown)):
        found.add(f"{message.DESCRIPTOR.name} field {unknown[index].field_number}")
    for descriptor, value in message.ListFields():
        if descriptor.message_type is not None:
            for item in ([value] if isinstance(value, Message) else value):
                _unknown(item, found)


def _has_unknown(message: Message) -> bool:
    copy = type(message)()
    copy.CopyFrom(message)
    copy.DiscardUnknownFields()
    return copy.ByteSize() != message.ByteSize()


def _parse(payload: bytes) -> tuple[_Version, Any, set[str]] | None:
    """The record parsed in its version, with the fields that version does not know; None: undecodable."""
    request = V10_REQUEST()
    try:
        request.ParseFromString(payload)
    except DecodeError:
        return None
    found: set[str] = set()
    if _has_unknown(request):
        _unknown(request, found)
    if "SummaryDataPoint field 1" not in found:
        return VERSIONS["1.0.0"], request, found
    older = V07_REQUEST()
    try:
        older.ParseFromString(payload)
    except DecodeError:  # pragma: no cover - what parsed as 1.0 parses as 0.7: the same wire types
        return None
    found = set()
    if _has_unknown(older):
        _unknown(older, found)
    return VERSIONS["0.7.0"], older, found


def _any_text(value: Any) -> str | None:
    """A string, integer, double or boolean AnyValue as text; None for lists, maps and no value."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return str(value.string_value)
    if kind in ("int_value", "double_value"):
        return str(getattr(value, kind))
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    return None


def _resource(resource: Any) -> tuple[dict[str, str | None], set[str]]:
    attributes = {kv.key: _any_text(kv.value) for kv in resource.attributes}
    arn = attributes.get("aws.exporter.arn") or ""
    stream = arn.split(":metric-stream/", 1)[1] if ":metric-stream/" in arn else None
    known = {"metric_stream_name": stream, "account_id": attributes.get("cloud.account.id"),
             "region": attributes.get("cloud.region")}
    return known, {f"resource {name}" for name in attributes if name not in RESOURCE_ATTRIBUTES}


def _labels(point: Any, version: _Version, unknown: set[str]) -> tuple[str | None, str | None, dict[str, str],
                                                                      str | None]:
    """(Namespace, MetricName, dimensions, problem) of a data point; adds attributes it does not know."""
    if version.name == "0.7.0":
        labels = {label.key: label.value for label in point.labels}
        return labels.pop("Namespace", None), labels.pop("MetricName", None), labels, None
    names: dict[str, str] = {}
    dimensions: dict[str, str] = {}
    problem = None
    for attribute in point.attributes:
        key, value = attribute.key, attribute.value
        if key == "Dimensions":
            if value.WhichOneof("value") != "kvlist_value":
                problem = "attribute Dimensions is not a key-value list"
                continue
            for pair in value.kvlist_value.values:
                text = _any_text(pair.value)
                if text is None:
                    problem = f"dimension {pair.key} is not a string"
                dimensions[pair.key] = text or ""
        elif key in ("Namespace", "MetricName"):
            text = _any_text(value)
            if text is None:
                problem = f"attribute {key} is not a string"
            else:
                names[key] = text
        else:
            unknown.add(f"data point {key}")
    return names.get("Namespace"), names.get("MetricName"), dimensions, problem


def _value(point: Any) -> tuple[dict[str, float], str | None]:
    """The JSON format's `value` object of a data point (count, sum, max, min, pNN), or a problem."""
    count, total = point.count, point.sum
    if count == 0:
        return {}, "count is 0 or missing: a CloudWatch data point has a SampleCount of at least 1"
    if not math.isfinite(total):
        return {}, f"sum is not a finite number: {total}"
    quantiles = {item.quantile: item.value for item in point.quantile_values}
    if any(not 0.0 <= quantile <= 1.0 for quantile in quantiles):
        return {}, f"quantile {next(q for q in quantiles if not 0.0 <= q <= 1.0)} is outside [0, 1]"
    low, high = quantiles.pop(0.0, None), quantiles.pop(1.0, None)
    if low is not None and high is not None and low > high:
        return {}, f"quantile 0.0 (minimum) {low} is greater than quantile 1.0 (maximum) {high}"
    value: dict[str, float] = {"count": float(count), "sum": total}
    if high is not None:
        value["max"] = high
    if low is not None:
        value["min"] = low
    for quantile in sorted(quantiles):
        value[statistic_name(quantile)] = quantiles[quantile]
    return value, None


def _point_row(point: Any, metric: Any, unit: str | None, version: _Version, resource: dict[str, str | None],
               decoded: Decoded) -> tuple[dict[str, Any] | None, str | None]:
    namespace, metric_name, dimensions, problem = _labels(point, version, decoded.unknown_attributes)
    if problem is None and version.name == "1.0.0" and point.flags & 1:
        problem = "flagged no recorded value (DataPointFlags 1)"
    start = point.start_time_unix_nano
    if problem is None and start == 0:
        problem = "missing start_time_unix_nano (CloudWatch startTime)"
    value, value_problem = _value(point)
    problem = problem or value_problem
    if problem is not None:
        return None, problem
    if (namespace is None or metric_name is None) and metric.name.startswith(NAME_PREFIX):
        parsed_namespace, _, parsed_name = metric.name[len(NAME_PREFIX):].rpartition("/")
        namespace, metric_name = namespace or parsed_namespace or None, metric_name or parsed_name or None
    return {**resource, "namespace": namespace, "metric_name": metric_name, "dimensions": dimensions,
            "timestamp": start // 1_000_000, "value": value, "unit": unit}, None


def _unit(metric: Any, decoded: Decoded) -> str | None:
    if not metric.unit:
        return None
    unit = cloudwatch_unit(metric.unit)
    if unit is None:
        decoded.unknown_units.add(metric.unit)
    return unit or metric.unit


def _decode_record(number: int, offset: int, version: _Version, request: Any, decoded: Decoded) -> None:
    where = f"byte {offset}: "
    for r, resource_metrics in enumerate(request.resource_metrics):
        resource, unknown = _resource(resource_metrics.resource)
        decoded.unknown_attributes |= unknown
        for s, scope in enumerate(getattr(resource_metrics, version.scopes)):
            for m, metric in enumerate(scope.metrics):
                if not metric.HasField(version.summary):
                    kind = metric.WhichOneof("data") if version.name == "1.0.0" else None
                    reason = (f"{where}{version.path.rsplit('.', 2)[0].format(r, s, m)} ({metric.name}):"
                              f" {f'a {kind}' if kind else 'no data'}, not a {version.summary}: CloudWatch"
                              " metric streams write every metric as one")
                    decoded.bad.append((number, reason))
                    continue
                unit = _unit(metric, decoded)
                for p, point in enumerate(getattr(metric, version.summary).data_points):
                    row, problem = _point_row(point, metric, unit, version, resource, decoded)
                    if row is None:
                        decoded.bad.append((number, f"{where}{version.path.format(r, s, m, p)}: {problem}"))
                    else:
                        decoded.rows.append(row)
                        decoded.records.append(number)
                        decoded.places.append((offset, r, s, m, p, version.name))


def decode(path: str, data: bytes) -> Decoded:
    """Every data point of a metric stream file, as JSON-format rows; raises InputError on a broken stream."""
    decoded = Decoded()
    for number, offset, payload in records(path, data):
        parsed = _parse(payload)
        if parsed is None:
            reason = f"byte {offset}: not a protobuf ExportMetricsServiceRequest (the message cannot be decoded)"
            decoded.bad.append((number, reason))
            continue
        version, request, unknown = parsed
        if not request.resource_metrics and unknown:
            reason = (f"byte {offset}: not an ExportMetricsServiceRequest: no resource_metrics, only fields it"
                      f" does not have ({', '.join(sorted(unknown))})")
            decoded.bad.append((number, reason))
            continue
        decoded.unknown_fields |= {f"{name} (OpenTelemetry {version.name})" for name in unknown}
        _decode_record(number, offset, version, request, decoded)
    return decoded


def warnings(path: str, decoded: Decoded) -> list[str]:
    """Data-quality warnings: fields, attributes and units the loader does not know (all were skipped)."""
    found = []
    if decoded.unknown_fields:
        found.append(f"{path}: {len(decoded.unknown_fields)} protobuf field(s) the cloudwatch loader does not know:"
                     f" {', '.join(sorted(decoded.unknown_fields))}; they were ignored (update the loader if"
                     " they matter)")
    if decoded.unknown_attributes:
        found.append(f"{path}: {len(decoded.unknown_attributes)} attribute(s) the cloudwatch loader does not know:"
                     f" {', '.join(sorted(decoded.unknown_attributes))}; they were ignored (update the loader"
                     " if they matter)")
    if decoded.unknown_units:
        found.append(f"{path}: unit(s) with no CloudWatch name: {', '.join(sorted(decoded.unknown_units))};"
                     " kept as written")
    return found


def stage(warehouse: Warehouse, path: str, stage_json: Callable[[Warehouse, str], None],
          shown: str | None = None) -> list[str]:
    """Stage every data point through the JSON format's staging; returns the data-quality warnings.

    `shown` names the file in messages (the compressed file `path` was decompressed from)."""
    shown = shown or path
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise InputError(f"{shown}: cannot read: {error.strerror or error}") from error
    decoded = decode(shown, data)
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    with tempfile.TemporaryDirectory(prefix="lookwright-cloudwatch-") as folder:
        rows_path = Path(folder) / "points.json"
        rows_path.write_text("".join(encode(row) + "\n" for row in decoded.rows), encoding="utf-8")
        stage_json(warehouse, rows_path.as_posix())
    # a problem the JSON checks found: prefixed by its data point's position; then line n -> its record
    for (line,) in warehouse.query(f"SELECT source_line FROM {STAGE_TABLE} WHERE bad_reason IS NOT NULL"):
        warehouse.execute(f"UPDATE {STAGE_TABLE} SET bad_reason = ? || bad_reason WHERE source_line = ?",
                          [decoded.position(int(line) - 1), int(line)])
    if decoded.rows:
        warehouse.execute(f"UPDATE {STAGE_TABLE} SET source_line = list_extract(?::INTEGER[], source_line)",
                          [decoded.records])
    if decoded.bad:
        records_, reasons = zip(*decoded.bad, strict=True)
        warehouse.execute(f"INSERT INTO {STAGE_TABLE} (source_line, bad_reason)"
                          " SELECT unnest(?::INTEGER[]), unnest(?::VARCHAR[])", [list(records_), list(reasons)])
    return warnings(shown, decoded)
