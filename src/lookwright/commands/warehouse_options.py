"""The options every command that takes a warehouse shares: the model folder, the URL and how to reach BigQuery."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from lookwright.paths import DEFAULT_MODEL_DIR
from lookwright.warehouse import ConnectOptions
from lookwright.warehouse.duckdb import DEFAULT_WAREHOUSE_PATH

F = TypeVar("F", bound=Callable[..., Any])
MODEL_OPTION = click.option("--model", "model_dir", type=click.Path(path_type=Path),
                            default=DEFAULT_MODEL_DIR, show_default=True,
                            help="Folder of the YAML semantic model.")
URL_HELP = ("duckdb:PATH, or bigquery:PROJECT.DATASET[@http://HOST:PORT] (everything is built there;"
            " the endpoint is an emulator's)")
CHECK_HELP = ("The built warehouse to check: duckdb:PATH (it must exist), or bigquery:PROJECT.DATASET"
              "[@http://HOST:PORT]")


def warehouse_options(default: str | None = f"duckdb:{DEFAULT_WAREHOUSE_PATH}",
                      required: bool = False, name: str = "url", help_text: str = URL_HELP) -> Callable[[F], F]:
    """--warehouse plus --location, --credentials and --maximum-bytes-billed (BigQuery only)."""
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
        ]
        for option in reversed(options):
            function = option(function)
        return function
    return decorate


def connect_options(location: str | None, credentials_file: Path | None,
                    maximum_bytes_billed: int | None) -> ConnectOptions:
    command = click.get_current_context().command_path.removeprefix("lookwright ").replace(" ", "-")
    return ConnectOptions(location, credentials_file, maximum_bytes_billed, command or "lookwright")
