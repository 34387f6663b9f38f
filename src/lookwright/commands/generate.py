"""`lookwright generate` and `lookwright schema`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lookwright.errors import CheckFailed
from lookwright.output.generate import DEFAULT_SQL_DIR, GenerateOptions
from lookwright.paths import DEFAULT_LOOKML_DIR, DEFAULT_MODEL_DIR

MODEL_OPTION = click.option("--model", "model_dir", type=click.Path(path_type=Path), default=DEFAULT_MODEL_DIR,
                            show_default=True, help="Folder (or file) of the YAML semantic model.")


@click.command()
@MODEL_OPTION
@click.option("--lookml-out", type=click.Path(path_type=Path), default=DEFAULT_LOOKML_DIR, show_default=True,
              help="Where LookML files are written.")
@click.option("--sql-out", type=click.Path(path_type=Path), default=DEFAULT_SQL_DIR, show_default=True,
              help="Where warehouse SQL files are written (under <dialect>/).")
@click.option("--templates", type=click.Path(path_type=Path), default=None,
              help="Folder of Jinja2 templates overriding the built-in ones (per dialect subfolder or flat).")
@click.option("--check", "check_only", is_flag=True,
              help="Write nothing; exit 1 with a unified diff if the committed output is stale.")
def generate(model_dir: Path, lookml_out: Path, sql_out: Path, templates: Path | None, check_only: bool) -> None:
    """Generate LookML and BigQuery SQL from the semantic model.

    Invalid YAML is reported as file:line:col: error[CODE] (all problems at once, exit 2)
    and nothing is written. Output is deterministic and written atomically; files that a
    previous run generated and this one does not are removed, hand-written files never are.
    """
    from lookwright.output import generate as pipeline

    options = GenerateOptions(model_dir, lookml_out, sql_out, templates)
    if check_only:
        diffs = pipeline.check(options)
        if diffs:
            from lookwright.lookml.diff import directory_files, render_text

            changes = pipeline.lookml_changes(options, directory_files(lookml_out))
            sys.stdout.write(render_text(changes, f"{lookml_out}/ against the YAML") + "\n")
            sys.stdout.write("".join(diffs))
            raise CheckFailed(f"{len(diffs)} generated file(s) are stale; run `make lookml` and commit the result")
        click.echo("generated output is up to date", err=True)
        return
    results = pipeline.generate(options)
    if results is None:
        click.echo("nothing to do: output is up to date", err=True)
        return
    written = sum(len(r.written) for r in results)
    removed = sum(len(r.removed) for r in results)
    unchanged = sum(r.unchanged for r in results)
    click.echo(f"wrote {written} file(s), removed {removed} stale, {unchanged} unchanged "
               f"({lookml_out}/, {sql_out}/)", err=True)


@click.command()
@click.option("--output", type=click.Path(path_type=Path), default=None, help="Write to this file instead of stdout.")
def schema(output: Path | None) -> None:
    """Print the JSON Schema of the YAML format (for editor autocompletion)."""
    from lookwright.model.schema_export import schema_text
    from lookwright.output.writer import write_atomic

    text = schema_text()
    if output is None:
        sys.stdout.write(text)
    else:
        write_atomic(output, text)
