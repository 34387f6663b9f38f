"""Acceptance harness: `lookwright validate lookml` on real LookML projects.

Usage: python bench/lookml_corpus.py DIR... [--project NAME=DIR] [--json OUT] [--findings]

Each DIR is a LookML project when it holds a `manifest.lkml` or a `.lkml` file of its own;
otherwise each of its sub-folders holding LookML is one project. Every project is measured in
fresh child processes (one at a time, so peak memory is the child's own):
  - baseline: `lkml.load` alone parsing every `.lkml` file validation reads (the project's and
    those of the imported projects it loads; in-child time, files read beforehand);
  - cold: validation with an empty parse cache; warm: the same again, cache filled.
It prints findings by code, the times, the ratio cold/baseline and warm/baseline, the peak
resident memory of each child, and crashes (a child that exits non-zero or prints a traceback).
`--project NAME=DIR` loads an imported project (manifest `local_dependency`/`remote_dependency`)
from DIR for every project that imports NAME. `--json OUT` writes every finding per project.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

SKIP_DIRS = {".git", "imported_projects", "node_modules"}


def lookml_files(root: Path) -> list[Path]:
    files: list[Path] = []
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d not in SKIP_DIRS)
        files.extend(Path(directory) / n for n in sorted(names) if n.endswith(".lkml"))
    return files


def projects(folder: Path) -> list[Path]:
    own = (folder / "manifest.lkml").is_file() or any(folder.glob("*.lkml"))
    if own:
        return [folder]
    return [child for child in sorted(folder.iterdir())
            if child.is_dir() and child.name not in SKIP_DIRS and lookml_files(child)]


# --------------------------------------------------------------------------- children


def imported_dirs(root: Path, imports: dict[str, Path]) -> list[Path]:
    """The imported projects validation loads for `root` (its manifest's dependencies)."""
    try:
        from lookwright.lookml.project import (
            LkmlFile,
            imported_project_dirs,
            parse_file,
            read_manifest,
        )
    except ImportError:  # the validator before imported projects existed (baseline runs)
        return []
    manifest_path = root / "manifest.lkml"
    parsed = parse_file(manifest_path.read_text(), "manifest.lkml") if manifest_path.is_file() \
        else None
    manifest = read_manifest(parsed if isinstance(parsed, LkmlFile) else None)
    return list(imported_project_dirs(root, manifest, imports, []).values())


def child_parse(root: Path, imports: dict[str, Path]) -> dict[str, Any]:
    """lkml.load on every file validation reads: the project's and its imported projects'."""
    import lkml

    files = [path for folder in (root, *imported_dirs(root, imports))
             for path in lookml_files(folder)]
    texts = [path.read_text(encoding="utf-8", errors="replace") for path in files]
    started = time.perf_counter()
    failures = 0
    for text in texts:
        try:
            lkml.load(text)
        except Exception:  # noqa: BLE001 - lkml raises several types on bad input
            failures += 1
    return {"seconds": time.perf_counter() - started, "files": len(files), "failures": failures}


def child_validate(root: Path, imports: dict[str, Path]) -> dict[str, Any]:
    import inspect

    from lookwright.lookml.validator import validate_lookml

    started = time.perf_counter()
    if "projects" in inspect.signature(validate_lookml).parameters:
        findings = validate_lookml(root, projects=imports)  # type: ignore[call-arg]
    else:  # the validator before imported projects existed (baseline runs)
        findings = validate_lookml(root)
    seconds = time.perf_counter() - started
    return {"seconds": seconds,
            "findings": [[f.file, f.line, f.severity, f.code, f.message] for f in findings]}


def _peak_mb(usage: Any) -> float | None:
    return usage.ru_maxrss / 1024 if usage is not None else None


class _Popen(subprocess.Popen[bytes]):
    """Popen that reaps the child with wait4 so its own rusage is kept."""

    rusage: Any = None

    def _try_wait(self, wait_flags: int) -> tuple[int, int]:
        pid, status, self.rusage = os.wait4(self.pid, wait_flags)
        return pid, status


def measure(kind: str, root: Path, imports: dict[str, Path], env: dict[str, str]) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", kind, str(root)]
    for name, path in imports.items():
        command += ["--project", f"{name}={path}"]
    started = time.perf_counter()
    with _Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) as process:
        stdout, stderr = process.communicate()
    result: dict[str, Any] = {"wall": time.perf_counter() - started,
                              "peak_mb": _peak_mb(process.rusage)}
    text = stderr.decode(errors="replace").strip()
    if process.returncode != 0 or "Traceback" in text:
        result["crash"] = text.splitlines()[-1] if text else f"exit {process.returncode}"
        return result
    result.update(json.loads(stdout))
    return result


# --------------------------------------------------------------------------- report


def _seconds(result: dict[str, Any]) -> str:
    return f"{result['seconds']:.2f}" if "seconds" in result else "-"


def _mb(result: dict[str, Any]) -> str:
    return f"{result['peak_mb']:.0f}" if result.get("peak_mb") is not None else "-"


def _ratio(result: dict[str, Any], base: dict[str, Any]) -> str:
    if "seconds" not in result or not base.get("seconds"):
        return "-"
    return f"{result['seconds'] / base['seconds']:.2f}x"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+", type=Path)
    parser.add_argument("--project", action="append", default=[], metavar="NAME=DIR",
                        help="imported project NAME lives in DIR (repeatable)")
    parser.add_argument("--json", type=Path, help="write every finding per project here")
    parser.add_argument("--findings", action="store_true", help="print every finding")
    parser.add_argument("--child", choices=["parse", "validate"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    imports = {}
    for value in args.project:
        name, _, path = value.partition("=")
        imports[name] = Path(path).resolve()
    if args.child:
        root = args.dirs[0]
        result = (child_parse(root, imports) if args.child == "parse"
                  else child_validate(root, imports))
        print(json.dumps(result))
        return 0
    roots = [project for folder in args.dirs for project in projects(folder.resolve())]
    totals: Counter[str] = Counter()
    crashes: list[str] = []
    dump: dict[str, Any] = {}
    print(f"{'project':34} {'files':>5} {'err':>5} {'warn':>5} {'info':>5} {'lkml.load':>9} "
          f"{'cold':>6} {'ratio':>6} {'warm':>6} {'ratio':>6} {'MB load':>7} {'MB cold':>7}")
    with tempfile.TemporaryDirectory(prefix="lookwright-bench-") as cache:
        for root in roots:
            env = dict(os.environ, XDG_CACHE_HOME=str(Path(cache) / root.name))
            base = measure("parse", root, imports, env)
            cold = measure("validate", root, imports, env)
            warm = measure("validate", root, imports, env)
            findings = cold.get("findings", [])
            severities = Counter(f[2] for f in findings)
            totals.update(f[3] for f in findings)
            for label, result in (("parse", base), ("cold", cold), ("warm", warm)):
                if "crash" in result:
                    crashes.append(f"{root.name} ({label}): {result['crash']}")
            print(f"{root.name[:34]:34} {base.get('files', 0):5} {severities['error']:5} "
                  f"{severities['warning']:5} {severities['info']:5} {_seconds(base):>9} "
                  f"{_seconds(cold):>6} {_ratio(cold, base):>6} {_seconds(warm):>6} "
                  f"{_ratio(warm, base):>6} {_mb(base):>7} {_mb(cold):>7}", flush=True)
            if args.findings:
                for file, line, severity, code, message in findings:
                    print(f"    {file}:{line}: {severity}[{code}]: {message}")
            dump[root.name] = {"root": str(root), "baseline": base,
                               "cold": {k: v for k, v in cold.items() if k != "findings"},
                               "warm": {k: v for k, v in warm.items() if k != "findings"},
                               "findings": findings}
    print(f"\nfindings by code ({sum(totals.values())} in {len(roots)} projects):")
    for code, count in sorted(totals.items()):
        print(f"  {code}: {count}")
    print(f"crashes: {len(crashes)}")
    for crash in crashes:
        print(f"  {crash}")
    if args.json:
        args.json.write_text(json.dumps(dump, indent=1))
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
