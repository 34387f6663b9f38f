"""The package's shape (issue 8): no import cycle, even through lazy imports, and fewer than 12 levels.

Reads the source with bench/imports.py (ast only, nothing imported), so a cycle introduced by a
function-level import fails here rather than waiting for someone to run the bench.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def _imports_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_imports", ROOT / "bench" / "imports.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_no_import_cycle_counting_lazy_imports() -> None:
    bench = _imports_bench()
    eager, every = bench.graphs(ROOT / "src")
    assert (bench.cycles(eager), bench.cycles(every)) == ([], [])


def test_fewer_import_levels_than_the_flat_layout_had() -> None:
    bench = _imports_bench()
    eager, _ = bench.graphs(ROOT / "src")
    assert len(bench.longest_chain(eager)) < 12


def test_a_lazy_cycle_is_found() -> None:
    bench = _imports_bench()
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert bench.cycles(graph) == [["a", "b", "c"]]
