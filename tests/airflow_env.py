"""A real Airflow in a virtualenv of its own (build/airflow-venv), for importing generated DAG files.

Airflow pins much of what lookwright uses (pydantic, sqlalchemy, ...), so, like the BigQuery
emulator, it lives apart: `python tests/airflow_env.py install` creates the venv from
tests/airflow-requirements.txt (every package pinned; Airflow's constraints files are not
reachable here). The `airflow_python` fixture installs it when it is missing (about a minute).
LOOKWRIGHT_AIRFLOW_PYTHON names another interpreter that has Airflow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
AIRFLOW_VENV = ROOT / "build" / "airflow-venv"
REQUIREMENTS = ROOT / "tests" / "airflow-requirements.txt"
STAMP = AIRFLOW_VENV / ".installed"
PYTHON_VARIABLE = "LOOKWRIGHT_AIRFLOW_PYTHON"

# Runs inside the Airflow venv: parse one DAG file with Airflow's own DagBag, print what it holds.
PROBE = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1], safe_mode=False)
dags = {}
for dag_id, dag in sorted(bag.dags.items()):
    dags[dag_id] = {
        "schedule": dag.timetable.expression,
        "timetable": type(dag.timetable).__name__,
        "catchup": dag.catchup,
        "max_active_runs": dag.max_active_runs,
        "tasks": {t.task_id: {
            "upstream": sorted(t.upstream_task_ids),
            "command": t.bash_command,
            "cwd": t.cwd,
            "retries": t.retries,
            "retry_delay_s": t.retry_delay.total_seconds(),
            "trigger_rule": getattr(t.trigger_rule, "value", t.trigger_rule),
            "inlets": [a.uri for a in t.inlets],
            "outlets": [a.uri for a in t.outlets],
        } for t in dag.tasks},
    }
print(json.dumps({"import_errors": {str(k): str(v) for k, v in bag.import_errors.items()}, "dags": dags}))
"""


def install(venv: Path = AIRFLOW_VENV) -> None:
    """Create the Airflow venv from the pinned requirements."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "-r", str(REQUIREMENTS)], check=True)
    (venv / ".installed").write_text(REQUIREMENTS.read_text(encoding="utf-8"), encoding="utf-8")


def airflow_python() -> Path:
    """$LOOKWRIGHT_AIRFLOW_PYTHON, or the build venv (installed, or re-installed when the pins changed)."""
    if os.environ.get(PYTHON_VARIABLE):
        return Path(os.environ[PYTHON_VARIABLE])
    current = STAMP.read_text(encoding="utf-8") if STAMP.exists() else None
    if current != REQUIREMENTS.read_text(encoding="utf-8"):
        install()
    return AIRFLOW_VENV / "bin" / "python"


def dag_bag(python: Path, dag_file: Path, home: Path) -> dict[str, Any]:
    """What Airflow's DagBag makes of one DAG file (import errors and every DAG's tasks)."""
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__CORE__DAGS_FOLDER": str(dag_file.parent)}
    done = subprocess.run([str(python), "-c", PROBE, str(dag_file)], capture_output=True, text=True,
                          env=env, cwd=home, check=False, timeout=300)
    if done.returncode != 0:
        raise AssertionError(f"Airflow could not parse {dag_file}:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture(scope="session", name="airflow")
def airflow_fixture() -> Path:
    """The Airflow interpreter (installing build/airflow-venv on first use)."""
    return airflow_python()


if __name__ == "__main__":
    if sys.argv[1:] != ["install"]:
        sys.exit("usage: python tests/airflow_env.py install")
    install()
