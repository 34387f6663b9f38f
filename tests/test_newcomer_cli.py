"""Adding data, loading, and the CLI as a new user meets them (issue 9, item 5)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from lookwright.cli import cli

ROOT = Path(__file__).resolve().parents[1]


def lookwright(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lookwright.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, check=False)


def _commands() -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    context = click.Context(cli)
    for name in cli.list_commands(context):
        command = cli.get_command(context, name)
        assert command is not None
        found.append((name, command))
        if isinstance(command, click.Group):
            found += [(f"{name} {sub}", command.commands[sub]) for sub in sorted(command.commands)]
    return found


def test_every_option_of_every_command_has_help() -> None:
    missing = [f"{name} {option.opts[0]}" for name, command in _commands() for option in command.params
               if isinstance(option, click.Option) and not (option.help or "").strip()]
    assert missing == []


def test_checks_help_describes_checking_not_building() -> None:
    checks = dict(_commands())["checks"]
    warehouse = next(p for p in checks.params if p.name == "url")
    assert isinstance(warehouse, click.Option) and str(warehouse.help).startswith("The built warehouse to check:")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "semantic", tmp_path / "semantic")
    return tmp_path


def test_appending_a_day_loads_and_builds_with_unique_ids(project: Path) -> None:
    """The README's recipe: a second synth run starting the next day, `load DIR` each, `build` passes its checks."""
    first = lookwright("synth", "--days", "2", "--requests", "3000", "build/first", cwd=project)
    assert first.returncode == 0, first.stderr
    day3 = lookwright("synth", "--start", "2025-03-05", "--days", "1", "--requests", "1500", "build/day3", cwd=project)
    assert day3.returncode == 0, day3.stderr
    url = "duckdb:build/w.duckdb"
    for folder in ("build/first", "build/day3"):
        loaded = lookwright("load", "--warehouse", url, folder, cwd=project)
        assert loaded.returncode == 0, loaded.stderr
        assert loaded.stderr.count(f"{folder}/") >= 8  # one row per file, whole names, off a terminal
    built = lookwright("build", "--warehouse", url, cwd=project)
    assert built.returncode == 0, built.stderr
    assert "requests_unique_span" in built.stderr and "FAIL" not in built.stderr


def test_load_dir_reads_every_recognized_file(project: Path) -> None:
    result = lookwright("load", "--warehouse", "duckdb:w.duckdb", str(ROOT / "tests" / "fixtures" / "sources"),
                        cwd=project)
    assert result.returncode == 0, result.stderr
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in result.stderr.splitlines()
            if line.startswith("│")]
    sources = ROOT / "tests" / "fixtures" / "sources"
    assert [(table, Path(file).relative_to(sources).as_posix()) for table, _, _, file in rows] == [
        ("raw_app_logs", "app_logs/app.log"), ("raw_azure_cost", "azure_cost/azure.csv"),
        ("raw_cloudwatch_metrics", "cloudwatch/metrics.json"), ("raw_aws_cur", "cur/cur.parquet"),
        ("raw_aws_cur", "cur/cur_legacy.csv"), ("raw_gcp_billing", "gcp_billing/billing.csv"),
        ("raw_gcp_billing", "gcp_billing/billing.jsonl"), ("raw_service_slos", "openslo/slos.yaml"),
        ("raw_spans", "otlp/traces.jsonl"),
        ("raw_db_query_log", "query_log/queries.jsonl"), ("raw_rum_beacons", "rum/beacons.jsonl")]


def test_load_of_a_folder_with_nothing_it_knows_is_exit_2(project: Path) -> None:
    (project / "empty").mkdir()
    result = lookwright("load", "--warehouse", "duckdb:w.duckdb", "empty", cwd=project)
    assert result.returncode == 2
    assert result.stderr.startswith("error: no export files found in empty")


def test_plain_progress_lines_off_a_terminal(project: Path) -> None:
    result = lookwright("synth", "--days", "1", "--requests", "200", "out", cwd=project)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert [line.split(" (")[0] for line in lines[:9]] == [
        "[1/9] otlp/spans-2025-03-03.jsonl", "[2/9] query_log/queries-2025-03-03.jsonl",
        "[3/9] cur/cur-2025-03-03.parquet", "[4/9] gcp_billing/billing-2025-03-03.jsonl",
        "[5/9] azure_cost/azure-cost-2025-03-03.csv", "[6/9] cloudwatch/metrics-2025-03-03.json",
        "[7/9] logs/app-2025-03-03.log", "[8/9] rum/beacons-2025-03-03.jsonl", "[9/9] openslo/slos.yaml"]


def test_validate_takes_model(project: Path) -> None:
    shutil.copytree(ROOT / "generated_lookml", project / "generated_lookml")
    (project / "semantic").rename(project / "model")
    result = lookwright("validate", "--model", "model", cwd=project)
    assert result.returncode == 0, result.stderr + result.stdout
    missing = lookwright("validate", "--model", "nope", cwd=project)
    assert missing.returncode == 2


def test_did_you_mean_for_a_misspelled_reference(project: Path) -> None:
    performance = project / "semantic" / "performance.yml"
    text = performance.read_text()
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "{name: total_duration_ms, type: sum" in row)
    performance.write_text(text.replace('{name: total_duration_ms, type: sum, sql: "${duration_ms}"',
                                        '{name: total_duration_ms, type: sum, sql: "${duraton_ms}"'))
    result = lookwright("generate", "--lookml-out", "o", "--sql-out", "s", cwd=project)
    assert result.returncode == 2
    assert result.stderr.splitlines()[:2] == [
        (f"semantic/performance.yml:{line}:46: error[LW301]: Unknown or inaccessible field "
         "fact_performance_requests.duraton_ms. Check for typos or append a timeframe to the name if the field is "
         "type time."), "  hint: did you mean 'duration_ms'?"]


def test_did_you_mean_for_explain_fields() -> None:
    result = lookwright("explain", "--explore", "fact_performance_requests", "--fields", "dim_service.service_nam",
                        cwd=ROOT)
    assert result.returncode == 2
    assert result.stderr == ("error: Unknown field dim_service.service_nam in explore fact_performance_requests; "
                             "did you mean dim_service.service_name?\n")


def test_float_is_pointed_to_float64_at_its_line(project: Path) -> None:
    cost = project / "semantic" / "cost.yml"
    text = cost.read_text()
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "{name: compute_cost, type: FLOAT64}" in row)
    cost.write_text(text.replace("{name: compute_cost, type: FLOAT64}", "{name: compute_cost, type: FLOAT}"))
    result = lookwright("generate", "--lookml-out", "o", "--sql-out", "s", cwd=project)
    assert result.returncode == 2
    first, hint = result.stderr.splitlines()[:2]
    assert first == f"semantic/cost.yml:{line}:30: error[LW103]: invalid value 'FLOAT' for 'type' in columns"
    assert hint.startswith("  hint: did you mean 'FLOAT64'? expected one of 'STRING', 'INT64', 'FLOAT64'")


def test_a_duplicate_table_is_one_lw201(project: Path) -> None:
    text = (project / "semantic" / "performance.yml").read_text()
    start = text.index("  - name: fact_performance_requests")
    end = text.index("\n  - name:", start + 5) + 1
    (project / "semantic" / "again.yml").write_text("version: 1\ntables:\n" + text[start:end])
    result = lookwright("generate", "--lookml-out", "o", "--sql-out", "s", cwd=project)
    assert result.returncode == 2
    assert [line for line in result.stderr.splitlines() if "error[" in line] == [
        ("semantic/performance.yml:6:5: error[LW201]: A view named fact_performance_requests has been defined"
         " multiple times.")]


def test_a_duplicate_field_name_is_lw201(project: Path) -> None:
    performance = project / "semantic" / "performance.yml"
    performance.write_text(performance.read_text().replace(
        '      - {name: error_count, type: count, filters: {is_error: "yes"}}\n',
        '      - {name: error_count, type: count, filters: {is_error: "yes"}}\n'
        '      - {name: max_duration_ms, type: max, sql: "${duration_ms}"}\n', 1))
    result = lookwright("generate", "--lookml-out", "o", "--sql-out", "s", cwd=project)
    assert result.returncode == 2
    errors = [line.split(": ", 1)[1] for line in result.stderr.splitlines() if "error[" in line]
    assert errors == ["error[LW201]: Redefinition of field 'fact_performance_requests.max_duration_ms'"]
