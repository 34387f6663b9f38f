"""Where inputs live; kept free of heavy imports so the no-change fast path stays fast."""

from __future__ import annotations

import os
from pathlib import Path

from lookwright.errors import InputError, ModelError, issue

YAML_SUFFIXES = (".yml", ".yaml")
DEFAULT_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
DEFAULT_MODEL_DIR = Path("semantic")
DEFAULT_LOOKML_DIR = Path("generated_lookml")


def existing_directory(path: str | Path, what: str) -> Path:
    """`path` as a Path, or an InputError naming what was expected there."""
    directory = Path(path)
    if not directory.is_dir():
        raise InputError(f"{what} directory {path} does not exist")
    return directory


def discover(directory: Path) -> list[Path]:
    """Every YAML file under `directory`, sorted, so merge order never depends on the filesystem."""
    if directory.is_file():
        return [directory]
    if not directory.is_dir():
        raise ModelError([issue(str(directory), 1, 1, "LW001", "model directory not found",
                                     "pass the folder holding your semantic/*.yml files")])
    found = sorted((p for p in directory.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file()),
                   key=lambda p: p.parts)  # Path's own ordering, ~5x cheaper to compute
    if not found:
        raise ModelError([issue(str(directory), 1, 1, "LW002", "model directory holds no .yml or .yaml file",
                                     "pass the folder holding your semantic/*.yml files")])
    return found


def display_path(path: Path, cwd: str | None = None) -> str:
    """`path` relative to the working directory when it is below it (no file-system calls).

    This is the name diagnostics and generated headers show."""
    base = os.path.abspath(cwd) if cwd else os.getcwd()
    absolute = os.path.abspath(path)
    # both are normalised absolute paths, so below `base` the relative path is the remainder
    return absolute[len(base) + 1:] if absolute.startswith(base + os.sep) else str(path)
