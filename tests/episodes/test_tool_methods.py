"""The tool methods of the TRL doors (``episodes.tool_methods``) on hand-written tool lists:
the types schemas become, a method's signature and docstring, and the refusals (a schema no
type renders, a tool hiding a method of the door). The doors' own lists are checked against
their servers in test_trl_env.py and test_tau2_trl.py."""

from __future__ import annotations

import inspect
from typing import Any, Literal, get_type_hints

import pytest

from episodes.tool_methods import annotation, tool_method, with_tools


def test_types_of_schemas() -> None:
    defs = {"Line": {"type": "object", "properties": {
        "sku": {"type": "string", "enum": ["a", "b"]}, "n": {"type": "integer"}}}}
    assert annotation({"type": "string"}) is str
    assert annotation({"type": "string", "enum": ["x", "y"]}) == Literal["x", "y"]
    assert annotation({"anyOf": [{"type": "integer"}, {"type": "null"}]}) == int | None
    assert annotation({"type": ["number", "null"]}) == float | None
    assert annotation({"type": "array", "items": {"type": "boolean"}}) == list[bool]
    assert annotation({"type": "object", "additionalProperties": {
        "anyOf": [{"type": "string"}, {"type": "number"}]}}) == dict[str, str | float]
    # a model's keys cannot be typed: a dict of its values' types (enums as their type)
    assert annotation({"type": "array", "items": {"$ref": "#/$defs/Line"}}, defs) == (
        list[dict[str, str | int]])
    with pytest.raises(ValueError, match="unresolved schema reference '#/\\$defs/Gone'"):
        annotation({"$ref": "#/$defs/Gone"}, defs)
    with pytest.raises(ValueError, match="tool t: parameter p has a schema no method type"):
        annotation({"type": "frobnicate"}, where="tool t: parameter p")


_TOOL = {"type": "function", "function": {
    "name": "ship", "description": "Ship an order.\n\nOnly after a yes.",
    "parameters": {"type": "object", "properties": {
        "speed": {"type": "string", "enum": ["slow", "fast"], "default": "slow",
                  "description": "How fast."},
        "order_id": {"type": "string", "description": "The order,\n   e.g. 'O-1'."}},
        "required": ["order_id"]}}}


class _Door:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _tool(self, name: str, **arguments: Any) -> str:
        self.calls.append((name, arguments))
        return "ok"


def test_a_method_says_what_the_tool_lists_and_calls_it() -> None:
    method = tool_method(_TOOL)
    params = list(inspect.signature(method).parameters.values())
    assert [(p.name, p.default) for p in params] == [
        ("self", inspect.Parameter.empty), ("order_id", inspect.Parameter.empty),
        ("speed", None)]  # required first; the others default to None (not sent)
    assert get_type_hints(method) == {"order_id": str, "speed": Literal["slow", "fast"],
                                      "return": str}
    assert inspect.getdoc(method) == ("Ship an order.\n\nOnly after a yes.\n\nArgs:\n"
                                      "    order_id: The order, e.g. 'O-1'.\n"
                                      "    speed: How fast.")
    door = with_tools(_Door, [_TOOL])
    assert door is with_tools(_Door, [_TOOL]) and with_tools(door, [_TOOL]) is door
    assert door.__name__ == "_Door" and issubclass(door, _Door)
    env: Any = door()
    assert env.ship("O-1", "fast") == "ok" and env.ship(order_id="O-2") == "ok"
    assert env.calls == [("ship", {"order_id": "O-1", "speed": "fast"}),
                         ("ship", {"order_id": "O-2"})]


def test_a_tool_may_not_hide_a_method_of_the_door() -> None:
    hiding = {"type": "function", "function": {"name": "_tool", "description": "x"}}
    with pytest.raises(ValueError, match="tool '_tool' would hide _Door._tool"):
        with_tools(_Door, [hiding])
