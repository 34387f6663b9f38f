"""`lookwright dag airflow`: the model's build as Airflow DAGs, one task per load and table."""

from __future__ import annotations

from pathlib import Path

import click

from lookwright.commands import console as make_console
from lookwright.paths import DEFAULT_MODEL_DIR, display_path

DEFAULT_OUTPUT = Path("build/airflow/lookwright_dags.py")


@click.group()
def dag() -> None:
    """Write the model's pipeline for an orchestrator."""


@dag.command()
@click.option("--model", "model_dir", type=click.Path(path_type=Path), default=DEFAULT_MODEL_DIR,
              show_default=True, help="Folder of the YAML semantic model.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_OUTPUT,
              show_default=True, help="The DAG file to write (copy it into Airflow's dags folder).")
@click.option("--warehouse", "url", default=None,
              help="The warehouse every task builds: bigquery:PROJECT.DATASET or duckdb:PATH"
                   " [default: bigquery: and the model's warehouse project.dataset].")
@click.option("--project-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the tasks run, on the Airflow worker: the checkout holding the model"
                   " [default: the current directory].")
@click.option("--landing", "landing_dir", default="landing", show_default=True,
              help="Folder (relative to --project-dir) where export files arrive, one sub-folder per source"
                   " kind: otlp/, cur/, gcp-billing/, ...")
@click.option("--lookwright", "executable", default="lookwright", show_default=True,
              help="The lookwright command on the worker (e.g. /opt/lookwright/.venv/bin/lookwright).")
@click.option("--retries", type=click.IntRange(min=0), default=3, show_default=True,
              help="Retries of a failed task (delay: a sixth of its schedule, at most 10 minutes).")
def airflow(model_dir: Path, output: Path, url: str | None, project_dir: Path | None, landing_dir: str,
            executable: str, retries: int) -> None:
    """Write an Airflow 3 DAG file: one DAG per datagroup schedule, one task per load and per table.

    Tasks run in the build's dependency order (loads first) and each calls lookwright itself
    (`load --source KIND`, `build --table T`). A table is built as often as the fastest datagroup
    that needs it fresh (its rollup's, the persist_with of the explores based on it, the tables built
    from it; else its model's persist_with).
    Build the warehouse once with a whole `lookwright build` before the DAGs take over.
    """
    from lookwright.model.compile import load_model
    from lookwright.orchestration.airflow import AirflowOptions, dag_id, render
    from lookwright.orchestration.graph import pipeline
    from lookwright.output.writer import write_atomic

    model = load_model(model_dir)
    plan = pipeline(model)
    warehouse = url or f"bigquery:{model.warehouse.project}.{model.warehouse.dataset}"
    workdir = str((project_dir or Path.cwd()).resolve())
    options = AirflowOptions(warehouse, workdir, str(model_dir), landing_dir, executable, retries)
    write_atomic(output, render(model, options, plan))
    console = make_console(stderr=True)
    console.print(f"wrote {display_path(output)}: {len(plan.tasks)} tasks in {len(plan.schedules)} DAGs", highlight=False)
    for schedule in plan.schedules.values():
        count = len(plan.in_schedule(schedule.datagroup))
        console.print(f"  {dag_id(options, schedule)}: {schedule.cron}, {count} tasks", highlight=False)
