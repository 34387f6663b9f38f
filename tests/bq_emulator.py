"""Runs the bqemulator BigQuery emulator as a subprocess on free loopback ports, for tests."""

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

HOST = "127.0.0.1"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0

# bqemulator 1.4.0 refuses to start unless DuckDB's `spatial` extension loads (GEOGRAPHY support),
# and INSTALLs it from extensions.duckdb.org, which is out of reach here; no PyPI package ships it
# for DuckDB 2.x. lookwright uses no GEOGRAPHY, so the launcher loads spatial only when it is
# already installed locally and otherwise starts without it. Format extensions (avro) are
# switched off by BQEMU_ENABLE_FORMAT_EXTENSIONS=false for the same reason.
LAUNCHER = """
import sys
from bqemulator.storage import engine

def _load_spatial_if_installed(self):
    installed = self.connection.execute(
        "SELECT installed FROM duckdb_extensions() WHERE extension_name = 'spatial'").fetchall()
    if installed and installed[0][0]:
        self.connection.execute("LOAD spatial")
    else:
        print("bq_emulator: DuckDB spatial extension not installed; GEOGRAPHY unavailable",
              file=sys.stderr)

engine.DuckDBEngine._load_spatial = _load_spatial_if_installed
from bqemulator.cli import main
sys.exit(main())
"""


@dataclass(frozen=True)
class Emulator:
    """A running emulator: its REST endpoint (the client's api_endpoint) and process id."""

    endpoint: str
    grpc_port: int
    pid: int


def missing_reason() -> str | None:
    """Why the emulator tests cannot run here, or None when they can."""
    for module, package in (("bqemulator", "bqemulator"), ("google.cloud.bigquery", "google-cloud-bigquery"),
                            ("numpy", "numpy")):
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            return f"{package} is not installed (pip install bqemulator google-cloud-bigquery numpy)"
    return None


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
def running_emulator(log_path: Path, project: str = "test-project") -> Iterator[Emulator]:
    """Start an ephemeral (in-memory) emulator, wait until /healthz answers, stop it afterwards."""
    rest_port, grpc_port = free_port(), free_port()
    endpoint = f"http://{HOST}:{rest_port}"
    env = {**os.environ, "BQEMU_ENABLE_FORMAT_EXTENSIONS": "false"}
    env.pop("BIGQUERY_EMULATOR_HOST", None)
    command = [sys.executable, "-c", LAUNCHER, "start", "--ephemeral",
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
    """A running emulator for one test module; the test is skipped when bqemulator is missing."""
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    log_path = tmp_path_factory.mktemp("bqemulator") / "emulator.log"
    with running_emulator(log_path) as emulator:
        yield emulator
