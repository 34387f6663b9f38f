"""Issue 11 as a user meets it: each command that takes a warehouse, run through the CLI on BigQuery.

The fake transport of test_bigquery_bad_input answers `validate sql`'s dry runs (and refuses any
job that would run); the emulator runs `verify`'s check queries and a rebuild whose replacement of
a re-partitioned table times out (a loopback proxy answers that query job as running, forever).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("google.cloud.bigquery", reason="google-cloud-bigquery is not installed")

from bq_emulator import Emulator, bq_emulator_fixture  # noqa: F401
from bq_proxy import EmulatorProxy, on_loopback
from conftest_looker import Generated, read_tree
from fakes.looker_server import FakeLooker
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery
from test_bigquery_bad_input import DENIED, WRONG_PLACE, FakeBigQuery
from test_validate_sql import BROKEN_LINE, FLAGSHIP_FIELDS, FLAGSHIP_VIEWS, broken_model

from lookwright.cli import main
from lookwright.errors import WarehouseError
from lookwright.warehouse.bigquery import BigQueryWarehouse

ROOT = Path(__file__).resolve().parents[1]
pytest_plugins = ["conftest_looker"]
ANSWER_GET = FakeBigQuery.do_GET  # as the fake answers GETs (tests replace do_GET with wrappers of it)
UNRECOGNIZED = "Unrecognized name: no_such_column at [1:8]"


class DryRuns(FakeBigQuery):
    """jobs.insert: a dry run is answered as BigQuery does (done, bytes; or invalidQuery); any other job is refused."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        job = json.loads(self.rfile.read(length) or b"{}")
        type(self).jobs.append(job)
        if not job["configuration"].get("dryRun"):
            self._error(403, "accessDenied", DENIED)
        elif "no_such_column" in job["configuration"]["query"]["query"]:
            self._error(400, "invalidQuery", UNRECOGNIZED)
        else:
            self._answer(200, {"jobReference": {"projectId": "p", "location": "EU"},
                               "status": {"state": "DONE"}, "configuration": job["configuration"],
                               "statistics": {"totalBytesProcessed": "2048", "query": {"totalBytesProcessed": "2048"}}})


@pytest.fixture
def fake() -> Iterator[str]:
    """test_bigquery_bad_input's fake transport on a loopback port, its records emptied."""
    FakeBigQuery.jobs, FakeBigQuery.cancelled, FakeBigQuery.loads = [], [], []
    with on_loopback(FakeBigQuery) as endpoint:
        yield endpoint


def _no_tables(handler: FakeBigQuery) -> None:
    """datasets.get as the fake answers it; tables.get: not found (no table was built in the dataset)."""
    if "/tables/" in handler.path:
        handler._error(404, "notFound", f"Not found: Table p:d.{handler.path.split('/tables/')[1].split('?')[0]}")
    else:
        ANSWER_GET(handler)


def _exit(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    captured = capsys.readouterr()
    return int(exit_.value.code or 0), captured.out, captured.err


def test_validate_sql_on_bigquery_sends_only_dry_runs_and_bisects_to_the_field(
        fake: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FakeBigQuery, "do_POST", DryRuns.do_POST)
    monkeypatch.setattr(FakeBigQuery, "mode", "dry")
    url = f"bigquery:p.d@{fake}"
    code, out, err = _exit(["validate", "sql", "--warehouse", url, "--model", str(ROOT / "semantic")], capsys)
    assert (code, out) == (0, "")
    assert err.startswith(f"checked {FLAGSHIP_VIEWS} views, {FLAGSHIP_FIELDS} fields in ")
    jobs: list[dict[str, Any]] = FakeBigQuery.jobs
    assert len(jobs) == 2 * FLAGSHIP_VIEWS  # per view: its FROM alone, then with every field
    assert all(job["configuration"]["dryRun"] is True for job in jobs)  # nothing runs, nothing is billed
    assert {json.dumps(job["configuration"]["labels"], sort_keys=True) for job in jobs} == {
        '{"command": "validate-sql", "tool": "lookwright"}'}
    assert {job["jobReference"]["location"] for job in jobs} == {"EU"}  # the dataset's
    assert all("`p.d." in job["configuration"]["query"]["query"] for job in jobs)  # the URL's dataset

    FakeBigQuery.jobs = []
    model_dir = broken_model(tmp_path)
    code, out, _ = _exit(["validate", "sql", "--warehouse", url, "--model", str(model_dir)], capsys)
    assert code == 1
    assert out.splitlines() == [(f"{model_dir / 'performance.yml'}:{BROKEN_LINE}: error[sql]:"
                                 f" fact_performance_requests.http_status_code: 400 {UNRECOGNIZED}")]
    assert all(job["configuration"]["dryRun"] is True for job in FakeBigQuery.jobs)


def test_plan_on_bigquery_dry_runs_every_statement(fake: str, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FakeBigQuery, "do_POST", DryRuns.do_POST)
    code, out, _ = _exit(["plan", "--now", "2025-03-04 10:17", "--warehouse", f"bigquery:p.d@{fake}",
                          "--price-per-tib", "5", "--model", str(ROOT / "semantic")], capsys)
    assert code == 0
    # the URL's endpoint without --credentials: an anonymous client, which only an emulator answers
    assert ("bytes: unknown (an emulator: the client sends no credentials, and its dry runs report no bytes)"
            in out.splitlines())
    assert FakeBigQuery.jobs and all(job["configuration"]["dryRun"] is True for job in FakeBigQuery.jobs)
    assert {job["configuration"]["labels"]["command"] for job in FakeBigQuery.jobs} == {"plan"}


class NoBytes(DryRuns):
    """A dry run answered done, with statistics that report no totalBytesProcessed."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        job = json.loads(self.rfile.read(length) or b"{}")
        type(self).jobs.append(job)
        self._answer(200, {"jobReference": {"projectId": "p", "location": "EU"}, "status": {"state": "DONE"},
                           "configuration": job["configuration"], "statistics": {"query": {"statementType": "SELECT"}}})


def _credentialed(endpoint: str) -> BigQueryWarehouse:
    """BigQuery through an endpoint override (a regional or private endpoint), with credentials."""
    from google.oauth2.credentials import Credentials

    client = bigquery.Client(project="p", credentials=Credentials("a-token"),  # type: ignore[no-untyped-call]
                             client_options=ClientOptions(api_endpoint=endpoint))
    return BigQueryWarehouse("p", "d", client, endpoint, command="plan")


def test_plan_through_an_endpoint_with_credentials_reports_the_dry_runs_bytes(
        fake: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import datetime

    from lookwright.model.compile import load_model
    from lookwright.warehouse.plan import TIB, plan_build

    monkeypatch.setattr(FakeBigQuery, "do_POST", DryRuns.do_POST)
    with _credentialed(fake) as w:
        assert w.emulator is False
        plan = plan_build(load_model(ROOT / "semantic"), datetime(2025, 3, 4, 10, 17), w, price_per_tib=5.0)
    count = len(plan.statements)
    assert count > 50 and len(FakeBigQuery.jobs) == count
    assert {s.bytes_processed for s in plan.statements} == {2048}  # as each dry run reported
    assert plan.bytes_processed == 2048 * count and plan.cost() == pytest.approx(2048 * count / TIB * 5.0)
    monkeypatch.setattr(FakeBigQuery, "do_POST", NoBytes.do_POST)
    with _credentialed(fake) as w:
        assert w.dry_run("SELECT 1") is None  # reported none: unknown, never 0


def _tables(handler: FakeBigQuery) -> None:
    """tables.get: a table of 5 billion rows (numRows), or a view (no numRows); else as the fake answers."""
    if "/tables/" not in handler.path:
        ANSWER_GET(handler)
        return
    name = handler.path.split("/tables/")[1].split("?")[0]
    TABLE_GETS.append(name)
    table = {"tableReference": {"projectId": "p", "datasetId": "d", "tableId": name}}
    handler._answer(200, table | ({"type": "VIEW"} if name == "a_view" else {"type": "TABLE", "numRows": "5000000000"}))


TABLE_GETS: list[str] = []


def test_row_count_is_one_tables_get_and_no_job(fake: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """BigQuery's numRows from the table's metadata: nothing run, nothing billed (a COUNT(*) of the
    request fact filtering its partition column would read that column in every partition)."""
    monkeypatch.setattr(FakeBigQuery, "do_GET", _tables)
    TABLE_GETS.clear()
    with BigQueryWarehouse("p", "d", endpoint=fake) as w:
        assert w.row_count("fact_performance_requests") == 5_000_000_000
        with pytest.raises(WarehouseError) as view:
            w.row_count("a_view")
        assert w.sent == []
    assert str(view.value) == "counting the rows of p.d.a_view: BigQuery reports no numRows for it (a VIEW)"
    assert (TABLE_GETS, FakeBigQuery.jobs) == (["fact_performance_requests", "a_view"], [])

def test_validate_takes_the_bigquery_options(fake: str, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FakeBigQuery, "mode", "located")
    monkeypatch.setattr(FakeBigQuery, "do_GET", _no_tables)
    code, out, _ = _exit(["validate", "--warehouse", f"bigquery:p.d@{fake}", "--location", "US",
                          "--maximum-bytes-billed", "1000", "--model", str(ROOT / "semantic")], capsys)
    assert code == 1
    assert f"semantic/performance.yml:6: error[sql]: view fact_performance_requests: 404 {WRONG_PLACE}\n" in out
    jobs = FakeBigQuery.jobs
    assert jobs and {job["jobReference"]["location"] for job in jobs} == {"US"}
    assert {job["configuration"]["labels"]["command"] for job in jobs} == {"validate"}
    assert {job["configuration"]["query"]["maximumBytesBilled"] for job in jobs} == {"1000"}



ANSWER_POST = FakeBigQuery.do_POST


def _hanging_insert(handler: FakeBigQuery) -> None:
    """jobs.insert answers (the job created, running) only after the client's read timeout."""
    if handler.path.split("?")[0].endswith("/jobs"):
        time.sleep(3)
    ANSWER_POST(handler)


def test_a_job_whose_insert_call_outlasts_the_timeout_is_cancelled(
        fake: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The insert's HTTP read times out and its retries run out of time: the job, named by us, is cancelled."""
    monkeypatch.setattr(FakeBigQuery, "mode", "slow")
    monkeypatch.setattr(FakeBigQuery, "do_POST", _hanging_insert)
    with BigQueryWarehouse("p", "d", endpoint=fake, timeout_s=1.0, command="test") as w,\
            pytest.raises(WarehouseError) as failure:
        w.execute("INSERT INTO t (a) VALUES (1)")
    assert str(failure.value) == "INSERT INTO t (a) VALUES (1): no result within 1 s; the job was cancelled"
    time.sleep(3.5)  # the fake records the insert when it answers, after the cancel
    job_ids = {job["jobReference"]["jobId"] for job in FakeBigQuery.jobs}
    assert len(job_ids) == 1 and next(iter(job_ids)).startswith("lookwright_")  # a retried insert: the same job
    assert FakeBigQuery.cancelled == list(job_ids)

# ---- on the emulator ------------------------------------------------------------------------------

DAILY = "fact_performance_metrics_daily"


@pytest.fixture(scope="module")
def proxy(bq_emulator: Emulator) -> Iterator[str]:
    EmulatorProxy.upstream = bq_emulator.endpoint
    with on_loopback(EmulatorProxy) as endpoint:
        yield endpoint


def _client(endpoint: str, project: str) -> bigquery.Client:
    return bigquery.Client(project=project, credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
                           client_options=ClientOptions(api_endpoint=endpoint))


def test_a_replacement_timing_out_in_a_rebuild_is_exit_3_naming_the_table_which_keeps_its_rows(
        proxy: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    client = _client(proxy, "lw-cli")
    client.create_dataset("lw-cli.swap")
    url = f"bigquery:lw-cli.swap@{proxy}"
    assert _exit(["synth", "--days", "1", "--requests", "200", str(tmp_path / "sources")], capsys)[0] == 0
    assert _exit(["load", "--warehouse", url, str(tmp_path / "sources")], capsys)[0] == 0
    assert _exit(["build", "--warehouse", url, "--skip-checks"], capsys)[0] == 0
    figures = f"SELECT COUNT(*), SUM(request_count), SUM(error_count) FROM `lw-cli.swap.{DAILY}`"
    before = tuple(next(iter(client.query(figures).result())).values())
    assert before[0] > 0
    model = tmp_path / "semantic"
    shutil.copytree(ROOT / "semantic", model)
    performance = model / "performance.yml"
    text = performance.read_text()
    at = text.index(f"  - name: {DAILY}\n")  # its partitioning by month: a re-partition takes a new table
    end = text.index("    partition: {column: date}\n", at) + len("    partition: {column: date}\n")
    performance.write_text(text[:end].removesuffix("{column: date}\n") + "{column: date, granularity: month}\n"
                           + text[end:])

    replace = f"CREATE OR REPLACE TABLE `lw-cli.swap.{DAILY}` ("
    EmulatorProxy.stall_query, EmulatorProxy.stalled, EmulatorProxy.cancelled = replace, [], []
    try:
        code, _, err = _exit(["build", "--warehouse", url, "--model", str(model), "--skip-checks",
                              "--job-timeout", "30"], capsys)
    finally:
        EmulatorProxy.stall_query = None
    assert code == 3
    last = err.rstrip().splitlines()[-1]
    assert last == f"error: {replace}: no result within 30 s; the job was cancelled"
    assert "Traceback" not in err
    assert len(EmulatorProxy.stalled) == 1 and EmulatorProxy.cancelled == EmulatorProxy.stalled
    assert tuple(next(iter(client.query(figures).result())).values()) == before  # the previous table, still there

    assert _exit(["build", "--warehouse", url, "--model", str(model), "--skip-checks"], capsys)[0] == 0
    assert tuple(next(iter(client.query(figures).result())).values()) == before  # the next build finished the swap


def test_verify_compares_the_declared_queries_with_bigquery(
        bq_emulator: Emulator, fake_looker: FakeLooker, generated: Generated, looker_ini: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The model names shop-prod.main; the URL's dataset is where the tables were built, and where they are read."""
    fake_looker.seed({rel: text for rel, text in read_tree(generated.lookml_dir).items() if rel.endswith(".lkml")})
    client = _client(bq_emulator.endpoint, "lw-verify")
    client.create_dataset("lw-verify.shop")
    for statement in (
            "CREATE TABLE `lw-verify.shop.customers` (id INT64, country STRING)",
            "INSERT INTO `lw-verify.shop.customers` VALUES (1, 'DE'), (2, 'FR'), (3, 'DE')",
            ("CREATE TABLE `lw-verify.shop.orders` (id INT64, customer_id INT64, status STRING,"
            " created_at TIMESTAMP, amount NUMERIC)"),
            ("INSERT INTO `lw-verify.shop.orders` VALUES"  # conftest_looker's rows, which the fake Looker reads
            " (1, 1, 'complete', TIMESTAMP '2024-01-03 10:00:00', 10.50),"
            " (2, 2, 'complete', TIMESTAMP '2024-01-04 11:00:00', 20.00),"
            " (3, 3, 'returned', TIMESTAMP '2024-02-01 09:30:00', 7.25),"
            " (4, 1, 'complete', TIMESTAMP '2024-02-11 18:00:00', 2.25)")):
        client.query(statement).result()
    argv = ["verify", "--looker-ini", str(looker_ini), "--project", "lw_project", "--lookml-dir",
            str(generated.lookml_dir), "--model", str(generated.model_dir),
            "--warehouse", f"bigquery:lw-verify.shop@{bq_emulator.endpoint}"]
    code, out, _ = _exit(argv, capsys)
    assert (code, out) == (0, "lw_project: generated LookML and Looker agree, 3 check queries equal the warehouse\n")

    client.query("UPDATE `lw-verify.shop.orders` SET amount = amount * 2 WHERE status = 'returned'").result()
    code, out, _ = _exit(argv, capsys)
    assert code == 1
    assert [line for line in out.splitlines() if line.startswith("│")] == [  # the returned order, doubled
        "│ query german_revenue    │ DE, 27.25, 9.08333      │ DE, 20, 6.66667          │",
        "│ query monthly_revenue   │ 2024-01, 30.5; 2024-02, │ 2024-01, 30.5; 2024-02,  │",
        "│                         │ 16.75                   │ 9.5                      │",
        "│ query revenue_by_status │ complete, 32.75, 3;     │ complete, 32.75, 3;      │",
        "│                         │ returned, 14.5, 1       │ returned, 7.25, 1        │"]
