"""Load `semantic/*.yml` files: parse YAML, check each file against the schema, keep locations.

Parsing goes through rapidyaml (C++) to JSON and straight into pydantic, which is ~10x faster than
PyYAML's C loader. Exact line/column locations are only needed when something is wrong, so the
PyYAML node tree (which carries marks) is built lazily, on the first diagnostic of a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pydantic
import ryml  # type: ignore[import-untyped]
import yaml

from lookwright.errors import Issue, issue
from lookwright.model.schema import SemanticFile
from lookwright.paths import discover, display_path

__all__ = ["SourceFile", "discover", "duplicate_key_diagnostics", "load_files", "parse_file"]

Path_ = tuple[str | int, ...]
# a top-level section key, or `- name: X` as a direct item of a section (indent 0-2)
_ENTITY_OR_SECTION = re.compile(
    r"^(?:(?P<section>[a-z_]+):|[ ]{0,2}- name: *['\"]?(?P<name>[A-Za-z0-9_]+)['\"]? *(?:#.*)?$)", re.MULTILINE)


@dataclass(frozen=True)
class Location:
    line: int
    col: int


@dataclass(eq=False)
class SourceFile:
    """One YAML file of the model: its text, parsed content and a lazy location index."""

    path: str
    text: str
    model: SemanticFile | None = None
    diagnostics: list[Issue] = field(default_factory=list)

    @cached_property
    def entity_lines(self) -> dict[tuple[str, str], int]:
        """(section, name) -> line of `- name: X` for the top-level entities of each section."""
        lines: dict[tuple[str, str], int] = {}
        section, line, scanned = "", 1, 0
        for match in _ENTITY_OR_SECTION.finditer(self.text):
            line += self.text.count("\n", scanned, match.start())
            scanned = match.start()
            if match.group("section"):
                section = match.group("section")
            else:
                lines.setdefault((section, match.group("name")), line)
        return lines

    @cached_property
    def _locations(self) -> dict[Path_, Location]:
        try:
            root = yaml.compose(self.text, Loader=_LOADER)
        except yaml.YAMLError:
            return {}
        index: dict[Path_, Location] = {}
        if root is not None:
            _index_node(root, (), index)
        return index

    def locate(self, path: Path_) -> Location:
        """The location of the deepest existing prefix of `path` (1-based line and column)."""
        index = self._locations
        for end in range(len(path), -1, -1):
            found = index.get(path[:end])
            if found is not None:
                return found
        return Location(1, 1)

    def diagnostic(self, path: Path_, code: str, message: str, hint: str = "") -> Issue:
        where = self.locate(path)
        return issue(self.path, where.line, where.col, code, message, hint)


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _index_node(node: yaml.Node, path: Path_, index: dict[Path_, Location]) -> None:
    index[path] = Location(node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            _index_node(value_node, (*path, key), index)
            # a key's own position is more useful than its value's for "unknown key" errors
            index[(*path, key)] = Location(key_node.start_mark.line + 1, key_node.start_mark.column + 1)
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            _index_node(item, (*path, position), index)


def parse_file(path: Path, text: str, cwd: str | None = None, check_duplicates: bool = True) -> SourceFile:
    """Parse one file; problems are recorded on the returned SourceFile, never raised.

    `check_duplicates=False` skips the repeated-key check (the caller runs
    `duplicate_key_diagnostics` itself, e.g. concurrently).
    """
    source = SourceFile(display_path(path, cwd), text)
    payload = _yaml_to_json(source)
    if payload is None:
        return source
    if check_duplicates and _has_duplicate_keys(payload):
        source.diagnostics.extend(_duplicate_key_diagnostics(source))
        return source
    try:
        source.model = SemanticFile.model_validate_json(payload)
    except pydantic.ValidationError as error:
        source.diagnostics.extend(_schema_diagnostics(source, error))
    return source


def _has_duplicate_keys(payload: str) -> bool:
    try:
        json.loads(payload, object_pairs_hook=_refuse_duplicate_keys)
    except _DuplicateKey:
        return True
    return False


def duplicate_key_diagnostics(paths: list[Path]) -> list[Issue]:
    """Every repeated mapping key in these files (files with syntax errors are skipped)."""
    cwd = os.getcwd()
    found: list[Issue] = []
    with _quiet_stderr():
        for path in paths:
            source = SourceFile(display_path(path, cwd), path.read_text(encoding="utf-8"))
            payload = _yaml_to_json(source)
            if payload is not None and _has_duplicate_keys(payload):
                found.extend(_duplicate_key_diagnostics(source))
    return found


class _DuplicateKey(Exception):
    """A mapping repeats a key; YAML parsers would silently keep only the last value."""


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    mapping = dict(pairs)
    if len(mapping) != len(pairs):
        raise _DuplicateKey
    return mapping


def _duplicate_key_diagnostics(source: SourceFile) -> Iterator[Issue]:
    """Locate every repeated key with PyYAML's node tree (which keeps duplicates and their marks)."""
    root = yaml.compose(source.text, Loader=_LOADER)
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in node.value:
                key = str(key_node.value)
                if key in seen:
                    yield issue(source.path, key_node.start_mark.line + 1, key_node.start_mark.column + 1,
                                     "LW106", f"duplicate key '{key}' (first at line {seen[key]})",
                                     "YAML would silently keep only the last value; remove one of them")
                else:
                    seen[key] = key_node.start_mark.line + 1
                stack.append(value_node)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def _yaml_to_json(source: SourceFile) -> str | None:
    """Fast YAML -> JSON text; on a syntax error, record PyYAML's located message instead."""
    syntax_error = _syntax_error(source) if _looks_risky(source.text) else None
    if syntax_error is None:
        try:
            tree = ryml.parse_in_arena(source.text.encode())
            if "&" in source.text:
                tree.resolve()  # expand anchors, aliases and `<<:` merge keys before emitting JSON
            text = ryml.emit_json(tree)
            return text if text.strip() else "{}"
        except (ryml.ExceptionBasic, RuntimeError):
            # PyYAML gives the readable, located message
            syntax_error = _syntax_error(source)
    source.diagnostics.append(syntax_error or source.diagnostic((), "LW100", "invalid YAML"))
    return None


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """rapidyaml's C++ error handler prints to fd 2 before raising; keep that off the terminal."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _looks_risky(text: str) -> bool:
    """Constructs rapidyaml and PyYAML disagree on; such files are checked by PyYAML first."""
    return "&" in text or "<<:" in text or "\t" in text


def _syntax_error(source: SourceFile) -> Issue | None:
    try:
        for _ in yaml.parse(source.text, Loader=_LOADER):
            pass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = f"YAML syntax error: {error.problem or error.context}"
        if error.context and error.context_mark is not None and error.problem:
            message += f" ({error.context} started at line {error.context_mark.line + 1})"
        return issue(source.path, line, col, "LW100", message,
                          "check indentation and quoting around this line")
    return None


def _schema_diagnostics(source: SourceFile, error: pydantic.ValidationError) -> Iterator[Issue]:
    for item in error.errors():
        path = tuple(part for part in item["loc"] if isinstance(part, (str, int)))
        yield _schema_diagnostic(source, path, item)


def _schema_diagnostic(source: SourceFile, path: Path_, item: Any) -> Issue:
    kind = item["type"]
    dotted = f"'{path[-1]}' in {_parent(path)}" if path else "the file"  # the line:col shows which one
    if kind == "extra_forbidden":
        key = str(path[-1])
        return source.diagnostic(path, "LW101", f"unknown key '{key}' in {_parent(path)}",
                                 _suggest(key, item))
    if kind == "missing":
        return source.diagnostic(path[:-1], "LW102", f"missing required key '{path[-1]}' in {_parent(path)}")
    if kind in ("literal_error", "enum"):
        expected = str(item.get("ctx", {}).get("expected", ""))
        return source.diagnostic(path, "LW103", f"invalid value {item['input']!r} for {dotted}",
                                 _closest_value(str(item["input"]), expected) + f"expected one of {expected}")
    if kind == "string_pattern_mismatch":
        return source.diagnostic(path, "LW104", f"invalid name {item['input']!r} for {dotted}",
                                 "names are lower snake_case: letters, digits and underscores")
    return source.diagnostic(path, "LW105", f"wrong type for {dotted}: {item['msg']}")


def _closest_value(value: str, expected: str) -> str:
    """`did you mean 'FLOAT64'? ` for a value close to one of the quoted choices, else nothing."""
    import difflib
    import re

    choices = re.findall(r"'([^']*)'", expected)
    close = difflib.get_close_matches(value, choices, n=1, cutoff=0.6) or \
        difflib.get_close_matches(value.upper(), choices, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'? " if close else ""


def _parent(path: Path_) -> str:
    names = [str(p) for p in path[:-1] if isinstance(p, str)]
    return names[-1] if names else "the file"


def _suggest(key: str, item: Any) -> str:
    import difflib

    from lookwright.model import schema

    candidates: set[str] = set()
    for model in vars(schema).values():
        if isinstance(model, type) and issubclass(model, schema.StrictModel):
            candidates.update(model.model_fields)
    close = difflib.get_close_matches(key, sorted(candidates), n=1)
    return f"did you mean '{close[0]}'?" if close else "remove it or check the schema (lookwright schema)"


def load_files(paths: list[Path], check_duplicates: bool = True) -> list[SourceFile]:
    """Parse every file; the caller decides what to do with their diagnostics."""
    cwd = os.getcwd()
    with _quiet_stderr():  # once for all files: rapidyaml may print on a syntax error
        return [parse_file(path, path.read_text(encoding="utf-8"), cwd, check_duplicates) for path in paths]
