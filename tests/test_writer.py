"""The writer's hand-built manifest is exactly what json.dumps(indent=2, sort_keys=True) writes."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from lookwright.output.writer import manifest_text

NAMES = st.text(alphabet="ab/._-\"\\é", min_size=1, max_size=12)


@given(st.dictionaries(NAMES, st.text(alphabet="0123456789abcdef", max_size=64), max_size=8))
def test_manifest_text_equals_the_json_module(files: dict[str, str]) -> None:
    expected = json.dumps({"generator": "lookwright", "files": files}, indent=2, sort_keys=True) + "\n"
    assert manifest_text(files) == expected
