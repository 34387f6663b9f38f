"""`validate sql`: every view and field expression of the flagship model compiled on DuckDB without data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lookwright.checks.sql import failure_target, sql_failure, validate_sql
from lookwright.commands.validate_extra import sql
from lookwright.errors import LookwrightError
from lookwright.model.compile import load_model
from lookwright.model.ir import SemanticModel
from lookwright.sqlgen.render import SqlRenderer
from lookwright.warehouse import DuckDBWarehouse, open_warehouse

ROOT = Path(__file__).resolve().parents[1]
FLAGSHIP_VIEWS = 25
# 176 + fact_performance_service_daily 9 dimensions + 6 measures + fact_cost_service_daily 6 + 2 + 15,
# + 83 in the resource metrics, log and RUM views, + 39 in the weekly and monthly rollups, + 16 in the real-time one
FLAGSHIP_FIELDS = 353
BROKEN_LINE = 74  # `http_status_code` in semantic/performance.yml
# DuckDB words the binder error in one of two ways depending on its catalog cache state.
BINDER_ERRORS = (
    'Binder Error: Referenced column "no_such_column" not found in FROM clause!',
    'Binder Error: Table "fact_performance_requests" does not have a column named "no_such_column"',
)


@pytest.fixture(scope="module")
def flagship() -> SemanticModel:
    return load_model(ROOT / "semantic")


@pytest.fixture
def warehouse_url(tmp_path: Path, flagship: SemanticModel) -> str:
    path = tmp_path / "warehouse.duckdb"
    renderer = SqlRenderer(flagship, "duckdb")
    with DuckDBWarehouse(path) as warehouse:
        for table in flagship.tables.values():
            warehouse.execute(renderer.ddl(table))
    return f"duckdb:{path}"


def broken_model(tmp_path: Path) -> Path:
    target = tmp_path / "semantic"
    shutil.copytree(ROOT / "semantic", target)
    performance = target / "performance.yml"
    lines = performance.read_text(encoding="utf-8").splitlines(keepends=True)
    assert lines[BROKEN_LINE - 1] == "      - {name: http_status_code, type: number}\n"
    lines[BROKEN_LINE - 1] = '      - {name: http_status_code, type: number, sql: "${TABLE}.no_such_column"}\n'
    performance.write_text("".join(lines), encoding="utf-8")
    return target


def test_flagship_compiles_every_view_and_field(flagship: SemanticModel, warehouse_url: str) -> None:
    report = validate_sql(flagship, lambda: open_warehouse(warehouse_url))
    assert (report.views, report.fields, report.failures) == (FLAGSHIP_VIEWS, FLAGSHIP_FIELDS, ())


def test_broken_dimension_is_bisected_to_its_field(tmp_path: Path, warehouse_url: str) -> None:
    model_dir = broken_model(tmp_path)
    report = validate_sql(load_model(model_dir), lambda: open_warehouse(warehouse_url))
    assert len(report.failures) == 1
    failure = report.failures[0]
    assert failure.message.splitlines()[0] in BINDER_ERRORS
    assert failure == sql_failure("fact_performance_requests", "http_status_code",
                                  str(model_dir / "performance.yml"), BROKEN_LINE, failure.message)


def test_missing_table_is_reported_per_view(flagship: SemanticModel, warehouse_url: str) -> None:
    with open_warehouse(warehouse_url) as warehouse:
        warehouse.execute("DROP TABLE dim_region")
    report = validate_sql(flagship, lambda: open_warehouse(warehouse_url))
    assert [(*failure_target(f), Path(f.file).resolve(), f.line) for f in report.failures] == [
        ("dim_region", None, ROOT / "semantic" / "dimensions.yml", 58)]
    assert report.failures[0].message.startswith("Catalog Error: Table with name dim_region does not exist!")


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = 0
    try:
        sql.main(args=args, prog_name="sql", standalone_mode=False)
    except LookwrightError as error:
        code = int(error.exit_code)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_reports_counts_and_fails_on_broken_field(tmp_path: Path, warehouse_url: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["--warehouse", warehouse_url, "--model", str(ROOT / "semantic")], capsys)
    assert (code, out) == (0, "")
    assert err.startswith(f"checked {FLAGSHIP_VIEWS} views, {FLAGSHIP_FIELDS} fields in ")
    model_dir = broken_model(tmp_path)
    code, out, _ = run(["--warehouse", warehouse_url, "--model", str(model_dir)], capsys)
    assert code == 1
    first = out.splitlines()[0]
    prefix = (f"{model_dir / 'performance.yml'}:{BROKEN_LINE}: error[sql]:"
              " fact_performance_requests.http_status_code: ")
    assert first.removeprefix(prefix) in BINDER_ERRORS
