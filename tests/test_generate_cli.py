"""`lookwright generate`: determinism, manifest-driven cleanup, --check, and the committed schema."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lookwright.cli import main
from lookwright.model.schema_export import schema_text

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> int:
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    return int(exit_.value.code or 0)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "semantic", tmp_path / "semantic")
    return tmp_path


def _generate(project: Path, *extra: str) -> int:
    return _run("generate", "--model", str(project / "semantic"), "--lookml-out", str(project / "lookml"),
                "--sql-out", str(project / "sql"), *extra)


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != ".lookwright-stat.json"}


def test_two_runs_from_scratch_are_byte_identical(project: Path) -> None:
    assert _generate(project) == 0
    first = _snapshot(project / "lookml") | _snapshot(project / "sql")
    shutil.rmtree(project / "lookml")
    shutil.rmtree(project / "sql")
    assert _generate(project) == 0
    assert _snapshot(project / "lookml") | _snapshot(project / "sql") == first


def test_stale_generated_files_are_removed_and_hand_written_ones_kept(project: Path) -> None:
    assert _generate(project) == 0
    hand_written = project / "lookml" / "views" / "custom.view.lkml"
    hand_written.write_text("view: custom {}\n")
    yml = project / "semantic" / "dimensions.yml"
    text = yml.read_text()
    start = text.index("  - name: bridge_service_resource")
    end = text.index("  - name: bridge_trace_cost")
    yml.write_text(text[:start] + text[end:])
    assert _generate(project) == 0
    assert not (project / "lookml" / "views" / "bridge_service_resource.view.lkml").exists()
    assert not (project / "sql" / "bigquery" / "ddl" / "bridge_service_resource.sql").exists()
    assert (project / "sql" / "bigquery" / "ddl" / "bridge_trace_cost.sql").exists()
    assert hand_written.read_text() == "view: custom {}\n"


def test_check_reports_a_diff_and_exit_1_when_output_is_stale(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _generate(project) == 0
    assert _generate(project, "--check") == 0
    view = project / "lookml" / "views" / "dim_region.view.lkml"
    view.write_text(view.read_text().replace('label: "Region"', 'label: "Area"'))
    capsys.readouterr()
    assert _generate(project, "--check") == 1
    out = capsys.readouterr().out
    assert '-    label: "Area"' in out and '+    label: "Region"' in out


def test_edited_output_is_repaired_even_when_inputs_did_not_change(project: Path) -> None:
    assert _generate(project) == 0
    view = project / "lookml" / "views" / "dim_region.view.lkml"
    original = view.read_text()
    view.write_text("edited by hand\n")
    assert _generate(project) == 0
    assert view.read_text() == original


def test_committed_json_schema_is_current() -> None:
    assert (ROOT / "semantic" / "schema.json").read_text() == schema_text(), \
        "run: lookwright schema --output semantic/schema.json"


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    from lookwright.cli import COMMANDS

    assert sorted(COMMANDS) == ["build", "checks", "dag", "demo", "deploy", "diff", "explain", "generate", "load", "plan", "report", "restore",
                                "schema", "snapshot", "sql", "suggest", "synth", "validate", "verify"]
    for name in COMMANDS:  # every module exists: none is skipped (a missing one fails here, loudly)
        assert _run(name, "--help") == 0, name
        assert capsys.readouterr().out.startswith(f"Usage: lookwright {name} "), name
    assert _run("--help") == 0
    listed = capsys.readouterr().out.split("Commands:\n", 1)[1]
    assert [line.split()[0] for line in listed.splitlines() if line.strip()] == sorted(COMMANDS)


def test_user_templates_override_one_statement_kind(project: Path) -> None:
    override = project / "my_templates" / "bigquery"
    override.mkdir(parents=True)
    (override / "create_table.sql.j2").write_text("CREATE TABLE IF NOT EXISTS {{ ref }} AS SELECT 1 AS one\n")
    assert _generate(project, "--templates", str(project / "my_templates")) == 0
    ddl = (project / "sql" / "bigquery" / "ddl" / "dim_region.sql").read_text()
    assert ddl.endswith("CREATE TABLE IF NOT EXISTS `perf-cost-prod.observability.dim_region` AS SELECT 1 AS one\n")
    rollup = (project / "sql" / "bigquery" / "rollups" / "fact_performance_metrics_hourly.sql").read_text()
    assert "WITH source_rows AS" in rollup  # other kinds still come from the built-in templates


def test_missing_template_directory_is_an_input_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _generate(project, "--templates", str(project / "nope")) == 2
    assert "templates directory not found" in capsys.readouterr().err


def test_forked_workers_write_exactly_what_one_process_writes(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lookwright.output import generate as pipeline

    monkeypatch.setattr(pipeline, "PARALLEL_MIN_TABLES", 1)
    monkeypatch.chdir(project)  # headers name semantic/... relative to the working directory
    assert _generate(project) == 0
    assert _snapshot(project / "lookml") == _snapshot(ROOT / "generated_lookml") | {
        ".lookwright-manifest.json": (project / "lookml" / ".lookwright-manifest.json").read_bytes()}
    for name, content in _snapshot(ROOT / "sql").items():
        if name != ".lookwright-manifest.json":
            assert (project / "sql" / name).read_bytes() == content, name


def test_a_template_error_in_a_worker_writes_nothing(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from lookwright.output import generate as pipeline

    monkeypatch.setattr(pipeline, "PARALLEL_MIN_TABLES", 1)
    override = project / "my_templates"
    override.mkdir()
    (override / "checks.sql.j2").write_text("SELECT {{ no_such_variable }}\n")
    assert _generate(project, "--templates", str(override)) == 2
    assert "no_such_variable" in capsys.readouterr().err
    assert not (project / "lookml").exists() and not (project / "sql").exists()


@pytest.mark.parametrize("in_workers", [False, True], ids=["one process", "forked workers"])
def test_a_repeated_key_fails_generate_and_writes_nothing(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str], in_workers: bool) -> None:
    from lookwright.output import generate as pipeline

    if in_workers:
        monkeypatch.setattr(pipeline, "PARALLEL_MIN_TABLES", 1)
    monkeypatch.chdir(project)
    yml = project / "semantic" / "dimensions.yml"
    yml.write_text(yml.read_text().replace("      - {name: team, group_label: Ownership}\n",
                                           "      - {name: team, group_label: Ownership, group_label: Owners}\n"))
    assert _generate(project) == 2
    err = capsys.readouterr().err
    assert "semantic/dimensions.yml:24:46: error[LW106]: duplicate key 'group_label' (first at line 24)" in err
    assert not (project / "lookml").exists() and not (project / "sql").exists()


def test_repeated_keys_are_reported_together_with_other_problems(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(project)
    dims = project / "semantic" / "dimensions.yml"
    dims.write_text(dims.read_text().replace("      - {name: team, group_label: Ownership}\n",
                                             "      - {name: team, group_label: Ownership, group_label: Owners}\n"))
    cost = project / "semantic" / "cost.yml"
    cost.write_text(cost.read_text().replace("      - {name: cost_source}\n", "      - {name: cost_source, lable: Source}\n"))
    assert _generate(project) == 2
    err = capsys.readouterr().err
    assert "error[LW106]" in err and "error[LW101]: unknown key 'lable'" in err
