"""Click commands, one module per command family; imported lazily by the CLI."""

from __future__ import annotations

import sys

from rich.console import Console

PIPE_WIDTH = 160  # rich assumes 80 columns when output is not a terminal; CI logs deserve whole names


def console(stderr: bool = False, **options: object) -> Console:
    """A rich console for command output: terminal width on a terminal, PIPE_WIDTH otherwise."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else PIPE_WIDTH
    return Console(stderr=stderr, width=width, **options)  # type: ignore[arg-type]
