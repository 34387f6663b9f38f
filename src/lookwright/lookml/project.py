"""Load a LookML project directory into frozen, line-tracked views, explores and models."""

from __future__ import annotations

import os
import posixpath
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import lkml
from lkml import tree
from lkml.lexer import Lexer
from lkml.parser import Parser

from lookwright.field_rules import fanned_out
from lookwright.lookml import lex
from lookwright.lookml.files import Record, decode, parse_record, parse_records
from lookwright.lookml.lex import RawNode
from lookwright.vocabulary import (
    ADDITIVE_LIST_KEYS,
    ALL_INTERVALS,
    ALL_TIMEFRAMES,
    BLOCK_KEYS_BY_NAME,
    FIELD_KINDS,
    group_names,
)

EXPRESSION_KEYS = tuple(sorted(lkml.keys.EXPR_BLOCK_KEYS, key=len, reverse=True))


@dataclass(frozen=True, slots=True)
class Node:
    """One LookML pair, list or block with the file and line it starts on.

    Slotted: a 3,000-file project has 760,000 nodes."""

    kind: str  # "pair" | "list" | "block"
    key: str
    file: str
    line: int
    name: str = ""
    value: str = ""
    items: tuple[str, ...] = ()
    pairs: tuple[tuple[str, str], ...] = ()
    children: tuple[Node, ...] = ()
    # children by key, built on first lookup (a cache, not part of the value)
    _index: dict[str, list[Node]] | None = field(default=None, init=False, repr=False,
                                                 compare=False, hash=False)

    @property
    def _by_key(self) -> dict[str, list[Node]]:
        index = self._index
        if index is None:
            index = {}
            for child in self.children:
                index.setdefault(child.key, []).append(child)
            object.__setattr__(self, "_index", index)
        return index

    def find(self, key: str) -> Node | None:
        """The last child with this key (later definitions win)."""
        found = self._by_key.get(key)
        return found[-1] if found else None

    def all(self, key: str) -> tuple[Node, ...]:
        return tuple(self._by_key.get(key, ()))

    def get(self, key: str) -> str | None:
        child = self.find(key)
        return child.value if child is not None and child.kind == "pair" else None

    def get_list(self, key: str) -> tuple[str, ...] | None:
        child = self.find(key)
        if child is None or child.kind != "list":
            return None
        return child.items

    def get_pairs(self, key: str) -> tuple[tuple[str, str], ...]:
        """Pairs of a list like `filters: [a: "x"]`, concatenated over repeats."""
        lists = (child for child in self.all(key) if child.kind == "list")
        return tuple(pair for child in lists for pair in child.pairs)

    def has(self, key: str) -> bool:
        return key in self._by_key


@dataclass(frozen=True)
class SyntaxProblem:
    """A file lkml could not parse."""

    file: str
    line: int
    message: str


@dataclass(frozen=True)
class LkmlFile:
    path: str  # relative to the project root, "/"-separated
    nodes: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Field:
    """A referencable field: dimension group timeframes and intervals are expanded."""

    name: str
    view: str
    kind: str  # dimension | dimension_group | measure | filter | parameter
    type: str
    sql: str | None
    file: str
    line: int
    primary_key: bool = False
    group: str | None = None  # dimension_group name for expanded fields
    timeframe: str | None = None  # timeframe or interval of an expanded field
    timeframes: tuple[str, ...] = ()
    intervals: tuple[str, ...] = ()
    filters: tuple[tuple[str, str], ...] = ()
    label: str | None = None
    allow_approximate_optimization: bool = False
    node: Node | None = field(default=None, compare=False, repr=False)

    @property
    def is_time(self) -> bool:
        return self.kind == "dimension_group" and self.type == "time"


@dataclass(frozen=True)
class View:
    name: str
    fields: tuple[Field, ...]  # as declared; dimension groups unexpanded
    sql_table_name: str | None
    derived_table: Node | None
    primary_key: str | None
    file: str
    line: int
    extends: tuple[str, ...] = ()
    extension_required: bool = False
    node: Node | None = field(default=None, compare=False, repr=False)

    @cached_property
    def _names(self) -> dict[str, Field]:
        names: dict[str, Field] = {}
        for declared in self.fields:
            for expanded in expand_field(declared):
                names.setdefault(expanded.name, expanded)
        return names

    def referencable(self) -> dict[str, Field]:
        """Every name `${view.x}` may use, dimension groups expanded."""
        return dict(self._names)

    def field(self, name: str) -> Field | None:
        return self._names.get(name)

    @cached_property
    def sets(self) -> dict[str, tuple[str, ...]]:
        """`set: name { fields: [...] }` blocks of the view (the last of a name wins, as refinements do)."""
        if self.node is None:
            return {}
        return {block.name: block.get_list("fields") or () for block in self.node.all("set") if block.kind == "block"}


@dataclass(frozen=True)
class Join:
    name: str  # the alias used in field references
    view_name: str
    type: str
    relationship: str | None
    sql_on: str | None
    foreign_key: str | None
    fields: tuple[str, ...] | None
    required_joins: tuple[str, ...]
    file: str
    line: int
    node: Node | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class AggregateTable:
    name: str
    explore: str
    dimensions: tuple[str, ...]
    measures: tuple[str, ...]
    filters: tuple[tuple[str, str], ...]
    timezone: str | None
    materialization: Node | None
    file: str
    line: int
    node: Node | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Explore:
    name: str
    view_name: str  # the underlying view
    alias: str  # the name base-view fields are referenced by
    joins: tuple[Join, ...]
    fields: tuple[str, ...] | None
    always_filter: tuple[tuple[str, str], ...]
    access_filter: tuple[str, ...]
    conditionally_filter: tuple[tuple[str, str], ...]
    sql_always_where: str | None
    aggregate_tables: tuple[AggregateTable, ...]
    file: str
    line: int
    extension_required: bool = False
    cancel_grouping_fields: tuple[str, ...] = ()
    node: Node | None = field(default=None, compare=False, repr=False)

    def view_for_alias(self, alias: str) -> str | None:
        if alias == self.alias:
            return self.view_name
        return next((join.view_name for join in self.joins if join.name == alias), None)

    def aliases(self) -> tuple[str, ...]:
        return (self.alias, *(join.name for join in self.joins))

    def exposes(self, alias: str, field_name: str, views: Mapping[str, View] | None = None) -> bool:
        """False if the explore's or the join's `fields` list leaves `alias.field_name` out.

        With `views`, sets (`view.set_name*`) are expanded through the view's `set:` blocks;
        `ALL_FIELDS*`, `view.*` and sets that cannot be expanded count as exposing the field."""
        scoped = f"{alias}.{field_name}"
        join = next((j for j in self.joins if j.name == alias), None)
        if join is not None and join.fields is not None:
            listed = {item if "." in item else f"{alias}.{item}" for item in join.fields}
            if not self._lists(listed, scoped, views):
                return False
        if self.fields is None:
            return True
        if f"-{scoped}" in self.fields:
            return False
        return self._lists({item for item in self.fields if item[:1] != "-"}, scoped, views)

    def _lists(self, items: set[str], scoped: str, views: Mapping[str, View] | None,
               seen: frozenset[str] = frozenset()) -> bool:
        """Whether a `fields` list names `scoped`, directly or through a wildcard or set."""
        if scoped in items:
            return True
        for item in sorted(i for i in items if i.endswith("*") and i not in seen):
            owner, _, name = item[:-1].rpartition(".")
            view = views.get(self.view_for_alias(owner) or "") if views is not None and owner else None
            if view is None or not name or name not in view.sets:
                return True  # ALL_FIELDS*, alias.*, or a set we cannot see: assume it lists the field
            members = {m if "." in m else f"{owner}.{m}" for m in view.sets[name]}
            if self._lists(members, scoped, views, seen | {item}):
                return True
        return False


@dataclass(frozen=True)
class Include:
    pattern: str
    file: str
    line: int
    matches: tuple[str, ...]


@dataclass(frozen=True)
class Model:
    name: str
    file: str
    connection: str | None
    includes: tuple[Include, ...]
    files: tuple[str, ...]  # the model file and every included file, in include order
    views: dict[str, View]
    explores: dict[str, Explore]
    datagroups: tuple[str, ...] = ()
    persist_with: Node | None = field(default=None, compare=False, repr=False)
    missing_imports: tuple[str, ...] = ()  # imported projects its includes name, not loaded
    unloaded: tuple[Include, ...] = ()  # the includes into those projects


def complete_names(model: Model) -> set[str]:
    """View names and explore/join aliases the model resolves completely (every base it
    extends is present): references through any other name cannot be judged when an imported
    project is absent."""
    complete = {name for name, view in model.views.items()
                if all(parent in model.views for parent in view.extends)}
    known = set(complete)
    for explore in model.explores.values():
        if explore.view_name in complete:
            known.add(explore.alias)
        known.update(join.name for join in explore.joins if join.view_name in complete)
    return known


@dataclass(frozen=True)
class Project:
    root: Path
    files: tuple[LkmlFile, ...]
    syntax_problems: tuple[SyntaxProblem, ...]
    models: dict[str, Model]
    views: dict[str, View]  # all views of the project, refinements applied in file order
    explores: dict[str, Explore]  # explores of every model (first model wins on clashes)
    manifest: Manifest = field(default_factory=lambda: Manifest())
    imported: tuple[str, ...] = ()  # imported projects that were loaded
    # Files with views/explores no model includes, each resolved with its own includes.
    unmodelled: dict[str, Model] = field(default_factory=dict)

    def explore(self, name: str) -> tuple[Explore, dict[str, View]]:
        """An explore and the views it can see; KeyError if no model defines it."""
        for model_name in sorted(self.models):
            model = self.models[model_name]
            if name in model.explores:
                return model.explores[name], model.views
        if name in self.explores:
            return self.explores[name], self.views
        raise KeyError(name)


# --------------------------------------------------------------------------- parsing


def _token_text(token: tree.SyntaxToken) -> str:
    return str(token.value).strip()


def _convert(syntax: tree.SyntaxNode, file: str) -> Node:
    line = syntax.line_number or 1
    if isinstance(syntax, tree.PairNode):
        return Node("pair", _token_text(syntax.type), file, line, value=_token_text(syntax.value))
    if isinstance(syntax, tree.ListNode):
        items = syntax.items
        if items and isinstance(items[0], tree.PairNode):
            pairs = tuple(
                (_token_text(item.type), _token_text(item.value))
                for item in items
                if isinstance(item, tree.PairNode)
            )
            return Node("list", _token_text(syntax.type), file, line, pairs=pairs)
        values = tuple(_token_text(item) for item in items if isinstance(item, tree.SyntaxToken))
        return Node("list", _token_text(syntax.type), file, line, items=values)
    assert isinstance(syntax, tree.BlockNode)
    name = _token_text(syntax.name) if syntax.name is not None else ""
    children = tuple(_convert(child, file) for child in syntax.container.items)
    return Node("block", _token_text(syntax.type), file, line, name=name, children=children)


def _unterminated_expression_line(text: str) -> int:
    """Line of the expression that runs to the end of the file without `;;` (lkml's lexer
    then fails with an IndexError that carries no line)."""
    pattern = re.compile(r"(?<![\w.])(" + "|".join(map(re.escape, EXPRESSION_KEYS)) + r")\s*:")
    position, line = 0, 1
    while (match := pattern.search(text, position)) is not None:
        end = text.find(";;", match.end())
        if end == -1:
            return text.count("\n", 0, match.start()) + 1
        position = end + 2
    return line


def _duplicate_key_line(text: str, key: str) -> int:
    """First line where `key:` repeats inside one block (lkml's KeyError has no line)."""
    seen: list[set[str]] = [set()]
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.split("#", 1)[0].strip()
        match = re.match(r"([+\w]+)\s*:", stripped)
        if match and match.group(1) == key and key in seen[-1]:
            return number
        if match:
            seen[-1].add(match.group(1))
        for char in stripped:
            if char == "{":
                seen.append(set())
            elif char == "}" and len(seen) > 1:
                seen.pop()
    return 1


class _GuardedLexer(Lexer):
    """lkml 1.3.7's lexer loops forever on a lone `;` outside an expression: fail instead."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._last_index = -1
        self._repeats = 0

    def peek(self) -> str:
        if self.index != self._last_index:
            self._last_index, self._repeats = self.index, 0
        else:
            self._repeats += 1
            if self._repeats > 64:  # the scan loop is stuck on this character
                raise SyntaxError(f"Unexpected ';' (expressions end with ';;') on line "
                                  f"{self.line_number}")
        return str(super().peek())


def _parse(text: str) -> tree.DocumentNode:
    document: tree.DocumentNode = Parser(_GuardedLexer(text).scan()).parse()
    return document


_new_object = object.__new__
_SLOT_SETTERS = tuple(getattr(Node, name).__set__ for name in (
    "kind", "key", "file", "line", "name", "value", "items", "pairs", "children", "_index"))


def nodes_from_raw(raw: Iterable[RawNode], file: str) -> tuple[Node, ...]:
    """Nodes of `lex.parse` tuples, each carrying its file.

    Slots are set directly, without the frozen dataclass's `__init__` (2x faster on the
    hub project's 760,000 nodes); the result equals `Node(...)` in every respect."""
    kind_, key_, file_, line_, name_, value_, items_, pairs_, children_, index_ = _SLOT_SETTERS
    intern = sys.intern
    out: list[Node] = []
    for kind, key, line, name, value, items, pairs, children in raw:
        node: Node = _new_object(Node)
        kind_(node, kind)
        key_(node, intern(key))
        file_(node, file)
        line_(node, line)
        name_(node, name)
        value_(node, value)
        items_(node, items)
        pairs_(node, pairs)
        children_(node, nodes_from_raw(children, file) if children else ())
        index_(node, None)
        out.append(node)
    return tuple(out)


def raw_from_nodes(nodes: Iterable[Node]) -> tuple[RawNode, ...]:
    """The plain tuples `nodes_from_raw` reads (what the parse cache stores)."""
    return tuple(
        (n.kind, n.key, n.line, n.name, n.value, n.items, n.pairs, raw_from_nodes(n.children))
        for n in nodes
    )


def parse_file(text: str, path: str) -> LkmlFile | SyntaxProblem:
    """Parse one file (the fast parser; lkml for what it leaves), or say why lkml rejects it."""
    try:
        return LkmlFile(path, nodes_from_raw(lex.parse(text), path))
    except lex.Unsupported:
        return parse_file_with_lkml(text, path)


def parse_file_with_lkml(text: str, path: str) -> LkmlFile | SyntaxProblem:
    """Parse one file with lkml, or describe why lkml rejected it."""
    try:
        document = _parse(text)
    except SyntaxError as error:
        line = error.lineno or _line_from_message(str(error))
        return SyntaxProblem(path, line, f"Syntax error: {error.msg or error}")
    except KeyError as error:
        message = str(error.args[0]) if error.args else str(error)
        key_match = re.match(r'Key "(\w+)"', message)
        line = _duplicate_key_line(text, key_match.group(1)) if key_match else 1
        return SyntaxProblem(path, line, f"Syntax error: {message}")
    except (IndexError, ValueError, TypeError):
        line = _unterminated_expression_line(text)
        return SyntaxProblem(
            path, line, "Syntax error: an expression is not terminated with ';;' before end of file"
        )
    nodes = tuple(_convert(item, path) for item in document.container.items)
    return LkmlFile(path, nodes)


def _line_from_message(message: str) -> int:
    match = re.search(r"on line (\d+)", message)
    return int(match.group(1)) if match else 1


# --------------------------------------------------------------------------- merging


def _merge_block(base: Node, refinement: Node) -> Node:
    """Apply a refinement (or an extending object) on top of `base`.

    A child replaces (or merges into) the last child with its key, or with its key and name
    for named blocks (`dimension: x`); looked up in two indexes, since views of thousands of
    fields are refined and extended."""
    children = list(base.children)
    last: dict[str, int] = {}
    named: dict[tuple[str, str], int] = {}
    for index, existing in enumerate(children):
        last[existing.key] = index
        named[(existing.key, existing.name)] = index
    for child in refinement.children:
        by_name = child.kind == "block" and child.key in BLOCK_KEYS_BY_NAME
        found = named.get((child.key, child.name)) if by_name else last.get(child.key)
        index = len(children) if found is None else found
        if found is None:
            children.append(child)
        elif child.kind == "block" and children[index].kind == "block":
            children[index] = _merge_block(children[index], child)
        elif child.key in ADDITIVE_LIST_KEYS and child.kind == "list":
            old = children[index]
            children[index] = replace(
                child, items=old.items + child.items, pairs=old.pairs + child.pairs
            )
        else:
            children[index] = child
        last[child.key] = max(index, last.get(child.key, -1))
        key = (child.key, children[index].name)
        named[key] = max(index, named.get(key, -1))
    return replace(base, children=tuple(children))


def _definitions(
    nodes: Iterable[Node], key: str
) -> tuple[dict[str, list[Node]], dict[str, list[Node]]]:
    """Base definitions and refinements of views or explores, in order."""
    bases: dict[str, list[Node]] = {}
    refinements: dict[str, list[Node]] = {}
    for node in nodes:
        if node.key != key or node.kind != "block":
            continue
        if node.name.startswith("+"):
            refinements.setdefault(node.name[1:], []).append(node)
        else:
            bases.setdefault(node.name, []).append(node)
    return bases, refinements


def _resolve_blocks(nodes: list[Node], key: str) -> dict[str, Node]:
    """Merge refinements into base definitions and resolve `extends` (REF order)."""
    bases, refinements = _definitions(nodes, key)
    refined: dict[str, Node] = {}
    for name, definitions in bases.items():
        merged = definitions[0]
        for refinement in refinements.get(name, []):
            merged = _merge_block(merged, replace(refinement, name=name))
        refined[name] = merged
    resolved: dict[str, Node] = {}
    for name in refined:
        resolved[name] = _apply_extends(name, refined, set())
    return resolved


def _apply_extends(name: str, refined: dict[str, Node], visiting: set[str]) -> Node:
    node = refined[name]
    parents = node.get_list("extends") or ()
    if not parents or name in visiting:
        return node
    merged: Node | None = None
    for parent in parents:
        if parent not in refined:
            continue
        parent_node = _apply_extends(parent, refined, visiting | {name})
        merged = parent_node if merged is None else _merge_block(merged, parent_node)
    if merged is None:
        return node
    # `extension: required` is not inherited; an extending object may declare it itself.
    inherited = replace(merged, children=tuple(c for c in merged.children if c.key != "extension"))
    result = _merge_block(inherited, node)
    return replace(result, name=name, file=node.file, line=node.line)


# --------------------------------------------------------------------------- objects


def _yes(value: str | None) -> bool:
    return value == "yes"


def _field(node: Node, view: str) -> Field:
    kind = node.key
    default_type = {"dimension_group": "time", "filter": "string", "parameter": "string"}
    field_type = node.get("type") or default_type.get(kind, "string")
    return Field(
        name=node.name,
        view=view,
        kind=kind,
        type=field_type,
        sql=node.get("sql"),
        file=node.file,
        line=node.line,
        primary_key=_yes(node.get("primary_key")),
        timeframes=node.get_list("timeframes") or (ALL_TIMEFRAMES if field_type == "time" else ()),
        intervals=node.get_list("intervals") or (ALL_INTERVALS if field_type == "duration" else ()),
        filters=node.get_pairs("filters"),
        label=node.get("label"),
        allow_approximate_optimization=_yes(node.get("allow_approximate_optimization")),
        node=node,
    )


def expand_field(declared: Field) -> Iterator[Field]:
    """The names a field is referenced by: `group_timeframe`, `intervals_group`, or itself."""
    if declared.kind != "dimension_group":
        yield declared
        return
    for name, timeframe in group_names(declared.name, declared.type, declared.timeframes, declared.intervals):
        yield replace(declared, name=name, group=declared.name, timeframe=timeframe)


def build_view(node: Node) -> View:
    fields = tuple(_field(child, node.name) for child in node.children if child.key in FIELD_KINDS)
    keys = [f.name for f in fields if f.primary_key]
    return View(
        name=node.name,
        fields=fields,
        sql_table_name=node.get("sql_table_name"),
        derived_table=node.find("derived_table"),
        primary_key=keys[0] if keys else None,
        file=node.file,
        line=node.line,
        extends=node.get_list("extends") or (),
        extension_required=node.get("extension") == "required",
        node=node,
    )


def _join(node: Node) -> Join:
    return Join(
        name=node.name,
        view_name=node.get("from") or node.name,
        type=node.get("type") or "left_outer",
        relationship=node.get("relationship"),
        sql_on=node.get("sql_on"),
        foreign_key=node.get("foreign_key"),
        fields=node.get_list("fields"),
        required_joins=node.get_list("required_joins") or (),
        file=node.file,
        line=node.line,
        node=node,
    )


def scoped(name: str, alias: str) -> str:
    """`alias.name` for a bare field name; explore-level lists may leave the base view off."""
    return name if "." in name or not name else f"{alias}.{name}"


def _scoped_pairs(pairs: Iterable[tuple[str, str]], alias: str) -> tuple[tuple[str, str], ...]:
    return tuple((scoped(name, alias), value) for name, value in pairs)


def _aggregate_table(node: Node, explore: str, alias: str) -> AggregateTable:
    query = node.find("query") or Node("block", "query", node.file, node.line)
    return AggregateTable(
        name=node.name,
        explore=explore,
        dimensions=tuple(scoped(n, alias) for n in query.get_list("dimensions") or ()),
        measures=tuple(scoped(n, alias) for n in query.get_list("measures") or ()),
        filters=_scoped_pairs(query.get_pairs("filters"), alias),
        timezone=query.get("timezone"),
        materialization=node.find("materialization"),
        file=node.file,
        line=node.line,
        node=node,
    )


def _filter_pairs(node: Node, key: str, alias: str) -> tuple[tuple[str, str], ...]:
    """`always_filter: { filters: [a: "x"] }` (or `conditionally_filter`) as scoped pairs."""
    block = node.find(key)
    return _scoped_pairs(block.get_pairs("filters"), alias) if block is not None else ()


def build_explore(node: Node) -> Explore:
    underlying = node.get("from") or node.get("view_name") or node.name
    alias = node.get("view_name") or node.name
    return Explore(
        name=node.name,
        view_name=underlying,
        alias=alias,
        joins=tuple(_join(child) for child in node.all("join")),
        fields=node.get_list("fields"),
        always_filter=_filter_pairs(node, "always_filter", alias),
        access_filter=tuple(
            scoped(value, alias) for block in node.all("access_filter")
            if (value := block.get("field"))
        ),
        conditionally_filter=_filter_pairs(node, "conditionally_filter", alias),
        sql_always_where=node.get("sql_always_where"),
        aggregate_tables=tuple(_aggregate_table(child, node.name, alias)
                               for child in node.all("aggregate_table")),
        file=node.file,
        line=node.line,
        extension_required=node.get("extension") == "required",
        cancel_grouping_fields=tuple(scoped(n, alias)
                                     for n in node.get_list("cancel_grouping_fields") or ()),
        node=node,
    )


def fanned_out_aliases(explore: Explore, joined: Iterable[str] | None = None) -> set[str]:
    """Aliases whose rows repeat because of the joins in use (they need symmetric aggregates).

    `joined` restricts the joins considered (None: every join of the explore)."""
    active = [j for j in explore.joins if joined is None or j.name in set(joined)]
    return fanned_out(explore.alias, ((join.name, join.relationship) for join in active))


# --------------------------------------------------------------------------- includes


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """Looker include globs: `*` within a directory, `**/` across directories, `[a-z]` and
    `[!0-9]` character classes."""
    out = ""
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            out += "(?:.*/)?"
            index += 3
        elif pattern.startswith("**", index):
            out += ".*"
            index += 2
        elif pattern[index] == "*":
            out += "[^/]*"
            index += 1
        elif pattern[index] == "[" and (end := pattern.find("]", index + 2)) != -1:
            # a character class, `[!...]` negated (`explores/[!0-9]*`)
            body = pattern[index + 1:end]
            negate = body[:1] == "!"
            body = body[1:] if negate else body
            out += "[" + ("^/" if negate else "") + body.replace("\\", "\\\\") + "]"
            index = end + 1
        else:
            out += re.escape(pattern[index])
            index += 1
    return re.compile(out + r"\Z")


def project_of(path: str) -> str:
    """`name` for a file of imported project `//name/...`, "" for the project's own files."""
    return path[2:].split("/", 1)[0] if path.startswith("//") else ""


def include_target(pattern: str, including_file: str) -> str:
    """The path pattern an include names, in the loader's path space.

    `/x` is the including file's project root, `//name/x` imported project `name`, anything
    else is relative to the including file's folder."""
    if pattern.startswith("//"):
        return pattern
    if pattern.startswith("/"):
        owner = project_of(including_file)
        return f"//{owner}/{pattern[1:]}" if owner else pattern[1:]
    parent = posixpath.dirname(including_file)
    prefix = ""
    if parent.startswith("//"):  # keep `//name` out of normpath, which would collapse it
        prefix, parent = "//", parent[2:]
    joined = posixpath.normpath(f"{parent}/{pattern}" if parent else pattern)
    return prefix + joined


def resolve_include(pattern: str, model_file: str, files: Iterable[str]) -> tuple[str, ...]:
    """Files an include matches. `.lkml` / `.lookml` may be left off (`*.view`, `*.dashboard`)."""
    target = include_target(pattern, model_file)
    candidates = [glob_to_regex(target)]
    if not target.endswith((".lkml", ".lookml")):
        candidates += [glob_to_regex(target + ".lkml"), glob_to_regex(target + ".lookml")]
    return tuple(f for f in files if any(regex.match(f) for regex in candidates))


# --------------------------------------------------------------------------- manifest


@dataclass(frozen=True)
class Dependency:
    """A `local_dependency` / `remote_dependency` of `manifest.lkml`."""

    name: str
    file: str
    line: int


@dataclass(frozen=True)
class Manifest:
    project_name: str | None = None
    constants: dict[str, str] = field(default_factory=dict)
    dependencies: tuple[Dependency, ...] = ()


CONSTANT = re.compile(r"@\{(\w+)\}")


def substitute_constants(text: str, constants: dict[str, str]) -> str:
    """`@{NAME}` replaced by the manifest constant's value (unknown names are kept)."""
    return CONSTANT.sub(lambda m: constants.get(m.group(1), m.group(0)), text)


def read_manifest(parsed: LkmlFile | None) -> Manifest:
    if parsed is None:
        return Manifest()
    constants = {node.name: node.get("value") or "" for node in parsed.nodes
                 if node.key == "constant" and node.kind == "block"}
    dependencies: list[Dependency] = []
    for node in parsed.nodes:
        if node.kind != "block":
            continue
        if node.key == "local_dependency":
            name = node.get("project") or ""
        elif node.key == "remote_dependency":
            name = node.name
        else:
            continue
        name = substitute_constants(name, constants)
        if name:
            dependencies.append(Dependency(name, parsed.path, node.line))
    project_name = next((n.value for n in parsed.nodes if n.key == "project_name"), None)
    return Manifest(project_name, constants, tuple(dependencies))


# --------------------------------------------------------------------------- project


@dataclass(frozen=True)
class Scope:
    """Files a set of definitions sees: a model with its includes, or one unmodelled file."""

    files: tuple[str, ...]
    includes: tuple[Include, ...]
    missing_imports: tuple[str, ...]  # imported projects named by includes but not loaded
    unloaded: tuple[Include, ...]  # includes into those projects


SKIP_DIRS = frozenset({".git", "imported_projects", "node_modules"})
LOOKML_SUFFIXES = (".lkml", ".lookml")


def lookml_paths(root: Path) -> list[tuple[str, Path]]:
    """(project-relative path, file) of every LookML file under `root`, sorted by path.

    `imported_projects/` holds other projects (the IDE's layout) and is left out."""
    found: list[tuple[str, Path]] = []
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = [d for d in subdirs if d not in SKIP_DIRS]
        base = Path(directory)
        for name in names:
            if name.endswith(LOOKML_SUFFIXES):
                found.append(((base / name).relative_to(root).as_posix(), base / name))
    return sorted(found)


class _Memo:
    """What one load computes once: include matches per target, objects per merged node."""

    def __init__(self, all_paths: list[str], local_name: str = "") -> None:
        self.all_paths = all_paths
        self.local_name = local_name
        self.by_folder: dict[str, list[str]] = {}
        for path in all_paths:
            self.by_folder.setdefault(posixpath.dirname(path), []).append(path)
        self.matches: dict[str, tuple[str, ...]] = {}
        self.views: dict[int, tuple[Node, View]] = {}
        self.explores: dict[int, tuple[Node, Explore]] = {}

    def resolve(self, pattern: str, including_file: str) -> tuple[str, ...]:
        found = self._resolve(pattern, including_file)
        owner = project_of(including_file) or self.local_name
        if not found and owner and pattern.startswith(f"/{owner}/"):
            # `/looker-hub/x` in project looker-hub: the project's own name as the first
            # folder names its root (generated hub projects write includes this way).
            found = self._resolve(pattern[len(owner) + 1:], including_file)
        return found

    def _resolve(self, pattern: str, including_file: str) -> tuple[str, ...]:
        target = include_target(pattern, including_file)
        found = self.matches.get(target)
        if found is None:
            folder = posixpath.dirname(target)
            candidates = self.all_paths if "*" in folder else self.by_folder.get(folder, [])
            found = self.matches[target] = resolve_include(pattern, including_file, candidates)
        return found

    def view(self, node: Node) -> View:
        entry = self.views.get(id(node))
        if entry is None or entry[0] is not node:
            entry = self.views[id(node)] = (node, build_view(node))
        return entry[1]

    def explore(self, node: Node) -> Explore:
        entry = self.explores.get(id(node))
        if entry is None or entry[0] is not node:
            entry = self.explores[id(node)] = (node, build_explore(node))
        return entry[1]


def _scope(start: str, by_path: dict[str, LkmlFile], memo: _Memo,
           loaded_projects: set[str], constants: dict[str, str]) -> Scope:
    """Follow includes depth-first: a file's includes come before the file itself."""
    ordered: list[str] = []
    includes: list[Include] = []
    missing: list[str] = []
    unloaded: list[Include] = []
    visiting: set[str] = set()

    def visit(path: str) -> None:
        if path in visiting:
            return
        visiting.add(path)
        parsed = by_path.get(path)
        for node in parsed.nodes if parsed is not None else ():
            if node.key != "include" or node.kind != "pair":
                continue
            pattern = substitute_constants(node.value, constants)
            target = include_target(pattern, path)
            owner = project_of(target)
            if owner and owner not in loaded_projects:
                if owner not in missing:
                    missing.append(owner)
                unloaded.append(Include(target, path, node.line, ()))
                continue
            matches = memo.resolve(pattern, path)
            includes.append(Include(node.value, path, node.line, matches))
            for match in matches:
                if match != path:
                    visit(match)
        if path not in ordered:
            ordered.append(path)

    visit(start)
    if start in ordered:  # the starting file's own definitions come last
        ordered.remove(start)
        ordered.append(start)
    return Scope(tuple(ordered), tuple(includes), tuple(missing), tuple(unloaded))


def _views_and_explores(scope: Scope, by_path: dict[str, LkmlFile], memo: _Memo
                        ) -> tuple[list[Node], dict[str, View], dict[str, Explore]]:
    nodes = [node for path in scope.files if path in by_path for node in by_path[path].nodes]
    views = {name: memo.view(n) for name, n in _resolve_blocks(nodes, "view").items()}
    explores = {name: memo.explore(n) for name, n in _resolve_blocks(nodes, "explore").items()}
    return nodes, views, explores


def _model(parsed: LkmlFile, scope: Scope, by_path: dict[str, LkmlFile], memo: _Memo) -> Model:
    nodes, views, explores = _views_and_explores(scope, by_path, memo)
    name = Path(parsed.path).name.removesuffix(".model.lkml")
    return Model(
        name=name,
        file=parsed.path,
        connection=next((n.value for n in parsed.nodes if n.key == "connection"), None),
        includes=scope.includes,
        files=scope.files,
        views=views,
        explores=explores,
        datagroups=tuple(n.name for n in nodes if n.key == "datagroup" and n.kind == "block"),
        persist_with=next((n for n in parsed.nodes if n.key == "persist_with"), None),
        missing_imports=scope.missing_imports,
        unloaded=scope.unloaded,
    )


def _lkml_record(text: str, path: str) -> Record:
    """A file the fast parser does not handle, parsed by lkml into a cacheable record."""
    result = parse_file_with_lkml(text, path)
    if isinstance(result, SyntaxProblem):
        return ("problem", result.line, result.message)
    return ("ok", raw_from_nodes(result.nodes))


def _load_files(entries: list[tuple[str, Path]]) -> tuple[list[LkmlFile], list[SyntaxProblem]]:
    """Parse the `.lkml` files of `entries` (dashboards, `.lookml`, are YAML: includes may name
    them, there is nothing to parse)."""
    blobs = parse_records(entries, _lkml_record)
    parsed: list[LkmlFile] = []
    problems: list[SyntaxProblem] = []
    for relative, path in entries:
        blob = blobs.pop(relative, None)
        if blob is None:
            continue
        record = decode(blob)
        if record is None:  # a damaged cache entry: parse the file again
            record = parse_record(path.read_bytes(), relative, _lkml_record)
        if record[0] == "ok":
            parsed.append(LkmlFile(relative, nodes_from_raw(record[1], relative)))
        else:
            problems.append(SyntaxProblem(relative, record[1], record[2]))
    return parsed, problems


def imported_project_dirs(root: Path, manifest: Manifest, projects: Mapping[str, Path],
                          local: Iterable[LkmlFile]) -> dict[str, Path]:
    """Where each imported project is: `projects[name]` or `imported_projects/name/`.

    Imported projects are the manifest's dependencies and any `//name/` an include names;
    other entries of `projects` are not loaded."""
    names = [dependency.name for dependency in manifest.dependencies]
    for item in local:
        for node in item.nodes:
            if node.key == "include" and node.kind == "pair":
                target = substitute_constants(node.value, manifest.constants)
                if target.startswith("//") and (owner := project_of(target)) not in names:
                    names.append(owner)
    found: dict[str, Path] = {}
    for name in names:
        given = projects.get(name)
        candidate = given if given is not None else root / "imported_projects" / name
        if candidate.is_dir():
            found[name] = candidate
    return found


def _unmodelled(local: list[LkmlFile], models: dict[str, Model], by_path: dict[str, LkmlFile],
                memo: _Memo, loaded: set[str], constants: dict[str, str]) -> dict[str, Model]:
    """Files with views or explores that no model includes, resolved from the outermost such
    files (an explore file with its includes; a view file no other of them includes)."""
    in_models = {path for model in models.values() for path in model.files}
    scopes: dict[str, Scope] = {}
    for item in local:
        if item.path in in_models or item.path == "manifest.lkml":
            continue
        if any(n.kind == "block" and n.key in ("view", "explore") for n in item.nodes):
            scopes[item.path] = _scope(item.path, by_path, memo, loaded, constants)
    covered: set[str] = set()
    for path, scope in scopes.items():
        covered.update(f for f in scope.files if f != path)
    roots = [path for path in scopes if path not in covered]
    reached = {f for path in roots for f in scopes[path].files}
    roots += [path for path in scopes if path not in reached]  # include cycles
    return {path: _model(by_path[path], scopes[path], by_path, memo) for path in roots}


def load_project(root: Path, projects: Mapping[str, Path] | None = None) -> Project:
    """Parse every LookML file under `root` and resolve each model with what it includes.

    `projects` maps imported project names to folders (else `imported_projects/<name>/`)."""
    entries = lookml_paths(root)
    local, problems = _load_files(entries)
    manifest = read_manifest(next((f for f in local if f.path == "manifest.lkml"), None))
    imported_dirs = imported_project_dirs(root, manifest, projects or {}, local)
    all_paths = [relative for relative, _ in entries]
    imported: list[LkmlFile] = []
    for name, directory in sorted(imported_dirs.items()):
        prefixed = [(f"//{name}/{relative}", path) for relative, path in lookml_paths(directory)]
        files, _ = _load_files(prefixed)  # their syntax errors are that project's to report
        imported.extend(files)
        all_paths.extend(relative for relative, _ in prefixed)
    all_paths.sort()
    parsed = [*local, *imported]
    by_path = {item.path: item for item in parsed}
    loaded = set(imported_dirs)
    memo = _Memo(all_paths, manifest.project_name or root.resolve().name)
    models: dict[str, Model] = {}
    for item in local:
        if item.path.endswith(".model.lkml"):
            scope = _scope(item.path, by_path, memo, loaded, manifest.constants)
            model = _model(item, scope, by_path, memo)
            models.setdefault(model.name, model)
    all_nodes = [node for item in local for node in item.nodes]
    views = {name: memo.view(n) for name, n in _resolve_blocks(all_nodes, "view").items()}
    explores: dict[str, Explore] = {}
    for model_name in sorted(models):
        for name, explore in models[model_name].explores.items():
            explores.setdefault(name, explore)
    if not models:
        explores = {n: memo.explore(x) for n, x in _resolve_blocks(all_nodes, "explore").items()}
    unmodelled = _unmodelled(local, models, by_path, memo, loaded, manifest.constants)
    return Project(root, tuple(parsed), tuple(problems), models, views, explores,
                   manifest=manifest, imported=tuple(sorted(loaded)), unmodelled=unmodelled)
