"""Strict validation of HTTP requests and responses against Looker's OpenAPI 4.0 spec."""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

# Looker's published spec, kept in the repository (source and license: NOTICE.md beside this file)
SPEC_PATH = Path(__file__).resolve().parent / "Looker.4.0.oas.json.gz"
_URN = "urn:looker-oas"


class SpecViolation(AssertionError):
    """A request or response does not conform to the Looker API spec."""


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    spec: dict[str, Any]

    @property
    def operation_id(self) -> str:
        return str(self.spec["operationId"])


def _strict(node: Any) -> Any:
    """OAS 3.0 → JSON Schema: nullable, closed objects, refs into the registry resource."""
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _strict(value) for key, value in node.items() if key not in ("nullable", "x-looker-nullable")}
    if "$ref" in out:
        return {"$ref": _URN + out["$ref"]}
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


class LookerSpec:
    """The Looker 4.0 spec, indexed by HTTP method and path for validation."""

    def __init__(self, path: Path = SPEC_PATH) -> None:
        raw = json.loads(gzip.decompress(path.read_bytes()))
        self.doc = _strict(raw)
        self.base_path = "/api/4.0"
        resource = Resource.from_contents(self.doc, default_specification=DRAFT7)
        self.registry: Registry[Any] = Registry().with_resource(_URN, resource)
        self.operations = sorted(self._operations(raw), key=lambda op: op.template.count("{"))

    @staticmethod
    def _operations(raw: dict[str, Any]) -> list[Operation]:
        ops = []
        for template, methods in raw["paths"].items():
            regex = "^" + re.sub(r"\{[^}]+\}", "([^/]+)", template) + "$"
            for method, spec in methods.items():
                ops.append(Operation(method.upper(), template, re.compile(regex), _strict(spec)))
        return ops

    def find(self, method: str, path: str) -> Operation:
        local = path.removeprefix(self.base_path)
        for op in self.operations:
            if op.method == method and op.pattern.match(local):
                return op
        raise SpecViolation(f"{method} {path}: no such operation in the Looker 4.0 spec")

    def _validate(self, instance: Any, schema: dict[str, Any], where: str) -> None:
        validator = jsonschema.Draft7Validator(schema, registry=self.registry)
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
        if errors:
            details = "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5])
            raise SpecViolation(f"{where}: {details}")

    def validate_request(self, op: Operation, query: dict[str, list[str]], body: bytes, content_type: str) -> None:
        where = f"request {op.method} {op.template} ({op.operation_id})"
        params = {p["name"]: p for p in op.spec.get("parameters", []) if p["in"] == "query"}
        for name in query:
            if name not in params:
                raise SpecViolation(f"{where}: undeclared query parameter {name!r}")
        for name, param in params.items():
            if param.get("required") and name not in query:
                raise SpecViolation(f"{where}: missing required query parameter {name!r}")
        request_body = op.spec.get("requestBody")
        if request_body is None:
            if body:
                raise SpecViolation(f"{where}: body sent to an operation that takes none")
            return
        if "json" not in content_type:
            if "application/x-www-form-urlencoded" in request_body["content"]:
                return
            raise SpecViolation(f"{where}: content type {content_type!r} not accepted")
        schema = request_body["content"]["application/json"]["schema"]
        self._validate(json.loads(body or b"null"), schema, where)

    def validate_response(self, op: Operation, status: int, body: bytes, *, injected: bool) -> None:
        where = f"response {status} to {op.method} {op.template} ({op.operation_id})"
        responses = op.spec["responses"]
        declared = responses.get(str(status))
        if declared is None:
            if not injected and status != 401:
                raise SpecViolation(f"{where}: status not declared in the spec")
            self._validate(json.loads(body), {"$ref": _URN + "#/components/schemas/Error"}, where)
            return
        content = declared.get("content")
        if status == 204 or content is None:
            if body:
                raise SpecViolation(f"{where}: body on a no-content response")
            return
        schema = (content.get("application/json") or next(iter(content.values())))["schema"]
        if schema.get("type") == "string":
            return
        self._validate(json.loads(body), schema, where)


@cache
def looker_spec() -> LookerSpec:
    """The parsed spec, shared by every fake server in the test session."""
    return LookerSpec()
