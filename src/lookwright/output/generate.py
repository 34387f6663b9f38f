"""The generator pipeline: semantic model -> LookML + warehouse SQL output sets, and their freshness.

The fingerprint covers every input that shapes the output (YAML files, templates, lookwright's
version), so an unchanged re-run can return after hashing inputs, without parsing anything.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lookwright.output.writer import (
    OutputFile,
    OutputSet,
    WriteResult,
    diff_set,
    ensure_writable_root,
    finish_set,
    is_fresh,
    write_files,
    write_set,
)
from lookwright.paths import DEFAULT_LOOKML_DIR, DEFAULT_MODEL_DIR
from lookwright.version import __version__

if TYPE_CHECKING:
    from lookwright.lookml.diff import Change
    from lookwright.model.ir import SemanticModel

DEFAULT_SQL_DIR = Path("sql")


@dataclass(frozen=True)
class GenerateOptions:
    model_dir: Path = DEFAULT_MODEL_DIR
    lookml_dir: Path = DEFAULT_LOOKML_DIR
    sql_dir: Path = DEFAULT_SQL_DIR
    templates: Path | None = None
    dialect: str = "bigquery"


def fingerprint(options: GenerateOptions, model_files: list[Path] | None = None) -> str:
    """Hash of every input file and option that affects the output (`model_files`: already discovered)."""
    from lookwright.paths import DEFAULT_TEMPLATES, discover, display_path

    digest = hashlib.sha256(f"{__version__}|{options.dialect}".encode())
    cwd = os.getcwd()
    # YAML files under the name the generated headers show; code and templates by their relative name
    files = discover(options.model_dir) if model_files is None else model_files
    named = [(display_path(path, cwd), path) for path in files]
    package = Path(__file__).parents[1]  # the whole package tree: the generator's code shapes output
    named += [(path.relative_to(package).as_posix(), path) for path in sorted(package.rglob("*.py"))]
    template_roots = [DEFAULT_TEMPLATES] + ([options.templates] if options.templates else [])
    for index, root in enumerate(template_roots):
        named += [(f"{index}:{path.relative_to(root)}", path) for path in sorted(root.rglob("*.j2")) if path.is_file()]
    for name, path in named:
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def build_outputs(options: GenerateOptions, stamp: str) -> list[OutputSet]:
    """Run load -> validate -> compile -> render; raises ModelError before anything is written."""
    from lookwright.model.compile import load_model

    return _render(load_model(options.model_dir), options, stamp)


def _render(model: SemanticModel, options: GenerateOptions, stamp: str) -> list[OutputSet]:
    from lookwright.lookml.render import render_lookml
    from lookwright.sqlgen.render import render_sql_files

    lookml = render_lookml(model)
    sql = render_sql_files(model, options.dialect, options.templates)
    return [
        OutputSet(options.lookml_dir, tuple(lookml), stamp),
        OutputSet(options.sql_dir, tuple(sql), stamp),
    ]


def up_to_date(options: GenerateOptions, stamp: str) -> bool:
    return is_fresh(options.lookml_dir, stamp) and is_fresh(options.sql_dir, stamp)


PARALLEL_MIN_TABLES = 300  # below this, forking workers costs more than it saves


@contextlib.contextmanager
def _without_cyclic_gc() -> Iterator[None]:
    """The pipeline allocates ~10^6 acyclic objects; the cyclic collector would rescan them all
    repeatedly (a third of the run) without ever finding garbage. Reference counting still frees."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def generate(options: GenerateOptions) -> list[WriteResult] | None:
    """Write every output set; None when nothing needed doing."""
    from lookwright.paths import discover

    paths = discover(options.model_dir)
    stamp = fingerprint(options, paths)
    if up_to_date(options, stamp):
        return None
    with _without_cyclic_gc():
        return _generate(options, stamp, paths)


def _generate(options: GenerateOptions, stamp: str, paths: list[Path]) -> list[WriteResult]:
    from lookwright.errors import ModelError
    from lookwright.model.compile import load_model
    from lookwright.model.loader import duplicate_key_diagnostics
    from lookwright.output.parallel import Background, can_fork

    # the repeated-key check re-parses every file; a second process does it while this one loads
    duplicates = Background(lambda: duplicate_key_diagnostics(paths))
    try:
        model = load_model(options.model_dir, check_duplicates=False, paths=paths)
    except ModelError as error:
        raise ModelError(error.diagnostics + duplicates.result()) from None
    except BaseException:
        duplicates.close()
        raise

    def refuse_duplicates() -> None:
        problems = duplicates.result()
        if problems:
            raise ModelError(problems)

    try:
        for root in (options.lookml_dir, options.sql_dir):
            ensure_writable_root(root)
        if len(model.tables) >= PARALLEL_MIN_TABLES and can_fork():
            return _generate_in_workers(model, options, stamp, refuse_duplicates)
        outputs = _render(model, options, stamp)
        refuse_duplicates()
        return [write_set(output) for output in outputs]
    finally:
        duplicates.close()


def _render_tables(model: SemanticModel, options: GenerateOptions, names: list[str]) -> list[tuple[int, OutputFile]]:
    """View and SQL files of some tables, tagged with their output root (0: LookML, 1: SQL)."""
    from lookwright.lookml.render import render_lookml
    from lookwright.sqlgen.render import render_sql_files

    views = render_lookml(model, names, shared=False)
    statements = render_sql_files(model, options.dialect, options.templates, names)
    return [(0, f) for f in views] + [(1, f) for f in statements]


def _generate_in_workers(model: SemanticModel, options: GenerateOptions, stamp: str,
                         before_write: Callable[[], None]) -> list[WriteResult]:
    """Tables rendered and written by forked workers; explores and models by this process."""
    from lookwright.lookml.render import render_lookml
    from lookwright.output.parallel import render_and_write
    from lookwright.sqlgen.render import warm_templates

    warm_templates(options.dialect, options.templates)

    shared = render_lookml(model, [], shared=True)
    names = list(model.tables)
    count = min(os.cpu_count() or 2, 4)
    roots = [options.lookml_dir, options.sql_dir]
    entries = render_and_write([names[i::count] for i in range(count)],
                               lambda chunk: _render_tables(model, options, chunk), roots, before_write)
    entries[0] += write_files(options.lookml_dir, shared)
    from lookwright.sqlgen.render import quantile_function_file

    function = quantile_function_file(model, options.dialect)
    if function is not None:
        entries[1] += write_files(options.sql_dir, [OutputFile(function.path, function.content)])
    return [finish_set(root, found, stamp) for root, found in zip(roots, entries)]


def check(options: GenerateOptions) -> list[str]:
    """Unified diffs of committed output against a fresh render (empty: up to date)."""
    stamp = fingerprint(options)
    with _without_cyclic_gc():
        outputs = build_outputs(options, stamp)
    return [diff for output in outputs for diff in diff_set(output)]


def lookml_changes(options: GenerateOptions, base: dict[str, str],
                   base_queries: Iterable[tuple[str, str, Iterable[str]]] = ()) -> list[Change]:
    """What rendering the current YAML changes for Looker users against `base` ({path: LookML text}).

    Fields are "used" when a declared query or dashboard tile (of the current model, or `base_queries`
    of the base one) or a LookML dashboard under the LookML folder names them: removing or renaming
    those is breaking."""
    from lookwright.lookml.diff import compare, model_users, project_of, usage
    from lookwright.model.compile import load_model

    model = load_model(options.model_dir)
    lookml = _render(model, options, "")[0]
    current = {item.path: item.content for item in lookml.files}
    queries = [*base_queries, *model_users(model)]
    return compare(project_of(base), project_of(current), usage(queries, options.lookml_dir))
