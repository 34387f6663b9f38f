"""The whole flagship pipeline on the BigQuery API emulator, every statement it sends checked by ZetaSQL.

synth (small) -> load (load jobs from the local files) -> build -> late data -> incremental build
-> checks -> validate rollups -> full refresh -> interrupted full refresh, side by side with DuckDB
on the same files: row counts, sums, cost per day and p95 agree. The emulator executes on DuckDB
and accepts SQL BigQuery rejects, so every statement the adapter sent is analysed by Google's
ZetaSQL analyzer (0 errors) and checked for BigQuery's rules ZetaSQL does not know.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("google.cloud.bigquery", reason="google-cloud-bigquery is not installed")
pytest.importorskip("zetasql", reason="zetasql is not installed")

from bq_emulator import Emulator, bq_emulator_fixture  # noqa: F401

from lookwright.checks.rollups import validate_rollups
from lookwright.demo.pipeline import DemoSummary, source_files, summarize
from lookwright.demo.synth import SynthConfig, synthesize
from lookwright.model.compile import load_model
from lookwright.model.ir import SemanticModel
from lookwright.sqlgen.analyzer import AnalysisFailed, BigQueryAnalyzer, analyzer_for, model_tables
from lookwright.sqlgen.dialects import DIALECTS
from lookwright.sqlgen.pruning import TableAccess, partition_access
from lookwright.sqlgen.render import partition_column, read_all
from lookwright.warehouse.base import Warehouse
from lookwright.warehouse.bigquery import BigQueryWarehouse
from lookwright.warehouse.build import BuildReport, build, build_tables
from lookwright.warehouse.duckdb import DuckDBWarehouse
from lookwright.warehouse.quality import CheckRun, run_checks
from lookwright.warehouse.sources import load as load_source

ROOT = Path(__file__).resolve().parents[1]
PROJECT, DATASET = "lw-ci", "pipeline"  # not the model's own dataset: the URL's dataset is where it builds
CONFIG = SynthConfig(days=2, requests=600, seed=11)
FIRST_DAY = CONFIG.start.isoformat()


class Interrupted(Exception):
    """Stands for Ctrl-C in the middle of a rebuild."""


@dataclass
class Run:
    """One warehouse's pipeline, step by step."""

    warehouse: Warehouse
    reports: dict[str, BuildReport]
    checks: CheckRun | None = None
    summary: DemoSummary | None = None
    sent: dict[str, tuple[int, int]] = field(default_factory=dict)  # step -> its statements' span in `sent`


def _figures(w: Warehouse, model: SemanticModel) -> dict[str, Any]:
    """What must agree between DuckDB and BigQuery."""
    name = {t: model.tables[t].name for t in model.tables}
    counts = {t: w.query(f"SELECT COUNT(*) FROM {read_all(model.tables[t], name[t], DIALECTS[w.dialect])}")[0][0]
              for t in sorted(model.tables)}
    cost = w.query("SELECT date, SUM(total_cost) FROM fact_cost_hourly WHERE hour >= TIMESTAMP '2000-01-01'"
                   " GROUP BY date ORDER BY date")
    requests = w.query("SELECT SUM(request_count), SUM(error_count) FROM fact_performance_metrics_hourly")
    p95 = w.query("SELECT s.service_name, d.date, d.duration_p95_ms FROM fact_performance_service_daily AS d"
                  " JOIN dim_service AS s ON s.service_key = d.service_key ORDER BY 1, 2")
    traces = w.query("SELECT COUNT(*), SUM(attributed_cost) FROM bridge_trace_cost")
    live = w.query("SELECT COUNT(*), SUM(request_count), SUM(error_count), MIN(minute), MAX(minute)"
                   " FROM mv_performance_realtime")[0]
    return {"realtime": (int(live[0]), int(live[1]), int(live[2]), _naive(live[3]), _naive(live[4])),
            "counts": counts, "cost": [(_day(d), float(c)) for d, c in cost],
            "requests": tuple(int(v) for v in requests[0]),
            "p95": [(s, _day(d), float(v)) for s, d, v in p95],
            "traces": (int(traces[0][0]), float(traces[0][1] or 0))}


def _naive(value: object) -> datetime:
    assert isinstance(value, datetime)
    return value.replace(tzinfo=None) if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)


def _day(value: object) -> date:
    assert isinstance(value, date)
    return value


def _same(duck: dict[str, Any], bq: dict[str, Any]) -> None:
    assert bq["counts"] == duck["counts"]
    assert bq["realtime"] == duck["realtime"]
    assert bq["requests"] == duck["requests"]
    assert [d for d, _ in bq["cost"]] == [d for d, _ in duck["cost"]]
    assert [c for _, c in bq["cost"]] == pytest.approx([c for _, c in duck["cost"]], rel=1e-9)
    assert [k[:2] for k in bq["p95"]] == [k[:2] for k in duck["p95"]]
    assert [k[2] for k in bq["p95"]] == pytest.approx([k[2] for k in duck["p95"]], rel=0.005)
    assert bq["traces"][0] == duck["traces"][0]
    assert bq["traces"][1] == pytest.approx(duck["traces"][1], rel=1e-9)


def _pipeline(w: Warehouse, model: SemanticModel, files: list[tuple[str, Path]]) -> tuple[Run, list[Any]]:
    """Every step; returns the run and the figures after each build."""
    run = Run(w, {})
    figures = []
    first = [(kind, path) for kind, path in files if FIRST_DAY in path.name]
    later = [(kind, path) for kind, path in files if FIRST_DAY not in path.name]
    for kind, path in first:
        load_source(w, kind, path)
    run.reports["first"] = build(w, model)
    figures.append(_figures(w, model))
    for kind, path in later:  # the second day's files carry late spans of the first day
        load_source(w, kind, path)
    # the every-minute task: the request fact and the real-time table only
    run.reports["refresh"] = build_tables(w, model, ["fact_performance_requests", "mv_performance_realtime"])
    figures.append(_figures(w, model))
    start = len(w.sent)  # type: ignore[attr-defined]
    run.reports["incremental"] = build(w, model)
    run.sent["incremental"] = (start, len(w.sent))  # type: ignore[attr-defined]
    figures.append(_figures(w, model))
    start = len(w.sent)  # type: ignore[attr-defined]
    run.reports["again"] = build(w, model)  # nothing new: every watermark recorded by the previous build
    run.sent["again"] = (start, len(w.sent))  # type: ignore[attr-defined]
    run.checks = run_checks(w, model)
    run.reports["full"] = build(w, model, full_refresh=True)
    figures.append(_figures(w, model))

    def interrupt(table: str, done: int, total: int) -> None:
        if table == "fact_performance_metrics_hourly":
            raise Interrupted(table)

    with pytest.raises(Interrupted):
        build(w, model, full_refresh=True, on_step=interrupt)
    figures.append(_figures(w, model))
    run.summary = summarize(w, model)  # what `lookwright demo --warehouse` prints
    return run, figures


@pytest.fixture(scope="module")
def model() -> SemanticModel:
    return load_model(ROOT / "semantic")


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("pipeline")
    synthesize(root / "sources", CONFIG)
    from lookwright.demo.pipeline import DemoPaths

    return source_files(DemoPaths(root))


@pytest.fixture(scope="module")
def duckdb_run(model: SemanticModel, sources: list[tuple[str, Path]]) -> Iterator[tuple[Run, list[Any]]]:
    with DuckDBWarehouse(":memory:") as w:
        yield _pipeline(w, model, sources)


@pytest.fixture(scope="module")
def bigquery_run(bq_emulator: Emulator, model: SemanticModel,
                 sources: list[tuple[str, Path]]) -> Iterator[tuple[Run, list[Any]]]:
    with BigQueryWarehouse(PROJECT, DATASET, endpoint=bq_emulator.endpoint, timeout_s=120,
                           command="test") as w:
        w.client.create_dataset(f"{PROJECT}.{DATASET}")
        yield _pipeline(w, model, sources)


def test_numbers_equal_duckdb_after_every_step(duckdb_run: tuple[Run, list[Any]],
                                               bigquery_run: tuple[Run, list[Any]]) -> None:
    duck_run, duck = duckdb_run
    bq_run, bq = bigquery_run
    assert len(bq) == len(duck) == 5
    for step_duck, step_bq in zip(duck, bq, strict=True):
        _same(step_duck, step_bq)
    for name, report in bq_run.reports.items():  # each step's rows: BigQuery's numRows, DuckDB's COUNT(*)
        assert [(s.table, s.rows, s.rows_written) for s in report.steps] == [
            (s.table, s.rows, s.rows_written) for s in duck_run.reports[name].steps], name
    assert duck[0]["counts"]["fact_performance_requests"] < duck[1]["counts"]["fact_performance_requests"]
    assert duck[4] == duck[3]  # the interrupted rebuild left every table as it was
    # every table built, none vacuously equal (the SLO documents, undated, load with the second day's files)
    assert [t for t, n in duck[0]["counts"].items() if n == 0] == ["slo_daily_targets"]
    assert [t for t, n in duck[2]["counts"].items() if n == 0] == []
    modes = {name: {s.table: s.mode for s in report.steps} for name, report in bq_run.reports.items()}
    assert modes["refresh"] == {"fact_performance_requests": "incremental", "mv_performance_realtime": "incremental"}
    assert duck[1]["counts"]["fact_performance_metrics_hourly"] == duck[0]["counts"]["fact_performance_metrics_hourly"]
    assert modes["incremental"]["fact_performance_metrics_hourly"] == "incremental"
    assert modes["incremental"]["fact_performance_requests"] == "incremental"
    assert set(modes["full"].values()) == {"full"}
    assert bq_run.checks is not None and duck_run.checks is not None
    assert [(r.table, r.check_name, r.failing) for r in bq_run.checks.results] == [
        (r.table, r.check_name, r.failing) for r in duck_run.checks.results]
    assert bq_run.checks.failures == ()


def test_the_demo_summary_is_the_same_on_bigquery(duckdb_run: tuple[Run, list[Any]],
                                                  bigquery_run: tuple[Run, list[Any]]) -> None:
    duck, bq = duckdb_run[0].summary, bigquery_run[0].summary
    assert duck is not None and bq is not None
    assert bq.rows == duck.rows and all(n > 0 for name, n in duck.rows if name.startswith(("fact_", "dim_")))
    for mine, theirs in ((bq.cost_by_team, duck.cost_by_team), (bq.cost_per_request, duck.cost_per_request),
                         (bq.efficiency, duck.efficiency), (bq.attribution, duck.attribution)):
        assert [row[0] for row in mine] == [row[0] for row in theirs] and theirs
        assert [row[1:] for row in mine] == [pytest.approx(row[1:], rel=1e-9) for row in theirs]
    assert [row[0] for row in bq.per_service] == [row[0] for row in duck.per_service] and duck.per_service
    assert [row[1:] for row in bq.per_service] == [pytest.approx(row[1:], rel=1e-9) for row in duck.per_service]
    assert bq.incidents == tuple(
        replace(i, cost_per_1k=pytest.approx(i.cost_per_1k, rel=1e-9),
                normal_cost_per_1k=pytest.approx(i.normal_cost_per_1k, rel=1e-9)) for i in duck.incidents)


def test_validate_rollups_passes_on_bigquery(bigquery_run: tuple[Run, list[Any]], model: SemanticModel) -> None:
    run, _ = bigquery_run
    report = validate_rollups(model, run.warehouse, 0.01, 100, ())
    assert report.mismatch_count == 0
    assert len(report.tables) == len([t for t in model.tables.values() if t.rollup is not None])


def _sent(run: Run) -> list[str]:
    assert isinstance(run.warehouse, BigQueryWarehouse)
    return [s.sql for s in run.warehouse.sent if s.kind == "query"]


def _typed(run: Run) -> list[tuple[str, list[tuple[str | None, str]]]]:
    assert isinstance(run.warehouse, BigQueryWarehouse)
    return [(s.sql, [(name, kind) for name, kind, _ in s.params]) for s in run.warehouse.sent if s.kind == "query"]


@dataclass(frozen=True)
class Analysed:
    """One statement the adapter sent, as ZetaSQL resolved it (or the error it reported)."""

    sql: str
    resolved: Any
    error: str | None


@pytest.fixture(scope="module")
def analysed(bigquery_run: tuple[Run, list[Any]], model: SemanticModel) -> list[Analysed]:
    """Every statement sent (after every test above that sends some), analysed once."""
    run, _ = bigquery_run
    analyzer = BigQueryAnalyzer(model_tables(model), [f"{PROJECT}.{DATASET}"])
    out = []
    for sql, parameters in _typed(run):
        try:
            out.append(Analysed(sql, analyzer.analyze(sql, parameters), None))
        except AnalysisFailed as failed:
            out.append(Analysed(sql, None, failed.error.format()))
    return out


def test_every_statement_sent_passes_zetasql(bigquery_run: tuple[Run, list[Any]], analysed: list[Analysed],
                                             sources: list[tuple[str, Path]]) -> None:
    run, _ = bigquery_run
    assert len(analysed) > 300
    errors = {(a.sql[:120], a.error) for a in analysed if a.error is not None}
    assert errors == set()
    loads = [s.sql for s in run.warehouse.sent if s.kind == "load"]  # type: ignore[attr-defined]
    assert len(loads) == len(sources) and all(s.startswith(f"LOAD {PROJECT}.{DATASET}._lw_stage_raw_") for s in loads)


DDL = re.compile(r"^\s*(CREATE|DROP|ALTER)\b", re.IGNORECASE)


def test_bigquery_rules_zetasql_does_not_know(bigquery_run: tuple[Run, list[Any]]) -> None:
    run, _ = bigquery_run
    statements = _sent(run)
    in_transaction = False
    ddl_inside: list[str] = []
    for sql in statements:
        if sql == "BEGIN TRANSACTION":
            in_transaction = True
        elif sql in ("COMMIT TRANSACTION", "ROLLBACK TRANSACTION"):
            in_transaction = False
        elif in_transaction and DDL.match(sql):
            ddl_inside.append(sql[:80])
    assert ddl_inside == []
    assert [s for s in statements if re.search(r"\bVARCHAR\b|\bDOUBLE\b|\bBIGINT\b", s)] == []
    assert [s for s in statements if re.match(r"\s*DELETE\b", s) and " WHERE " not in s] == []
    assert [s for s in statements if "lookwright_window" in s or "(SELECT COALESCE(" in s] == []


REQUIRED = {"fact_performance_requests": "timestamp", "fact_log_events": "date", "fact_rum_events": "date",
            "fact_cost_hourly": "hour", "fact_resource_metrics_hourly": "date", "fact_performance_cost_joined": "hour"}


def test_every_read_of_a_table_requiring_a_partition_filter_filters_its_partition(
        analysed: list[Analysed], model: SemanticModel) -> None:
    """BigQuery refuses a query of a `require_partition_filter` table that does not filter its
    partition column with a constant or a parameter; the emulator does not, so every statement the
    pipeline sent (build, incremental, checks, validate rollups, full refresh) is checked here."""
    # checked by name, whatever the model says, so the check fails where a read of one is unpruned
    reads = [(a.sql, access) for a in analysed if a.resolved is not None
             for access in partition_access(a.resolved, REQUIRED)]
    assert [(sql[:100], access.table) for sql, access in reads if not access.pruned] == []
    assert {access.table for _, access in reads} == set(REQUIRED)
    assert len(reads) > 20
    planted = partition_access(analyzer_for(model).analyze("SELECT COUNT(*) FROM fact_log_events"), REQUIRED)
    assert planted == [TableAccess("fact_log_events", "date", False, ())]
    assert {t.name: partition_column(t) for t in model.tables.values() if t.require_partition_filter} == REQUIRED


def _whole_reads(run: Run, step: str, model: SemanticModel) -> set[tuple[str, str]]:
    """(what, table) of every read of every partition of a partitioned table by a step's statements."""
    from lookwright.warehouse.plan import partition_columns, prunes

    assert isinstance(run.warehouse, BigQueryWarehouse)
    start, end = run.sent[step]
    analyzer = BigQueryAnalyzer(model_tables(model), [f"{PROJECT}.{DATASET}"])
    partitions = partition_columns(model)
    found = set()
    for statement in (s for s in run.warehouse.sent[start:end] if s.kind == "query"):
        resolved = analyzer.analyze(statement.sql, [(name, kind) for name, kind, _ in statement.params])
        for access in partition_access(resolved, partitions):
            if not prunes(access):
                sql = statement.sql
                what = ("count" if sql.startswith("SELECT COUNT(*)") else "window" if "AS window_start" in sql
                        else "watermark" if re.match(r"SELECT M(AX|IN)\(", sql)
                        else "merge " + sql.split()[2].rpartition(".")[2].strip("`") if sql.startswith("MERGE INTO")
                        else sql[:60])
                found.add((what, access.table))
    return found


def test_an_incremental_build_reads_each_partitioned_table_over_its_window_only(
        bigquery_run: tuple[Run, list[Any]], model: SemanticModel) -> None:
    """Every statement the incremental builds sent (late data of the first day, then nothing new),
    analysed by ZetaSQL: each read of a partitioned table (the model's, the raw tables) is bounded below
    on its partition column by a constant or a parameter, but for the reads named here."""
    run, _ = bigquery_run
    profiles = {"merge dim_region": {"span_daily_profile", "region_daily_prices"},
                "merge dim_resource": {"resource_daily_latest"},
                "merge dim_service": {"span_daily_profile", "cost_daily_tags", "query_log_daily_services",
                                      "slo_daily_targets"}}
    # the dimensions whose attributes aggregate every raw row, from their daily profiles (small: a few rows
    # per member and day), never a raw table (the rows each table holds after its step are its metadata's,
    # numRows: no statement at all)
    expected = {(m, t) for m, tables in profiles.items() for t in tables}
    # and once, the newest row of the one table the previous build gave its first rows (in full, as an empty
    # table is): the SLO documents load with the second day's files
    assert _whole_reads(run, "again", model) == expected | {("watermark", "slo_daily_targets")}
    first = _whole_reads(run, "incremental", model) - expected  # the first after a full build: once
    # and the SLO documents' first load: their profile rewrites every load day (they have no event time)
    slo = {(what, table) for what, table in first if "slo_daily_targets" in what}
    assert slo == {(f"DELETE FROM `{PROJECT}.{DATASET}.slo_daily_targets` WHERE day >= ", "slo_daily_targets"),
                   (f"INSERT INTO `{PROJECT}.{DATASET}.slo_daily_targets` (day, service", "raw_service_slos")}
    first -= slo
    assert {what for what, _ in first} == {"watermark", "window"}
    assert {table for _, table in first} <= set(model.tables)  # never a raw table: late data from the ledger
    assert isinstance(run.warehouse, BigQueryWarehouse)
    start, end = run.sent["incremental"]
    sent = [s.sql for s in run.warehouse.sent[start:end] if s.kind == "query"]
    assert [sql for sql in sent if "loaded_at >" in sql and f"{DATASET}.raw_" in sql] == []


def _sql_cli(argv: list[str], capsys: pytest.CaptureFixture[str], lookml: Path = ROOT / "generated_lookml") -> dict[str, Any]:
    import json

    from lookwright.cli import main

    with pytest.raises(SystemExit) as done:
        main(["sql", *argv, "--run", "--format", "json", "--lookml", str(lookml)])
    captured = capsys.readouterr()
    assert done.value.code == 0, captured.err
    document: dict[str, Any] = json.loads(captured.out)
    return document


def test_build_creates_the_quantile_function_the_p95_measures_call(
        bigquery_run: tuple[Run, list[Any]], duckdb_run: tuple[Run, list[Any]], bq_emulator: Emulator,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`build` creates `lw-ci.pipeline.lw_sketch_quantile` (a persistent SQL function: a TEMP one lasts one
    query) and `lookwright sql --run` on BigQuery calls it: p95 per service within the sketch's 0.5% of
    the exact nearest-rank p95 of the request rows."""
    run, _ = bigquery_run
    created = [s for s in _sent(run) if s.startswith("CREATE OR REPLACE FUNCTION")]
    assert created and all(s.startswith(f"CREATE OR REPLACE FUNCTION `{PROJECT}.{DATASET}.lw_sketch_quantile`(")
                           for s in created)
    document = _sql_cli(["--explore", "fact_performance_service_daily", "--fields",
                         "dim_service.service_name,fact_performance_service_daily.p95_duration_ms",
                         "--sorts", "dim_service.service_name", "--warehouse",
                         f"bigquery:{PROJECT}.{DATASET}@{bq_emulator.endpoint}", "--model", str(ROOT / "semantic")], capsys)
    assert f"`{PROJECT}.{DATASET}.lw_sketch_quantile`(ARRAY_CONCAT_AGG(" in document["sql"]
    duck = duckdb_run[0].warehouse
    exact = dict(duck.query("""
        SELECT s.service_name, quantile_disc(r.duration_ms, 0.95) FROM fact_performance_requests r
        JOIN dim_service s USING (service_key) GROUP BY 1"""))
    got = {name: float(p95) for name, p95 in document["rows"]}
    assert sorted(got) == sorted(exact) and len(got) == 20
    # nearest rank (ceil) vs quantile_disc can pick neighbouring rows of a service's few requests
    close = [name for name, p95 in got.items() if abs(p95 - float(exact[name])) / float(exact[name]) <= 0.005]
    assert len(close) >= 18, {n: (got[n], exact[n]) for n in got if n not in close}


def test_sql_run_on_bigquery_fan_out_and_time_zone(
        bigquery_run: tuple[Run, list[Any]], duckdb_run: tuple[Run, list[Any]], bq_emulator: Emulator,
        model: SemanticModel, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """On BigQuery too: a number measure over a one_to_many fan-out counts each service once (Looker's
    MD5-keyed SUM DISTINCT form), and dimension groups are in the query time zone."""
    from fanout_model import FANOUT_TRUTH, fanout_model

    url = f"bigquery:{PROJECT}.{DATASET}@{bq_emulator.endpoint}"
    duck = duckdb_run[0].warehouse
    document = _sql_cli(["--explore", "dim_service", "--fields",
                         "dim_service.team,dim_service.cost_per_service,dim_service.sla_error_rate_x1000",
                         "--warehouse", url, "--model", str(fanout_model(tmp_path))], capsys, tmp_path / "none")
    assert "SUM(DISTINCT" in document["sql"] and "MD5(" in document["sql"]
    expected = duck.query(FANOUT_TRUTH)
    got = sorted((tuple(r) for r in document["rows"]), key=lambda r: (r[0] is None, r[0]))
    assert [r[0] for r in got] == [r[0] for r in expected]
    for a, b in zip(got, expected, strict=True):
        for x, y in zip(a[1:], b[1:], strict=True):
            # the emulator runs BIGNUMERIC as DuckDB's DECIMAL(38, 5): each summed value keeps 5 decimals
            assert (x is None and y is None) or abs(float(x) - float(y)) < 1e-4, (a, b)
    by_date = _sql_cli(["--explore", "fact_performance_cost_joined", "--fields",
                        "fact_performance_cost_joined.joined_date,fact_performance_cost_joined.total_requests",
                        "--sorts", "fact_performance_cost_joined.joined_date", "--timezone", "America/New_York",
                        "--filters", "fact_performance_cost_joined.joined_date=after 2025-01-01",  # every day
                        "--warehouse", url, "--model", str(ROOT / "semantic")], capsys)
    assert "DATETIME(" in by_date["sql"] and "'America/New_York'" in by_date["sql"]
    truth = duck.query("""
        SELECT CAST(timezone('America/New_York', timezone('UTC', start_time)) AS DATE) AS d, COUNT(*)
        FROM (SELECT DISTINCT trace_id, span_id, start_time FROM raw_spans) GROUP BY 1 ORDER BY 1""")
    assert len(truth) == 3  # two UTC days of requests on three New York dates
    assert [(str(d), int(n)) for d, n in by_date["rows"]] == [(d.isoformat(), int(n)) for d, n in truth]
    analyzer = BigQueryAnalyzer(model_tables(model), [f"{PROJECT}.{DATASET}"])  # what the emulator lets through
    assert [analyzer.check(d["sql"], None) for d in (document, by_date)] == [None, None]
