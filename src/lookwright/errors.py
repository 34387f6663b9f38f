"""The lookwright exception family and the diagnostics it carries.

Library code raises these; only the CLI maps them to exit codes and prints them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    CHECK_FAILED = 1  # stale output, failing data-quality check, validation findings
    INVALID_INPUT = 2  # the YAML model (or another input) is invalid
    WAREHOUSE = 3
    LOOKER = 4
    INTERNAL = 70


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem found in an input file, located to file:line:col."""

    file: str
    line: int
    col: int
    code: str
    message: str
    hint: str = ""
    severity: str = "error"

    def format(self) -> str:
        text = f"{self.file}:{self.line}:{self.col}: {self.severity}[{self.code}]: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class LookwrightError(Exception):
    """Base of every error lookwright raises on purpose."""

    exit_code: ExitCode = ExitCode.INTERNAL


class ModelError(LookwrightError):
    """The semantic model is invalid; carries every diagnostic found in one run."""

    exit_code = ExitCode.INVALID_INPUT

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics)
        count = len(self.diagnostics)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in the semantic model")


class InputError(LookwrightError):
    """A non-model input (source file, option, path) is unusable."""

    exit_code = ExitCode.INVALID_INPUT


class CheckFailed(LookwrightError):
    """A check ran and failed: stale output, data quality, validation findings."""

    exit_code = ExitCode.CHECK_FAILED


class WarehouseError(LookwrightError):
    """The warehouse rejected a statement or is unreachable."""

    exit_code = ExitCode.WAREHOUSE


class LookerError(LookwrightError):
    """A Looker API step failed; the message names the step and endpoint."""

    exit_code = ExitCode.LOOKER
