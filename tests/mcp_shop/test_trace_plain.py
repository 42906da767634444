"""Plain, short arguments are stored without bounding (``trace._arguments_json``): the text is
always that of ``bound_arguments``, at the edges of every bound too."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mcp_shop.trace import MAX_DEPTH, MAX_ITEMS, MAX_STRING, _arguments_json, bound_arguments

_ASCII = st.text(st.characters(max_codepoint=127), max_size=20)
_TEXT = st.one_of(st.text(max_size=20), _ASCII, st.sampled_from(
    ["a" * MAX_STRING, "b" * (MAX_STRING + 1), "é", "nul\x00", "\ud800", "V-000042-3"]))
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([2 ** 3300, 2 ** 3301, -(2 ** 4000)]), _TEXT)
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.tuples(inner, inner),
    st.dictionaries(st.one_of(_TEXT, st.integers()), inner, max_size=4)), max_leaves=40)
# plain JSON, mostly taking the unbounded way, some of it long
_PLAIN_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
    _ASCII, st.integers(0, MAX_STRING + 1).map(lambda n: "p" * n))
_PLAIN = st.recursive(_PLAIN_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=12), st.dictionaries(_ASCII, inner, max_size=12)), max_leaves=60)


def _same(arguments: dict[str, Any]) -> None:
    assert _arguments_json(arguments) == json.dumps(bound_arguments(arguments))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_TEXT, _VALUES, max_size=6))
def test_any_arguments(arguments: dict[str, Any]) -> None:
    _same(arguments)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_ASCII, _PLAIN, max_size=12))
def test_plain_arguments(arguments: dict[str, Any]) -> None:
    _same(arguments)


def test_the_edges_of_every_bound() -> None:
    def nest(depth: int) -> Any:
        value: Any = "x"
        for _ in range(depth):
            value = [value]
        return value

    cases: list[dict[str, Any]] = [
        {"q": "a" * MAX_STRING}, {"q": "a" * (MAX_STRING + 1)}, {"a" * (MAX_STRING + 1): 1},
        {"ids": list(range(MAX_ITEMS))}, {"ids": list(range(MAX_ITEMS + 1))},
        {str(i): i for i in range(MAX_ITEMS)}, {str(i): i for i in range(MAX_ITEMS + 1)},
        {"deep": nest(MAX_DEPTH - 2)}, {"deep": nest(MAX_DEPTH - 1)}, {"deep": nest(MAX_DEPTH)},
        {"n": 2 ** 3300}, {"n": 2 ** 3301}, {"x": float("nan")}, {"x": 1e308}, {1: "int key"},
        {"t": (1, 2)}, {"s": "caf\u00e9"}, {"z": "\x00"}, {"b": True, "none": None, "f": 0.1},
    ]
    for n in (5, 6, 7, 8, 9, 15, 16, 17, 30, 80, 99, 100):  # JSON from ~1 KB past the limit
        cases.append({"k": ["w" * 990] * n})
        cases.append({f"k{i}": "w" * 990 for i in range(n)})
        cases.append({"k": [[["w" * 990] * n]]})
    for arguments in cases:
        _same(arguments)
    assert _arguments_json({"query": "socks", "page": 2}) == '{"query": "socks", "page": 2}'
