"""Plant each bug of issue 14's audit in a scratch copy of the project and check that a test fails.

    .venv/bin/python bench/planted_bugs.py          # prints the table recorded in bench/README.md

Each bug is one textual edit of one source file (the edit must apply exactly once); the scratch
copy's tests run against the scratch copy's src (PYTHONPATH), first unplanted (must pass), then planted
(must fail). Nothing of lookwright's is mocked: the tests are the project's own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPIED = ("src", "tests", "semantic", "templates", "generated_lookml", "sql", "pyproject.toml")


@dataclass(frozen=True)
class Bug:
    what: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]


BUGS = (
    Bug("the deploy never reports a disagreement between Looker's aggregate choice and ours",
        "src/lookwright/looker/deploy.py", "        if looker != expected:", "        if False:",
        ("tests/test_deploy.py", "-k", "aggregate_table or time_zone")),
    Bug("secret scrubbing skips bearer tokens", "src/lookwright/looker/client.py",
        "sorted({*self._secrets, *self.transport.record.tokens}", "sorted({*self._secrets}",
        ("tests/test_deploy.py", "-k", "scrubbed")),
    Bug("`write_atomic` writes the target in place", "src/lookwright/output/writer.py",
        "    temp = path.with_name(f\".{path.name}.{os.getpid()}.tmp\")\n",
        "    path.write_text(text, encoding=\"utf-8\")\n    return\n    temp = path\n",
        ("tests/test_writer.py",)),
    Bug("the per-request timeout is ignored", "src/lookwright/looker/client.py",
        "timeout = options.get(\"timeout\") or self.policy.timeout or self.settings.timeout", "timeout = None",
        ("tests/test_deploy.py", "-k", "hanging")),
    Bug("the \"Did not use …; time zone\" reason dropped (deploy tests)", "src/lookwright/lookml/aggregates.py",
        "if _uses_time(query) and query_tz != table_tz:", "if False:",
        ("tests/test_deploy.py", "-k", "time_zone")),
    Bug("rollups always rebuilt in full (demo's incremental test)", "src/lookwright/warehouse/build.py",
        "    if newest is None:\n        return None\n    return newest - rollup.increment_offset",
        "    if True:\n        return None\n    return newest - rollup.increment_offset",
        ("tests/test_demo.py", "-k", "incremental")),
)


def run_tests(scratch: Path, tests: tuple[str, ...]) -> tuple[bool, str]:
    env = {**os.environ, "PYTHONPATH": str(scratch / "src")}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
                          cwd=scratch, env=env, capture_output=True, text=True, check=False, timeout=900)
    out = done.stdout.splitlines()
    lines = [line for line in out if line.startswith("FAILED")] or [line for line in out if " passed" in line]
    return done.returncode == 0, (lines[0] if lines else done.stdout[-300:]).strip()


def main() -> int:
    print("| planted bug | caught? | by |")
    print("|---|---|---|")
    missed = 0
    with tempfile.TemporaryDirectory(prefix="lookwright-planted-") as tmp:
        for bug in BUGS:
            scratch = Path(tmp) / "copy"
            shutil.rmtree(scratch, ignore_errors=True)
            for name in COPIED:
                source = ROOT / name
                if source.is_dir():
                    shutil.copytree(source, scratch / name, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy2(source, scratch / name)
            clean, detail = run_tests(scratch, bug.tests)
            if not clean:
                print(f"| {bug.what} | baseline fails: {detail} | |")
                missed += 1
                continue
            target = scratch / bug.file
            text = target.read_text()
            if text.count(bug.old) != 1:
                print(f"| {bug.what} | edit does not apply to {bug.file} | |")
                missed += 1
                continue
            target.write_text(text.replace(bug.old, bug.new))
            started = time.monotonic()
            passed, detail = run_tests(scratch, bug.tests)
            caught = "no" if passed else f"**yes** ({time.monotonic() - started:.0f} s)"
            missed += passed
            print(f"| {bug.what} | {caught} | `{detail.removeprefix('FAILED ')[:110]}` |", flush=True)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
