"""`lookwright deploy` and `lookwright verify`: the Looker commands."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from lookwright.commands.warehouse_options import connect_options, warehouse_options
from lookwright.looker.client import LookerClient
from lookwright.looker.deploy import DeployFailed, DeployOptions, load_queries
from lookwright.looker.deploy import deploy as run_deploy
from lookwright.looker.verify import VerifyFailed, parse_warehouse
from lookwright.looker.verify import verify as run_verify

LOOKER_INI = click.option("--looker-ini", type=click.Path(path_type=Path), default=Path("looker.ini"),
                          show_default=True, help="looker.ini (LOOKERSDK_* env vars override it)")
SECTION = click.option("--section", default=None, help="ini section (default: the first)")
LOOKML_DIR = click.option("--lookml-dir", type=click.Path(path_type=Path), default=Path("generated_lookml"),
                          show_default=True, help="the generated LookML folder")
QUERIES = click.option("--queries", type=click.Path(path_type=Path, exists=True), default=None,
                       help="JSON/YAML list of check queries (default: the semantic model's declared queries)")
MODEL = click.option("--model", "model_dir", type=click.Path(path_type=Path), default=Path("semantic"),
                     show_default=True, help="semantic model directory (its declared queries)")


@click.command()
@LOOKER_INI
@SECTION
@click.option("--project", required=True, help="Looker project id")
@click.option("--branch", required=True, help="git branch to push and validate")
@click.option("--production", is_flag=True, help="deploy the branch to production if every check passes")
@click.option("--dry-run", is_flag=True, help="print the plan and the git diff; change nothing")
@LOOKML_DIR
@click.option("--repo", required=True, help="path or URL of the LookML project's git remote")
@click.option("--severity", default="warning", show_default=True,
              type=click.Choice(["info", "warning", "error", "fatal"]), help="fail on validation errors this bad")
@MODEL
@QUERIES
@click.option("--deploy-webhook", is_flag=True,
              help="deploy through Looker's deploy webhook; the secret comes from LOOKER_DEPLOY_SECRET")
def deploy(looker_ini: Path, section: str | None, project: str, branch: str, production: bool, dry_run: bool,
           lookml_dir: Path, repo: str, severity: str, model_dir: Path, queries: Path | None,
           deploy_webhook: bool) -> None:
    """Validate locally (LookML + aggregates), push generated LookML to a branch, validate it in
    Looker's dev mode on a temporary branch, optionally deploy it to production."""
    console = Console(stderr=True)
    options = DeployOptions(project=project, branch=branch, lookml_dir=lookml_dir, repo=repo,
                            production=production, dry_run=dry_run, severity=severity,
                            queries=load_queries(queries) if queries else (), model_dir=model_dir,
                            deploy_webhook=deploy_webhook,
                            deploy_secret=os.environ.get("LOOKER_DEPLOY_SECRET") if deploy_webhook else None)
    try:
        result = run_deploy(options, lambda: LookerClient.from_ini(looker_ini, section),
                            progress=lambda step: console.print(f"[dim]… {step}[/dim]"))
    except DeployFailed as failure:
        console.print(f"[red]{failure.step} failed; production was not changed[/red]")
        raise
    out = Console(soft_wrap=True)
    if dry_run:
        out.print("Planned steps (dry run, nothing changed):", markup=False)
        for number, step in enumerate(result.steps, 1):
            out.print(f"  {number}. {step}", markup=False, highlight=False)
        out.print(result.diff or "(no changes to generated files)", markup=False, highlight=False)
        return
    target = "deployed to production" if result.deployed else "validated in dev mode"
    out.print(f"{branch} @ {result.commit}: {len(result.changed_files)} files changed, {target}",
              markup=False, highlight=False)


@click.command()
@LOOKER_INI
@SECTION
@click.option("--project", required=True, help="Looker project id")
@click.option("--explore", default=None, help="only this explore")
@LOOKML_DIR
@click.option("--model", "model_dir", type=click.Path(path_type=Path, exists=True, file_okay=False), default=None,
              help="semantic model directory: its declared queries, compiled over the warehouse tables, are "
                   "the check queries [default: ./semantic when it exists]")
@QUERIES
@warehouse_options(default=None, name="warehouse",
                   help_text="The built warehouse to compare check-query numbers with: duckdb:PATH, or"
                             " bigquery:PROJECT.DATASET[@http://HOST:PORT]")
@click.option("--now", type=click.DateTime(["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"]), default=None,
              help="the moment relative date filters ('7 days') count from on the warehouse side, UTC;"
                   " default: now (Looker uses its own clock)")
def verify(looker_ini: Path, section: str | None, project: str, explore: str | None, lookml_dir: Path,
           model_dir: Path | None, queries: Path | None, warehouse: str | None, location: str | None,
           credentials_file: Path | None, maximum_bytes_billed: int | None, now: datetime | None) -> None:
    """Check the deployed model against the generated LookML and the warehouse's numbers."""
    from lookwright.model.compile import load_model

    if model_dir is None and Path("semantic").is_dir():
        model_dir = Path("semantic")
    model = load_model(model_dir) if model_dir is not None else None
    client = LookerClient.from_ini(looker_ini, section)
    try:
        compared = run_verify(client, lookml_dir, explore=explore,
                              queries=load_queries(queries) if queries else (),
                              warehouse=parse_warehouse(warehouse) if warehouse else None, model=model,
                              now=now.replace(tzinfo=UTC) if now else None,
                              options=connect_options(location, credentials_file, maximum_bytes_billed))
    except VerifyFailed as failure:
        table = Table("what", "expected", "Looker", title=f"{project}: mismatches")
        for mismatch in failure.mismatches:
            table.add_row(mismatch.subject, mismatch.expected, mismatch.actual)
        Console(soft_wrap=True).print(table)
        raise
    finally:
        client.logout()
    numbers = f", {compared} check quer{'y' if compared == 1 else 'ies'} equal the warehouse" if compared else ""
    Console(soft_wrap=True).print(f"{project}: generated LookML and Looker agree{numbers}", markup=False,
                                  highlight=False)
