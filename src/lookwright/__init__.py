"""lookwright: one YAML semantic model -> LookML + warehouse SQL, built, deployed and verified.

The small public API, for use from Python as well as from the CLI::

    import lookwright

    model = lookwright.load("semantic")                     # YAML -> validated, typed IR
    lookwright.generate("semantic", "generated_lookml", "sql")   # write LookML + SQL (no-op when fresh)
    outcomes = lookwright.validate(warehouse_url=None)       # the checks `lookwright validate` runs
    lookwright.explain("generated_lookml", "orders", ["orders.created_month", "orders.count"])
    lookwright.build(model, "duckdb:build/warehouse.duckdb") # build every table into a warehouse

Each function imports its stage when called, so `import lookwright` stays cheap. Errors are
`lookwright.errors.LookwrightError` subclasses carrying the CLI's exit code.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: `import lookwright` stays cheap

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from lookwright.checks.suite import Outcome
    from lookwright.lookml.aggregates import Explanation
    from lookwright.model.ir import SemanticModel
    from lookwright.output.writer import WriteResult
    from lookwright.warehouse.build import BuildReport

from lookwright.version import __version__

__all__ = ["__version__", "build", "explain", "generate", "load", "validate"]


def load(model_dir: str | Path = "semantic") -> SemanticModel:
    """Load, validate and compile the YAML semantic model in `model_dir` into the typed IR.

    Raises `ModelError` carrying every problem found (`.diagnostics`, each an `errors.Issue`).
    """
    from pathlib import Path

    from lookwright.model.compile import load_model

    return load_model(Path(model_dir))


def generate(model_dir: str | Path = "semantic", lookml_dir: str | Path = "generated_lookml",
             sql_dir: str | Path = "sql", dialect: str = "bigquery") -> list[WriteResult] | None:
    """Write the LookML project and the warehouse SQL generated from `model_dir`.

    Returns what was written per output folder, or None when every output was already up to date.
    """
    from pathlib import Path

    from lookwright.output.generate import GenerateOptions
    from lookwright.output.generate import generate as run

    return run(GenerateOptions(Path(model_dir), Path(lookml_dir), Path(sql_dir), dialect=dialect))


def validate(warehouse_url: str | None = None) -> list[Outcome]:
    """Run the checks `lookwright validate` runs (from the current directory) and return their outcomes.

    `lookml` and `aggregates` always; `sql` and `rollups` too when a warehouse URL is given.
    Each outcome has `.passed`, `.failure` and the check's typed `.report`.
    """
    from lookwright.checks.suite import run_checks

    return list(run_checks(warehouse_url))


def explain(lookml_dir: str | Path, explore: str, fields: Sequence[str],
            filters: Mapping[str, str] | None = None, timezone: str | None = None) -> Explanation:
    """Which aggregate table of `explore` Looker would use for the query, and why each other one was skipped."""
    from lookwright.checks.suite import lookml_project_dir
    from lookwright.lookml.aggregates import explain_query
    from lookwright.lookml.project import load_project

    project = load_project(lookml_project_dir(lookml_dir))
    return explain_query(project, explore, list(fields), dict(filters or {}), timezone)


def build(model: SemanticModel, warehouse_url: str, full_refresh: bool = False) -> BuildReport:
    """Build every table of `model` into the warehouse at `warehouse_url` (incrementally after the first build)."""
    from lookwright.warehouse import open_warehouse
    from lookwright.warehouse.build import build as run

    with open_warehouse(warehouse_url) as warehouse:
        return run(warehouse, model, full_refresh=full_refresh)
