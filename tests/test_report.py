"""`lookwright report` in a real headless browser (Debian's `chromium`), and `lookwright sql`/`suggest`."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest
from fanout_model import FANOUT_TRUTH, fanout_model

from lookwright.cli import main

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "build" / "test-artifacts"
XSS = "<img src=x onerror=alert(1)>"


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as done:
        main(argv)
    captured = capsys.readouterr()
    assert done.value.code == 0, captured.err
    return captured.out


@pytest.fixture(scope="module")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's warehouse (3,000 requests over 2 days); one service renamed to an HTML payload."""
    folder = tmp_path_factory.mktemp("demo")
    subprocess.run([str(ROOT / ".venv" / "bin" / "lookwright"), "demo", "--requests", "3000", "--days", "2",
                    "--dir", str(folder), "--model", str(ROOT / "semantic")], check=True, capture_output=True)
    path = folder / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("UPDATE dim_service SET service_name = ? WHERE service_name = 'auth'", [XSS])
    return path


def _chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("the Debian package chromium is not installed (make test installs it as root with apt)")
        pytest.skip("needs the Debian package chromium (apt-get install chromium; make test does it as root)")
    return found


def _browser(chromium: str, page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=20000",
                           "--enable-logging=stderr", "--v=0", *args, page.as_uri()],
                          capture_output=True, text=True, timeout=120, check=True)


def test_report_draws_every_tile_offline_and_escapes_warehouse_values(
        demo_warehouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "report.html"
    out = _cli(["report", "--warehouse", f"duckdb:{demo_warehouse}", "--output", str(page),
                "--model", str(ROOT / "semantic"), "--lookml", str(ROOT / "generated_lookml")], capsys)
    assert out.strip() == str(page)
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)  # nothing to fetch
    assert "default-src 'none'" in text and XSS not in text
    chromium = _chromium()
    run = _browser(chromium, page, "--dump-dom")
    dom = run.stdout
    assert 'data-rendered="yes"' in dom and 'data-errors="0"' in dom, re.findall(r'data-error-text="[^"]*"', dom)
    console = [line for line in run.stderr.splitlines() if "CONSOLE" in line or "Refused to" in line]
    assert console == []
    marks = [int(m) for m in re.findall(r'data-marks="(\d+)"', dom)]
    charts = dom.count('data-kind="chart"')
    assert charts == 10 and len(marks) == charts and min(marks) > 0, marks
    assert dom.count('data-kind="table"') == 1 and dom.count("<tr>") > 20
    assert "&lt;img src=x onerror=alert(1)&gt;" in dom and _elements(dom, "img") == 0
    assert "use existing fact_cost_hourly::tiles_fact_cost_hourly" in dom
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    _browser(chromium, page, "--window-size=1400,3400", f"--screenshot={ARTIFACTS / 'report.png'}")
    assert (ARTIFACTS / "report.png").stat().st_size > 50_000


def _elements(page: str, tag: str) -> int:
    """How many `tag` elements the page has (script bodies are not markup)."""
    from html.parser import HTMLParser

    found = []

    class Parser(HTMLParser):
        def handle_starttag(self, name: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append(name)

    Parser().feed(page)
    return found.count(tag)


def _independent(warehouse: Path, sql: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return [tuple(row) for row in con.execute(sql).fetchall()]


def test_sql_runs_a_tile_query_and_matches_the_raw_rows(demo_warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = _cli(["sql", "--explore", "fact_cost_hourly", "--fields", "dim_service.team,fact_cost_hourly.sum_total_cost",
                "--filters", "fact_cost_hourly.attribution_method=usage^_share,activity",
                "--filters", "fact_cost_hourly.cost_date=after 2025-01-01",  # every day (else its always_filter)
                "--sorts", "dim_service.team", "--run", "--warehouse", f"duckdb:{demo_warehouse}", "--format", "json",
                "--model", str(ROOT / "semantic"), "--lookml", str(ROOT / "generated_lookml")], capsys)
    document = json.loads(out)
    assert document["aggregate_table"] == "tiles_fact_cost_hourly"
    assert document["columns"] == ["dim_service.team", "fact_cost_hourly.sum_total_cost"]
    assert "dim_region" not in document["sql"] and "LEFT JOIN dim_service" in document["sql"]
    expected = _independent(demo_warehouse, """
        SELECT s.team, SUM(c.total_cost) FROM fact_cost_hourly c LEFT JOIN dim_service s ON s.service_key = c.service_key
        WHERE c.attribution_method IN ('usage_share', 'activity') GROUP BY 1 ORDER BY 1""")
    got = [tuple(row) for row in document["rows"]]
    assert [r[0] for r in got] == [r[0] for r in expected]
    assert all(abs(a[1] - b[1]) < 1e-9 for a, b in zip(got, expected, strict=True))  # type: ignore[operator]


def test_symmetric_aggregates_on_a_one_to_many_fan_out(demo_warehouse: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """dim_service -> fact_cost_service_daily is one_to_many: each service counts once however many days join."""
    model = fanout_model(tmp_path)
    out = _cli(["sql", "--explore", "dim_service", "--fields",
                "dim_service.team,dim_service.service_count,fact_cost_service_daily.sum_total_cost",
                "--run", "--warehouse", f"duckdb:{demo_warehouse}", "--format", "json", "--model", str(model),
                "--lookml", str(tmp_path / "none")], capsys)
    document = json.loads(out)
    assert "COUNT(DISTINCT" in document["sql"]
    expected = _independent(demo_warehouse, """
        WITH services AS (SELECT team, COUNT(*) AS n FROM dim_service GROUP BY 1),
             cost AS (SELECT s.team, SUM(c.total_cost) AS cost FROM fact_cost_service_daily c
                      JOIN dim_service s ON s.service_key = c.service_key GROUP BY 1)
        SELECT services.team, services.n, cost.cost FROM services LEFT JOIN cost USING (team) ORDER BY 1 NULLS LAST""")
    got = sorted((tuple(r) for r in document["rows"]), key=lambda r: (r[0] is None, r[0]))
    assert [(r[0], r[1]) for r in got] == [(r[0], r[1]) for r in expected]
    fanned_rows = _independent(demo_warehouse, "SELECT COUNT(*) FROM fact_cost_service_daily")[0][0]
    assert sum(int(r[1]) for r in got) < int(str(fanned_rows))  # the plain COUNT would count joined rows
    for a, b in zip(got, expected, strict=True):
        assert (a[2] is None and b[2] is None) or abs(float(a[2]) - float(b[2])) < 1e-6  # type: ignore[arg-type]


def test_suggest_aggregates_is_the_flagships_tile_tables(capsys: pytest.CaptureFixture[str]) -> None:
    import yaml

    from lookwright.lookml.project import load_project
    from lookwright.lookml.suggest import suggest
    from lookwright.model.compile import load_model

    model = load_model(ROOT / "semantic")
    suggested = suggest(model, load_project(ROOT / "generated_lookml"))
    declared = {name: [t for t in model.explores[name].aggregate_tables if t.name.startswith("tile")]
                for name in suggested}
    assert suggested == declared
    assert sum(len(tables) for tables in suggested.values()) == 6
    out = _cli(["suggest", "aggregates", "--model", str(ROOT / "semantic"), "--lookml", str(ROOT / "generated_lookml")],
               capsys)
    document = yaml.safe_load(out)
    assert [e["name"] for e in document["explores"]] == list(suggested)
    assert document["explores"][0]["aggregate_tables"][0]["name"] == "tiles_fact_cost_hourly"


def test_number_measures_over_a_fan_out_use_symmetric_parts(demo_warehouse: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """cost / service count per team: the count is of dim_service, which the one_to_many join repeats
    once per service-day, so it must count each service once (so must the SLA sum)."""
    model = fanout_model(tmp_path)
    out = _cli(["sql", "--explore", "dim_service", "--fields",
                "dim_service.team,dim_service.cost_per_service,dim_service.sla_error_rate_x1000", "--sorts", "dim_service.team",
                "--run", "--warehouse", f"duckdb:{demo_warehouse}", "--format", "json", "--model", str(model),
                "--lookml", str(tmp_path / "none")], capsys)
    document = json.loads(out)
    assert document["sql"].count("COUNT(DISTINCT") == 1 and "list_distinct" in document["sql"]
    expected = _independent(demo_warehouse, FANOUT_TRUTH)
    got = sorted((tuple(r) for r in document["rows"]), key=lambda r: (r[0] is None, r[0]))
    assert [r[0] for r in got] == [r[0] for r in expected]
    for a, b in zip(got, expected, strict=True):
        for x, y in zip(a[1:], b[1:], strict=True):
            assert (x is None and y is None) or abs(float(x) - float(y)) < 1e-6, (a, b)  # type: ignore[arg-type]
    plain = _independent(demo_warehouse, """
        SELECT 1000 * SUM(s.sla_error_rate) FROM dim_service s JOIN fact_cost_service_daily c USING (service_key)
        WHERE s.team = 'commerce'""")[0][0]
    commerce = next(r for r in got if r[0] == "commerce")
    assert float(str(plain)) > 1.5 * float(str(commerce[2]))  # what the plain SUM would have said


def _spans_by_local_date(warehouse: Path, zone: str) -> dict[str, int]:
    from collections import Counter
    from datetime import UTC
    from zoneinfo import ZoneInfo

    starts = _independent(warehouse, "SELECT DISTINCT trace_id, span_id, start_time FROM raw_spans")
    local = Counter(s.replace(tzinfo=UTC).astimezone(ZoneInfo(zone)).date().isoformat()  # type: ignore[attr-defined]
                    for _, _, s in starts)
    return dict(sorted(local.items()))


def test_query_time_zone_converts_dimension_groups_and_date_filters(demo_warehouse: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """In America/New_York (UTC-5 in early March 2025) the two UTC days of requests fall on three local
    dates, and `yesterday` at 2025-03-05 00:30 New York time is the 4th there, 05:00-05:00 UTC."""
    def run(*args: str) -> list[list[object]]:
        out = _cli(["sql", "--explore", "fact_performance_cost_joined", *args, "--timezone", "America/New_York",
                    "--run", "--warehouse", f"duckdb:{demo_warehouse}", "--format", "json",
                    "--model", str(ROOT / "semantic"), "--lookml", str(ROOT / "generated_lookml")], capsys)
        rows: list[list[object]] = json.loads(out)["rows"]
        return rows

    by_date = run("--fields", "fact_performance_cost_joined.joined_date,fact_performance_cost_joined.total_requests",
                  "--sorts", "fact_performance_cost_joined.joined_date",
                  "--filters", "fact_performance_cost_joined.joined_date=after 2025-01-01")  # every day
    truth = _spans_by_local_date(demo_warehouse, "America/New_York")
    assert list(truth) == ["2025-03-02", "2025-03-03", "2025-03-04"]
    assert [(str(d), int(str(n))) for d, n in by_date] == list(truth.items())
    yesterday = run("--fields", "fact_performance_cost_joined.total_requests",
                    "--filters", "fact_performance_cost_joined.joined_date=yesterday", "--now", "2025-03-05T05:30:00+00:00")
    expected = _independent(demo_warehouse, """SELECT COUNT(*) FROM (SELECT DISTINCT trace_id, span_id FROM raw_spans
        WHERE start_time >= TIMESTAMP '2025-03-04 05:00' AND start_time < TIMESTAMP '2025-03-05 05:00')""")[0][0]
    assert yesterday == [[expected]] and int(str(expected)) == truth["2025-03-04"]
