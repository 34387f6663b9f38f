"""The generator pipeline: semantic model -> LookML + warehouse SQL output sets, and their freshness.

The fingerprint covers every input that shapes the output (YAML files, templates, lookwright's
version), so an unchanged re-run can return after hashing inputs, without parsing anything.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from lookwright import __version__
from lookwright.writer import OutputFile, OutputSet, WriteResult, diff_set, is_fresh, write_set

DEFAULT_MODEL_DIR = Path("semantic")
DEFAULT_LOOKML_DIR = Path("generated_lookml")
DEFAULT_SQL_DIR = Path("sql")


@dataclass(frozen=True)
class GenerateOptions:
    model_dir: Path = DEFAULT_MODEL_DIR
    lookml_dir: Path = DEFAULT_LOOKML_DIR
    sql_dir: Path = DEFAULT_SQL_DIR
    templates: Path | None = None
    dialect: str = "bigquery"


def fingerprint(options: GenerateOptions) -> str:
    """Hash of every input file and option that affects the output."""
    from lookwright.paths import DEFAULT_TEMPLATES, discover

    digest = hashlib.sha256(f"{__version__}|{options.dialect}".encode())
    inputs = discover(options.model_dir)
    inputs += sorted(Path(__file__).parent.glob("*.py"))  # the generator's own code shapes output too
    template_roots = [DEFAULT_TEMPLATES] + ([options.templates] if options.templates else [])
    for root in template_roots:
        inputs += sorted(p for p in root.rglob("*.j2") if p.is_file())
    for path in inputs:
        digest.update(str(path).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def build_outputs(options: GenerateOptions, stamp: str) -> list[OutputSet]:
    """Run load -> validate -> compile -> render; raises ModelError before anything is written."""
    from lookwright.ir import load_model
    from lookwright.render_lookml import render_lookml
    from lookwright.render_sql import render_sql_files

    model = load_model(options.model_dir)
    lookml = render_lookml(model)
    sql = render_sql_files(model, options.dialect, options.templates)
    return [
        OutputSet(options.lookml_dir, tuple(OutputFile(f.path, f.content) for f in lookml), stamp),
        OutputSet(options.sql_dir, tuple(OutputFile(f.path, f.content) for f in sql), stamp),
    ]


def up_to_date(options: GenerateOptions, stamp: str) -> bool:
    return is_fresh(options.lookml_dir, stamp) and is_fresh(options.sql_dir, stamp)


def generate(options: GenerateOptions) -> list[WriteResult] | None:
    """Write every output set; None when nothing needed doing."""
    stamp = fingerprint(options)
    if up_to_date(options, stamp):
        return None
    return [write_set(output) for output in build_outputs(options, stamp)]


def check(options: GenerateOptions) -> list[str]:
    """Unified diffs of committed output against a fresh render (empty: up to date)."""
    stamp = fingerprint(options)
    outputs = build_outputs(options, stamp)
    return [diff for output in outputs for diff in diff_set(output)]
