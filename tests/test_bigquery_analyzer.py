"""Google's ZetaSQL analyzer over the committed BigQuery SQL, and the BigQuery-only errors it catches."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("zetasql", reason="zetasql is not installed")

from lookwright.model.compile import load_model
from lookwright.model.ir import SemanticModel
from lookwright.sqlgen.analyzer import AnalysisError, BigQueryAnalyzer, analyzer_for, split_script

ROOT = Path(__file__).resolve().parents[1]

FOLDERS = {"ddl": 32, "checks": 31, "rollups": 10, "incremental": 10, "expire": 1}


@pytest.fixture(scope="module")
def model() -> SemanticModel:
    return load_model(ROOT / "semantic")


@pytest.fixture(scope="module")
def analyzer(model: SemanticModel) -> BigQueryAnalyzer:
    return analyzer_for(model)


def test_every_committed_bigquery_file_passes_the_analyzer(analyzer: BigQueryAnalyzer) -> None:
    found = {folder: sorted((ROOT / "sql" / "bigquery" / folder).glob("*.sql")) for folder in FOLDERS}
    assert {folder: len(files) for folder, files in found.items()} == FOLDERS
    errors = [(path.name, statement[:80], error.format())
              for files in found.values() for path in files
              for statement in split_script(path.read_text(encoding="utf-8"))
              if (error := analyzer.check(statement)) is not None]
    assert errors == []


def test_double_quoted_alias_is_a_string_literal(analyzer: BigQueryAnalyzer) -> None:
    sql = 'SELECT service_name AS "name"\nFROM dim_service'
    assert analyzer.check(sql) == AnalysisError('Syntax error: Unexpected string literal "name"', 1, 24)
    assert analyzer.check("SELECT service_name AS `name`\nFROM dim_service") is None


def test_delete_without_where_is_refused(analyzer: BigQueryAnalyzer) -> None:
    assert analyzer.check("DELETE FROM fact_cost_hourly") == AnalysisError(
        "DELETE must have a WHERE clause", 1, 1)
    assert analyzer.check("DELETE FROM fact_cost_hourly WHERE TRUE") is None


def test_bigquery_types_and_functions(analyzer: BigQueryAnalyzer) -> None:
    assert analyzer.check("CREATE TABLE t (a VARCHAR)") == AnalysisError("Type not found: VARCHAR", 1, 19)
    bad_part = analyzer.check("SELECT DATE_TRUNC(date, HOUR) FROM fact_cost_hourly")
    assert bad_part is not None and bad_part.message == "DATE_TRUNC does not support the HOUR date part"
    assert analyzer.check("SELECT hour FROM `perf-cost-prod.observability.fact_cost_hourly`"
                          " WHERE hour >= @window_start") is None
    assert analyzer.check("INSERT INTO lookwright_build_state (raw_loaded_through) VALUES (?)") is None


def test_split_script_keeps_statements_and_drops_comments() -> None:
    script = "-- header\n-- more\nSELECT 1;\n\nSELECT ';' AS x;\n-- trailing\n"
    assert split_script(script) == ["-- header\n-- more\nSELECT 1", "SELECT ';' AS x"]


def test_validate_sql_offline_passes_the_flagship_and_bisects_a_broken_field(
        model: SemanticModel, analyzer: BigQueryAnalyzer, tmp_path: Path) -> None:
    import shutil

    from lookwright.checks.sql import validate_sql_offline

    report = validate_sql_offline(model)
    fields = sum(len(t.dimensions) + len(t.measures) for t in model.views())
    assert (report.views, report.fields, report.failures) == (len(model.views()), fields, ())
    assert len(model.views()) == len(model.tables) - 6  # the daily profiles are warehouse-only: no views
    target = tmp_path / "semantic"
    shutil.copytree(ROOT / "semantic", target)
    path = target / "performance.yml"
    text = path.read_text(encoding="utf-8")
    broken = text.replace('      - {name: http_status_code, type: number}\n',
                          '      - {name: http_status_code, type: number, sql: "DATE_TRUNC(${TABLE}.date, HOUR)"}\n')
    assert broken != text
    path.write_text(broken, encoding="utf-8")
    line = broken.splitlines().index('      - {name: http_status_code, type: number, sql: "DATE_TRUNC(${TABLE}.date,'
                                      ' HOUR)"}') + 1
    failures = validate_sql_offline(load_model(target)).failures
    assert [(f.file.endswith("performance.yml"), f.line, f.subject) for f in failures] == [
        (True, line, "fact_performance_requests.http_status_code")]
    assert failures[0].message.startswith("BigQuery (ZetaSQL): DATE_TRUNC does not support the HOUR date part")
