"""`lookwright diff [BASE]`: what the change to the YAML means for Looker users."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lookwright.errors import CheckFailed
from lookwright.paths import DEFAULT_LOOKML_DIR, DEFAULT_MODEL_DIR


@click.command()
@click.argument("base", default="HEAD", required=False)
@click.option("--model", "model_dir", type=click.Path(path_type=Path), default=DEFAULT_MODEL_DIR, show_default=True,
              help="Folder of the YAML semantic model (its current state is compared).")
@click.option("--lookml-out", "lookml_dir", type=click.Path(path_type=Path), default=DEFAULT_LOOKML_DIR,
              show_default=True, help="The generated LookML folder, as committed at BASE.")
@click.option("--format", "output_format", type=click.Choice(["text", "markdown"]), default="text",
              show_default=True, help="markdown: for a pull-request comment.")
@click.option("--fail-on-breaking", is_flag=True,
              help="Exit 1 when a removed or renamed field, view or explore is used by a declared query or a dashboard.")
def diff(base: str, model_dir: Path, lookml_dir: Path, output_format: str, fail_on_breaking: bool) -> None:
    """Summarize, for Looker users, what the YAML changes against the LookML committed at BASE (a git
    revision, default HEAD): views, explores, fields (type, SQL, label, access grant) and aggregate tables
    added, removed, renamed or changed, breaking changes first. Run it where the git checkout is.
    """
    from lookwright.lookml.diff import git_files, git_queries, render_markdown, render_text
    from lookwright.output.generate import GenerateOptions, lookml_changes

    changes = lookml_changes(GenerateOptions(model_dir, lookml_dir), git_files(base, lookml_dir),
                             git_queries(base, model_dir))
    title = f"lookwright diff {base}"
    sys.stdout.write(render_markdown(changes, title) if output_format == "markdown" else render_text(changes, title))
    breaking = [change for change in changes if change.breaking]
    if fail_on_breaking and breaking:
        raise CheckFailed(f"{len(breaking)} breaking change{'s' if len(breaking) != 1 else ''} for Looker users")
