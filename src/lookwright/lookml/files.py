"""Read and parse a project's LookML files: a content-hash cache between runs, two processes.

Each file's parse (the plain tuples of `lex`, or the syntax problem lkml reports) is stored
under the hash of its bytes in `$LOOKWRIGHT_CACHE_DIR`, else `$XDG_CACHE_HOME/lookwright`, else
`~/.cache/lookwright` (`LOOKWRIGHT_NO_CACHE=1` turns it off; the folder may be deleted at any
time). Files missing from the cache are parsed in this process and, when there are enough of
them, in one forked helper process at the same time.

The fast parser (`lex`) is tried first; what it does not handle goes to the caller's `Fallback`
(`project` passes lkml's parser), so this module sits below `project` and imports nothing of it.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import lkml

from lookwright.lookml import lex

CACHE_VERSION = f"1-{lkml.__version__ if hasattr(lkml, '__version__') else '1.3.7'}"
# Forking pays off from about this much work (measured: a fork costs ~20 ms).
PARALLEL_MIN_FILES = 48
PARALLEL_MIN_BYTES = 512 * 1024
# A record: ("ok", raw nodes) or ("problem", line, message).
Record = tuple[Any, ...]
# (text, path) -> record, for a file the fast parser does not handle.
Fallback = Callable[[str, str], Record]


def cache_dir() -> Path | None:
    if os.environ.get("LOOKWRIGHT_NO_CACHE"):
        return None
    explicit = os.environ.get("LOOKWRIGHT_CACHE_DIR")
    if explicit:
        return Path(explicit) / f"lookml-{CACHE_VERSION}"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lookwright" / f"lookml-{CACHE_VERSION}"


def _key(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _cached_blob(directory: Path | None, key: str) -> bytes | None:
    if directory is None:
        return None
    try:
        return (directory / key[:2] / key).read_bytes()  # checked when decoded
    except OSError:
        return None


def _store(directory: Path | None, key: str, blob: bytes) -> None:
    if directory is None:
        return
    target = directory / key[:2] / key
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        with os.fdopen(handle, "wb") as stream:
            stream.write(blob)
        os.replace(temporary, target)
    except OSError:
        return  # a read-only or full cache only costs speed


def parse_record(data: bytes, path: str, fallback: Fallback) -> Record:
    """Parse one file's bytes into a cacheable record (fast parser, `fallback` for the rest)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        return ("problem", 1, f"Syntax error: not UTF-8 text ({error.reason})")
    try:
        return ("ok", lex.parse(text))
    except lex.Unsupported:
        return fallback(text, path)


def _parse_all(items: Sequence[tuple[str, bytes]], fallback: Fallback) -> list[bytes]:
    return [marshal.dumps(parse_record(data, path, fallback)) for path, data in items]


def _halves(items: list[tuple[str, bytes]]) -> tuple[list[tuple[str, bytes]],
                                                     list[tuple[str, bytes]]]:
    """Split work into two shares of about equal size (largest files first)."""
    shares: tuple[list[tuple[str, bytes]], list[tuple[str, bytes]]] = ([], [])
    sizes = [0, 0]
    for item in sorted(items, key=lambda entry: len(entry[1]), reverse=True):
        index = 0 if sizes[0] <= sizes[1] else 1
        shares[index].append(item)
        sizes[index] += len(item[1])
    return shares


def _parse_missing(items: list[tuple[str, bytes]], fallback: Fallback) -> dict[str, bytes]:
    """Path -> marshalled record of each item, parsed here and (for many) in a helper too."""
    from lookwright.output.parallel import Background, can_fork

    total = sum(len(data) for _, data in items)
    if not can_fork() or len(items) < PARALLEL_MIN_FILES or total < PARALLEL_MIN_BYTES:
        return {path: marshal.dumps(parse_record(data, path, fallback)) for path, data in items}
    mine, theirs = _halves(items)
    helper = Background(lambda: _parse_all(theirs, fallback))
    try:
        blobs = {path: marshal.dumps(parse_record(data, path, fallback)) for path, data in mine}
    finally:
        encoded = helper.result()
    blobs.update((path, blob) for (path, _), blob in zip(theirs, encoded, strict=True))
    return blobs


def parse_records(entries: Iterable[tuple[str, Path]], fallback: Fallback) -> dict[str, bytes]:
    """Path -> marshalled record (`decode` it) of every `.lkml` file of `entries`, from the
    cache where it can. Records stay marshalled until used, which keeps peak memory at about
    one file's tuples beside the project's nodes."""
    directory = cache_dir()
    blobs: dict[str, bytes] = {}
    missing: list[tuple[str, bytes]] = []
    keys: dict[str, str] = {}
    for relative, path in entries:
        if not relative.endswith(".lkml"):
            continue
        try:
            data = path.read_bytes()
        except OSError as error:
            problem = ("problem", 1, f"Syntax error: cannot read the file ({error})")
            blobs[relative] = marshal.dumps(problem)
            continue
        key = keys[relative] = _key(data)
        blob = _cached_blob(directory, key)
        if blob is None:
            missing.append((relative, data))
        else:
            blobs[relative] = blob
    parsed = _parse_missing(missing, fallback)
    for relative, blob in parsed.items():
        _store(directory, keys[relative], blob)
    blobs.update(parsed)
    return blobs


def decode(blob: bytes) -> Record | None:
    """A record from `parse_records`; None if the bytes are not one (a damaged cache entry)."""
    try:
        record = marshal.loads(blob)
    except (ValueError, EOFError, TypeError):
        return None
    return record if isinstance(record, tuple) and record and record[0] in ("ok", "problem") \
        else None
