"""The Python API in `lookwright/__init__.py`: each function runs its stage; importing the package loads nothing else."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import lookwright
from lookwright.lookml.aggregates import Miss, Skipped

FIXTURES = Path(__file__).parent / "fixtures"


def test_importing_the_package_imports_no_stage() -> None:
    code = "import lookwright, sys; print(sorted(m for m in sys.modules if m.startswith('lookwright')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['lookwright', 'lookwright.version']"


def test_load_compiles_the_yaml_model() -> None:
    model = lookwright.load(FIXTURES / "deploy" / "semantic")
    assert sorted(model.tables) == ["customers", "orders"]
    assert sorted(model.explores) == ["orders"]


def test_generate_writes_then_reports_nothing_to_do(tmp_path: Path) -> None:
    model_dir = FIXTURES / "deploy" / "semantic"
    first = lookwright.generate(model_dir, tmp_path / "lookml", tmp_path / "sql")
    assert first is not None and (tmp_path / "lookml" / "views" / "orders.view.lkml").is_file()
    assert lookwright.generate(model_dir, tmp_path / "lookml", tmp_path / "sql") is None


def test_explain_returns_the_choice_and_typed_reasons() -> None:
    explanation = lookwright.explain(FIXTURES / "lookml" / "agg_orders", "orders",
                                     ["orders.created_month", "orders.total_revenue"], timezone="America/Los_Angeles")
    assert explanation.used == "sales_monthly"
    assert explanation.skipped[0] == Skipped("sales_weekly", Miss.MISSING_FIELDS, ("orders.created_month",))
