"""A new user's mistakes end in one clear line, the right exit code, and nothing changed (issue 9, item 2)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from lookwright.errors import LookerError
from lookwright.looker.client import LookerClient, RetryPolicy

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "tests" / "fixtures" / "sources"


def lookwright(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The real console entry point in a child process (stdout/stderr are pipes, not a terminal)."""
    return subprocess.run([sys.executable, "-m", "lookwright.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, check=False)


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "semantic", tmp_path / "semantic")
    return tmp_path


def assert_one_line(result: subprocess.CompletedProcess[str], code: int, message: str) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    assert message in result.stderr


def test_an_empty_model_directory_is_exit_2_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = lookwright("generate", "--model", "empty", cwd=tmp_path)
    assert_one_line(result, 2, "empty:1:1: error[LW002]: model directory holds no .yml or .yaml file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


def test_an_output_path_that_is_a_file_is_exit_2_and_changes_nothing(project: Path) -> None:
    (project / "out").write_text("mine\n")
    result = lookwright("generate", "--lookml-out", "out", "--sql-out", "sqlout", cwd=project)
    assert_one_line(result, 2, "error: output path out is a file, not a directory")
    assert (project / "out").read_text() == "mine\n"
    assert not (project / "sqlout").exists()


def test_an_output_directory_under_a_file_is_exit_2_and_changes_nothing(project: Path) -> None:
    (project / "afile").write_text("x")
    result = lookwright("generate", "--lookml-out", "lookml", "--sql-out", "afile/sql", cwd=project)
    assert_one_line(result, 2, "error: cannot create output directory afile/sql: afile is a file")
    assert not (project / "lookml").exists()


def test_ctrl_c_is_one_line_exit_130_and_leaves_no_partial_outdir(tmp_path: Path) -> None:
    # a background job (nohup, `&` in a script) inherits SIGINT ignored, a user's shell does not: restore it
    restore = ("import signal, runpy, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
               "sys.argv = ['lookwright', *sys.argv[1:]]; runpy.run_module('lookwright.cli', run_name='__main__')")
    child = subprocess.Popen([sys.executable, "-c", restore, "synth", "--days", "3", "--requests", "150000", "out"],
                             cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stderr is not None
    first = child.stderr.readline()  # plain progress off a terminal: the first file is written
    assert first.startswith("[1/24] "), first
    # one Ctrl-C that lands as a DuckDB query ends can be absorbed by DuckDB: press again, as a user would
    for _ in range(20):
        child.send_signal(signal.SIGINT)
        try:
            child.wait(timeout=0.5)
            break
        except subprocess.TimeoutExpired:
            continue
    rest = child.stderr.read()
    assert child.wait(timeout=60) == 130
    assert rest.strip().splitlines() == ["error: interrupted (Ctrl-C)"]
    assert list(tmp_path.iterdir()) == []


def test_synth_memory_is_bounded_in_a_child_process(tmp_path: Path) -> None:
    """120k requests in one day peaked near 6 GB RSS when the day was one DuckDB query."""
    # VmHWM: this process's peak RSS (ru_maxrss would also count the forked pytest before exec)
    script = ("import re, sys; from pathlib import Path; from lookwright.demo.synth import SynthConfig, synthesize; "
              "m = synthesize(Path(sys.argv[1]), SynthConfig(days=1, requests=120_000)); "
              "peak = re.search(r'VmHWM:\\s+(\\d+) kB', Path('/proc/self/status').read_text()).group(1); "
              "print(m.counts['spans'], peak)")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "out")], capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    spans, peak_kib = map(int, done.stdout.split()[-2:])
    assert spans > 290_000
    assert peak_kib < 1024 * 1024, f"synth peaked at {peak_kib / 1024:.0f} MiB"


def test_synth_refuses_an_outdir_that_holds_files(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    result = lookwright("synth", "--days", "1", "--requests", "100", "out", cwd=tmp_path)
    assert_one_line(result, 2, "error: out already exists and is not an empty folder; pass a new OUTDIR")
    assert tree(tmp_path) == {"out/keep.txt": b"mine"}


@pytest.mark.parametrize("command", [
    ["validate", "sql"], ["validate", "rollups"], ["checks"], ["build"],
])
def test_reading_commands_refuse_a_missing_warehouse_with_exit_3(project: Path, command: list[str]) -> None:
    result = lookwright(*command, "--warehouse", "duckdb:build/demo/warehouse.duckb", cwd=project)
    assert_one_line(result, 3, "error: warehouse build/demo/warehouse.duckb does not exist; check the path")
    assert sorted(p.name for p in project.iterdir()) == ["semantic"]


@pytest.mark.parametrize("command", [["validate", "rollups"], ["checks"]])
def test_checking_commands_default_to_the_demo_warehouse_and_refuse_it_missing(project: Path,
                                                                               command: list[str]) -> None:
    result = lookwright(*command, cwd=project)
    assert_one_line(result, 3, "error: warehouse build/demo/warehouse.duckdb does not exist; check the path")
    assert sorted(p.name for p in project.iterdir()) == ["semantic"]


def test_a_build_with_no_raw_data_says_so(project: Path) -> None:
    duckdb.connect(str(project / "empty.duckdb")).close()
    result = lookwright("build", "--warehouse", "duckdb:empty.duckdb", cwd=project)
    assert_one_line(result, 3, "error: no raw data to build from: the raw tables")
    assert "load export files first: `lookwright load DIR`" in result.stderr


def test_checks_fail_on_an_unbuilt_then_a_stale_warehouse(project: Path) -> None:
    url = "duckdb:w.duckdb"
    assert lookwright("load", "--warehouse", url, str(SOURCES), cwd=project).returncode == 0
    unbuilt = lookwright("checks", "--warehouse", url, cwd=project)
    assert_one_line(unbuilt, 1, "error: 1 data-quality check failed: lookwright_build_state.built (1 failing)")
    assert lookwright("build", "--warehouse", url, "--skip-checks", cwd=project).returncode == 0
    time.sleep(0.01)
    assert lookwright("load", "--warehouse", url, str(SOURCES / "otlp"), cwd=project).returncode == 0
    stale = lookwright("checks", "--warehouse", url, cwd=project)
    assert stale.returncode == 1
    assert "lookwright_build_state.built_after_last_load (1 failing)" in stale.stderr
    assert "run `lookwright build`" in stale.stderr


def test_deploy_without_looker_ini_fails_before_pushing(project: Path) -> None:
    remote = project / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    result = lookwright("deploy", "--project", "p", "--branch", "b", "--repo", str(remote),
                        "--lookml-dir", str(ROOT / "generated_lookml"), cwd=project)
    assert_one_line(result, 4, "error: Looker ini file looker.ini does not exist")
    refs = subprocess.run(["git", "-C", str(remote), "for-each-ref"], capture_output=True, text=True, check=True)
    assert refs.stdout == ""


def test_a_looker_that_does_not_answer_is_named_by_its_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BASE_URL", "CLIENT_ID", "CLIENT_SECRET", "VERIFY_SSL", "TIMEOUT"):
        monkeypatch.delenv(f"LOOKERSDK_{name}", raising=False)
    ini = tmp_path / "looker.ini"
    ini.write_text("[Looker]\nbase_url=http://127.0.0.1:9\nclient_id=id\nclient_secret=secret-value\n"
                   "verify_ssl=false\ntimeout=5\n")
    client = LookerClient.from_ini(ini, policy=RetryPolicy(attempts=1))
    with pytest.raises(LookerError) as caught:
        client.check_project("p")
    assert str(caught.value).startswith("log in to Looker at http://127.0.0.1:9 failed: POST /api/4.0/login "
                                        "(no response from http://127.0.0.1:9)")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_an_unwritable_output_directory_is_exit_2(project: Path) -> None:
    locked = project / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    result = lookwright("generate", "--lookml-out", "locked/lookml", cwd=project)
    assert_one_line(result, 2, "error: output directory locked is not writable")


def test_a_ctrl_c_during_cleanup_lets_the_cleanup_finish_then_interrupts() -> None:
    script = ("import os, signal; from lookwright.signals import ctrl_c_deferred\n"
              "done = []\n"
              "try:\n"
              "    with ctrl_c_deferred():\n"
              "        os.kill(os.getpid(), signal.SIGINT)\n"
              "        done.append('cleanup finished')\n"
              "except KeyboardInterrupt:\n"
              "    print(done, 'then interrupted')\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert (result.returncode, result.stdout) == (0, "['cleanup finished'] then interrupted\n")
