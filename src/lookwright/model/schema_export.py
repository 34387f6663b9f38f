"""The JSON Schema of the semantic-model format, as committed in semantic/schema.json."""

from __future__ import annotations

import json

from lookwright.model.schema import SemanticFile


def schema_text() -> str:
    document = SemanticFile.model_json_schema()
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "lookwright semantic model file"
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
