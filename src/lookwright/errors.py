"""The lookwright exception family and the one Issue type every stage reports problems with.

Library code raises these; only the CLI maps them to exit codes and prints them.
"""

from __future__ import annotations

import posixpath
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
class Location:
    """Where an issue is: a file (as the user spells it), a 1-based line, and a column (0: not known)."""

    file: str
    line: int
    col: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}" if self.col else f"{self.file}:{self.line}"


@dataclass(frozen=True, order=True)
class Issue:
    """One problem a stage found, located to file:line[:col]: the one type every check reports.

    `code` is an LW code (YAML model), an LKML code (LookML) or the name of a check (`sql`);
    `subject` names what the problem is about when the message alone does not (`view.field`).
    """

    location: Location
    code: str
    message: str
    hint: str = ""
    severity: str = "error"  # error | warning | info
    subject: str = ""

    @property
    def file(self) -> str:
        return self.location.file

    @property
    def line(self) -> int:
        return self.location.line

    @property
    def col(self) -> int:
        return self.location.col

    def format(self) -> str:
        """`file:line[:col]: severity[code]: [subject: ]message`, then the hint on its own line."""
        subject = f"{self.subject}: " if self.subject else ""
        text = f"{self.location}: {self.severity}[{self.code}]: {subject}{self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def github(self, prefix: str = "") -> str:
        """A GitHub Actions workflow command; `prefix` makes the path repository-relative."""
        level = "notice" if self.severity == "info" else self.severity
        file = _escape_property(posixpath.join(prefix, self.file) if prefix else self.file)
        message = _escape_data(self.message)
        return f"::{level} file={file},line={self.line},title={self.code}::{message}"


def issue(file: str, line: int, col: int, code: str, message: str, hint: str = "", severity: str = "error") -> Issue:
    """An Issue from its parts, in the order a location reads."""
    return Issue(Location(file, line, col), code, message, hint, severity)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


class LookwrightError(Exception):
    """Base of every error lookwright raises on purpose."""

    exit_code: ExitCode = ExitCode.INTERNAL


class ModelError(LookwrightError):
    """The semantic model is invalid; carries every diagnostic found in one run."""

    exit_code = ExitCode.INVALID_INPUT

    def __init__(self, diagnostics: list[Issue]) -> None:
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
