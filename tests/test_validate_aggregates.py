"""`validate aggregates`: declared queries against the offline aggregate matcher, on the flagship model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lookwright.checks.aggregates import QueryResult, check_queries
from lookwright.commands.validate_extra import aggregates
from lookwright.errors import LookwrightError
from lookwright.lookml.project import load_project
from lookwright.model.compile import load_model

ROOT = Path(__file__).resolve().parents[1]
EXPLORE = "fact_performance_requests"
HOURLY_LINES = (
    f"-- use existing {EXPLORE}::hourly_rollup",
    (f"-- Did not use {EXPLORE}::daily_rollup; it does not include the following fields in the query:"
    f" {EXPLORE}.request_hour"),
)
DAILY_LINES = (
    f"-- use existing {EXPLORE}::daily_rollup",
    f"-- Did not use {EXPLORE}::hourly_rollup; {EXPLORE}::daily_rollup was a better fit for optimization.",
)
P95_LINES = (
    (f"-- Did not use {EXPLORE}::hourly_rollup; it does not include the following fields in the query:"
    f" {EXPLORE}.p95_duration_ms"),
    (f"-- Did not use {EXPLORE}::daily_rollup; it does not include the following fields in the query:"
    f" dim_endpoint.endpoint_name, {EXPLORE}.p95_duration_ms"),
)
MISSING_P95 = f"it does not include the following fields in the query: {EXPLORE}.p95_duration_ms"
# every dashboard tile and the aggregate table serving it (all must_hit), dashboards by name
TILES = {
    "cost_attribution.cost_by_method": "tiles_fact_cost_hourly",
    "cost_attribution.cost_by_team": "tiles_fact_cost_hourly",
    "cost_attribution.cost_by_cost_center": "tiles_fact_cost_hourly",
    "cost_attribution.shared_allocation": "tiles_fact_cost_hourly",
    "cost_attribution.estimated_vs_billed": "tiles_fact_cost_hourly",
    "performance_and_cost.cost_vs_p95": "tile_cost_vs_p95",
    "performance_and_cost.efficiency_ranking": "tile_efficiency_ranking",
    "performance_and_cost.cost_per_request": "tiles_fact_performance_cost_joined",
    "performance_and_cost.requests_and_errors": "tiles_fact_performance_cost_joined",
    "performance_and_cost.p95_over_time": "tile_p95_over_time",
    "performance_and_cost.error_budget": "tile_error_budget",
}


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = 0
    try:
        aggregates.main(args=args, prog_name="aggregates", standalone_mode=False)
    except LookwrightError as error:
        code = int(error.exit_code)
        print(f"error: {error}")
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def broken_model(tmp_path: Path) -> Path:
    """A copy of the flagship model whose must-hit hourly query asks for a field the rollup lacks."""
    target = tmp_path / "semantic"
    shutil.copytree(ROOT / "semantic", target)
    explores = target / "explores.yml"
    text = explores.read_text(encoding="utf-8")
    old = f"{EXPLORE}.request_count, {EXPLORE}.error_rate]"
    assert text.count(old) == 1
    explores.write_text(text.replace(old, f"{EXPLORE}.request_count, {EXPLORE}.p95_duration_ms]"),
                        encoding="utf-8")
    return target


MONTHLY_EXPLORE = "fact_performance_service_monthly"
MONTHLY_LINES = ("-- use existing fact_performance_service_monthly::monthly_by_service",)
# long-range queries served by the weekly and cost-monthly explores' aggregate tables (never daily rows)
LONG_RANGE = {
    "monthly_cost_by_team": ("fact_cost_service_monthly", "monthly_cost_by_service"),
    "weekly_requests_by_service": ("fact_performance_service_weekly", "weekly_by_service"),
}
MODEL_QUERIES = 6  # the model's declared queries, sorted by name, come before the dashboard tiles


def test_flagship_queries_are_served_as_declared(at_root: None) -> None:
    report = check_queries(load_model(Path("semantic")), load_project(Path("generated_lookml")))
    queries = report.queries[:MODEL_QUERIES]
    assert {q.name: (q.explore, q.used, q.must_hit, q.ok, q.lines) for q in queries if q.name in LONG_RANGE} == {
        name: (explore, used, used, True, (f"-- use existing {explore}::{used}",))
        for name, (explore, used) in LONG_RANGE.items()}
    assert tuple(q for q in queries if q.name not in LONG_RANGE) == (
        QueryResult("daily_requests_by_service", EXPLORE, "semantic/explores.yml:138", "daily_rollup",
                    "daily_rollup", True, DAILY_LINES),
        QueryResult("monthly_requests_by_service", MONTHLY_EXPLORE, "semantic/rollups_long.yml:181",
                    "monthly_by_service", "monthly_by_service", True, MONTHLY_LINES),
        QueryResult("p95_by_endpoint", EXPLORE, "semantic/explores.yml:144", None, None, True, P95_LINES),
        QueryResult("requests_by_service_hour", EXPLORE, "semantic/explores.yml:132", "hourly_rollup",
                    "hourly_rollup", True, HOURLY_LINES),
    )
    tiles = report.queries[MODEL_QUERIES:]
    assert {t.name: (t.used, t.must_hit) for t in tiles} == {name: (used, used) for name, used in TILES.items()}
    assert [t.name for t in tiles] == list(TILES)
    assert tiles[5].origin == "semantic/dashboards.yml:14"
    assert tiles[5].lines[0] == "-- use existing fact_performance_cost_joined::tile_cost_vs_p95"
    assert report.unused_aggregate_tables == ()
    assert report.failures == ()


def test_cli_text_output_exits_zero(at_root: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run([], capsys)
    assert code == 0
    lines = [line for line in out.splitlines() if not line.startswith("  ")]
    assert lines[MODEL_QUERIES:] == [f"ok {name} [{name_explore(used)}]: {used} (must hit {used})"
                                     for name, used in TILES.items()]
    cost, weekly = (f"ok {name} [{explore}]: {used} (must hit {used})\n  -- use existing {explore}::{used}"
                    for name, (explore, used) in LONG_RANGE.items())
    assert out.splitlines()[:15] == [
        "ok daily_requests_by_service [fact_performance_requests]: daily_rollup (must hit daily_rollup)",
        *(f"  {line}" for line in DAILY_LINES),
        *cost.splitlines(),
        f"ok monthly_requests_by_service [{MONTHLY_EXPLORE}]: monthly_by_service (must hit monthly_by_service)",
        *(f"  {line}" for line in MONTHLY_LINES),
        "ok p95_by_endpoint [fact_performance_requests]: no aggregate table",
        *(f"  {line}" for line in P95_LINES),
        "ok requests_by_service_hour [fact_performance_requests]: hourly_rollup (must hit hourly_rollup)",
        *(f"  {line}" for line in HOURLY_LINES),
        *weekly.splitlines(),
    ]


def name_explore(table: str) -> str:
    """The explore of a flagship tile's aggregate table."""
    if table == "tile_p95_over_time":
        return "fact_performance_service_daily"
    return "fact_cost_hourly" if table.endswith("cost_hourly") else "fact_performance_cost_joined"


def test_cli_json_output_is_stable(at_root: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--format", "json"], capsys)
    assert code == 0
    document = json.loads(out)
    assert [(q["name"], q["used"], q["ok"]) for q in document["queries"][MODEL_QUERIES:]] == [
        (name, used, True) for name, used in TILES.items()]
    assert [(q["name"], q["explore"], q["used"], q["must_hit"]) for q in document["queries"][:MODEL_QUERIES]
            if q["name"] in LONG_RANGE] == [(name, explore, used, used) for name, (explore, used) in LONG_RANGE.items()]
    document["queries"] = [q for q in document["queries"][:MODEL_QUERIES] if q["name"] not in LONG_RANGE]
    assert document == {
        "version": 1,
        "queries": [
            {"name": "daily_requests_by_service", "explore": EXPLORE, "used": "daily_rollup",
             "must_hit": "daily_rollup", "ok": True, "lines": list(DAILY_LINES)},
            {"name": "monthly_requests_by_service", "explore": MONTHLY_EXPLORE, "used": "monthly_by_service",
             "must_hit": "monthly_by_service", "ok": True, "lines": list(MONTHLY_LINES)},
            {"name": "p95_by_endpoint", "explore": EXPLORE, "used": None, "must_hit": None, "ok": True,
             "lines": list(P95_LINES)},
            {"name": "requests_by_service_hour", "explore": EXPLORE, "used": "hourly_rollup",
             "must_hit": "hourly_rollup", "ok": True, "lines": list(HOURLY_LINES)},
        ],
        "unused_aggregate_tables": [],
    }


def test_must_hit_miss_fails_with_origin_and_reason(tmp_path: Path, at_root: None,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    model = broken_model(tmp_path)
    code, out, _ = run(["--model", str(model)], capsys)
    assert code == 1
    lines = out.splitlines()
    start = lines.index("FAIL requests_by_service_hour [fact_performance_requests]: no aggregate table"
                        " (must hit hourly_rollup)")
    assert lines[start + 1] == (f"  {model / 'explores.yml'}:132: error: query requests_by_service_hour must hit"
                                f" hourly_rollup but did not: {MISSING_P95}")
    assert lines[start + 2] == f"  -- Did not use {EXPLORE}::hourly_rollup; {MISSING_P95}"
    assert lines[-2:] == [
        f"warning: aggregate table {EXPLORE}::hourly_rollup serves no declared query",
        "error: 1 declared query missed its aggregate table: requests_by_service_hour",
    ]


def test_must_hit_miss_in_json(tmp_path: Path, at_root: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--model", str(broken_model(tmp_path)), "--format", "json"], capsys)
    assert code == 1
    document = json.loads(out[: out.rindex("}") + 1])
    failing = [query for query in document["queries"] if not query["ok"]]
    assert [(q["name"], q["used"], q["must_hit"]) for q in failing] == [
        ("requests_by_service_hour", None, "hourly_rollup")]
    assert document["unused_aggregate_tables"] == [f"{EXPLORE}::hourly_rollup"]
