"""Runs the bqemulator BigQuery emulator as a subprocess on free loopback ports, for tests.

bqemulator pins sqlglot<30.12 and lookwright uses a newer sqlglot, so the emulator lives in its
own virtualenv (it is a separate process anyway): `python tests/bq_emulator.py install` creates
build/bqemulator-venv. LOOKWRIGHT_BQEMULATOR_PYTHON names another interpreter that has it.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from needs import missing

ROOT = Path(__file__).resolve().parents[1]
EMULATOR_VENV = ROOT / "build" / "bqemulator-venv"
EMULATOR_REQUIREMENTS = ("bqemulator==1.4.0", "numpy")  # its UDF registration needs numpy, undeclared
PYTHON_VARIABLE = "LOOKWRIGHT_BQEMULATOR_PYTHON"
HOST = "127.0.0.1"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0

# bqemulator 1.4.0 refuses to start unless DuckDB's `spatial` extension loads (GEOGRAPHY support),
# and INSTALLs it from extensions.duckdb.org, which is out of reach here; no PyPI package ships it
# for DuckDB 2.x. lookwright uses no GEOGRAPHY, so the launcher loads spatial only when it is
# already installed locally and otherwise starts without it. Format extensions (avro) are
# switched off by BQEMU_ENABLE_FORMAT_EXTENSIONS=false for the same reason.
#
# BigQuery's tables.get numRows counts every committed row (lookwright's build reports it after each
# step: BigQueryWarehouse.row_count). bqemulator 1.4.0 refreshes numRows only on load and copy jobs,
# CREATE TABLE ... AS SELECT and streaming inserts, never after DML (measured: CREATE TABLE, then
# INSERT of two rows, DELETE, MERGE: numRows "0" throughout; a load of 2 rows then an INSERT: "2"),
# so the launcher answers every table resource with the table's committed COUNT(*), as BigQuery does.
LAUNCHER = """
import sys
from bqemulator.storage import engine

ENGINES = []

def _load_spatial_if_installed(self):
    ENGINES.append(self)  # started: its connection answers numRows below
    installed = self.connection.execute(
        "SELECT installed FROM duckdb_extensions() WHERE extension_name = 'spatial'").fetchall()
    if installed and installed[0][0]:
        self.connection.execute("LOAD spatial")
    else:
        print("bq_emulator: DuckDB spatial extension not installed; GEOGRAPHY unavailable",
              file=sys.stderr)

engine.DuckDBEngine._load_spatial = _load_spatial_if_installed
from bqemulator.api.routes import tables
from bqemulator.storage.sql_identifiers import quoted_table_ref

_to_rest = tables._table_to_rest

def _table_with_its_rows(table):
    body = _to_rest(table)
    if table.table_type == "TABLE" and ENGINES:
        reference = quoted_table_ref(table.project_id, table.dataset_id, table.table_id)
        cursor = ENGINES[-1].connection.cursor()  # its own connection: committed rows only
        try:
            body["numRows"] = str(cursor.execute(f"SELECT COUNT(*) FROM {reference}").fetchone()[0])
        except Exception as error:  # no storage behind the catalog entry: the catalog's number
            print(f"bq_emulator: numRows of {reference}: {error}", file=sys.stderr)
        finally:
            cursor.close()
    return body

tables._table_to_rest = _table_with_its_rows
from bqemulator.cli import main
sys.exit(main())
"""


@dataclass(frozen=True)
class Emulator:
    """A running emulator: its REST endpoint (the client's api_endpoint) and process id."""

    endpoint: str
    grpc_port: int
    pid: int


def emulator_python() -> Path | None:
    """The interpreter to run the emulator with: $LOOKWRIGHT_BQEMULATOR_PYTHON, the build venv, or this one."""
    if os.environ.get(PYTHON_VARIABLE):
        return Path(os.environ[PYTHON_VARIABLE])
    venv_python = EMULATOR_VENV / "bin" / "python"
    if venv_python.exists():
        return venv_python
    if importlib.util.find_spec("bqemulator") is not None:
        return Path(sys.executable)
    return None


def missing_reason() -> str | None:
    """Why the emulator tests cannot run here, or None when they can."""
    install = f"run `python tests/bq_emulator.py install` or set {PYTHON_VARIABLE}"
    if importlib.util.find_spec("google.cloud.bigquery") is None:
        return "google-cloud-bigquery is not installed"
    python = emulator_python()
    if python is None:
        return f"bqemulator is not installed: {install}"
    if not python.exists():
        return f"{python} does not exist: {install}"
    probe = subprocess.run([str(python), "-c", "import bqemulator, numpy"],
                           check=False, capture_output=True, text=True)
    if probe.returncode != 0:
        lines = (probe.stderr.strip() or "no output").splitlines()
        return f"{python} cannot import bqemulator and numpy ({lines[-1]}): {install}"
    return None


def install(venv: Path = EMULATOR_VENV) -> None:
    """Create the emulator's virtualenv with bqemulator and numpy."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *EMULATOR_REQUIREMENTS],
                   check=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _healthy(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/healthz", timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(STOP_TIMEOUT_S)


@contextmanager
def running_emulator(python: Path, log_path: Path, project: str = "test-project") -> Iterator[Emulator]:
    """Start an ephemeral (in-memory) emulator, wait until /healthz answers, stop it afterwards."""
    rest_port, grpc_port = free_port(), free_port()
    endpoint = f"http://{HOST}:{rest_port}"
    env = {**os.environ, "BQEMU_ENABLE_FORMAT_EXTENSIONS": "false"}
    env.pop("BIGQUERY_EMULATOR_HOST", None)
    command = [str(python), "-c", LAUNCHER, "start", "--ephemeral",
               "--rest-host", HOST, "--rest-port", str(rest_port),
               "--grpc-host", HOST, "--grpc-port", str(grpc_port),
               "--project", project, "--log-level", "warning"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while not _healthy(endpoint):
                if process.poll() is not None or time.monotonic() > deadline:
                    tail = log_path.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"bqemulator did not start on {endpoint} "
                                       f"(exit code {process.poll()}):\n{tail}")
                time.sleep(0.1)
            yield Emulator(endpoint, grpc_port, process.pid)
        finally:
            _stop(process)


@pytest.fixture(scope="module", name="bq_emulator")
def bq_emulator_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """A running emulator for one test module; without bqemulator the test is skipped (failed in CI)."""
    reason = missing_reason()
    if reason is not None:
        missing(reason)
    python = emulator_python()
    assert python is not None
    log_path = tmp_path_factory.mktemp("bqemulator") / "emulator.log"
    with running_emulator(python, log_path) as emulator:
        yield emulator


if __name__ == "__main__":
    if sys.argv[1:] != ["install"]:
        sys.exit("usage: python tests/bq_emulator.py install")
    install()
