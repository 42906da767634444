"""Compact output schemas: the same constraints as pydantic's, cheaper to read and to check.

pydantic writes a tool's output schema with every nested model under ``$defs`` behind a
``$ref`` and a generated ``title`` on every field ("Product Id"). A client that validates each
result against the schema (the SDK's ``Client`` does, with ``jsonschema``) pays for each
reference lookup on every call, and a model reading the tool list reads the titles.
:func:`compact_schema` rewrites a schema into an equivalent one:

- a ``$ref`` to a definition that does not refer back to itself is replaced by the definition
  (recursive definitions, such as a category tree, stay under ``$defs``);
- generated ``title`` annotations are dropped below the root.

Optional fields keep pydantic's ``anyOf: [X, {"type": "null"}]``: a ``type`` list such as
``["string", "null"]`` says the same thing but is less portable (clients that map tool schemas
onto a single-``type`` dialect reject it; the MCP Inspector's ``--strict`` flags each one).

The set of accepted instances does not change; ``tests/protocol/test_schemas.py`` checks that
on real results and on mutations of them.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["compact_schema"]

_MAPS = ("properties", "patternProperties", "dependentSchemas", "$defs")
_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SINGLE = ("items", "additionalProperties", "not", "contains", "propertyNames", "if", "then",
           "else", "unevaluatedProperties", "unevaluatedItems")
# Keywords that only annotate: they may sit beside a $ref that is inlined.
_ANNOTATIONS = frozenset({"title", "description", "default", "examples", "deprecated",
                          "readOnly", "writeOnly", "$comment"})
_DEFS = "#/$defs/"


def _refs(schema: Any) -> set[str]:
    """Names of the definitions ``schema`` refers to directly (at any depth, not following)."""
    found: set[str] = set()
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(_DEFS):
            found.add(ref[len(_DEFS):])
        for value in schema.values():
            found |= _refs(value)
    elif isinstance(schema, list):
        for value in schema:
            found |= _refs(value)
    return found


def _recursive(defs: dict[str, Any]) -> set[str]:
    """Definitions that can reach themselves through references."""
    edges = {name: _refs(body) for name, body in defs.items()}
    out = set()
    for start in defs:
        seen: set[str] = set()
        todo = list(edges.get(start, ()))
        while todo:
            name = todo.pop()
            if name == start:
                out.add(start)
                break
            if name not in seen:
                seen.add(name)
                todo.extend(edges.get(name, ()))
    return out


def compact_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """An equivalent, smaller and cheaper-to-validate copy of a pydantic JSON schema."""
    defs: dict[str, Any] = schema.get("$defs", {})
    recursive = _recursive(defs)
    left: set[str] = set()  # definitions still referred to after inlining

    def walk(node: Any, *, root: bool = False) -> Any:
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        name = ref[len(_DEFS):] if isinstance(ref, str) and ref.startswith(_DEFS) else None
        if name is not None:
            if (name in defs and name not in recursive
                    and all(k in _ANNOTATIONS for k in node if k != "$ref")):
                body = walk(copy.deepcopy(defs[name]))
                extra = {k: v for k, v in node.items() if k not in ("$ref", "title")}
                return {**body, **extra}
            left.add(name)
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$defs" or (key == "title" and not root):
                continue
            if key in _MAPS and isinstance(value, dict):
                out[key] = {k: walk(sub) for k, sub in value.items()}
            elif key in _LISTS and isinstance(value, list):
                out[key] = [walk(sub) for sub in value]
            elif key in _SINGLE:
                out[key] = walk(value)
            else:
                out[key] = value
        return out

    result = walk(schema, root=True)
    kept: dict[str, Any] = {}
    while todo := sorted((left & defs.keys()) - kept.keys()):
        for name in todo:  # walking a kept definition may leave references to more
            kept[name] = walk(copy.deepcopy(defs[name]))
    if kept:
        result["$defs"] = dict(sorted(kept.items()))
    return result
