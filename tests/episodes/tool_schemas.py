"""What the tests of the TRL doors (``ShopToolEnv``, ``Tau2ToolEnv``) check of their tool
methods against the tool list the door's MCP server gives: the methods GRPOTrainer finds are
the listed tools and ``send_message``; their signatures have the listed parameters, the listed
required ones without a default; and the JSON schema TRL builds from each method
(``transformers.utils.get_json_schema``) is the listed input schema in names, descriptions,
required-ness, types (nullable where the list allows null), enums, array items and object
values. Bounds, patterns, titles and defaults are not in what a type hint carries, and are
left out of the comparison."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

__all__ = ["check_door", "shape", "tool_methods"]


def tool_methods(env: Any) -> dict[str, Callable[..., Any]]:
    """The methods GRPOTrainer (1.16) takes for tools: the public functions of the instance's
    class (``inspect.getmembers(type(instance), inspect.isfunction)``) but reset and
    get_reward, bound to the instance."""
    return {name: getattr(env, name)
            for name, _ in inspect.getmembers(type(env), predicate=inspect.isfunction)
            if not name.startswith("_") and name not in ("reset", "get_reward")}


def _types(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type")
    found = set(kind) if isinstance(kind, list) else {kind} if kind else set()
    if "enum" in schema and not found:
        names = {str: "string", int: "integer", float: "number", bool: "boolean"}
        found = {names.get(type(v), "null") for v in schema["enum"]}
    if schema.get("nullable"):
        found.add("null")
    return found


def shape(schema: dict[str, Any], defs: dict[str, Any] | None = None, *,
          enums: bool = True) -> dict[str, Any]:
    """A JSON schema reduced to what a method's type hint can say: its JSON types ("null" for
    a nullable one), its enum, the shape of an array's items and of an object's values.
    ``anyOf`` options and ``$ref`` references are merged and resolved. A hint cannot name an
    object's keys, so an object with listed properties (a model such as a return line) is
    reduced to an object whose values are of its properties' types."""
    defs = defs or {}
    if "$ref" in schema:
        return shape(defs[schema["$ref"].removeprefix("#/$defs/")], defs, enums=enums)
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        merged = _merge([shape(o, defs, enums=enums) for o in options])
        if schema.get("nullable"):
            merged["types"] = merged["types"] | {"null"}
        return merged
    out: dict[str, Any] = {"types": frozenset(_types(schema)), "enum": None, "items": None,
                           "values": None}
    if enums and "enum" in schema:
        out["enum"] = tuple(schema["enum"])
    if "items" in schema:
        out["items"] = shape(schema["items"], defs, enums=enums)
    values = schema.get("additionalProperties")
    if isinstance(values, dict) and values:
        out["values"] = shape(values, defs, enums=enums)
    elif schema.get("properties"):
        out["values"] = _merge([shape(p, defs, enums=False)
                                for p in schema["properties"].values()])
    return out


def _merge(shapes: list[dict[str, Any]]) -> dict[str, Any]:
    def joined(key: str) -> Any:
        parts = [s[key] for s in shapes if s[key] is not None]
        return _merge(parts) if parts else None

    enum = [v for s in shapes if s["enum"] is not None for v in s["enum"]]
    return {"types": frozenset().union(*(s["types"] for s in shapes)),
            "enum": tuple(enum) or None, "items": joined("items"), "values": joined("values")}


def _one_line(text: str) -> str:
    return " ".join(text.split())


def check_door(env: Any, listed: list[dict[str, Any]]) -> None:
    """Check ``env``'s tool methods against ``listed`` (the door's MCP tool list in OpenAI
    function format). Skips the schema part where transformers is not installed."""
    tools = {t["function"]["name"]: t["function"] for t in listed}
    methods = tool_methods(env)
    assert set(methods) == set(tools) | {"send_message"}
    for name, tool in tools.items():
        params = inspect.signature(methods[name]).parameters.values()
        props = tool["parameters"].get("properties", {})
        assert {p.name for p in params} == set(props), name
        required = [p.name for p in params if p.default is inspect.Parameter.empty]
        assert required == tool["parameters"].get("required", []), name

    utils = pytest.importorskip("transformers.utils")
    for name, method in methods.items():
        built = utils.get_json_schema(method)["function"]
        assert built["name"] == name
        if name == "send_message":
            assert built["parameters"]["required"] == ["text"] and built["description"]
            continue
        tool = tools[name]
        params = tool["parameters"]
        props = params.get("properties", {})
        defs = params.get("$defs", {})
        assert built["description"] == tool["description"].strip(), name
        assert built["parameters"].get("required", []) == params.get("required", []), name
        made = built["parameters"]["properties"]
        assert set(made) == set(props), name
        for p, schema in props.items():
            where = f"{name}.{p}"
            assert made[p]["description"] == _one_line(schema["description"]), where
            assert shape(made[p]) == shape(schema, defs), where
