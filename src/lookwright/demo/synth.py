"""Synthetic telemetry and cloud cost data, written in the real export formats the loaders read."""

from __future__ import annotations

import itertools
import json
import math
import random
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

from lookwright.demo import telemetry
from lookwright.errors import InputError
from lookwright.signals import ctrl_c_deferred

PROVIDER_REGIONS: dict[str, tuple[str, str]] = {
    "aws": ("us-east-1", "eu-west-1"),
    "gcp": ("us-central1", "europe-west1"),
    "azure": ("eastus", "westeurope"),
}
ENVIRONMENTS = ("production", "staging", "development")
# The shared database each provider's services query (no service tag on its cost lines).
SHARED_DATABASES: dict[str, str] = {
    "aws": "arn:aws:rds:us-east-1:123456789012:db:shared-postgres",
    "gcp": "projects/lw-prod/instances/shared-postgres",
    "azure": (
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-data"
        "/providers/Microsoft.Sql/servers/shared-sql/databases/app"
    ),
}


@dataclass(frozen=True)
class Service:
    """One service: who owns it, how it runs, where, and how busy and slow it is."""

    name: str
    team: str
    cost_center: str
    language: str
    deployment: str  # k8s | vm | serverless
    provider: str
    regions: tuple[str, ...]
    weight: int  # share of traffic
    latency_ms: float  # median latency of its typical endpoint
    nouns: tuple[str, str]  # the two resources its routes are about


def _service(
    name: str, team: str, cost_center: str, language: str, deployment: str, provider: str,
    two_regions: bool, weight: int, latency_ms: float, nouns: tuple[str, str],
) -> Service:
    regions = PROVIDER_REGIONS[provider] if two_regions else PROVIDER_REGIONS[provider][:1]
    return Service(name, team, cost_center, language, deployment, provider, regions, weight,
                   latency_ms, nouns)


SERVICES: tuple[Service, ...] = (
    _service("web-gateway", "edge", "CC-100", "go", "k8s", "aws", True, 18, 25, ("pages", "assets")),
    _service("checkout", "commerce", "CC-200", "java", "k8s", "aws", True, 8, 180, ("carts", "orders")),
    _service("payments", "commerce", "CC-200", "java", "vm", "aws", False, 4, 320, ("charges", "refunds")),
    _service("orders", "commerce", "CC-200", "kotlin", "k8s", "aws", False, 6, 120, ("orders", "returns")),
    _service("inventory", "supply", "CC-300", "go", "k8s", "aws", False, 5, 60, ("stock", "warehouses")),
    _service("shipping", "supply", "CC-300", "python", "serverless", "aws", False, 2, 140, ("shipments", "rates")),
    _service("auth", "identity", "CC-400", "go", "k8s", "aws", True, 10, 35, ("sessions", "tokens")),
    _service("search", "discovery", "CC-500", "rust", "k8s", "gcp", True, 9, 90, ("queries", "suggestions")),
    _service("catalog", "discovery", "CC-500", "python", "k8s", "gcp", True, 8, 70, ("products", "categories")),
    _service("recommendations", "discovery", "CC-500", "python", "vm", "gcp", False, 5, 210, ("picks", "similar")),
    _service("reviews", "discovery", "CC-500", "node", "serverless", "gcp", False, 3, 110, ("reviews", "ratings")),
    _service("media", "content", "CC-600", "go", "vm", "gcp", False, 4, 150, ("images", "videos")),
    _service("notifications", "engagement", "CC-700", "node", "serverless", "gcp", True, 3, 80, ("emails", "pushes")),
    _service("analytics-ingest", "data", "CC-800", "java", "k8s", "gcp", False, 6, 45, ("events", "batches")),
    _service("accounts", "identity", "CC-400", "csharp", "k8s", "azure", True, 5, 95, ("accounts", "profiles")),
    _service("billing", "finance", "CC-900", "csharp", "vm", "azure", False, 2, 260, ("invoices", "plans")),
    _service("support", "care", "CC-910", "python", "k8s", "azure", False, 2, 130, ("tickets", "messages")),
    _service("loyalty", "engagement", "CC-700", "node", "serverless", "azure", False, 2, 100, ("points", "rewards")),
    _service("reporting", "finance", "CC-900", "csharp", "vm", "azure", True, 1, 900, ("reports", "exports")),
    _service("feature-flags", "platform", "CC-990", "go", "k8s", "azure", False, 4, 15, ("flags", "segments")),
)

# (method, route pattern, latency factor, response size in bytes); {n} is a service noun.
_ROUTE_SHAPES: tuple[tuple[str, str, float, int], ...] = (
    ("GET", "/api/{0}", 1.0, 8200),
    ("GET", "/api/{0}/{{id}}", 0.6, 2100),
    ("POST", "/api/{0}", 1.8, 900),
    ("PUT", "/api/{0}/{{id}}", 1.5, 900),
    ("DELETE", "/api/{0}/{{id}}", 0.9, 120),
    ("GET", "/api/{1}", 1.1, 6400),
    ("GET", "/api/{1}/{{id}}", 0.7, 1800),
    ("POST", "/api/{1}", 2.0, 1100),
    ("GET", "/api/{0}/{{id}}/{1}", 1.4, 4300),
    ("GET", "/health", 0.1, 40),
)


@dataclass(frozen=True)
class Endpoint:
    """One HTTP route of a service."""

    service: str
    index: int
    method: str
    route: str
    latency_ms: float
    response_bytes: int


def endpoints(service: Service) -> list[Endpoint]:
    """The service's ten routes, busiest first."""
    return [
        Endpoint(service.name, index, method, route.format(*service.nouns),
                 round(service.latency_ms * factor, 3), size)
        for index, (method, route, factor, size) in enumerate(_ROUTE_SHAPES)
    ]


@dataclass(frozen=True)
class Resource:
    """A billed cloud resource: fixed hourly cost plus a cost per request it serves."""

    provider: str
    resource_id: str
    region: str
    environment: str
    service: str | None  # None for shared resources (and then traffic is the region's)
    team: str | None
    cost_center: str | None
    tagged: bool
    product: str  # CUR product code / GCP service / Azure meter category
    usage_type: str  # CUR usage type / GCP SKU / Azure meter subcategory
    hourly_cost: float
    cost_per_request: float


_COMPUTE: dict[str, tuple[str, str, float]] = {
    "aws": ("AmazonEC2", "BoxUsage:m5.xlarge", 0.192),
    "gcp": ("Compute Engine", "N2 Instance Core running in Americas", 0.1942),
    "azure": ("Virtual Machines", "Dv3/DSv3 Series", 0.192),
}
_SERVERLESS: dict[str, tuple[str, str]] = {
    "aws": ("AWSLambda", "Request-and-Duration"),
    "gcp": ("Cloud Run", "CPU Allocation Time"),
    "azure": ("Functions", "Premium Plan - vCPU Duration"),
}
_SHARED: dict[str, tuple[tuple[str, str, str, float, float], ...]] = {
    "aws": (
        ("nat", "AmazonEC2", "NatGateway-Hours", 0.045, 0.000004),
        ("lb", "AWSELB", "LoadBalancerUsage", 0.0225, 0.000006),
    ),
    "gcp": (
        ("nat", "Cloud NAT", "NAT Gateway: Uptime", 0.044, 0.000004),
        ("lb", "Cloud Load Balancing", "Forwarding Rule Minimum", 0.025, 0.000006),
    ),
    "azure": (
        ("nat", "Virtual Network", "NAT Gateway", 0.045, 0.000004),
        ("lb", "Load Balancer", "Standard Data Processed", 0.025, 0.000006),
    ),
}
_DATABASE: dict[str, tuple[str, str, float]] = {
    "aws": ("AmazonRDS", "InstanceUsage:db.r5.2xlarge", 1.04),
    "gcp": ("Cloud SQL", "Cloud SQL for PostgreSQL: Regional - vCPU", 0.9),
    "azure": ("SQL Database", "General Purpose - Compute Gen5", 1.01),
}
_AZURE_TYPES = {
    "instance": "Microsoft.Compute/virtualMachines",
    "nat": "Microsoft.Network/natGateways",
    "lb": "Microsoft.Network/loadBalancers",
}
_NODES = {"production": 3, "staging": 1, "development": 1}


def _resource_id(provider: str, region: str, kind: str, name: str) -> str:
    if provider == "aws" and kind == "instance":
        return telemetry.instance_id(name)  # CUR's line_item_resource_id = CloudWatch's InstanceId
    if provider == "aws":
        return f"arn:aws:ec2:{region}:123456789012:{kind}/{name}"
    if provider == "gcp":
        return f"projects/lw-prod/zones/{region}-a/{kind}s/{name}"
    azure_type = _AZURE_TYPES[kind]
    return (
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-apps"
        f"/providers/{azure_type}/{name}"
    )


def service_resources(service: Service, untagged: frozenset[str]) -> list[Resource]:
    """Compute resources of a service in each region and environment."""
    found = []
    for region in service.regions:
        for environment in ENVIRONMENTS:
            if service.deployment == "serverless":
                product, usage = _SERVERLESS[service.provider]
                names = [(f"{service.name}-{environment}-{region}", 0.0, 0.0000021)]
            else:
                product, usage, rate = _COMPUTE[service.provider]
                names = [(f"{service.name}-{environment}-{region}-{node}", rate, 0.0)
                         for node in range(_NODES[environment])]
            for name, hourly, per_request in names:
                found.append(Resource(
                    service.provider, _resource_id(service.provider, region, "instance", name),
                    region, environment, service.name, service.team, service.cost_center,
                    _short_id(service.provider, region, name) not in untagged, product, usage,
                    hourly, per_request,
                ))
    return found


def _short_id(provider: str, region: str, name: str) -> str:
    return _resource_id(provider, region, "instance", name).rsplit("/", 1)[-1]


def shared_resources() -> list[Resource]:
    """NAT gateways and load balancers per provider region, and each provider's shared database."""
    found = []
    for provider, regions in PROVIDER_REGIONS.items():
        for region in regions:
            for kind, product, usage, hourly, per_request in _SHARED[provider]:
                found.append(Resource(
                    provider, _resource_id(provider, region, kind, f"shared-{kind}-{region}"),
                    region, "production", None, "platform", "CC-990", True, product, usage,
                    hourly, per_request,
                ))
        product, usage, hourly = _DATABASE[provider]
        found.append(Resource(
            provider, SHARED_DATABASES[provider], regions[0], "production",
            None, "platform", "CC-990", True, product, usage, hourly, 0.0,
        ))
    return found


@dataclass(frozen=True)
class SynthConfig:
    """What to generate: the seed, how many days from `start`, and how many requests in total."""

    seed: int = 7
    days: int = 14
    requests: int = 800_000
    start: date = date(2025, 3, 3)  # a Monday
    spans_per_batch: int = 200
    # the CloudWatch metric stream's output format, as AWS names it: json | opentelemetry1.0
    cloudwatch_format: str = "json"


@dataclass(frozen=True)
class Incident:
    """A planted anomaly: a latency spike or error burst of one service in one region."""

    kind: str  # latency_spike | error_burst
    service: str
    region: str
    environment: str
    first_hour: int  # hour index from the start, inclusive
    last_hour: int
    latency_factor: float
    error_rate: float


@dataclass(frozen=True)
class WrittenFile:
    """One file written, relative to the output directory."""

    path: str
    kind: str  # the `lookwright load --source` kind that reads it
    rows: int  # JSON lines / CSV rows / Parquet rows


@dataclass(frozen=True)
class Manifest:
    """What `synthesize` wrote."""

    config: SynthConfig
    files: list[WrittenFile]
    counts: dict[str, int]
    incidents: list[Incident]


# Billing exports lag behind usage, so the newest hours of a run have traffic but no cost lines yet
# (the build estimates them until the bill lands). Per provider, in hours before the run's end:
# AWS CUR is refreshed at least once and up to three times a day, data up to 24 h behind (18 h: the
# last refresh was six hours ago); the GCP billing export to BigQuery is a few hours behind (6 h);
# an Azure Cost Management daily export appears once the day is over, 8-24 h later (the last day).
# Never more than half the run, so every provider has billed hours to estimate from.
COST_EXPORT_LAG_HOURS: dict[str, int] = {"aws": 18, "gcp": 6, "azure": 24}
COST_FILE_KINDS: dict[str, str] = {"cur": "aws", "gcp_billing": "gcp", "azure_cost": "azure"}


def billed_hours(config: SynthConfig, provider: str) -> int:
    """How many hours from the start have cost lines in the provider's export (the rest lag)."""
    total = config.days * 24
    return total - min(COST_EXPORT_LAG_HOURS[provider], total // 2)


_LATE_RATE = 0.004
_DUPLICATE_RATE = 0.001
_BASE_ERROR_RATE = 0.004
FILE_KINDS = ("otlp", "cur", "gcp_billing", "azure_cost", "query_log", "cloudwatch", "app_logs", "rum")
# OTLP files are written in chunks of at most this many spans (one batch hour, copy and service
# at least), fetched FETCH_ROWS lines at a time: what bounds synth's memory at any size.
CHUNK_SPANS = 100_000
SYNTH_MEMORY_LIMIT = "700MB"  # DuckDB spills past this; measured peaks stay near 400-550 MiB
FETCH_ROWS = 4096
_COPIES = "SELECT *, false AS copy FROM spans UNION ALL SELECT *, true FROM spans WHERE duplicated"
_CHUNK_KEY = "(batch_hour * 64 + CASE WHEN copy THEN 32 ELSE 0 END + svc_idx)"


ID_EPOCH = date(2025, 3, 3)  # the default start: its request ids begin at 0
IDS_PER_DAY = 2**32  # more requests than any run makes, so runs that start on other days never share an id


def id_offset(config: SynthConfig) -> int:
    """The first request id of a run: runs with other start days (appending a day) never collide."""
    return (config.start - ID_EPOCH).days * IDS_PER_DAY


def hourly_requests(config: SynthConfig) -> list[int]:
    """Requests per hour: afternoon (UTC) peak, quieter weekends, a little seeded noise; sums exactly."""
    rng = random.Random(config.seed)
    weights = []
    for hour in range(config.days * 24):
        day = config.start + timedelta(days=hour // 24)
        hod = hour % 24
        shape = 0.25 + math.exp(-((hod - 15) ** 2) / 24.5) + 0.35 * math.exp(-((hod - 9) ** 2) / 12.5)
        weekend = 0.55 if day.weekday() >= 5 else 1.0
        weights.append(shape * weekend * (0.95 + 0.1 * rng.random()))
    exact = [config.requests * weight / sum(weights) for weight in weights]
    counts = [int(value) for value in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: (counts[i] - exact[i], i))
    for index in by_remainder[: config.requests - sum(counts)]:
        counts[index] += 1
    return counts


def plan_incidents(config: SynthConfig) -> list[Incident]:
    """Two latency spikes and two error bursts in production, at seeded hours."""
    rng = random.Random(config.seed * 7919 + 1)
    total = config.days * 24
    busy = [service for service in SERVICES if service.weight >= 4]
    kinds = ("latency_spike", "error_burst", "latency_spike", "error_burst")
    incidents = []
    for kind, service in zip(kinds, rng.sample(busy, len(kinds)), strict=True):
        first = rng.randrange(min(24, total - 3), max(total - 30, min(24, total - 3) + 1))
        last = min(first + rng.randrange(3), total - 1)
        factor = round(rng.uniform(4, 8), 2) if kind == "latency_spike" else 1.0
        rate = round(rng.uniform(0.25, 0.5), 3) if kind == "error_burst" else 0.0
        incidents.append(Incident(kind, service.name, service.regions[0], "production",
                                  first, last, factor, rate))
    return incidents


def _untagged(seed: int) -> frozenset[str]:
    """Names of the service resources whose cost lines carry no tags (about one in eight)."""
    rng = random.Random(seed * 31 + 5)
    names = [r.resource_id.rsplit("/", 1)[-1] for s in SERVICES for r in service_resources(s, frozenset())]
    return frozenset(name for name in names if rng.random() < 0.125)


class _Generator:
    """Builds the synthetic tables in an in-memory DuckDB and writes them out in export formats."""

    def __init__(
        self, outdir: Path, workdir: Path, config: SynthConfig, progress: Callable[[str], None]
    ) -> None:
        self.outdir = outdir
        self.config = config
        self.progress = progress
        # A database file rather than memory, so that large sizes spill to disk instead of failing.
        self.con = duckdb.connect(str(workdir / "synth.duckdb"))
        self.con.execute("SET threads = 2")
        self.con.execute("SET enable_progress_bar = false")  # its own progress lines would garble ours
        self.con.execute(f"SET memory_limit = '{SYNTH_MEMORY_LIMIT}'")
        self.con.execute(f"SET temp_directory = '{(workdir / 'spill').as_posix()}'")
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET preserve_insertion_order = false")  # every output has an ORDER BY
        self.files: list[WrittenFile] = []
        # u(k, tag): a uniform number in (0, 1) determined by the seed, a key and a tag.
        self.con.execute(
            f"CREATE MACRO u(k, tag) AS ((hash(k, tag, {int(config.seed)}) >> 11) + 0.5)"
            " / 9007199254740992.0"
        )
        self.con.execute(f"CREATE MACRO h(k, tag) AS hash(k, tag, {int(config.seed)})")

    def sql(self, statement: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
        rows: list[tuple[object, ...]] = self.con.execute(statement, params).fetchall()
        return rows

    def build_catalog(self, incidents: list[Incident]) -> None:
        self.sql("CREATE TABLE svc (svc_idx INT, name VARCHAR, team VARCHAR, cost_center VARCHAR,"
                 " language VARCHAR, deployment VARCHAR, provider VARCHAR, n_regions INT, nodes INT)")
        self.sql("CREATE TABLE svc_region (svc_idx INT, region_no INT, region VARCHAR)")
        self.sql("CREATE TABLE ep (svc_idx INT, ep_idx INT, method VARCHAR, route VARCHAR,"
                 " latency_ms DOUBLE, response_bytes INT, noun VARCHAR)")
        for i, s in enumerate(SERVICES):
            self.sql("INSERT INTO svc VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     [i, s.name, s.team, s.cost_center, s.language, s.deployment, s.provider,
                      len(s.regions), 0 if s.deployment == "serverless" else 3])
            for r, region in enumerate(s.regions):
                self.sql("INSERT INTO svc_region VALUES (?, ?, ?)", [i, r, region])
            for e in endpoints(s):
                self.sql("INSERT INTO ep VALUES (?, ?, ?, ?, ?, ?, ?)",
                         [i, e.index, e.method, e.route, e.latency_ms, e.response_bytes, s.nouns[0]])
        self.sql("CREATE TABLE incidents (svc_idx INT, region VARCHAR, first_hour INT, last_hour INT,"
                 " latency_factor DOUBLE, error_rate DOUBLE)")
        names = [s.name for s in SERVICES]
        for inc in incidents:
            self.sql("INSERT INTO incidents VALUES (?, ?, ?, ?, ?, ?)",
                     [names.index(inc.service), inc.region, inc.first_hour, inc.last_hour,
                      inc.latency_factor, inc.error_rate])
        telemetry.create_instances(self, [
            (i, region, environment, node, telemetry.instance_id(f"{s.name}-{environment}-{region}-{node}"))
            for i, s in enumerate(SERVICES) if s.provider == "aws" and s.deployment != "serverless"
            for region in s.regions for environment in ENVIRONMENTS for node in range(_NODES[environment])
        ])
        counts = hourly_requests(self.config)
        first_ids = list(itertools.accumulate([id_offset(self.config), *counts[:-1]]))
        t0 = datetime(self.config.start.year, self.config.start.month, self.config.start.day)
        self.sql("CREATE TABLE hours (hour_idx INT, hour_start TIMESTAMP, first_id BIGINT, n BIGINT)")
        self.con.executemany("INSERT INTO hours VALUES (?, ?, ?, ?)", [
            [i, t0 + timedelta(hours=i), first_ids[i], counts[i]] for i in range(len(counts))
        ])

    def build_requests(self) -> None:
        buckets = [i for i, s in enumerate(SERVICES) for _ in range(s.weight)]
        total_hours = self.config.days * 24
        self.sql(f"""
            CREATE TABLE requests AS
            WITH ids AS (SELECT hour_idx, hour_start, first_id + unnest(range(n)) AS id FROM hours),
            base AS (
                SELECT id, hour_idx, hour_start,
                       {buckets}[1 + CAST(h(id, 'svc') % {len(buckets)} AS INT)] AS svc_idx,
                       CAST(floor(10 * pow(u(id, 'ep'), 1.6)) AS INT) AS ep_idx,
                       u(id, 'env') AS u_env,
                       CAST(h(id, 'user') % 40000 AS INT) AS user_no
                FROM ids
            ),
            placed AS (
                SELECT b.*, s.provider, s.name AS service, s.nodes,
                       CAST(floor(u(id, 'region') * s.n_regions) AS INT) AS region_no,
                       CASE WHEN u_env < 0.85 THEN 'production' WHEN u_env < 0.95 THEN 'staging'
                            ELSE 'development' END AS environment
                FROM base b JOIN svc s USING (svc_idx)
            )
            SELECT p.id, p.hour_idx, p.svc_idx, p.service, p.provider, r.region, p.environment,
                   CASE WHEN p.nodes = 0 THEN NULL
                        WHEN p.environment = 'production' THEN CAST(h(p.id, 'pod') % p.nodes AS INT)
                        ELSE 0 END AS pod_no,
                   e.method, e.route, e.noun,
                   epoch_us(p.hour_start) + CAST(floor(u(p.id, 'start') * 3600e6) AS BIGINT) AS start_us,
                   CAST(greatest(200, e.latency_ms * 1000
                        * exp(0.45 * sqrt(-2 * ln(u(p.id, 'l1'))) * cos(2 * pi() * u(p.id, 'l2')))
                        * coalesce(i.latency_factor, 1)) AS BIGINT) AS duration_us,
                   u(p.id, 'err') < {_BASE_ERROR_RATE} + coalesce(i.error_rate, 0) AS is_error,
                   u(p.id, 'code') AS u_code,
                   CASE WHEN e.method IN ('POST', 'PUT') THEN 200 + CAST(h(p.id, 'req') % 4000 AS INT)
                        ELSE 0 END AS request_bytes,
                   CAST(e.response_bytes * (0.5 + u(p.id, 'resp')) AS INT) AS response_bytes,
                   CAST(h(p.id, 'kids') % 4 AS INT) AS n_children,
                   'u-' || lpad(CAST(p.user_no AS VARCHAR), 5, '0') AS user_id,
                   CASE WHEN p.user_no % 10 < 6 THEN 'free' WHEN p.user_no % 10 < 9 THEN 'pro'
                        ELSE 'enterprise' END AS segment,
                   's-' || lower(lpad(to_hex(h(p.user_no, p.hour_idx // 3)), 16, '0')) AS session_id
            FROM placed p
            JOIN svc_region r ON r.svc_idx = p.svc_idx AND r.region_no = p.region_no
            JOIN ep e ON e.svc_idx = p.svc_idx AND e.ep_idx = p.ep_idx
            LEFT JOIN (
                SELECT svc_idx, region, hour_idx, max(latency_factor) AS latency_factor,
                       sum(error_rate) AS error_rate
                FROM incidents JOIN hours ON hour_idx BETWEEN first_hour AND last_hour
                GROUP BY ALL
            ) i ON i.svc_idx = p.svc_idx AND i.region = r.region AND i.hour_idx = p.hour_idx
                 AND p.environment = 'production'
        """)
        t0_us = f"epoch_us(TIMESTAMP '{self.config.start.isoformat()}')"
        self.sql(f"""
            CREATE TABLE spans AS
            WITH roots AS (
                SELECT r.*, 0 AS child_no, 2 AS kind,
                       start_us AS span_start_us, duration_us AS span_duration_us,
                       CASE WHEN is_error THEN (CASE WHEN u_code < 0.7 THEN 500 ELSE 503 END)
                            WHEN u_code < 0.03 THEN 404 WHEN method = 'POST' THEN 201
                            ELSE 200 END AS http_status
                FROM requests r
            ),
            children AS (
                SELECT r.*, unnest(range(1, r.n_children + 1)) AS child_no FROM requests r
            ),
            kids AS (
                SELECT c.*, 3 AS kind,
                       start_us + CAST(duration_us * (0.05 + 0.1 * c.child_no) AS BIGINT)
                           AS span_start_us,
                       CAST(duration_us * (0.05 + 0.2 * u(c.id * 4 + c.child_no, 'kid')) AS BIGINT)
                           AS span_duration_us,
                       NULL::INT AS http_status
                FROM children c
            ),
            all_spans AS (SELECT * FROM roots UNION ALL BY NAME SELECT * FROM kids)
            SELECT id, child_no, kind, svc_idx, service, provider, region, environment, pod_no,
                   method, route, http_status, request_bytes, response_bytes, user_id, segment,
                   session_id, is_error AND child_no = 0 AS error_status,
                   span_start_us * 1000 + CAST(h(id * 4 + child_no, 'ns') % 1000 AS BIGINT) AS start_ns,
                   (span_start_us + span_duration_us) * 1000 AS end_ns,
                   CAST(span_duration_us / 1000.0 AS DOUBLE) AS duration_ms,
                   1 + CAST(h(id * 4 + child_no, 'queries') % 5 AS INT) AS db_queries,
                   least({total_hours - 1},
                         CAST((span_start_us - {t0_us}) // 3600000000 AS INT)
                         + CASE WHEN u(id * 4 + child_no, 'late') < {_LATE_RATE} THEN 1 ELSE 0 END)
                       AS batch_hour,
                   CAST((span_start_us - {t0_us}) // 3600000000 AS INT) AS span_hour,
                   u(id * 4 + child_no, 'dup') < {_DUPLICATE_RATE} AS duplicated,
                   noun
            FROM all_spans
        """)
        self.sql("DROP TABLE requests")

    def _copy(self, select: str, relative: str, kind: str, options: str) -> None:
        path = self.outdir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = self.sql(f"COPY ({select}) TO '{path.as_posix()}' ({options})")[0][0]
        self.written(relative, kind, int(str(rows)))

    def written(self, relative: str, kind: str, rows: int) -> None:
        """Record a file written under outdir (`rows` data rows) in the manifest."""
        self.files.append(WrittenFile(relative, kind, rows))
        self.progress(relative)

    def _span_json(self) -> str:
        def attr(key: str, value: str, kind: str = "stringValue") -> str:
            return f"json_object('key', '{key}', 'value', json_object('{kind}', {value}))"

        root_attrs = ", ".join([
            attr("http.route", "route"),
            attr("http.request.method", "method"),
            attr("http.response.status_code", "CAST(http_status AS VARCHAR)", "intValue"),
            attr("http.request.body.size", "CAST(request_bytes AS VARCHAR)", "intValue"),
            attr("http.response.body.size", "CAST(response_bytes AS VARCHAR)", "intValue"),
            attr("enduser.id", "user_id"),
            attr("session.id", "session_id"),
            attr("user.segment", "segment"),
        ])
        db_attrs = f"{attr('db.system', chr(39) + 'postgresql' + chr(39))}, {attr('db.name', chr(39) + 'app' + chr(39))}"
        child_attrs = (
            f"CASE child_no WHEN 1 THEN json_array({db_attrs})"
            f" WHEN 2 THEN json_array({attr('db.system', chr(39) + 'redis' + chr(39))})"
            f" ELSE json_array({attr('http.request.method', chr(39) + 'POST' + chr(39))},"
            f" {attr('server.address', chr(39) + 'events.internal' + chr(39))}) END"
        )
        fields = (
            "'name', name, 'kind', kind, 'startTimeUnixNano', CAST(start_ns AS VARCHAR),"
            " 'endTimeUnixNano', CAST(end_ns AS VARCHAR)"
        )
        status = "CASE WHEN error_status THEN json_object('code', 2) ELSE json_object() END"
        return (
            "CASE WHEN child_no = 0 THEN json_object('traceId', trace_id, 'spanId', span_id,"
            f" {fields}, 'attributes', json_array({root_attrs}), 'status', {status})"
            " ELSE json_object('traceId', trace_id, 'spanId', span_id, 'parentSpanId', parent_span_id,"
            f" {fields}, 'attributes', {child_attrs}, 'status', {status}) END"
        )

    def _resource_json(self) -> str:
        def attr(key: str, value: str) -> str:
            return f"json_object('key', '{key}', 'value', json_object('stringValue', {value}))"

        pod = "b.service || '-' || b.region || '-' || b.environment || '-' || b.pod_no"
        base = ", ".join([
            attr("service.name", "b.service"),
            attr("service.namespace", "s.team"),
            attr("telemetry.sdk.language", "s.language"),
            attr("cloud.provider", "b.provider"),
            attr("cloud.region", "b.region"),
            attr("deployment.environment", "b.environment"),
        ])
        k8s = ", ".join([
            attr("host.name", f"'node-' || {pod}"),
            attr("k8s.pod.name", pod),
            attr("container.id", f"lower(lpad(to_hex(hash({pod})), 16, '0'))"),
        ])
        vm = attr("host.name", f"'vm-' || {pod}")
        return (
            f"CASE s.deployment WHEN 'k8s' THEN json_array({base}, {k8s})"
            f" WHEN 'vm' THEN json_array({base}, {vm}) ELSE json_array({base}) END"
        )

    def _span_chunks(self, day: int) -> list[tuple[int, int]]:
        """Ranges of chunk keys (batch hour, copy, service) of one day, each under CHUNK_SPANS spans.

        Every OTLP batch lies inside one key, so chunks are written one after another in file order."""
        rows = self.sql(f"""
            SELECT {_CHUNK_KEY} AS chunk, count(*) FROM ({_COPIES})
            WHERE batch_hour BETWEEN {day * 24} AND {day * 24 + 23} GROUP BY 1 ORDER BY 1
        """)
        chunks: list[tuple[int, int]] = []
        size = 0
        for key, count in rows:
            first_key, spans = int(str(key)), int(str(count))
            if chunks and size + spans <= CHUNK_SPANS:
                chunks[-1] = (chunks[-1][0], first_key)
                size += spans
            else:
                chunks.append((first_key, first_key))
                size = spans
        return chunks

    def write_spans(self, day: int) -> None:
        """One day's OTLP file, written chunk by chunk and batch by batch: memory stays bounded at any size.

        DuckDB sorts each chunk's spans into file order; each export request (one resource, at most
        `spans_per_batch` spans) is joined here, since an ordered list() per batch costs DuckDB a sort
        buffer per group."""
        per_batch = int(self.config.spans_per_batch)
        name = (self.config.start + timedelta(days=day)).isoformat()
        relative = f"otlp/spans-{name}.jsonl"
        path = self.outdir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = 0
        with path.open("w", encoding="utf-8", newline="\n") as out:
            for low, high in self._span_chunks(day):
                cursor = self.con.execute(self._spans_select(day, low, high, per_batch))
                batch_key: object = None
                resource, spans = "", list[str]()
                while rows := cursor.fetchmany(FETCH_ROWS):
                    for key, resource_json, span in rows:
                        if key != batch_key:
                            if spans:
                                out.write(_export_request(resource, spans))
                                lines += 1
                            batch_key, resource, spans = key, str(resource_json), []
                        spans.append(str(span))
                if spans:
                    out.write(_export_request(resource, spans))
                    lines += 1
        self.files.append(WrittenFile(relative, "otlp", lines))
        self.progress(relative)

    def _spans_select(self, day: int, low: int, high: int, per_batch: int) -> str:
        """(batch key, resource attributes JSON, span JSON) of a chunk's spans, in file order."""
        return f"""
            WITH day_spans AS (
                SELECT * FROM ({_COPIES}) WHERE batch_hour BETWEEN {day * 24} AND {day * 24 + 23}
                  AND {_CHUNK_KEY} BETWEEN {low} AND {high}
            ),
            named AS (
                SELECT *,
                       lower(lpad(to_hex(h(id, 'trace')), 16, '0')
                             || lpad(to_hex(h(id, 'trace2')), 16, '0')) AS trace_id,
                       lower(lpad(to_hex(h(id * 4 + child_no, 'span')), 16, '0')) AS span_id,
                       CASE WHEN child_no > 0 THEN lower(lpad(to_hex(h(id * 4, 'span')), 16, '0'))
                            END AS parent_span_id,
                       CASE child_no WHEN 0 THEN method || ' ' || route WHEN 1 THEN 'SELECT ' || noun
                            WHEN 2 THEN 'GET cache' ELSE 'HTTP POST' END AS name
                FROM day_spans
            ),
            numbered AS (
                SELECT *,
                       (row_number() OVER (PARTITION BY batch_hour, svc_idx, region, environment,
                                           pod_no, copy ORDER BY start_ns, span_id) - 1)
                           // {per_batch} AS batch_no
                FROM named
            )
            SELECT (batch_hour, copy, b.svc_idx, region, environment, pod_no, batch_no)::VARCHAR AS batch,
                   CAST({self._resource_json()} AS VARCHAR) AS resource, CAST({self._span_json()} AS VARCHAR)
            FROM numbered b JOIN (SELECT svc_idx, team, language, deployment FROM svc) s USING (svc_idx)
            ORDER BY batch_hour, copy, b.svc_idx, region, environment, pod_no NULLS FIRST, batch_no,
                     start_ns, span_id
        """

    def write_query_log(self, day: int) -> None:
        databases = ", ".join(f"'{p}': '{db}'" for p, db in SHARED_DATABASES.items())
        select = f"""
            SELECT strftime(TIMESTAMP '{self.config.start.isoformat()}' + to_hours(span_hour),
                            '%Y-%m-%dT%H:%M:%SZ') AS "timestamp",
                   service, map_extract_value(MAP {{{databases}}}, provider) AS database_resource_id,
                   CAST(sum(db_queries) AS BIGINT) AS query_count,
                   round(sum(duration_ms), 3) AS total_duration_ms
            FROM spans
            WHERE child_no = 1 AND environment = 'production'
              AND span_hour BETWEEN {day * 24} AND {day * 24 + 23}
            GROUP BY ALL ORDER BY 1, 2
        """
        name = (self.config.start + timedelta(days=day)).isoformat()
        self._copy(select, f"query_log/queries-{name}.jsonl", "query_log", "FORMAT JSON")

    def build_costs(self) -> None:
        resources = [r for s in SERVICES for r in service_resources(s, _untagged(self.config.seed))]
        resources += shared_resources()
        self.sql("CREATE TABLE resources (provider VARCHAR, resource_id VARCHAR, region VARCHAR,"
                 " environment VARCHAR, service VARCHAR, team VARCHAR, cost_center VARCHAR,"
                 " tagged BOOLEAN, product VARCHAR, usage_type VARCHAR, hourly_cost DOUBLE,"
                 " cost_per_request DOUBLE)")
        self.con.executemany("INSERT INTO resources VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
            [r.provider, r.resource_id, r.region, r.environment, r.service, r.team, r.cost_center,
             r.tagged, r.product, r.usage_type, r.hourly_cost, r.cost_per_request]
            for r in resources
        ])
        self.sql("""
            CREATE TABLE costs AS
            WITH traffic AS (
                SELECT service, region, environment, span_hour AS hour_idx, count(*) AS n
                FROM spans WHERE child_no = 0 GROUP BY ALL
                UNION ALL
                SELECT '*', region, 'production', span_hour, count(*)
                FROM spans WHERE child_no = 0 GROUP BY ALL
            )
            SELECT r.*, h.hour_idx, h.hour_start, coalesce(t.n, 0) AS requests,
                   round(r.hourly_cost * (0.98 + 0.04 * u(hash(r.resource_id), h.hour_idx))
                         + r.cost_per_request * coalesce(t.n, 0), 8) AS cost,
                   CASE WHEN r.hourly_cost > 0 THEN 1.0 ELSE coalesce(t.n, 0) END AS usage_amount
            FROM resources r CROSS JOIN hours h
            LEFT JOIN traffic t ON t.service = coalesce(r.service, '*') AND t.region = r.region
                 AND t.environment = r.environment AND t.hour_idx = h.hour_idx
        """)

    def _tag(self, column: str) -> str:
        return f"CASE WHEN tagged THEN {column} END"

    def write_cur(self, day: int, parquet: bool) -> None:
        select = f"""
            SELECT strftime(hour_start, '%Y-%m-%dT%H:%M:%SZ') AS line_item_usage_start_date,
                   strftime(hour_start + INTERVAL 1 HOUR, '%Y-%m-%dT%H:%M:%SZ')
                       AS line_item_usage_end_date,
                   'Usage' AS line_item_line_item_type,
                   product AS line_item_product_code, usage_type AS line_item_usage_type,
                   resource_id AS line_item_resource_id, usage_amount AS line_item_usage_amount,
                   cost AS line_item_unblended_cost, region AS product_region_code,
                   {self._tag('service')} AS resource_tags_user_service,
                   {self._tag('environment')} AS resource_tags_user_environment,
                   {self._tag('team')} AS resource_tags_user_team,
                   {self._tag('cost_center')} AS resource_tags_user_cost_center
            FROM costs WHERE provider = 'aws' AND hour_idx BETWEEN {day * 24} AND {day * 24 + 23}
              AND hour_idx < {billed_hours(self.config, 'aws')}
            ORDER BY hour_idx, resource_id
        """
        name = (self.config.start + timedelta(days=day)).isoformat()
        if parquet:
            self._copy(select, f"cur/cur-{name}.parquet", "cur", "FORMAT PARQUET")
        else:
            self._copy(select, f"cur/cur-{name}.csv", "cur", "FORMAT CSV, HEADER true")

    def write_gcp(self, day: int) -> None:
        labels = ", ".join(
            f"json_object('key', '{key}', 'value', {key})"
            for key in ("service", "environment", "team", "cost_center")
        )
        shared = ", ".join(
            f"json_object('key', '{key}', 'value', {key})" for key in ("environment", "team", "cost_center")
        )
        select = f"""
            SELECT '01ABCD-234567-89EF01' AS billing_account_id,
                   {{'id': upper(left(to_hex(hash(product)), 12)), 'description': product}} AS service,
                   {{'id': upper(left(to_hex(hash(usage_type)), 12)), 'description': usage_type}} AS sku,
                   strftime(hour_start, '%Y-%m-%d %H:%M:%S UTC') AS usage_start_time,
                   strftime(hour_start + INTERVAL 1 HOUR, '%Y-%m-%d %H:%M:%S UTC') AS usage_end_time,
                   {{'id': 'lw-prod', 'name': 'lw-prod'}} AS project,
                   CASE WHEN NOT tagged THEN json_array() WHEN service IS NULL THEN json_array({shared})
                        ELSE json_array({labels}) END AS labels,
                   {{'location': region, 'region': region}} AS location,
                   {{'name': resource_id}} AS resource,
                   cost, 'USD' AS currency,
                   {{'amount': usage_amount, 'unit': CASE WHEN hourly_cost > 0 THEN 'hour'
                                                          ELSE 'requests' END}} AS usage
            FROM costs WHERE provider = 'gcp' AND hour_idx BETWEEN {day * 24} AND {day * 24 + 23}
              AND hour_idx < {billed_hours(self.config, 'gcp')}
            ORDER BY hour_idx, resource_id
        """
        name = (self.config.start + timedelta(days=day)).isoformat()
        self._copy(select, f"gcp_billing/billing-{name}.jsonl", "gcp_billing", "FORMAT JSON")

    def write_azure(self, day: int) -> None:
        tags = (
            "CASE WHEN NOT tagged THEN NULL WHEN service IS NULL THEN to_json({'environment': environment,"
            " 'team': team, 'cost_center': cost_center})::VARCHAR ELSE to_json({'service': service,"
            " 'environment': environment, 'team': team, 'cost_center': cost_center})::VARCHAR END"
        )
        select = f"""
            SELECT strftime(min(hour_start), '%m/%d/%Y') AS "Date", product AS "MeterCategory",
                   usage_type AS "MeterSubCategory", round(sum(cost), 8) AS "CostInBillingCurrency",
                   'USD' AS "BillingCurrency", resource_id AS "ResourceId",
                   region AS "ResourceLocation", round(sum(usage_amount), 6) AS "Quantity",
                   {tags} AS "Tags"
            FROM costs WHERE provider = 'azure' AND hour_idx BETWEEN {day * 24} AND {day * 24 + 23}
              AND hour_idx < {billed_hours(self.config, 'azure')}
            GROUP BY product, usage_type, resource_id, region, tagged, service, environment, team,
                     cost_center
            ORDER BY resource_id
        """
        name = (self.config.start + timedelta(days=day)).isoformat()
        self._copy(select, f"azure_cost/azure-cost-{name}.csv", "azure_cost", "FORMAT CSV, HEADER true")

    def counts(self) -> dict[str, int]:
        row = self.sql("""
            SELECT count(*) FILTER (WHERE child_no = 0), count(*),
                   count(*) FILTER (WHERE batch_hour > span_hour), count(*) FILTER (WHERE duplicated)
            FROM spans
        """)[0]
        names = ("requests", "spans", "late_spans", "duplicate_spans")
        return {name: int(str(value)) for name, value in zip(names, row, strict=True)}


def _export_request(resource: str, spans: list[str]) -> str:
    """One OTLP/JSON export request line: one resource, one scope, its spans."""
    scope = '{"name":"lookwright.synth","version":"1.0.0"}'
    return (f'{{"resourceSpans":[{{"resource":{{"attributes":{resource}}},'
            f'"scopeSpans":[{{"scope":{scope},"spans":[{",".join(spans)}]}}]}}]}}\n')


def synthesize(
    outdir: Path, config: SynthConfig, progress: Callable[[str], None] = lambda _: None
) -> Manifest:
    """Write every synthetic source file under `outdir`, plus incidents.json and manifest.json.

    Files go to a staging folder beside `outdir` that is renamed into place when complete, so an
    interrupted or failed run never leaves a partial `outdir`. `outdir` must not exist or be empty."""
    if config.days < 1 or config.requests < 1:
        raise InputError("synth needs --days >= 1 and --requests >= 1")
    if outdir.exists() and (not outdir.is_dir() or any(outdir.iterdir())):
        raise InputError(f"{outdir} already exists and is not an empty folder; pass a new OUTDIR "
                         "(each synth run gets its own folder, `lookwright load` reads several)")
    try:
        outdir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.synth-", dir=outdir.parent))
        staging.chmod(0o755)
    except OSError as error:
        raise InputError(f"cannot create {outdir}: {error.strerror or error}") from error
    try:
        manifest = _synthesize_into(staging, config, progress)
        if outdir.exists():
            outdir.rmdir()
        staging.rename(outdir)
    except BaseException:
        with ctrl_c_deferred():
            shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _synthesize_into(outdir: Path, config: SynthConfig, progress: Callable[[str], None]) -> Manifest:
    incidents = plan_incidents(config)
    with tempfile.TemporaryDirectory(prefix="lookwright-synth-") as workdir:
        generator = _Generator(outdir, Path(workdir), config, progress)
        try:
            generator.build_catalog(incidents)
            generator.build_requests()
            generator.build_costs()
            for day in range(config.days):
                generator.write_spans(day)
                generator.write_query_log(day)
                if _billed_day(config, "cur", day):
                    generator.write_cur(day, parquet=day == config.days - 1)
                if _billed_day(config, "gcp_billing", day):
                    generator.write_gcp(day)
                if _billed_day(config, "azure_cost", day):
                    generator.write_azure(day)
                telemetry.write_cloudwatch(generator, day)
                telemetry.write_app_logs(generator, day)
                telemetry.write_rum(generator, day)
            generator.files.append(write_slos(outdir))
            progress(SLO_FILE)
            counts = generator.counts()
        finally:
            generator.con.close()
    manifest = Manifest(config, sorted(generator.files, key=lambda f: f.path), counts, incidents)
    _write_json(outdir / "incidents.json", [_incident_json(i, config) for i in incidents])
    _write_json(outdir / "manifest.json", _manifest_json(manifest))
    return manifest


SLO_FILE = "openslo/slos.yaml"


def slo_targets(service: Service) -> tuple[float, float]:
    """(availability target, p95 latency threshold in ms) of a service's SLOs: busy services promise
    99.5%, others 99%; the p95 threshold is three times its typical latency, to the next 10 ms. The
    0.4% base error rate uses most of a busy service's budget: an error burst breaks it."""
    availability = 0.995 if service.weight >= 8 else 0.99
    return availability, float(math.ceil(service.latency_ms * 3 / 10) * 10)


def _slo_documents(service: Service) -> list[dict[str, object]]:
    availability, p95_ms = slo_targets(service)
    labels = {"team": service.team, "costCentre": service.cost_center}
    window = [{"duration": "28d", "isRolling": True}]
    query = f'service.name="{service.name}", deployment.environment="production"'
    return [
        {"apiVersion": "openslo/v1", "kind": "Service",
         "metadata": {"name": service.name, "labels": labels},
         "spec": {"description": f"{service.name} ({service.team}), {service.language} on {service.deployment}"}},
        {"apiVersion": "openslo/v1", "kind": "SLO",
         "metadata": {"name": f"{service.name}-availability", "labels": {**labels, "sli": "availability"}},
         "spec": {
             "description": f"{100 * availability:g}% of production requests succeed (no 5xx)",
             "service": service.name,
             "indicator": {"metadata": {"name": f"{service.name}-success-ratio"}, "spec": {"ratioMetric": {
                 "counter": True,
                 "good": {"metricSource": {"type": "OpenTelemetry", "spec": {
                     "query": f"count(spans{{{query}, status.code!=ERROR}})"}}},
                 "total": {"metricSource": {"type": "OpenTelemetry", "spec": {"query": f"count(spans{{{query}}})"}}},
             }}},
             "timeWindow": window, "budgetingMethod": "Occurrences",
             "objectives": [{"displayName": f"{100 * availability:g}% success", "target": availability}],
         }},
        {"apiVersion": "openslo/v1", "kind": "SLO",
         "metadata": {"name": f"{service.name}-latency-p95", "labels": {**labels, "sli": "latency"}},
         "spec": {
             "description": f"p95 latency of production requests at most {p95_ms:g} ms in 99% of hours",
             "service": service.name,
             "indicator": {"metadata": {"name": f"{service.name}-p95-latency"}, "spec": {"thresholdMetric": {
                 "metricSource": {"type": "OpenTelemetry", "spec": {
                     "query": f"p95(span.duration_ms{{{query}}})"}}}}},
             "timeWindow": window, "budgetingMethod": "Timeslices",
             "objectives": [{"displayName": f"p95 at most {p95_ms:g} ms", "op": "lte", "value": p95_ms,
                             "target": 0.99, "timeSliceTarget": 1.0, "timeSliceWindow": "1h"}],
         }},
    ]


def write_slos(outdir: Path) -> WrittenFile:
    """The service catalog's SLOs as OpenSLO v1 YAML documents: a Service and two SLOs per service."""
    import yaml

    documents = [document for service in SERVICES for document in _slo_documents(service)]
    path = outdir / SLO_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump_all(documents, sort_keys=False, explicit_start=True, width=120)
    path.write_text(f"# Service level objectives of the synthetic services (OpenSLO v1).\n{text}", encoding="utf-8")
    return WrittenFile(SLO_FILE, "openslo", sum(1 for d in documents if d["kind"] == "SLO"))


def _billed_day(config: SynthConfig, kind: str, day: int) -> bool:
    """Whether the cost export `kind` has a file for `day` (a day entirely past its lag has none)."""
    return day * 24 < billed_hours(config, COST_FILE_KINDS[kind])


def planned_files(config: SynthConfig) -> int:
    """How many data files `synthesize` writes (for progress bars)."""
    lagging = sum(not _billed_day(config, kind, day) for kind in COST_FILE_KINDS for day in range(config.days))
    return config.days * len(FILE_KINDS) - lagging + 1  # + the service catalog's SLOs


def _incident_json(incident: Incident, config: SynthConfig) -> dict[str, object]:
    t0 = datetime(config.start.year, config.start.month, config.start.day)
    start = t0 + timedelta(hours=incident.first_hour)
    end = t0 + timedelta(hours=incident.last_hour + 1)
    return {
        **asdict(incident),
        "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _manifest_json(manifest: Manifest) -> dict[str, object]:
    config = {**asdict(manifest.config), "start": manifest.config.start.isoformat()}
    return {
        "generator": "lookwright synth",
        "config": config,
        "counts": manifest.counts,
        "files": [asdict(f) for f in manifest.files],
        "incidents": "incidents.json",
    }


def _write_json(path: Path, value: object) -> None:
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n", encoding="utf-8")
