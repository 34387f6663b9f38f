"""A fresh clone with nothing beside it has everything `make test` needs (issue 9, item 1)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# "../shared", ".." / "shared", parent / "shared", parents[2] / "shared", ROOT.parent / "shared"
OUTSIDE = re.compile(r"""\.\./shared|["']\.\.["']\s*/\s*["']shared|parents?\b(\[\d+\])?\s*/\s*["']shared""")


def _tracked(*patterns: str) -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z", "--", *patterns], cwd=ROOT, capture_output=True, check=True)
    return [ROOT / name for name in out.stdout.decode().split("\0") if name]


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="needs the git checkout")
def test_no_test_make_or_source_file_reaches_outside_the_repository() -> None:
    files = _tracked("Makefile", ".ci", "pyproject.toml", "src", "tests", "bench")
    names = {path.relative_to(ROOT).as_posix() for path in files}
    assert {"Makefile", ".ci/run", "pyproject.toml", "src/lookwright/cli.py", "tests/conftest.py"} <= names  # the scan sees them
    offenders = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
                 for path in files if path.suffix not in (".gz", ".duckdb", ".parquet", ".md") and path != Path(__file__)
                 for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
                 if OUTSIDE.search(line)]
    assert offenders == []


def test_the_pattern_catches_each_spelling() -> None:
    for line in ('p = "../shared/x"', 'ROOT / ".." / "shared"', 'ROOT.parent / "shared"',
                 "Path(__file__).parents[2] / 'shared'"):
        assert OUTSIDE.search(line), line
    assert not OUTSIDE.search('shared = render_lookml(model, shared=True)')


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs git")
def test_a_clone_alone_in_a_folder_serves_the_looker_spec_and_plans_make_test(tmp_path: Path) -> None:
    """Clone the committed HEAD where nothing is beside it; the fake Looker's spec loads from the clone."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone)], check=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clone"]
    probe = ("import sys; sys.path.insert(0, 'tests'); from fakes.oas import SPEC_PATH, LookerSpec; "
             "spec = LookerSpec(); print(SPEC_PATH.relative_to(__import__('pathlib').Path.cwd()), "
             "spec.base_path, len(spec.operations) > 400)")
    done = subprocess.run([sys.executable, "-c", probe], cwd=clone, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["tests/fakes/Looker.4.0.oas.json.gz", "/api/4.0", "True"]
    plan = subprocess.run(["make", "-n", "test"], cwd=clone, capture_output=True, text=True, timeout=60, check=False)
    assert plan.returncode == 0, plan.stderr
    assert "shared" not in plan.stdout and "pytest" in plan.stdout


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="needs the git checkout")
def test_gitignore_lists_no_committed_file() -> None:
    ignored = subprocess.run(["git", "ls-files", "-ci", "--exclude-standard"], cwd=ROOT, capture_output=True,
                             text=True, check=True)
    assert ignored.stdout.splitlines() == []
