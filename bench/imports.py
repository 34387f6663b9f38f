"""Import structure of the lookwright package: longest module-level import chain and import cycles.

    .venv/bin/python bench/imports.py [SRC_DIR]     # default: src (of this checkout)

An AST pass over every module: module-level imports (not those under `if TYPE_CHECKING`, nor the
lazy ones inside functions) form a graph of lookwright modules; its levels are the modules on its
longest path. Cycles are searched over every import, lazy ones included.
"""

from __future__ import annotations

import ast
import sys
from functools import cache
from pathlib import Path

PACKAGE = "lookwright"


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(body: list[ast.stmt], known: set[str], top_level: bool) -> set[str]:
    found: set[str] = set()
    for node in body:
        if isinstance(node, ast.If) and _type_checking(node):
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in known}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from package import submodule` depends on the submodule (as `from package.module import x`
            # does not count the package); a name that is not a submodule depends on the package itself
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & known
            names = {alias.name for alias in node.names if f"{node.module}.{alias.name}" not in known}
            found |= submodules | ({node.module} & known if names else set())
        elif not top_level or not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            children = [child for child in ast.iter_child_nodes(node) if isinstance(child, ast.stmt)]
            found |= _imports(children, known, top_level)
        else:
            continue
    return found


def graphs(src: Path) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(module-level imports, all imports) between the package's modules."""
    files = {module_name(src, path): path for path in sorted((src / PACKAGE).rglob("*.py"))}
    known = set(files)
    eager, every = {}, {}
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        eager[name] = _imports(tree.body, known, True) - {name}
        every[name] = _imports(tree.body, known, False) - {name}
    return eager, every


def longest_chain(graph: dict[str, set[str]]) -> list[str]:
    @cache
    def chain(name: str) -> tuple[str, ...]:
        tails = [chain(target) for target in sorted(graph[name])]
        return (name, *max(tails, key=len, default=()))

    return list(max((chain(name) for name in sorted(graph)), key=len))


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(name: str) -> None:
        index[name] = low[name] = len(index)
        stack.append(name)
        for target in sorted(graph[name]):
            if target not in index:
                visit(target)
                low[name] = min(low[name], low[target])
            elif target in stack:
                low[name] = min(low[name], index[target])
        if low[name] == index[name]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == name:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return found


def main() -> None:
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "src"
    eager, every = graphs(src)
    chain = longest_chain(eager)
    print(f"{len(eager)} modules; {len(chain)} import levels (longest module-level chain):")
    print("  " + " -> ".join(chain))
    eager_cycles, all_cycles = cycles(eager), cycles(every)
    print(f"module-level import cycles: {len(eager_cycles)}; counting lazy imports too: {len(all_cycles)}")
    for component in all_cycles:
        print("  cycle: " + ", ".join(component))


if __name__ == "__main__":
    main()
