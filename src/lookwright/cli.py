"""The `lookwright` command line: the only place exceptions become exit codes and text."""

from __future__ import annotations

import importlib
import importlib.util
import sys

import click

from lookwright.errors import ExitCode, LookwrightError, ModelError
from lookwright.signals import ignore_ctrl_c
from lookwright.version import __version__

# command name -> "module:attribute". Modules are imported only when their command runs,
# so `lookwright generate` never pays for importing duckdb or looker_sdk.
COMMANDS: dict[str, str] = {
    "generate": "lookwright.commands.generate:generate",
    "schema": "lookwright.commands.generate:schema",
    "validate": "lookwright.commands.validate:validate",
    "explain": "lookwright.commands.validate:explain",
    "diff": "lookwright.commands.diff:diff",
    "synth": "lookwright.commands.warehouse:synth",
    "load": "lookwright.commands.warehouse:load",
    "build": "lookwright.commands.build:build",
    "checks": "lookwright.commands.build:checks",
    "demo": "lookwright.commands.build:demo",
    "deploy": "lookwright.commands.looker:deploy",
    "verify": "lookwright.commands.looker:verify",
    "sql": "lookwright.commands.present:sql",
    "suggest": "lookwright.commands.present:suggest",
    "report": "lookwright.commands.present:report",
    "plan": "lookwright.commands.plan:plan",
    "dag": "lookwright.commands.orchestration:dag",
    "snapshot": "lookwright.commands.snapshot:snapshot",
    "restore": "lookwright.commands.snapshot:restore",
}

HELP = """Turn one YAML semantic model into LookML and warehouse SQL, build it, and prove it right.

\b
Exit codes: 0 ok · 1 a check failed (stale output, data quality, validation)
            2 invalid input (the YAML model) · 3 warehouse error · 4 Looker error
            130 interrupted (Ctrl-C)
"""


def _module_exists(target: str) -> bool:
    return importlib.util.find_spec(target.split(":")[0]) is not None


class LazyGroup(click.Group):
    """A click group whose subcommands live in modules loaded on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name, target in COMMANDS.items() if _module_exists(target))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, help=HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lookwright")
def cli() -> None:
    """Root command group."""


def report_error(error: LookwrightError) -> None:
    """Print an error the way a user can act on it (to stderr)."""
    from rich.console import Console  # imported here: rich costs ~60 ms at start-up

    console = Console(stderr=True, soft_wrap=True)
    if isinstance(error, ModelError):
        for diagnostic in error.diagnostics:
            console.print(diagnostic.format(), markup=False, highlight=False)
        console.print(f"error: {error}; nothing was written", markup=False, highlight=False)
        return
    console.print(f"error: {error}", markup=False, highlight=False)


INTERRUPTED = 130


def _interrupted(error: BaseException) -> bool:
    """Ctrl-C, also as DuckDB reports it when the signal lands inside a query ("Query interrupted")."""
    if isinstance(error, KeyboardInterrupt) or type(error).__name__ == "InterruptException":
        return True
    return isinstance(error, RuntimeError) and "interrupted" in str(error).lower()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script."""
    try:
        cli.main(args=argv, prog_name="lookwright", standalone_mode=False)
    except LookwrightError as error:
        if error.__cause__ is not None and _interrupted(error.__cause__):
            _exit_interrupted()
        report_error(error)
        sys.exit(int(error.exit_code))
    except (click.exceptions.Abort, KeyboardInterrupt):
        _exit_interrupted()
    except OSError as error:  # a file the user named cannot be read or written: one line, not a traceback
        where = f" {error.filename}" if error.filename else ""
        print(f"error: cannot access{where}: {error.strerror or error}", file=sys.stderr)
        sys.exit(int(ExitCode.INVALID_INPUT))
    except RuntimeError as error:
        if not _interrupted(error):
            raise
        _exit_interrupted()
    except click.ClickException as error:
        error.show()
        sys.exit(int(ExitCode.INVALID_INPUT))
    except click.exceptions.Exit as exit_:
        sys.exit(exit_.exit_code)
    sys.exit(int(ExitCode.OK))


def _exit_interrupted() -> None:
    ignore_ctrl_c()  # a second press while exiting would end the process by the signal, not with 130
    print("error: interrupted (Ctrl-C)", file=sys.stderr)
    sys.exit(INTERRUPTED)


if __name__ == "__main__":
    main()
