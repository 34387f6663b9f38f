"""CloudWatch Metric Streams in the OpenTelemetry 1.0.0 and 0.7.0 output formats: the same rows as the JSON
format, broken streams as located errors, bad records and data points as bad rows, new fields as warnings.

The stream files are built here: 1.0.0 from opentelemetry-proto's messages, 0.7.0 byte by byte from the
v0.7.0 field numbers (so the loader's own 0.7.0 declarations are checked against an independent encoding).
"""

from __future__ import annotations

import gzip
import json
import struct
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pytest
from click.testing import CliRunner
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue, KeyValueList
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    Metric,
    NumberDataPoint,
    ResourceMetrics,
    SummaryDataPoint,
)

from lookwright.cli import main
from lookwright.commands.warehouse import synth as synth_command
from lookwright.demo.synth import SynthConfig, synthesize
from lookwright.errors import InputError
from lookwright.model.compile import load_model
from lookwright.warehouse import DuckDBWarehouse
from lookwright.warehouse.build import build
from lookwright.warehouse.sources import LoadReport, load, recognize

FIXTURES = Path(__file__).parent / "fixtures" / "sources"
ACCOUNT, STREAM, INSTANCE = "123456789012", "lw-stream", "i-0a1b2c3d4e5f60718"
T0_MS = 1741003200000  # 2025-03-03 12:00 UTC, the JSON fixture's timestamp
ROWS = "SELECT * EXCLUDE (source_file, source_line, loaded_at) FROM raw_cloudwatch_metrics ORDER BY ALL"
FACTS = "SELECT * FROM fact_resource_metrics_hourly ORDER BY ALL"
MODEL = load_model(Path(__file__).resolve().parents[1] / "semantic")


@pytest.fixture
def warehouse() -> Iterator[DuckDBWarehouse]:
    with DuckDBWarehouse(":memory:") as opened:
        yield opened


def varint(value: int) -> bytes:
    out = b""
    while True:
        low, value = value & 0x7F, value >> 7
        out += bytes([low | (0x80 if value else 0)])
        if not value:
            return out


def stream(*messages: bytes) -> bytes:
    """Length-delimited messages, as a metric stream writes them into a Firehose record."""
    return b"".join(varint(len(message)) + message for message in messages)


def text(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def point(namespace: str, name: str, dimensions: dict[str, str], start_ms: int, count: int, total: float,
          low: float, high: float, **quantiles: float) -> SummaryDataPoint:
    """A data point as AWS documents it: quantile 0.0 = min, 1.0 = max, p99 = quantile 0.99."""
    built = SummaryDataPoint(start_time_unix_nano=start_ms * 1_000_000, time_unix_nano=(start_ms + 60_000) * 1_000_000,
                             count=count, sum=total)
    built.quantile_values.add(quantile=0.0, value=low)
    for label, value in quantiles.items():
        built.quantile_values.add(quantile=float(label[1:].replace("_", ".")) / 100, value=value)
    built.quantile_values.add(quantile=1.0, value=high)
    kvlist = KeyValueList(values=[text(k, v) for k, v in dimensions.items()])
    built.attributes.extend([text("Namespace", namespace), text("MetricName", name),
                             KeyValue(key="Dimensions", value=AnyValue(kvlist_value=kvlist))])
    return built


def summary(namespace: str, name: str, unit: str, *points: SummaryDataPoint) -> Metric:
    metric = Metric(name=f"amazonaws.com/{namespace}/{name}", unit=unit)
    metric.summary.data_points.extend(points)
    return metric


def request(*metrics: Metric, region: str = "us-east-1", extra: tuple[KeyValue, ...] = ()) -> bytes:
    resource = ResourceMetrics()
    resource.resource.attributes.extend([
        text("cloud.provider", "aws"), text("cloud.account.id", ACCOUNT), text("cloud.region", region),
        text("aws.exporter.arn", f"arn:aws:cloudwatch:{region}:{ACCOUNT}:metric-stream/{STREAM}"), *extra])
    resource.scope_metrics.add().metrics.extend(metrics)
    return ExportMetricsServiceRequest(resource_metrics=[resource]).SerializeToString()


CPU = point("AWS/EC2", "CPUUtilization", {"InstanceId": INSTANCE}, T0_MS, 5, 212.5, 30.5, 61.0, p99=60.8)
NETWORK = point("AWS/EC2", "NetworkOut", {"InstanceId": INSTANCE}, T0_MS, 1, 1048576.0, 1048576.0, 1048576.0)
PROCESS = point("CWAgent", "procstat_cpu_usage", {"InstanceId": INSTANCE, "exe": "checkout",
                                                  "process_name": "checkout"}, T0_MS + 60_000, 1, 25.0, 25.0, 25.0)
# the good lines (1, 2 and 6) of the JSON format's fixture, as OpenTelemetry 1.0.0 in two records
GOOD = stream(request(summary("AWS/EC2", "CPUUtilization", "%", CPU), summary("AWS/EC2", "NetworkOut", "By", NETWORK)),
              request(summary("CWAgent", "procstat_cpu_usage", "%", PROCESS)))


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def bad(report: LoadReport) -> list[tuple[int, str]]:
    return [(row.line, row.reason) for row in report.bad_rows]


def test_opentelemetry_1_0_gives_the_json_formats_rows(warehouse: DuckDBWarehouse, tmp_path: Path) -> None:
    report = load(warehouse, "cloudwatch", write(tmp_path / "metrics.binpb", GOOD))
    assert (report.table, report.rows_loaded, bad(report), report.warnings) == ("raw_cloudwatch_metrics", 3, [], [])
    assert warehouse.query("SELECT metric_name, source_line FROM raw_cloudwatch_metrics ORDER BY 2, 1") == [
        ("CPUUtilization", 1), ("NetworkOut", 1), ("procstat_cpu_usage", 2)]  # line = record
    otel = warehouse.query(ROWS)
    with DuckDBWarehouse(":memory:") as other:
        load(other, "cloudwatch", FIXTURES / "cloudwatch" / "metrics.json")
        assert otel == other.query(ROWS)
    assert warehouse.query_dicts(
        "SELECT value_statistics, unit, dimensions FROM raw_cloudwatch_metrics WHERE metric_name = 'CPUUtilization'"
    ) == [{"value_statistics": '{"count":5.0,"sum":212.5,"max":61.0,"min":30.5,"p99":60.8}', "unit": "Percent",
           "dimensions": '{"InstanceId":"i-0a1b2c3d4e5f60718"}'}]


# --- OpenTelemetry 0.7.0, encoded by hand from the v0.7.0 .proto field numbers


def tag(number: int, wire: int) -> bytes:
    return varint(number << 3 | wire)


def nested(number: int, body: bytes) -> bytes:
    return tag(number, 2) + varint(len(body)) + body


def string(number: int, value: str) -> bytes:
    return nested(number, value.encode())


def fixed64(number: int, value: int) -> bytes:
    return tag(number, 1) + struct.pack("<Q", value)


def double(number: int, value: float) -> bytes:
    return b"" if value == 0.0 else tag(number, 1) + struct.pack("<d", value)  # proto3 leaves out zeros


def v07_point(labels: dict[str, str], start_ms: int, count: int, total: float,
              quantiles: list[tuple[float, float]]) -> bytes:
    body = b"".join(nested(1, string(1, k) + string(2, v)) for k, v in labels.items())  # labels: StringKeyValue
    body += fixed64(2, start_ms * 1_000_000) + fixed64(3, (start_ms + 60_000) * 1_000_000)
    body += fixed64(4, count) + double(5, total)
    return body + b"".join(nested(6, double(1, q) + double(2, v)) for q, v in quantiles)


def v07_request(metrics: list[tuple[str, str, list[bytes]]]) -> bytes:
    attributes = [("cloud.provider", "aws"), ("cloud.account.id", ACCOUNT), ("cloud.region", "us-east-1"),
                  ("aws.exporter.arn", f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:metric-stream/{STREAM}")]
    resource = b"".join(nested(1, string(1, k) + nested(2, string(1, v))) for k, v in attributes)
    encoded = b"".join(nested(2, string(1, name) + string(3, unit)  # Metric: name 1, unit 3
                              + nested(11, b"".join(nested(1, p) for p in points)))  # double_summary 11
                       for name, unit, points in metrics)
    library = nested(2, encoded)  # InstrumentationLibraryMetrics.metrics = 2
    return nested(1, nested(1, resource) + library)  # request.resource_metrics 1 {resource 1, ilm 2}


def test_opentelemetry_0_7_labels_give_the_same_rows(warehouse: DuckDBWarehouse, tmp_path: Path) -> None:
    instance = {"InstanceId": INSTANCE}
    older = stream(
        v07_request([
            ("amazonaws.com/AWS/EC2/CPUUtilization", "%", [v07_point(
                {"Namespace": "AWS/EC2", "MetricName": "CPUUtilization", **instance}, T0_MS, 5, 212.5,
                [(0.0, 30.5), (0.99, 60.8), (1.0, 61.0)])]),
            ("amazonaws.com/AWS/EC2/NetworkOut", "By", [v07_point(
                {"Namespace": "AWS/EC2", "MetricName": "NetworkOut", **instance}, T0_MS, 1, 1048576.0,
                [(0.0, 1048576.0), (1.0, 1048576.0)])])]),
        v07_request([("amazonaws.com/CWAgent/procstat_cpu_usage", "%", [v07_point(
            {"Namespace": "CWAgent", "MetricName": "procstat_cpu_usage", **instance, "exe": "checkout",
             "process_name": "checkout"}, T0_MS + 60_000, 1, 25.0, [(0.0, 25.0), (1.0, 25.0)])])]))
    report = load(warehouse, "cloudwatch", write(tmp_path / "older.binpb", older))
    assert (report.rows_loaded, bad(report), report.warnings) == (3, [], [])
    with DuckDBWarehouse(":memory:") as other:
        load(other, "cloudwatch", write(tmp_path / "newer.binpb", GOOD))
        assert warehouse.query(ROWS) == other.query(ROWS)


# --- broken streams: nothing of the file is loaded, the error names file:record and the byte


@pytest.mark.parametrize(("tail", "message"), [
    (b"\x80", ("{path}:3: byte {at}: truncated length prefix: the file ends inside the varint that gives the"
              " message's length; the file is incomplete (deliver or copy it again)")),
    (b"\xff\xff\xff\xff\xff\x01", ("{path}:3: byte {at}: invalid length prefix: no varint of at most 5 bytes;"
                                  " not a CloudWatch metric stream in an OpenTelemetry format")),
    (b"\xff\xff\xff\xff\x1f", ("{path}:3: byte {at}: invalid length prefix: 8589934591 is not an UnsignedVarInt32;"
                              " not a CloudWatch metric stream in an OpenTelemetry format")),
    (varint(100) + b"x" * 10, ("{path}:3: byte {at}: the message is 100 bytes but only 10 are left: the file is"
                              " truncated (deliver or copy it again)")),
], ids=["truncated-length-prefix", "varint-too-long", "length-over-32-bits", "length-beyond-end"])
def test_a_broken_stream_loads_nothing_and_says_where(warehouse: DuckDBWarehouse, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str], tail: bytes,
                                                      message: str) -> None:
    path = write(tmp_path / "metrics.binpb", GOOD)
    assert load(warehouse, "cloudwatch", path).rows_loaded == 3
    path.write_bytes(GOOD + tail)  # the same file delivered again, cut short: its earlier rows stay
    with pytest.raises(InputError) as raised:
        load(warehouse, "cloudwatch", path)
    assert str(raised.value) == message.format(path=path.resolve().as_posix(), at=len(GOOD))
    assert warehouse.query("SELECT count(*) FROM raw_cloudwatch_metrics") == [(3,)]
    with pytest.raises(SystemExit) as exited:
        main(["load", "--source", "cloudwatch", "--warehouse", f"duckdb:{tmp_path / 'w.duckdb'}", str(path)])
    assert exited.value.code == 2
    assert f"{path.resolve().as_posix()}:3: byte {len(GOOD)}: " in capsys.readouterr().err


# --- bad records and data points: the rest of the file loads, each is reported at file:record


def test_bad_records_and_data_points_are_bad_rows(warehouse: DuckDBWarehouse, tmp_path: Path) -> None:
    no_count = point("AWS/EC2", "NetworkIn", {"InstanceId": INSTANCE}, T0_MS, 0, 0.0, 0.0, 0.0)
    no_count.ClearField("count")
    inverted = point("AWS/EC2", "NetworkIn", {"InstanceId": INSTANCE}, T0_MS, 1, 10.0, 10.0, 1.0)
    no_start = point("AWS/EC2", "NetworkIn", {"InstanceId": INSTANCE}, 0, 1, 10.0, 10.0, 10.0)
    flagged = point("AWS/EC2", "NetworkIn", {"InstanceId": INSTANCE}, T0_MS, 1, 10.0, 10.0, 10.0)
    flagged.flags = 1
    odd_quantile = point("AWS/EC2", "NetworkIn", {"InstanceId": INSTANCE}, T0_MS, 1, 10.0, 10.0, 10.0)
    odd_quantile.quantile_values.add(quantile=1.5, value=10.0)
    flat = point("AWS/EC2", "NetworkIn", {}, T0_MS, 1, 10.0, 10.0, 10.0)
    flat.attributes[2].value.string_value = "InstanceId=i-1"  # Dimensions not a key-value list
    # a good data point with a field and an attribute 1.0.0 does not have, in a unit CloudWatch has no name for
    newer = SummaryDataPoint()
    newer.ParseFromString(point("AWS/EC2", "NetworkIn", {"InstanceId": INSTANCE}, T0_MS, 1, 10.0, 10.0, 10.0,
                                ).SerializeToString() + tag(20, 0) + varint(5))
    newer.attributes.append(text("aws.new", "x"))
    gauge = Metric(name="amazonaws.com/AWS/EC2/CPUCreditBalance", unit="1")
    gauge.gauge.data_points.append(NumberDataPoint(as_double=1.0))
    messages = [
        request(summary("AWS/EC2", "CPUUtilization", "%", CPU)),
        b"\xff\xff\xff",  # cannot be decoded
        request(summary("AWS/EC2", "NetworkIn", "By", no_count, inverted, no_start, flagged, odd_quantile, flat),
                gauge, summary("AWS/EC2", "NetworkIn", "furlong", newer), extra=(text("aws.extra", "y"),)),
        tag(9, 0) + varint(1),  # only a field an ExportMetricsServiceRequest does not have
    ]
    path = write(tmp_path / "bad.binpb", stream(*messages))
    report = load(warehouse, "cloudwatch", path)
    offsets = [len(stream(*messages[:n])) for n in range(len(messages))]  # where each record's prefix starts
    points = "resource_metrics[0].scope_metrics[0].metrics[0].summary.data_points"
    at = f"byte {offsets[2]}: "
    assert bad(report) == [
        (2, f"byte {offsets[1]}: not a protobuf ExportMetricsServiceRequest (the message cannot be decoded)"),
        (3, f"{at}{points}[0]: count is 0 or missing: a CloudWatch data point has a SampleCount of at least 1"),
        (3, f"{at}{points}[1]: quantile 0.0 (minimum) 10.0 is greater than quantile 1.0 (maximum) 1.0"),
        (3, f"{at}{points}[2]: missing start_time_unix_nano (CloudWatch startTime)"),
        (3, f"{at}{points}[3]: flagged no recorded value (DataPointFlags 1)"),
        (3, f"{at}{points}[4]: quantile 1.5 is outside [0, 1]"),
        (3, f"{at}{points}[5]: attribute Dimensions is not a key-value list"),
        (3, (f"{at}resource_metrics[0].scope_metrics[0].metrics[1] (amazonaws.com/AWS/EC2/CPUCreditBalance):"
            " a gauge, not a summary: CloudWatch metric streams write every metric as one")),
        (4, (f"byte {offsets[3]}: not an ExportMetricsServiceRequest: no resource_metrics, only fields it does not"
            " have (ExportMetricsServiceRequest field 9)")),
    ]
    assert report.rows_loaded == 2
    name = path.resolve().as_posix()
    assert report.warnings == [
        (f"{name}: 1 protobuf field(s) the cloudwatch loader does not know: SummaryDataPoint field 20"
        " (OpenTelemetry 1.0.0); they were ignored (update the loader if they matter)"),
        (f"{name}: 2 attribute(s) the cloudwatch loader does not know: data point aws.new, resource aws.extra;"
        " they were ignored (update the loader if they matter)"),
        f"{name}: unit(s) with no CloudWatch name: furlong; kept as written",
    ]
    assert warehouse.query("SELECT metric_name, unit, source_line FROM raw_cloudwatch_metrics ORDER BY 3") == [
        ("CPUUtilization", "Percent", 1), ("NetworkIn", "furlong", 3)]


def test_a_data_point_without_namespace_attributes_takes_them_from_the_metric_name(
        warehouse: DuckDBWarehouse, tmp_path: Path) -> None:
    bare = point("AWS/ApplicationELB", "RequestCount", {"LoadBalancer": "app/web/1"}, T0_MS, 3, 3.0, 1.0, 1.0)
    del bare.attributes[0:2]  # Dimensions only
    report = load(warehouse, "cloudwatch", write(tmp_path / "bare.binpb", stream(request(
        summary("AWS/ApplicationELB", "RequestCount", "{Count}/s", bare)))))
    assert (report.rows_loaded, bad(report), report.warnings) == (1, [], [])
    assert warehouse.query("SELECT namespace, metric_name, unit, dimensions FROM raw_cloudwatch_metrics") == [
        ("AWS/ApplicationELB", "RequestCount", "Count/Second", '{"LoadBalancer":"app/web/1"}')]


# --- which format a file is: extension, else its first bytes (Firehose names objects without one)


def test_the_format_comes_from_the_extension_or_the_first_bytes(warehouse: DuckDBWarehouse, tmp_path: Path) -> None:
    firehose = "lw-stream-1-2025-03-03-12-00-00-0f3c5a1e-7c1d-4f0e-9b8a-2d6e4c1f0a9b"
    as_json = (FIXTURES / "cloudwatch" / "metrics.json").read_bytes().splitlines(keepends=True)
    (tmp_path / "json").mkdir()
    json_object = write(tmp_path / "json" / firehose, b"".join(as_json[:2]))
    protobuf_object = write(tmp_path / firehose, GOOD)
    assert [load(warehouse, "cloudwatch", p).rows_loaded for p in (json_object, protobuf_object)] == [2, 3]
    folder = tmp_path / "exports" / "cloudwatch"
    folder.mkdir(parents=True)
    write(folder / f"{firehose}.binpb", GOOD)
    assert recognize(tmp_path / "exports") == [("cloudwatch", folder / f"{firehose}.binpb")]


# --- synth: the same synthetic metrics in either format load to the same rows and the same facts


def test_synth_json_and_opentelemetry_streams_give_the_same_rows_and_facts(tmp_path: Path) -> None:
    config = SynthConfig(seed=5, days=1, requests=1_000)
    synthesize(tmp_path / "json", config)
    result = CliRunner().invoke(synth_command, ["--seed", "5", "--days", "1", "--requests", "1000",
                                                "--cloudwatch-format", "opentelemetry1.0", str(tmp_path / "otel")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "otel" / "manifest.json").read_text())["config"] == {
        **asdict(config), "start": "2025-03-03", "cloudwatch_format": "opentelemetry1.0"}
    files = {root: recognize(tmp_path / root) for root in ("json", "otel")}
    cloudwatch = {root: [path for kind, path in found if kind == "cloudwatch"] for root, found in files.items()}
    assert [p.name for p in cloudwatch["json"] + cloudwatch["otel"]] == ["metrics-2025-03-03.json",
                                                                         "metrics-2025-03-03.binpb"]
    others = {root: {p.relative_to(tmp_path / root): p.read_bytes() for kind, p in found if kind != "cloudwatch"}
              for root, found in files.items()}
    assert others["json"] == others["otel"]  # every other file is byte for byte the same
    results = []
    for root, paths in cloudwatch.items():  # the fact reads raw_cloudwatch_metrics only
        with DuckDBWarehouse(":memory:") as w:
            reports = [load(w, "cloudwatch", path) for path in paths]
            assert [(r.rows_loaded, r.bad_rows, r.warnings) for r in reports] == [(45 * 288 * 4, [], [])], root
            build(w, MODEL)  # instances x 5-minute slots x metrics ^
            results.append((w.query(ROWS), w.query(FACTS)))
    (json_rows, json_facts), (otel_rows, otel_facts) = results
    assert otel_rows == json_rows
    assert len(json_facts) == 45 * 24  # one service per instance, every hour
    # equal but for the last bits of floating-point sums, whose order follows the rows' order
    assert otel_facts == [tuple(pytest.approx(v, rel=1e-12) if isinstance(v, float) else v for v in row)
                          for row in json_facts]


# --- GZIP (Firehose's CompressionFormat GZIP): decompressed first, named as the .gz in every message


def test_gzip_deliveries_of_either_format(warehouse: DuckDBWarehouse, tmp_path: Path) -> None:
    folder = tmp_path / "exports" / "cloudwatch"
    folder.mkdir(parents=True)
    otel = write(folder / "lw-stream-1.binpb.gz", gzip.compress(GOOD))
    as_json = write(folder / "lw-stream-2.json.gz", gzip.compress((FIXTURES / "cloudwatch" / "metrics.json").read_bytes()))
    (tmp_path / "exports" / "otlp").mkdir()
    write(tmp_path / "exports" / "otlp" / "spans.jsonl.gz", b"")  # a kind whose loader reads no GZIP: left out
    assert recognize(tmp_path / "exports") == [("cloudwatch", otel), ("cloudwatch", as_json)]
    report = load(warehouse, "cloudwatch", otel)
    assert (report.rows_loaded, bad(report), report.warnings) == (3, [], [])
    with DuckDBWarehouse(":memory:") as plain:
        load(plain, "cloudwatch", write(tmp_path / "plain.binpb", GOOD))
        assert warehouse.query(ROWS) == plain.query(ROWS)
        expected = load(plain, "cloudwatch", FIXTURES / "cloudwatch" / "metrics.json")
    compressed = load(warehouse, "cloudwatch", as_json)
    assert (compressed.rows_loaded, bad(compressed)) == (3, bad(expected))
    assert compressed.warnings == [w.replace(expected.file, compressed.file) for w in expected.warnings]
    assert compressed.warnings[0].startswith(f"{as_json.resolve().as_posix()}: 1 field(s)")
    broken = write(tmp_path / "broken.binpb.gz", gzip.compress(GOOD)[:-8] + b"\x00" * 4)
    with pytest.raises(InputError, match=r"broken\.binpb\.gz: not a readable GZIP file: "):
        load(warehouse, "cloudwatch", broken)
    with pytest.raises(InputError) as raised:  # a broken stream inside: named as the .gz, bytes decompressed
        load(warehouse, "cloudwatch", write(tmp_path / "cut.binpb.gz", gzip.compress(GOOD + b"\x80")))
    assert str(raised.value).startswith(f"{(tmp_path / 'cut.binpb.gz').resolve().as_posix()}:3: byte {len(GOOD)}:"
                                        " truncated length prefix")
