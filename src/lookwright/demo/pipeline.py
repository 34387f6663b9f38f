"""The end-to-end demo: synthetic exports -> loaders -> build -> checks, and its summary."""

from __future__ import annotations

import json
import os
import shutil
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from lookwright.demo.synth import SynthConfig, synthesize
from lookwright.model.ir import SemanticModel
from lookwright.sqlgen.dialects import DIALECTS
from lookwright.sqlgen.render import every_partition
from lookwright.warehouse.base import Warehouse
from lookwright.warehouse.build import STATE_TABLE, BuildReport, build
from lookwright.warehouse.duckdb import DuckDBWarehouse
from lookwright.warehouse.quality import RESULTS_TABLE, CheckRun, run_checks
from lookwright.warehouse.sources import RAW_TABLES, LoadReport
from lookwright.warehouse.sources import load as load_source

TOP = 5
Progress = Callable[[str], None]


@dataclass(frozen=True)
class DemoPaths:
    """Where the demo keeps its sources and warehouse."""

    root: Path

    @property
    def sources(self) -> Path:
        return self.root / "sources"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def staging(self) -> Path:
        return self.root / "warehouse.building.duckdb"


@dataclass(frozen=True)
class DemoSummary:
    """What the demo prints: sizes, cost per team, the most expensive and most efficient services."""

    rows: tuple[tuple[str, int], ...]
    cost_by_team: tuple[tuple[str, float, float], ...]  # team, real cost, estimated cost
    cost_per_request: tuple[tuple[str, float, int], ...]  # service, cost per request, requests
    efficiency: tuple[tuple[str, float], ...]  # service, average hourly efficiency score
    attribution: tuple[tuple[str, float], ...]  # method, cost
    per_service: tuple[tuple[Any, ...], ...] = ()  # PER_SERVICE_FIELDS, most expensive first
    incidents: tuple[FoundIncident, ...] = ()


def sources_ready(paths: DemoPaths, config: SynthConfig) -> bool:
    """Whether the sources folder holds a complete synth run of exactly this configuration."""
    manifest = paths.sources / "manifest.json"
    if not manifest.is_file():
        return False
    recorded = json.loads(manifest.read_text(encoding="utf-8"))
    wanted = {**asdict(config), "start": config.start.isoformat()}
    files = recorded.get("files", [])
    return bool(recorded.get("config") == wanted and all((paths.sources / f["path"]).is_file() for f in files))


def ensure_sources(paths: DemoPaths, config: SynthConfig, progress: Progress) -> bool:
    """Synthesize the sources unless an identical run is already there; returns whether it ran."""
    if sources_ready(paths, config):
        return False
    if paths.sources.exists():
        shutil.rmtree(paths.sources)
    # manifest.json is written last, so an interrupted run is never mistaken for a complete one
    synthesize(paths.sources, config, progress)
    return True


def source_files(paths: DemoPaths) -> list[tuple[str, Path]]:
    """(load kind, file) for every data file of the synth manifest."""
    recorded = json.loads((paths.sources / "manifest.json").read_text(encoding="utf-8"))
    return [(str(f["kind"]).replace("_", "-"), paths.sources / str(f["path"])) for f in recorded["files"]]


def load_all(warehouse: Warehouse, files: list[tuple[str, Path]], progress: Progress) -> list[LoadReport]:
    reports = []
    for kind, path in files:
        reports.append(load_source(warehouse, kind, path))
        progress(path.name)
    return reports


def _remove(path: Path) -> None:
    for candidate in (path, path.with_name(path.name + ".wal")):
        candidate.unlink(missing_ok=True)


def build_warehouse(
    paths: DemoPaths,
    model: SemanticModel,
    on_load: Progress,
    on_step: Callable[[str, int, int], None],
    on_phase: Progress = lambda _: None,
) -> tuple[list[LoadReport], BuildReport, CheckRun]:
    """Load, build and check into a staging file, then swap it in: the live warehouse is never half-built.
    `on_phase` hears of the steps that have no progress of their own (the data-quality checks)."""
    _remove(paths.staging)
    with DuckDBWarehouse(paths.staging) as warehouse:
        reports = load_all(warehouse, source_files(paths), on_load)
        report = build(warehouse, model, on_step=on_step)
        on_phase("running data-quality checks")
        run = run_checks(warehouse, model)
        warehouse.execute("CHECKPOINT")
    _remove(paths.warehouse)
    os.replace(paths.staging, paths.warehouse)
    return reports, report, run


def build_into(warehouse: Warehouse, paths: DemoPaths, model: SemanticModel, on_load: Progress,
               on_step: Callable[[str, int, int], None],
               on_phase: Progress = lambda _: None) -> tuple[list[LoadReport], BuildReport, CheckRun]:
    """Load, build and check straight into a warehouse given by URL (e.g. a BigQuery dataset)."""
    reports = load_all(warehouse, source_files(paths), on_load)
    report = build(warehouse, model, on_step=on_step)
    on_phase("running data-quality checks")
    return reports, report, run_checks(warehouse, model)


def _rows(warehouse: Warehouse, sql: str) -> list[tuple[Any, ...]]:
    return warehouse.query(sql)


def _every(model: SemanticModel, warehouse: Warehouse, name: str, alias: str = "") -> str:
    """A predicate reading every partition of a model table: BigQuery refuses a query of a table
    with `require_partition_filter` that does not filter its partition column."""
    return every_partition(model.tables[name], DIALECTS[warehouse.dialect], alias) or "TRUE"


def summarize(warehouse: Warehouse, model: SemanticModel) -> DemoSummary:
    """The demo's summary, read from the built tables (on DuckDB or BigQuery)."""
    names = sorted(RAW_TABLES) + sorted(model.tables) + [STATE_TABLE, RESULTS_TABLE]
    rows = tuple((name, warehouse.row_count(name)) for name in names)  # BigQuery: metadata, no job
    cost = _every(model, warehouse, "fact_cost_hourly", "c")
    joined = _every(model, warehouse, "fact_performance_cost_joined", "j")
    by_team = _rows(warehouse, f"""
        SELECT COALESCE(s.team, '(no team)') AS team,
               SUM(CASE WHEN NOT c.is_estimated THEN c.total_cost ELSE 0 END) AS real_cost,
               SUM(CASE WHEN c.is_estimated THEN c.total_cost ELSE 0 END) AS estimated_cost
        FROM fact_cost_hourly AS c JOIN dim_service AS s ON s.service_key = c.service_key
        WHERE {cost}
        GROUP BY 1 ORDER BY real_cost DESC, team""")
    per_request = _rows(warehouse, f"""
        SELECT s.service_name, SUM(j.total_cost) / SUM(j.request_count) AS cost_per_request,
               SUM(j.request_count) AS requests
        FROM fact_performance_cost_joined AS j JOIN dim_service AS s ON s.service_key = j.service_key
        WHERE {joined}
        GROUP BY 1 HAVING SUM(j.request_count) > 0
        ORDER BY cost_per_request DESC, s.service_name LIMIT {TOP}""")
    efficiency = _rows(warehouse, f"""
        SELECT s.service_name, AVG(j.performance_efficiency_score) AS score
        FROM fact_performance_cost_joined AS j JOIN dim_service AS s ON s.service_key = j.service_key
        WHERE j.performance_efficiency_score IS NOT NULL AND {joined}
        GROUP BY 1 ORDER BY score DESC, s.service_name LIMIT {TOP}""")
    attribution = _rows(warehouse, f"""
        SELECT c.attribution_method, SUM(c.total_cost) FROM fact_cost_hourly AS c WHERE {cost}
        GROUP BY 1 ORDER BY 1""")
    return DemoSummary(
        rows=rows,
        cost_by_team=tuple((str(t), float(r), float(e)) for t, r, e in by_team),
        cost_per_request=tuple((str(s), float(c), int(n)) for s, c, n in per_request),
        efficiency=tuple((str(s), float(v)) for s, v in efficiency),
        attribution=tuple((str(m), float(c)) for m, c in attribution),
        per_service=per_service(warehouse, model),
        incidents=find_incidents(warehouse, model),
    )


EFFICIENCY = ("efficiency score = requests per dollar per second of p95 latency: "
              "requests / cost / (p95 ms / 1000); higher is cheaper and faster")
PER_SERVICE_FIELDS = (
    "dim_service.service_name", "fact_performance_cost_joined.p95_duration_ms",
    "fact_performance_cost_joined.error_rate", "fact_performance_cost_joined.total_requests",
    "fact_performance_cost_joined.sum_total_cost", "fact_performance_cost_joined.cost_per_1k_requests",
    "fact_performance_cost_joined.efficiency_score",
)


def per_service(warehouse: Warehouse, model: SemanticModel) -> tuple[tuple[Any, ...], ...]:
    """The dashboards' per-service numbers over the whole warehouse, through the one query compiler
    (p95 from the merged hourly sketches), most expensive first."""
    from lookwright.query.compile import QuerySpec
    from lookwright.query.run import query_sql

    every_day = {"fact_performance_cost_joined.joined_date": "after 1970-01-01"}  # not the explore's always_filter
    spec = QuerySpec("fact_performance_cost_joined", PER_SERVICE_FIELDS, every_day, model.warehouse.timezone)
    sql = query_sql(warehouse.target(model), spec, ("fact_performance_cost_joined.sum_total_cost desc",),
                    dialect=warehouse.dialect)
    return tuple(tuple(row) for row in warehouse.query(sql) if row[3])


@dataclass(frozen=True)
class FoundIncident:
    """A run of hours where one service in one region was far off its own normal."""

    service: str
    region: str
    first_hour: str
    last_hour: str
    what: str  # "p95 6.8x normal (812 ms vs 120 ms)" or "errors 41% vs 0.3%"
    cost_per_1k: float | None  # during the incident
    normal_cost_per_1k: float | None


@dataclass(frozen=True)
class _Hour:
    """One service-region-hour of the joined fact (hours with requests)."""

    service: str
    region: str
    hour: datetime
    requests: int
    errors: int
    p95: float | None
    cost: float | None


@dataclass(frozen=True)
class _Normal:
    """A service-region's own normal: median hourly p95, overall error rate and cost per 1k requests."""

    p95: float | None
    error_rate: float
    cost_per_1k: float | None


RUN_GAP = timedelta(hours=2)  # flagged hours at most this far apart are one incident
MIN_REQUESTS = 20


def find_incidents(warehouse: Warehouse, model: SemanticModel) -> tuple[FoundIncident, ...]:
    """Hours (with >= 20 requests) whose p95 is >= 5x the service-region's median hourly p95, or whose
    error rate is >= 10 points above its overall error rate, merged into runs (one quiet hour, e.g. a night hour
    with few requests, does not split an incident). One portable query reads the hours; the rest is Python,
    so DuckDB and BigQuery find the same incidents."""
    hours = _hours(warehouse, model)
    groups: dict[tuple[str, str], list[_Hour]] = {}
    for hour in hours:
        groups.setdefault((hour.service, hour.region), []).append(hour)
    found = [incident for members in groups.values() for incident in _incidents(members, _normal(members))]
    return tuple(sorted(found, key=lambda f: (f.first_hour, f.service, f.region, f.what)))


def _hours(warehouse: Warehouse, model: SemanticModel) -> list[_Hour]:
    rows = warehouse.query(f"""
        SELECT s.service_name, r.region_code, j.hour,
               SUM(j.request_count), SUM(j.error_count), MAX(j.duration_p95_ms), SUM(j.total_cost)
        FROM fact_performance_cost_joined AS j JOIN dim_service AS s ON s.service_key = j.service_key
        JOIN dim_region AS r ON r.region_key = j.region_key
        WHERE j.request_count > 0 AND {_every(model, warehouse, "fact_performance_cost_joined", "j")}
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""")
    return [_Hour(str(service), str(region), hour, int(requests), int(errors),
                  None if p95 is None else float(p95), None if cost is None else float(cost))
            for service, region, hour, requests, errors, p95, cost in rows]


def _normal(hours: list[_Hour]) -> _Normal:
    requests = sum(h.requests for h in hours)
    p95s = [h.p95 for h in hours if h.p95 is not None]
    costs = [h.cost for h in hours if h.cost is not None]
    return _Normal(statistics.median(p95s) if p95s else None, sum(h.errors for h in hours) / requests,
                   1000 * sum(costs) / requests if costs else None)


def _flags(hour: _Hour, normal: _Normal) -> tuple[bool, bool]:
    """(slow, failing) for one hour."""
    busy = hour.requests >= MIN_REQUESTS
    slow = busy and hour.p95 is not None and normal.p95 is not None and hour.p95 >= 5 * normal.p95
    failing = busy and hour.errors / hour.requests >= normal.error_rate + 0.10
    return slow, failing


def _incidents(hours: list[_Hour], normal: _Normal) -> list[FoundIncident]:
    """Flagged hours with the same (slow, failing) flags, at most RUN_GAP apart, as one incident each."""
    runs: dict[tuple[bool, bool], list[list[_Hour]]] = {}
    for hour in sorted(hours, key=lambda h: h.hour):
        flags = _flags(hour, normal)
        if not any(flags):
            continue
        same = runs.setdefault(flags, [])
        if same and hour.hour - same[-1][-1].hour <= RUN_GAP:
            same[-1].append(hour)
        else:
            same.append([hour])
    return [_incident(run, normal, slow) for (slow, _), found in runs.items() for run in found]


def _incident(run: list[_Hour], normal: _Normal, slow: bool) -> FoundIncident:
    requests = sum(h.requests for h in run)
    costs = [h.cost for h in run if h.cost is not None]
    if slow:
        assert normal.p95 is not None
        p95 = max(h.p95 for h in run if h.p95 is not None)
        what = f"p95 {p95 / normal.p95:.1f}x normal ({p95:,.0f} ms vs {normal.p95:,.0f} ms)"
    else:
        rate = sum(h.errors for h in run) / requests
        what = f"errors {100 * rate:.0f}% vs {100 * normal.error_rate:.1f}% normally"
    first, last = run[0], run[-1]
    return FoundIncident(first.service, first.region, f"{first.hour:%Y-%m-%d %H:00}", f"{last.hour:%H:59}", what,
                         1000 * sum(costs) / requests if costs else None, normal.cost_per_1k)
