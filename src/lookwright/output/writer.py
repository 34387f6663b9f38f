"""Write generated files atomically, track them in a manifest, and diff them for `--check`.

Only files listed in a root's manifest are ever deleted, so hand-written files beside
generated ones are safe. The manifest is written last: an interrupted run leaves the old
manifest, and the next run repairs whatever it finds.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

MANIFEST = ".lookwright-manifest.json"


@dataclass(frozen=True)
class OutputFile:
    path: str  # relative to the output root, '/'-separated
    content: str


@dataclass(frozen=True)
class OutputSet:
    """Everything generated under one root directory."""

    root: Path
    files: tuple[OutputFile, ...]
    fingerprint: str


@dataclass(frozen=True)
class WriteResult:
    written: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: int


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def read_manifest(root: Path) -> dict[str, object]:
    try:
        data = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def manifest_files(root: Path) -> dict[str, str]:
    files = read_manifest(root).get("files", {})
    return {str(k): str(v) for k, v in files.items()} if isinstance(files, dict) else {}


def write_atomic(path: Path, text: str, make_parents: bool = True) -> None:
    """Write via a temporary file in the same directory and rename over the target.

    The temporary name is unique per process; files get the usual 0644 (less the umask).
    """
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        handle = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(handle, text.encode("utf-8"))
        finally:
            os.close(handle)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _current(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def _write_if_changed(root: Path, item: OutputFile) -> bool:
    target = root / item.path
    if _current(target) == item.content:
        return False
    write_atomic(target, item.content, make_parents=False)
    return True


@dataclass(frozen=True)
class Written:
    """What writing one file did: its digest, and whether its content changed."""

    path: str
    digest: str
    changed: bool


def write_files(root: Path, files: tuple[OutputFile, ...] | list[OutputFile]) -> list[Written]:
    """Write the files whose content differs from what is on disk (manifest untouched)."""
    for directory in sorted({os.path.dirname(item.path) for item in files}):
        (root / directory).mkdir(parents=True, exist_ok=True)
    return [Written(item.path, digest(item.content), _write_if_changed(root, item)) for item in files]


def manifest_text(files: dict[str, str]) -> str:
    """The manifest as `json.dumps(..., indent=2, sort_keys=True)` would write it, built line by line
    (the indenting encoder is pure Python and slow on thousands of entries).

    It names only the generated files and their digests: the input fingerprint lives in the
    uncommitted stat cache, so a code change never adds a diff line to a committed manifest."""
    rows = ",\n".join(f"    {json.dumps(path)}: {json.dumps(files[path])}" for path in sorted(files))
    body = "{\n" + rows + "\n  }" if rows else "{}"
    return "{\n  \"files\": " + body + ",\n  \"generator\": \"lookwright\"\n}\n"


def finish_set(root: Path, entries: list[Written], fingerprint: str) -> WriteResult:
    """Remove files the previous run generated and this one did not; write the manifest last."""
    previous = manifest_files(root)
    removed = sorted(set(previous) - {entry.path for entry in entries})
    for stale in removed:
        (root / stale).unlink(missing_ok=True)
        _prune_empty_dirs(root, (root / stale).parent)
    write_atomic(root / MANIFEST, manifest_text({entry.path: entry.digest for entry in entries}))
    _write_stat_cache(root, fingerprint, [entry.path for entry in entries])
    written = tuple(sorted(entry.path for entry in entries if entry.changed))
    return WriteResult(written, tuple(removed), len(entries) - len(written))


def write_set(output: OutputSet) -> WriteResult:
    """Bring `output.root` in line with `output.files`; returns what changed."""
    return finish_set(output.root, write_files(output.root, output.files), output.fingerprint)


def _prune_empty_dirs(root: Path, directory: Path) -> None:
    while directory != root and directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()
        directory = directory.parent


def diff_set(output: OutputSet) -> list[str]:
    """Unified diffs between what is on disk and what would be written (empty: up to date)."""
    diffs: list[str] = []
    for item in output.files:
        current = _current(output.root / item.path)
        if current != item.content:
            diffs.append(_diff(output.root / item.path, current or "", item.content))
    for stale in sorted(set(manifest_files(output.root)) - {item.path for item in output.files}):
        current = _current(output.root / stale)
        if current is not None:
            diffs.append(_diff(output.root / stale, current, ""))
    return diffs


def _diff(path: Path, before: str, after: str) -> str:
    lines = difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                 fromfile=f"a/{path}", tofile=f"b/{path}")
    return "".join(lines)


STAT_CACHE = ".lookwright-stat.json"  # not committed: mtimes differ per checkout, the fingerprint per code change


def _stat_key(path: Path) -> list[int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return [info.st_size, info.st_mtime_ns]


def _write_stat_cache(root: Path, fingerprint: str, paths: list[str]) -> None:
    stats = {path: _stat_key(root / path) for path in paths}
    write_atomic(root / STAT_CACHE, json.dumps({"fingerprint": fingerprint, "stats": stats}, sort_keys=True))


def is_fresh(root: Path, fingerprint: str) -> bool:
    """True when the stat cache says `fingerprint` produced this root and no file changed since.

    Files whose size and mtime match the stat cache are trusted; any other file is hashed.
    """
    try:
        cache = json.loads((root / STAT_CACHE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(cache, dict) or cache.get("fingerprint") != fingerprint:
        return False
    stats = cache.get("stats") or {}
    for path, expected in manifest_files(root).items():
        if stats.get(path) is not None and stats.get(path) == _stat_key(root / path):
            continue
        current = _current(root / path)
        if current is None or digest(current) != expected:
            return False
    return True
