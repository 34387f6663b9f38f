"""`lookwright validate` with no subcommand: every configured check, one summary, one exit code."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lookwright.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> int:
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    return int(exit_.value.code or 0)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(ROOT / "semantic", tmp_path / "semantic")
    shutil.copytree(ROOT / "generated_lookml", tmp_path / "generated_lookml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_all_checks_pass_on_the_flagship(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("validate") == 0
    out = capsys.readouterr().out
    assert "│ lookml     │ passed │" in out and "│ aggregates │ passed │" in out


def test_one_failing_check_fails_the_whole_run(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    view = project / "generated_lookml" / "views" / "dim_region.view.lkml"
    view.write_text(view.read_text().replace("${TABLE}.provider", "${provder}"))
    assert _run("validate") == 1
    out = capsys.readouterr().out
    assert "│ lookml     │ failed: LookML validation" in out and "│ aggregates │ passed" in out
    assert "dim_region.view.lkml:14: error[LKML101]: Unknown or inaccessible field dim_region.provder" in out


def test_json_output_holds_every_checks_own_report(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    view = project / "generated_lookml" / "views" / "dim_region.view.lkml"
    view.write_text(view.read_text().replace("${TABLE}.provider", "${provder}"))
    assert _run("validate", "--format", "json") == 1
    document = json.loads(capsys.readouterr().out)
    assert document["version"] == 1 and document["passed"] is False
    assert [(c["check"], c["passed"]) for c in document["checks"]] == [("lookml", False), ("aggregates", True)]
    finding = next(f for f in document["checks"][0]["report"]["findings"] if f["severity"] == "error")
    assert (finding["file"], finding["line"], finding["code"]) == ("views/dim_region.view.lkml", 14, "LKML101")
    assert {q["name"]: q["used"] for q in document["checks"][1]["report"]["queries"][:4]} == {
        "daily_requests_by_service": "daily_rollup", "monthly_cost_by_team": "monthly_cost_by_service",
        "monthly_requests_by_service": "monthly_by_service", "p95_by_endpoint": None}
