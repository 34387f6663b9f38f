"""Bad BigQuery input -> exit 3 naming the statement and BigQuery's message, nothing half-written.

A fake BigQuery REST transport on loopback answers as BigQuery does for an unknown dataset, a job
in the wrong location and a permission the caller lacks, and records every job it was sent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

pytest.importorskip("google.cloud.bigquery", reason="google-cloud-bigquery is not installed")

from lookwright.cli import main
from lookwright.errors import WarehouseError
from lookwright.warehouse.bigquery import BigQueryWarehouse
from lookwright.warehouse.sources import load

ROOT = Path(__file__).resolve().parents[1]
DENIED = "Access Denied: Table p:d.raw_spans: Permission bigquery.tables.create denied on dataset p:d"
OTLP = ROOT / "tests" / "fixtures" / "sources" / "otlp" / "traces.jsonl"
WRONG_PLACE = "Not found: Dataset p:d was not found in location US"


class FakeBigQuery(BaseHTTPRequestHandler):
    """datasets.get and jobs.insert of one project `p`, dataset `d` in EU, per `mode`."""

    mode = "denied"  # denied | no_dataset | located | slow (a job that never finishes) | slow_load (only loads)
    jobs: ClassVar[list[dict[str, Any]]] = []
    cancelled: ClassVar[list[str]] = []
    loads: ClassVar[list[str]] = []  # load jobs whose file was uploaded

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, reason: str, message: str) -> None:
        self._answer(status, {"error": {"code": status, "message": message,
                                        "errors": [{"reason": reason, "message": message}]}})

    def _running(self, job_id: str) -> dict[str, Any]:
        return {"jobReference": {"projectId": "p", "jobId": job_id, "location": "EU"},
                "status": {"state": "RUNNING"}, "configuration": {"query": {"query": "?"}}}

    def _done(self, job_id: str) -> dict[str, Any]:
        return {"jobReference": {"projectId": "p", "jobId": job_id, "location": "EU"},
                "status": {"state": "DONE"}, "configuration": {"query": {"query": "?"}},
                "statistics": {"query": {"statementType": "SCRIPT"}}}

    def do_GET(self) -> None:
        job_id = self.path.split("/queries/")[-1].split("/jobs/")[-1].split("?")[0]
        if self.mode == "slow_load" and "/queries/" in self.path:  # a query: done, no rows
            self._answer(200, {"jobReference": {"projectId": "p", "jobId": job_id, "location": "EU"},
                               "jobComplete": True, "totalRows": "0", "schema": {"fields": []}})
            return
        if self.mode == "slow_load" and "/jobs/" in self.path:
            self._answer(200, self._running(job_id) if job_id in type(self).loads else self._done(job_id))
            return
        if self.mode == "slow" and "/queries/" in self.path:  # jobs.getQueryResults: not yet
            job_id = self.path.split("/queries/")[1].split("?")[0]
            time.sleep(0.2)
            self._answer(200, {"jobReference": {"projectId": "p", "jobId": job_id, "location": "EU"},
                               "jobComplete": False})
            return
        if self.mode == "slow" and "/jobs/" in self.path:  # jobs.get: still running
            self._answer(200, self._running(self.path.split("/jobs/")[1].split("?")[0]))
            return
        if self.path.startswith("/bigquery/v2/projects/p/datasets/d"):
            if self.mode == "no_dataset":
                self._error(404, "notFound", "Not found: Dataset p:d")
            else:
                self._answer(200, {"datasetReference": {"projectId": "p", "datasetId": "d"}, "location": "EU"})
            return
        self._error(404, "notFound", f"Not found: {self.path}")

    def do_PUT(self) -> None:  # the resumable upload's data: the load job starts and never finishes
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        job_id = self.path.split("upload_id=")[1]
        type(self).loads.append(job_id)
        self._answer(200, self._running(job_id) | {"configuration": {"load": {}}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        job = json.loads(self.rfile.read(length) or b"{}")
        if "uploadType=resumable" in self.path:  # a load job's metadata: upload its file next
            type(self).jobs.append(job)
            job_id = job["jobReference"]["jobId"]
            self.send_response(200)
            self.send_header("Location", f"http://{self.headers['Host']}/upload/p?upload_id={job_id}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.split("?")[0].endswith("/cancel"):  # jobs.cancel
            job_id = self.path.split("/jobs/")[1].split("/cancel")[0]
            type(self).cancelled.append(job_id)
            self._answer(200, {"kind": "bigquery#jobCancelResponse", "job": self._running(job_id)})
            return
        type(self).jobs.append(job)
        if self.mode == "slow":
            self._answer(200, self._running(job["jobReference"]["jobId"]))
            return
        if self.mode == "slow_load":
            self._answer(200, self._done(job["jobReference"]["jobId"]))
            return
        location = job.get("jobReference", {}).get("location")
        if self.mode == "located" and location != "EU":
            self._error(404, "notFound", WRONG_PLACE)
        else:
            self._error(403, "accessDenied", DENIED)


@pytest.fixture
def fake() -> Iterator[str]:
    FakeBigQuery.jobs = []
    FakeBigQuery.cancelled = []
    FakeBigQuery.loads = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeBigQuery)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _exit(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    return int(exit_.value.code or 0), capsys.readouterr().err


def _build(endpoint: str, *extra: str) -> list[str]:
    return ["build", "--warehouse", f"bigquery:p.d@{endpoint}", "--model", str(ROOT / "semantic"),
            "--skip-checks", *extra]


def test_permission_denied_names_the_statement_and_bigquerys_message(
        fake: str, capsys: pytest.CaptureFixture[str]) -> None:
    FakeBigQuery.mode = "denied"
    code, err = _exit(_build(fake), capsys)
    assert code == 3
    assert "error: CREATE TABLE IF NOT EXISTS `p.d.raw_spans` (" in err
    assert "(table p.d.raw_spans): 403" in err and DENIED in err
    assert len(FakeBigQuery.jobs) == 1  # the first refusal stops the build: nothing after it was sent
    labels = FakeBigQuery.jobs[0]["configuration"]["labels"]
    assert labels == {"tool": "lookwright", "command": "build", "table": "raw_spans"}
    assert FakeBigQuery.jobs[0]["jobReference"]["location"] == "EU"  # the dataset's location


def test_unknown_dataset_sends_no_job(fake: str, capsys: pytest.CaptureFixture[str]) -> None:
    FakeBigQuery.mode = "no_dataset"
    code, err = _exit(_build(fake), capsys)
    assert code == 3
    assert "error: CREATE TABLE IF NOT EXISTS `p.d.raw_spans` (: dataset p.d not found: 404" in err
    assert "create it (bq mk) or name another in the warehouse URL" in err
    assert FakeBigQuery.jobs == []


def test_wrong_location_is_bigquerys_not_found(fake: str, capsys: pytest.CaptureFixture[str]) -> None:
    FakeBigQuery.mode = "located"
    code, err = _exit(_build(fake, "--location", "US", "--maximum-bytes-billed", "1000"), capsys)
    assert code == 3
    assert WRONG_PLACE in err and "(table p.d.raw_spans): 404" in err
    job = FakeBigQuery.jobs[0]
    assert (job["jobReference"]["location"], job["configuration"]["query"]["maximumBytesBilled"]) == ("US", "1000")


def test_unusable_credentials_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = tmp_path / "key.json"
    key.write_text("{}")
    code, err = _exit(["build", "--warehouse", "bigquery:p.d", "--credentials", str(key),
                       "--model", str(ROOT / "semantic")], capsys)
    assert code == 3
    assert "error: cannot open BigQuery project p:" in err


def test_a_job_still_running_at_the_timeout_is_cancelled(fake: str) -> None:
    FakeBigQuery.mode = "slow"
    with BigQueryWarehouse("p", "d", endpoint=fake, timeout_s=1.0, command="test") as w:
        started = time.monotonic()
        with pytest.raises(WarehouseError) as failure:
            w.execute("INSERT INTO t (a) VALUES (1)")
        waited = time.monotonic() - started
    assert str(failure.value) == "INSERT INTO t (a) VALUES (1): no result within 1 s; the job was cancelled"
    assert len(FakeBigQuery.jobs) == 1  # a DML job is never re-sent
    assert FakeBigQuery.cancelled == [FakeBigQuery.jobs[0]["jobReference"]["jobId"]]
    assert 1.0 <= waited < 10


def test_a_copy_job_still_running_at_the_timeout_is_cancelled(fake: str) -> None:
    FakeBigQuery.mode = "slow"
    with (BigQueryWarehouse("p", "d", endpoint=fake, timeout_s=1.0, command="build") as w,
          pytest.raises(WarehouseError) as failure):
        w.copy_table("fact__lw_next", "fact")
    assert str(failure.value) == "COPY p.d.fact__lw_next TO p.d.fact: no result within 1 s; the job was cancelled"
    assert [job["configuration"]["copy"]["destinationTable"]["tableId"] for job in FakeBigQuery.jobs] == ["fact"]
    assert FakeBigQuery.cancelled == [FakeBigQuery.jobs[0]["jobReference"]["jobId"]]


def test_a_load_job_still_running_at_the_timeout_is_cancelled_and_nothing_is_loaded(fake: str) -> None:
    FakeBigQuery.mode = "slow_load"
    with (BigQueryWarehouse("p", "d", endpoint=fake, timeout_s=1.0, command="load") as w,
          pytest.raises(WarehouseError) as failure):
        load(w, "otlp", OTLP)
    message = str(failure.value)
    assert message.startswith("load job into p.d._lw_stage_raw_spans from ")
    assert message.endswith("/rows.jsonl: no result within 1 s; the job was cancelled")
    upload = FakeBigQuery.jobs[1]
    assert upload["configuration"]["load"]["destinationTable"]["tableId"] == "_lw_stage_raw_spans"
    load_id = upload["jobReference"]["jobId"]
    assert FakeBigQuery.loads == [load_id] and FakeBigQuery.cancelled == [load_id]
    queries = [job["configuration"]["query"]["query"] for job in FakeBigQuery.jobs if "query" in job["configuration"]]
    assert [q.split(" (")[0] for q in queries] == [
        "CREATE TABLE IF NOT EXISTS `p.d.raw_spans`",  # then the load; never a DELETE or INSERT on raw_spans
        "DROP TABLE IF EXISTS `p.d._lw_stage_raw_spans`"]  # and no stage table is left behind


def test_missing_default_credentials(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "GOOGLE_APPLICATION_CREDENTIALS"}
    env.update({"CLOUDSDK_CONFIG": str(tmp_path / "gcloud"), "HOME": str(tmp_path), "NO_GCE_CHECK": "true"})
    command = [str(Path(sys.executable).parent / "lookwright"), "build", "--warehouse", "bigquery:p.d",
               "--model", str(ROOT / "semantic"), "--skip-checks"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 3
    assert done.stderr.startswith("error: cannot open BigQuery project p: Your default credentials were not found.")
    assert done.stderr.rstrip().endswith("; pass --credentials FILE (a service-account key), or run"
                                         " `gcloud auth application-default login`")
    assert "Traceback" not in done.stderr
