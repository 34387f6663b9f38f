"""The options every command that takes a warehouse shares: the model folder, the URL and how to reach BigQuery."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from lookwright.paths import DEFAULT_MODEL_DIR
from lookwright.warehouse import DEFAULT_TIMEOUT_S, ConnectOptions
from lookwright.warehouse.duckdb import DEFAULT_WAREHOUSE_PATH

F = TypeVar("F", bound=Callable[..., Any])
MODEL_OPTION = click.option("--model", "model_dir", type=click.Path(path_type=Path),
                            default=DEFAULT_MODEL_DIR, show_default=True,
                            help="Folder of the YAML semantic model.")
URL_HELP = ("duckdb:PATH, or bigquery:PROJECT.DATASET[@http://HOST:PORT] (everything is built there;"
            " the endpoint is an emulator's)")
JOB_TIMEOUT = "lookwright.job_timeout"  # click context meta key of --job-timeout
CHECK_HELP = ("The built warehouse to check: duckdb:PATH (it must exist), or bigquery:PROJECT.DATASET"
              "[@http://HOST:PORT]")


def warehouse_options(default: str | None = f"duckdb:{DEFAULT_WAREHOUSE_PATH}",
                      required: bool = False, name: str = "url", help_text: str = URL_HELP) -> Callable[[F], F]:
    """--warehouse plus --location, --credentials, --maximum-bytes-billed and --job-timeout (BigQuery only)."""
    def decorate(function: F) -> F:
        options = [
            click.option("--warehouse", name, default=default, required=required,
                         show_default=default is not None, help=help_text),
            click.option("--location", default=None,
                         help="BigQuery: where jobs run (default: the dataset's location)."),
            click.option("--credentials", "credentials_file", default=None,
                         type=click.Path(exists=True, dir_okay=False, path_type=Path),
                         help="BigQuery: a service-account key file (default: application default credentials)."),
            click.option("--maximum-bytes-billed", type=click.IntRange(min=1), default=None,
                         help="BigQuery: fail any job that would bill more bytes than this."),
            click.option("--job-timeout", type=click.FloatRange(min=1), default=None, metavar="SECONDS",
                         expose_value=False, callback=_remember_timeout,
                         help=f"BigQuery: cancel a job still running after this many seconds, and fail"
                              f" (exit 3)  [default: {DEFAULT_TIMEOUT_S:g}]"),
        ]
        for option in reversed(options):
            function = option(function)
        return function
    return decorate


def _remember_timeout(ctx: click.Context, _: click.Parameter, value: float | None) -> None:
    """--job-timeout is read by connect_options, so commands need no parameter of their own for it."""
    if value is not None:
        ctx.meta[JOB_TIMEOUT] = value


def connect_options(location: str | None, credentials_file: Path | None,
                    maximum_bytes_billed: int | None) -> ConnectOptions:
    context = click.get_current_context()
    command = context.command_path.removeprefix("lookwright ").replace(" ", "-")
    timeout_s = float(context.meta.get(JOB_TIMEOUT, DEFAULT_TIMEOUT_S))
    return ConnectOptions(location, credentials_file, maximum_bytes_billed, command or "lookwright", timeout_s)
