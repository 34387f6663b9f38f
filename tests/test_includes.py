"""Hand-written LookML next to the generated files (issue 9, item 4)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lookwright.looker.deploy import generated_files

ROOT = Path(__file__).resolve().parents[1]
REFINEMENT = """view: +fact_performance_requests {
  dimension: slow {
    type: yesno
    sql: ${duraton_ms} > 1000 ;;
  }
}
"""


def lookwright(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lookwright.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, check=False)


def with_include(tmp_path: Path, pattern: str) -> Path:
    shutil.copytree(ROOT / "semantic", tmp_path / "semantic")
    warehouse = tmp_path / "semantic" / "warehouse.yml"
    text = warehouse.read_text()
    assert text.count("    persist_with: hourly_refresh\n") == 1
    warehouse.write_text(text.replace("    persist_with: hourly_refresh\n",
                                      f"    persist_with: hourly_refresh\n    include: [{pattern}]\n"))
    return tmp_path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    with_include(tmp_path, "/custom/*.view.lkml")
    assert lookwright("generate", cwd=tmp_path).returncode == 0
    (tmp_path / "generated_lookml" / "custom").mkdir()
    (tmp_path / "generated_lookml" / "custom" / "requests.view.lkml").write_text(REFINEMENT)
    return tmp_path


def test_the_generated_model_includes_hand_written_files_after_its_own(project: Path) -> None:
    includes = [line for line in (project / "generated_lookml" / "performance_cost.model.lkml").read_text().splitlines()
                if line.startswith("include:")]
    assert includes[-2:] == ['include: "/dashboards/performance_and_cost.dashboard.lookml"',
                             'include: "/custom/*.view.lkml"']


def test_generate_keeps_hand_written_files_and_validate_checks_them_with_the_generated(project: Path) -> None:
    (project / "semantic" / "cost.yml").write_text((project / "semantic" / "cost.yml").read_text() + "\n")
    assert lookwright("generate", cwd=project).returncode == 0
    assert (project / "generated_lookml" / "custom" / "requests.view.lkml").read_text() == REFINEMENT
    result = lookwright("validate", "lookml", cwd=project)
    assert result.returncode == 1
    errors = [line for line in result.stdout.splitlines() if ": error[" in line]
    assert errors == [
        ("custom/requests.view.lkml:2: error[LKML101]: Unknown or inaccessible field "
         "fact_performance_requests.duraton_ms. Check for typos or append a timeframe to the name if the field "
         "is type time.")]


def test_a_file_no_model_includes_is_a_warning(project: Path) -> None:
    (project / "generated_lookml" / "custom" / "requests.view.lkml").write_text(REFINEMENT.replace("duraton", "duration"))
    (project / "generated_lookml" / "stray.view.lkml").write_text("view: stray {\n  sql_table_name: t ;;\n}\n")
    result = lookwright("validate", "lookml", cwd=project)
    assert result.returncode == 0, result.stdout
    unincluded = [line for line in result.stdout.splitlines() if "LKML191" in line]
    assert unincluded == [  # the generated views no explore uses are not reported
        ("stray.view.lkml:1: warning[LKML191]: stray.view.lkml is not included by any model, so Looker neither "
         "validates nor serves it. Include it from a model (lookwright YAML: the model's include:).")]
    assert ": error[" not in result.stdout


def test_deploy_pushes_the_included_hand_written_files(project: Path) -> None:
    files = generated_files(project / "generated_lookml")
    assert "custom/requests.view.lkml" in files
    assert "performance_cost.model.lkml" in files


@pytest.mark.parametrize("pattern", ["/views/*.view.lkml", "custom/notes.md", "/../outside.lkml"])
def test_an_include_of_generated_or_foreign_files_is_lw408(tmp_path: Path, pattern: str) -> None:
    project = with_include(tmp_path, pattern)
    result = lookwright("generate", cwd=project)
    assert result.returncode == 2
    assert f"error[LW408]: include '{pattern}' of model 'performance_cost' must name .lkml files of your own" \
        in result.stderr


def test_a_hub_whose_models_include_none_of_its_files_gets_no_not_included_warnings(tmp_path: Path) -> None:
    """A hub project's views are included by the projects that import it, not by its own model."""
    from lookwright.lookml.validator import validate_lookml

    (tmp_path / "hub.model.lkml").write_text('connection: "db"\n# include: "/**/*.view.lkml"\n')
    (tmp_path / "a.view.lkml").write_text("view: a {\n  sql_table_name: t ;;\n  dimension: x {}\n}\n")
    assert [f.code for f in validate_lookml(tmp_path)] == []
    (tmp_path / "hub.model.lkml").write_text('connection: "db"\ninclude: "/a.view"\n')
    (tmp_path / "b.view.lkml").write_text("view: b {\n  sql_table_name: t ;;\n  dimension: x {}\n}\n")
    assert [(f.file, f.code) for f in validate_lookml(tmp_path)] == [("b.view.lkml", "LKML191")]
