"""The tool-schema portability rules the MCP Inspector's ``--strict`` mode reports, as a
Python check (``portability_problems``), so the property is tested without Node.

A schema is portable when every schema position holds an object (a bare ``true``/``false`` is
only fine where the keyword takes a boolean, e.g. ``additionalProperties``), ``type`` is a
single name (a nullable field is ``anyOf`` of single types, not ``type: ["string", "null"]``),
every ``$ref`` is local (``#/...``), and every schema constrains something (``{}`` accepts
anything; clients differ in what they make of it).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["portability_problems"]

_MAPS = ("properties", "patternProperties", "dependentSchemas", "dependencies", "$defs",
         "definitions")
_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SINGLE = ("items", "contains", "not", "propertyNames", "if", "then", "else",
           "additionalProperties", "unevaluatedProperties", "additionalItems",
           "unevaluatedItems", "contentSchema")
_BOOLEAN_OK = frozenset({"additionalProperties", "unevaluatedProperties", "additionalItems",
                         "unevaluatedItems"})
_CONSTRAINING = frozenset({
    "type", "enum", "const", "multipleOf", "maximum", "exclusiveMaximum", "minimum",
    "exclusiveMinimum", "maxLength", "minLength", "pattern", "format", "contentMediaType",
    "contentEncoding", "contentSchema", "maxItems", "minItems", "uniqueItems", "maxContains",
    "minContains", "maxProperties", "minProperties", "required", "dependentRequired",
    "allOf", "anyOf", "oneOf", "not", "items", "prefixItems", "contains", "additionalItems",
    "unevaluatedItems", "properties", "patternProperties", "additionalProperties",
    "unevaluatedProperties", "propertyNames", "dependentSchemas", "dependencies", "$ref",
    "$dynamicRef", "$recursiveRef"})


def _children(node: dict[str, Any], path: str) -> Iterator[tuple[Any, str, str]]:
    for key in _MAPS:
        if isinstance(node.get(key), dict):
            for name, sub in node[key].items():
                yield sub, f"{path}.{key}.{name}", key
    for key in _LISTS:
        if isinstance(node.get(key), list):
            for i, sub in enumerate(node[key]):
                yield sub, f"{path}.{key}[{i}]", key
    for key in _SINGLE:
        if key in node:
            yield node[key], f"{path}.{key}", key


def portability_problems(schema: Any, path: str = "$", keyword: str | None = None
                         ) -> list[str]:
    """Every portability problem in ``schema``, each as ``'<path>: <what>'``."""
    if isinstance(schema, bool):
        if keyword in _BOOLEAN_OK:
            return []
        return [f"{path}: bare {str(schema).lower()} where a schema object is expected"]
    if not isinstance(schema, dict):
        return []
    problems = []
    if isinstance(schema.get("type"), list):
        problems.append(f"{path}: type is a list {schema['type']} (use anyOf of single types)")
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref and not ref.startswith("#"):
        problems.append(f"{path}: $ref {ref!r} points outside the document")
    if keyword != "not" and not (_CONSTRAINING & schema.keys()
                                 or ("if" in schema and ("then" in schema or "else" in schema))):
        problems.append(f"{path}: constrains nothing (accepts any value)")
    for sub, sub_path, key in _children(schema, path):
        problems += portability_problems(sub, sub_path, key)
    return problems
