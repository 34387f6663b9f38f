"""Click commands, one module per command family; imported lazily by the CLI."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # rich costs ~50 ms to import; `lookwright generate` with nothing to do never needs it
    from rich.console import Console

PIPE_WIDTH = 160  # rich assumes 80 columns when output is not a terminal; CI logs deserve whole names


def console(stderr: bool = False, **options: object) -> Console:
    """A rich console for command output: terminal width on a terminal, PIPE_WIDTH otherwise."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else PIPE_WIDTH
    return Console(stderr=stderr, width=width, **options)  # type: ignore[arg-type]


def plain_console(stderr: bool = False) -> Console:
    """`console` that prints text as it is: no markup, highlighting or emoji codes (for findings and JSON)."""
    return console(stderr=stderr, soft_wrap=True, highlight=False, markup=False, emoji=False)



def parse_filters(values: tuple[str, ...]) -> dict[str, str]:
    """Repeated `--filters FIELD=EXPRESSION` options as {field: Looker filter expression}."""
    from lookwright.errors import InputError

    filters: dict[str, str] = {}
    for value in values:
        name, separator, expression = value.partition("=")
        if not separator or not name.strip():
            raise InputError(f"--filters expects FIELD=EXPRESSION, got {value!r}")
        filters[name.strip()] = expression
    return filters
