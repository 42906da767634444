"""The compact output schemas accept exactly what pydantic's schemas accept.

Each tool's published schema is checked against pydantic's own schema for the tool's return
type on real results of a full journey and on mutations of them (a field of the wrong type, a
required field removed, null where it is not allowed, an unknown enum value), plus hand-made
cases for the rewriting rules.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from mcp import Client
from pydantic import TypeAdapter

from mcp_shop import Shop
from mcp_shop.server import build_server
from mcp_shop.server.schemas import compact_schema
from tests.protocol.journey import full_journey

WRONG = [None, "x", 7, 2.5, True, [], {}]


def _ok(schema: dict[str, Any], instance: Any) -> bool:
    return Draft202012Validator(schema).is_valid(instance)


def _mutations(value: Any) -> Iterator[Any]:
    """Copies of ``value`` with one thing changed somewhere inside."""
    if isinstance(value, dict):
        for key in list(value)[:12]:
            for wrong in WRONG:
                if wrong != value[key] or type(wrong) is not type(value[key]):
                    yield {**value, key: wrong}
            dropped = dict(value)
            del dropped[key]
            yield dropped
            for inner in _mutations(value[key]):
                yield {**value, key: inner}
        yield {**value, "enum_probe": "?"}
    elif isinstance(value, list) and value:
        for inner in _mutations(value[0]):
            yield [inner, *copy.deepcopy(value[1:])]
        yield [*value, "x"]
    elif isinstance(value, str):
        yield value + "-not-in-any-enum"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
            ) -> dict[str, list[Any]]:
    """Structured results of every tool the journey calls (successful calls only)."""
    import anyio

    proto_shop: Shop = request.getfixturevalue("proto_shop")
    server = build_server(proto_shop)
    out: dict[str, list[Any]] = {}

    async def go() -> None:
        async with Client(server) as client:
            journey = await full_journey(
                client, session_id=None,
                advance_clock=lambda sid, days: proto_shop.advance_clock(sid, days=days))
            for tool, _args, result in journey.calls:
                if isinstance(result, dict):
                    out.setdefault(tool, []).append(result)
            sid = journey.session_id
            for tool, args in (("list_categories", {"depth": 3}),
                               ("list_orders", {}), ("get_customer", {})):
                r = await client.call_tool(tool, {"session_id": sid, **args})
                out.setdefault(tool, []).append(r.structured_content)

    anyio.run(go)
    return out


async def test_published_schemas_are_the_compact_ones(proto_shop: Shop) -> None:
    server = build_server(proto_shop)
    async with Client(server) as client:
        listed = {t.name: t.output_schema for t in (await client.list_tools()).tools}
    for tool in server._tool_manager.list_tools():
        model = tool.fn_metadata.output_model
        if model is None:
            continue
        original = TypeAdapter(model).json_schema()
        assert listed[tool.name] == compact_schema(original), tool.name
        Draft202012Validator.check_schema(listed[tool.name])
        text = str(listed[tool.name])
        assert "'$ref': '#/$defs/" not in text or tool.name == "list_categories", tool.name


def test_compact_schemas_accept_what_pydantic_accepts(proto_shop: Shop,
                                                      results: dict[str, list[Any]]) -> None:
    server = build_server(proto_shop)
    checked = 0
    for tool in server._tool_manager.list_tools():
        if tool.name not in results or tool.fn_metadata.output_model is None:
            continue
        original = TypeAdapter(tool.fn_metadata.output_model).json_schema()
        compact = tool.output_schema
        assert compact is not None
        for result in results[tool.name]:
            assert _ok(original, result) and _ok(compact, result), tool.name
            for mutated in _mutations(result):
                assert _ok(original, mutated) == _ok(compact, mutated), (tool.name, mutated)
                checked += 1
    assert len(results) >= 12
    assert checked > 2000


def test_the_rewriting_rules() -> None:
    schema = {
        "$defs": {
            "Leaf": {"title": "Leaf", "type": "object",
                     "properties": {"title": {"title": "Title", "type": "string"}},
                     "required": ["title"]},
            "Tree": {"title": "Tree", "type": "object",
                     "properties": {"kids": {"type": "array",
                                             "items": {"$ref": "#/$defs/Tree"}},
                                    "leaf": {"$ref": "#/$defs/Leaf"}}},
        },
        "title": "Root", "type": "object",
        "properties": {
            "leaf": {"anyOf": [{"$ref": "#/$defs/Leaf"}, {"type": "null"}]},
            "note": {"anyOf": [{"type": "string", "maxLength": 3}, {"type": "null"}],
                     "default": None, "title": "Note"},
            "mode": {"anyOf": [{"enum": ["a", "b"], "type": "string"}, {"type": "null"}]},
            "tree": {"$ref": "#/$defs/Tree", "description": "the tree"},
        },
    }
    compact = compact_schema(schema)
    assert compact["title"] == "Root"
    assert list(compact["$defs"]) == ["Tree"]  # the recursive one stays, Leaf is inlined
    # optional fields keep anyOf with one type per branch (a type list is less portable)
    assert compact["properties"]["note"] == {
        "anyOf": [{"type": "string", "maxLength": 3}, {"type": "null"}], "default": None}
    assert compact["properties"]["leaf"] == {"anyOf": [
        {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]},
        {"type": "null"}]}
    assert "anyOf" in compact["properties"]["mode"]
    assert compact["properties"]["tree"]["description"] == "the tree"
    cases = [{}, {"leaf": None}, {"leaf": {"title": "t"}}, {"leaf": {}}, {"leaf": 3},
             {"note": "abc"}, {"note": "abcd"}, {"note": None}, {"mode": "a"}, {"mode": "c"},
             {"mode": None}, {"tree": {"kids": [{"kids": [], "leaf": {"title": "x"}}]}},
             {"tree": {"kids": [{"leaf": {"title": 1}}]}}, {"tree": {"kids": [3]}}]
    for case in cases:
        assert _ok(schema, case) == _ok(compact, case), case
    assert schema["$defs"]["Leaf"]["title"] == "Leaf", "the input is not modified"
