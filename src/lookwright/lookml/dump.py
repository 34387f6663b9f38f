"""A fast LookML serializer that emits exactly what `lkml.dump` emits for the same dict.

`lkml.dump` builds a full parse tree before printing it, which costs ~0.7 ms per view; this
module follows the same state machine (`lkml.simple.DictParser`) but writes strings directly.
`tests/test_lookml_writer.py` proves byte-equality with `lkml.dump` on goldens and on random
dicts (hypothesis), so the two are interchangeable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Union

from lkml.keys import EXPR_BLOCK_KEYS, KEYS_WITH_NAME_FIELDS, PLURAL_KEYS, QUOTED_LITERAL_KEYS

LookmlValue = Union[str, Sequence["LookmlValue"], Mapping[str, "LookmlValue"]]  # noqa: UP007 (recursive alias)

_DOCUMENT, _NONE, _BLOCK, _PAIR, _LIST = "document", "none", "block", "pair", "list"
_PLURAL = frozenset(PLURAL_KEYS)
_QUOTED = frozenset(QUOTED_LITERAL_KEYS)
_EXPRESSION = frozenset(EXPR_BLOCK_KEYS)
_NAME_FIELDS = frozenset(KEYS_WITH_NAME_FIELDS)


def _singularize(key: str) -> str:
    if key == "queries":
        return "query"
    if key.endswith("__all"):
        return key[:-5]
    return key.rstrip("s") if key.endswith("s") else key


def _quote(value: str) -> str:
    return '"' + value.replace('\\"', '"').replace('"', '\\"') + '"'


class _Writer:
    """String-emitting twin of `lkml.simple.DictParser`."""

    def __init__(self) -> None:
        self.parent_key: str | None = None
        self.level = 0
        self.latest = _DOCUMENT
        self.out: list[str] = []

    def newline_indent(self) -> str:
        return "\n" + "  " * self.level

    def prefix(self) -> str:
        if self.latest == _DOCUMENT:
            return ""
        if self.latest == _BLOCK:
            return "\n" + self.newline_indent()
        return self.newline_indent()

    def is_plural_key(self, key: str) -> bool:
        singular = _singularize(key)
        return (
            singular in _PLURAL
            and not (
                singular == "allowed_value"
                and (self.parent_key or "").rstrip("s") == "access_grant"
            )
            and not (self.parent_key == "query" and singular != "filters")
        )

    def token(self, key: str, value: str, force_quote: bool = False) -> str:
        if force_quote or key in _QUOTED:
            return _quote(value)
        if key in _EXPRESSION:
            return value.strip() + " ;;"
        return value

    def any(self, key: str, value: LookmlValue) -> None:
        if isinstance(value, str):
            self.pair(key, value)
        elif isinstance(value, Mapping):
            items = dict(value)
            name = None if key in _NAME_FIELDS or "name" not in items else items.pop("name")
            self.block(key, items, name)  # type: ignore[arg-type]
        elif isinstance(value, (list, tuple)):
            if self.is_plural_key(key):
                self.expand(key, value)
            else:
                self.list(key, value)
        else:
            raise TypeError("Value must be a string, list, tuple, or dict.")

    def expand(self, key: str, values: Sequence[LookmlValue]) -> None:
        if key == "filters":
            self.filters(values)
            return
        singular = _singularize(key)
        for value in values:
            self.any(singular, value)

    def filters(self, values: Sequence[LookmlValue]) -> None:
        first = values[0]
        assert isinstance(first, Mapping)
        if "name" in first:
            for value in values:
                assert isinstance(value, Mapping)
                items = dict(value)
                name = items.pop("name")
                assert isinstance(name, str)
                self.block("filter", items, name)
        elif "field" in first and "value" in first:
            for value in values:
                assert isinstance(value, Mapping)
                self.block("filters", dict(value), None)
        else:
            self.list("filters", values)

    def pair(self, key: str, value: str) -> None:
        force_quote = self.parent_key == "filters" and key != "field"
        self.out.append(self.prefix() + key + ": " + self.token(key, value, force_quote))
        self.latest = _PAIR

    def block(self, key: str, items: dict[str, LookmlValue], name: str | None) -> None:
        saved_parent, saved_latest = self.parent_key, self.latest
        start = len(self.out)
        self.out.append("")  # placeholder for the header; its prefix depends on saved state
        self.parent_key = key
        self.latest = _NONE
        self.level += 1
        for child_key, child in items.items():
            self.any(child_key, child)
        self.level -= 1
        has_items = len(self.out) > start + 1
        self.latest, self.parent_key = saved_latest, saved_parent
        if self.latest not in (_NONE, _DOCUMENT):
            prefix = "\n" + self.newline_indent()
        else:
            prefix = self.prefix()
        self.out[start] = prefix + key + ": " + (name + " {" if name else "{")
        self.out.append((self.newline_indent() if has_items else "") + "}")
        self.latest = _BLOCK

    def list(self, key: str, values: Sequence[LookmlValue]) -> None:
        force_quote = key == "suggestions"
        saved_parent = self.parent_key
        self.parent_key = key
        head = self.prefix() + key + ": ["
        pair_mode = bool(values) and not isinstance(values[0], str)
        if len(values) >= 5 or pair_mode:
            self.latest = _NONE
            self.level += 1
            parts: list[str] = []
            for value in values:
                if pair_mode:
                    assert isinstance(value, Mapping)
                    [(pair_key, pair_value)] = value.items()
                    assert isinstance(pair_value, str)
                    start = len(self.out)
                    self.pair(pair_key, pair_value)
                    parts.append(self.out.pop(start))
                else:
                    assert isinstance(value, str)
                    parts.append(self.newline_indent() + self.token(key, value, force_quote))
            self.level -= 1
            body = ",".join(parts) + ("," if parts else "") + self.newline_indent()
        else:
            body = ", ".join(self.token(key, str(value), force_quote) for value in values)
        self.parent_key = saved_parent
        self.out.append(head + body + "]")
        self.latest = _LIST


def dump(obj: Mapping[str, LookmlValue]) -> str:
    """Serialize a LookML dict exactly as `lkml.dump(obj)` would."""
    writer = _Writer()
    for key, value in obj.items():
        writer.any(key, value)
    return "".join(writer.out)
