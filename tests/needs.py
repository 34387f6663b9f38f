"""A test that needs something absent: skipped (with its reason) on a developer's machine, failed in CI."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    """CI runs set CI=true; there every missing prerequisite is an error, never a skip."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(reason: str) -> NoReturn:
    """Skip (printed by -rs) outside CI; fail in CI, so nothing a test needs can go missing unnoticed."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a missing prerequisite fails instead of skipping)", pytrace=False)
    pytest.skip(reason)
