"""Hypothesis strategies for fuzzing the shop's tools, derived from each tool's input JSON schema
(as ``tools/list`` publishes it) and from the ids a session holds.

A call is ``(tool, arguments)``. Valid calls fill every argument from the schema (ids from the
session's own pools); malformed calls change one to three things: a value of the wrong type,
out of range, huge or not finite, a huge string, NUL bytes or lone surrogates, deep nesting,
an unknown id or another session's id, unicode, an empty value; a required argument dropped,
an unknown argument added, the session handle missing or malformed, an unknown tool name.
Only the subset of JSON Schema the shop's tools use is read (type, enum, anyOf, $ref,
properties, items, minimum/maximum, minLength/maxLength, min/maxItems, pattern,
additionalProperties); hypothesis-jsonschema would cover more but gives random ids, where
fuzzing needs mostly the session's real ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

Schema = dict[str, Any]
Call = tuple[str, dict[str, Any]]

MB = 1_000_000
WRONG_TYPES: list[Any] = [None, True, False, 0, 1, -1, 1.5, "", "x", "1", [], [1, 2], {},
                          {"a": 1}, [None], {"": None}]
EXTREME_NUMBERS: list[Any] = [10**400, -10**400, 10**4000, 2**63, -(2**63) - 1, 2**64,
                              2**53 + 1, 1e308, -1e308, 5e-324, -0.0, 0.5, -1, -2**31,
                              float("inf"), float("-inf"), float("nan")]
EXTREME_STRINGS: list[str] = [
    "", " ", "\t\n", "x" * MB, "é" * (MB // 4), "\x00", "a\x00b", "V-000001-1\x00", "\ud800",
    "a\udfffb", "\ud83d", "🙂" * 50, "中文字符", "\u202eRTL", "e\u0301" * 20, "\ufeffP-000001",
    "'; DROP TABLE cart_line; --", "%_%", '"', "\\", "NaN", "Infinity", "null", "P-" + "9" * 9,
    "V-" + "9" * 9 + "-999", "O-" + "9" * 9, "PM-999999", "A-999999", "P-000001 ", "v-000001-1",
    "x" * 201, "y" * 2001, "🙂" * 300,
]
SQLISH = ["title:foo AND (bar OR", "NEAR(a b)", "*", "+-!(){}[]^\"~*?:\\/", "AND OR NOT"]
# (no lone surrogates: the client cannot send them in a tool name, which it puts in a header)
BAD_TOOL_NAMES = ["", " ", "view_cart ", "VIEW_CART", "view_cart\x00", "\x00", "tools/list",
                  "../../etc/passwd", "x" * 100_000, "delete_everything", "open_session🙂",
                  "ping"]
BAD_KEYS = ["qty", "", " ", "\x00", "\ud800", "k" * 10_000, "SESSION_ID", "session",
            "variant_id ", "__proto__", "constructor", "🙂"]


@dataclass
class Pools:
    """The values valid calls draw from (the fuzzed session's own ids and the catalog's), and
    the ids a session must not be able to use (unknown ones, another session's)."""

    products: list[str]
    variants: list[str]
    orders: list[str]
    payments: list[str]
    addresses: list[str]
    codes: list[str]
    categories: list[str]
    brands: list[str]
    attributes: dict[str, list[Any]]
    foreign: list[str] = field(default_factory=list)  # ids of another session only
    wire: list[Any] = field(default_factory=list)  # values only a raw client sends
    handle: str = ""  # the fuzzed session's handle
    unknown_handle: str = "U" * 22


def nest(depth: int, as_dict: bool) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value} if as_dict else [value]
    return value


# nesting the in-memory client still serialises (about 250 levels is its limit)
NESTED = [nest(d, k) for d in (20, 100, 240) for k in (False, True)]


def _resolve(schema: Schema, root: Schema) -> Schema:
    ref = schema.get("$ref")
    if ref:
        return _resolve(root["$defs"][ref.rsplit("/", 1)[-1]], root)
    return schema


_NAMED: dict[str, Callable[[Pools], list[Any]]] = {
    "product_id": lambda p: p.products, "product_ids": lambda p: p.products,
    "variant_id": lambda p: p.variants, "new_variant_id": lambda p: p.variants,
    "order_id": lambda p: p.orders, "payment_method_id": lambda p: p.payments,
    "second_payment_method_id": lambda p: p.payments, "address_id": lambda p: p.addresses,
    "code": lambda p: p.codes, "category": lambda p: p.categories,
    "parent": lambda p: p.categories, "brand": lambda p: p.brands,
}


def valid_value(name: str, schema: Schema, root: Schema, pools: Pools) -> st.SearchStrategy[Any]:
    """A value the schema accepts for argument ``name`` (ids from the pools)."""
    schema = _resolve(schema, root)
    if "anyOf" in schema:
        return st.one_of([valid_value(name, s, root, pools) for s in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers(schema.get("minimum", -1000), schema.get("maximum", 1000))
    if kind == "number":
        return st.floats(schema.get("minimum", -1000), schema.get("maximum", 1000))
    if kind == "array":
        item = valid_value(name, schema.get("items", {}), root, pools)
        return st.lists(item, min_size=schema.get("minItems", 0),
                        max_size=min(schema.get("maxItems", 5), 5))
    if kind == "object":
        if "properties" in schema:
            return _object(schema, root, pools)
        if name == "attributes":
            return st.dictionaries(st.sampled_from(sorted(pools.attributes)),
                                   st.sampled_from([v for vs in pools.attributes.values()
                                                    for v in vs]), max_size=3)
        if name == "attributes_at_least":
            return st.dictionaries(st.sampled_from(sorted(pools.attributes)),
                                   st.integers(0, 50) | st.floats(0, 50), max_size=2)
        return st.dictionaries(st.text(max_size=8), st.integers(), max_size=2)
    if kind == "string":
        if name in _NAMED and _NAMED[name](pools):
            return st.sampled_from(_NAMED[name](pools))
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True).filter(
                lambda s: len(s) <= schema.get("maxLength", 10**9))
        if name in ("query", "message"):
            return st.sampled_from(["", "headphones", "wireless", "red shoes", "return window",
                                    "express shipping", "gift card", "coffee"])
        return st.text(min_size=schema.get("minLength", 0),
                       max_size=min(schema.get("maxLength", 30), 30))
    return st.sampled_from(WRONG_TYPES)


def _object(schema: Schema, root: Schema, pools: Pools,
            drop_optional: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    props = {k: v for k, v in schema.get("properties", {}).items() if k != "session_id"}
    required = set(schema.get("required", []))
    return st.fixed_dictionaries(
        {k: valid_value(k, v, root, pools) for k, v in props.items() if k in required},
        optional={k: valid_value(k, v, root, pools) for k, v in props.items()
                  if k not in required})


def invalid_value(name: str, schema: Schema, root: Schema,
                  pools: Pools) -> st.SearchStrategy[Any]:
    """A value likely to be wrong for this argument (now and then one that is fine)."""
    schema = _resolve(schema, root)
    options = [s for s in schema.get("anyOf", [schema])]
    edges: list[Any] = []
    for s in options:
        if "minimum" in s:
            edges += [s["minimum"] - 1, s["minimum"] - 0.5]
        if "maximum" in s:
            edges += [s["maximum"] + 1, s["maximum"] + 0.5, s["maximum"] * 1000]
        if "maxLength" in s:
            edges += ["z" * (s["maxLength"] + 1)]
        if "maxItems" in s:
            edges += [[pools.products[0]] * (s["maxItems"] + 1)]
        if "minItems" in s and s["minItems"] > 0:
            edges += [[]]
    ids = pools.foreign + ["P-999999999", "V-999999999-999", "O-999999999", "PM-999999",
                           "A-999999", "P-0", "V-0-0", "O-0"]
    strategies = [st.sampled_from(WRONG_TYPES), st.sampled_from(EXTREME_NUMBERS),
                  st.sampled_from(EXTREME_STRINGS), st.sampled_from(NESTED), st.sampled_from(ids),
                  st.text(max_size=40), st.sampled_from(SQLISH),
                  st.floats(allow_nan=True, allow_infinity=True),
                  st.integers(-(2**70), 2**70), st.lists(st.sampled_from(WRONG_TYPES), max_size=4)]
    if edges:
        strategies.append(st.sampled_from(edges))
    if pools.wire:
        strategies.append(st.sampled_from(pools.wire))
    if name in ("items", "facts"):  # a list of objects: one bad item field
        strategies.append(st.builds(lambda bad: [bad], _bad_object(schema, root, pools)))
    return st.one_of(strategies)


def _bad_object(schema: Schema, root: Schema, pools: Pools) -> st.SearchStrategy[Any]:
    item = _resolve(schema.get("items", {}), root)
    if "properties" not in item:
        return st.sampled_from(WRONG_TYPES)
    props = item["properties"]

    @st.composite
    def bad(draw: st.DrawFn) -> dict[str, Any]:
        obj = dict(draw(_object(item, root, pools)))
        key = draw(st.sampled_from(sorted(props) + ["extra"]))
        obj[key] = draw(invalid_value(key, props.get(key, {}), root, pools))
        return obj

    return bad()


def call_strategy(schemas: dict[str, Schema], pools: Pools,
                  wire: list[Any] | None = None) -> st.SearchStrategy[Call]:
    """Calls of every tool in ``schemas``: about a quarter valid, the rest malformed.

    ``wire``: more bad values, only a raw client can send (see ``raw_http``)."""
    tools = sorted(schemas)
    if wire:
        pools = replace(pools, wire=wire)
    props = {t: {k: v for k, v in s.get("properties", {}).items() if k != "session_id"}
             for t, s in schemas.items()}
    objects = {t: _object(s, s, pools) for t, s in schemas.items()}
    bad = {t: {k: invalid_value(k, v, schemas[t], pools) for k, v in props[t].items()}
           for t in tools}
    keys = {t: st.sampled_from(sorted(props[t])) for t in tools if props[t]}
    required = {t: st.sampled_from(s["required"]) for t, s in schemas.items()
                if s.get("required")}
    mutation = st.lists(st.sampled_from(
        ["value"] * 6 + ["missing", "missing", "extra", "extra", "empty", "session", "tool"]),
        min_size=1, max_size=3)
    extra_key = st.sampled_from(BAD_KEYS) | st.text(min_size=1, max_size=12)
    extra_value = st.sampled_from(WRONG_TYPES + EXTREME_STRINGS[:6])
    handles = st.sampled_from([None, "", "abc", pools.unknown_handle, "\x00" * 22, "x" * MB, 42,
                               pools.handle + "\x00", pools.handle.upper(), [pools.handle],
                               {"id": pools.handle}])
    tool_names = st.sampled_from(BAD_TOOL_NAMES) | st.text(max_size=12)

    @st.composite
    def calls(draw: st.DrawFn) -> Call:
        tool = draw(st.sampled_from(tools))
        args: dict[str, Any] = dict(draw(objects[tool]))
        if "session_id" in schemas[tool].get("properties", {}):
            args["session_id"] = pools.handle
        # about a quarter of the calls are valid
        mutations = draw(mutation) if draw(st.integers(0, 3)) else []
        for m in mutations:
            if m == "value" and tool in keys:
                key = draw(keys[tool])
                args[key] = draw(bad[tool][key])
            elif m == "missing" and tool in required:
                args.pop(draw(required[tool]), None)
            elif m == "extra":
                key = draw(extra_key)
                if key != "session_id":
                    args[key] = draw(extra_value)
            elif m == "empty":
                args = {k: v for k, v in args.items() if k == "session_id"}
            elif m == "session":
                args["session_id"] = draw(handles)
                if args["session_id"] is None or draw(st.booleans()):
                    args.pop("session_id")
            elif m == "tool":
                tool = draw(tool_names)
        return tool, args

    return calls()


def draw_calls(strategy: st.SearchStrategy[Call], count: int, seed: int,
               batch: int = 10) -> list[Call]:
    """``count`` calls drawn by hypothesis (generation only: no shrinking, no database),
    ``batch`` calls per example (hypothesis's cost per example is far above a draw's)."""
    out: list[Call] = []

    def collect(calls: list[Call]) -> None:
        out.extend(calls[:count - len(out)])

    attempt = 0
    while len(out) < count:
        run = settings(max_examples=-(-(count - len(out)) // batch), phases=[Phase.generate],
                       database=None, deadline=None, suppress_health_check=list(HealthCheck))(
            given(st.lists(strategy, min_size=batch, max_size=batch))(collect))
        hypothesis_seed(seed * 1000 + attempt)(run)()
        attempt += 1
    return out
