"""Issue 11 as a user meets it: each command that takes a warehouse, run through the CLI on BigQuery.

The fake transport of test_bigquery_bad_input answers `validate sql`'s dry runs (and refuses any
job that would run); the emulator runs `verify`'s check queries and a rebuild whose copy job
times out (a loopback proxy answers that copy job as running, forever).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("google.cloud.bigquery", reason="google-cloud-bigquery is not installed")

from test_bigquery_bad_input import DENIED, WRONG_PLACE, FakeBigQuery
from test_validate_sql import BROKEN_LINE, FLAGSHIP_FIELDS, FLAGSHIP_VIEWS, broken_model

from lookwright.cli import main

ROOT = Path(__file__).resolve().parents[1]
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
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeBigQuery)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _no_tables(handler: FakeBigQuery) -> None:
    """datasets.get as the fake answers it; tables.get: not found (no table was built in the dataset)."""
    if "/tables/" in handler.path:
        handler._error(404, "notFound", f"Not found: Table p:d.{handler.path.split('/tables/')[1].split('?')[0]}")
    else:
        FakeBigQuery.do_GET(handler)


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
