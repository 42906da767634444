"""Bad inputs over a real client: wrong types, missing fields, out-of-range numbers, unknown ids,
1 MB strings, FTS/SQL syntax, another session's ids, unexpected crashes and fuzzed arguments.
Each gets a clear tool error (or a safe empty result), changes nothing, is traced when its
session is known, and the server answers the next call normally."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client

from mcp_shop import Shop
from mcp_shop.ids import product_of
from mcp_shop.server import ShopServer, build_server
from tests.protocol.test_isolation import shared_variants

BIG = "x" * 1_000_000


@dataclass
class World:
    """Two sessions: A with a cart line and a pending order, B with no history."""

    a: str
    b: str
    variant: str
    product: str
    order: str


@pytest.fixture(scope="module")
def world(proto_shop: Shop) -> World:
    v1, v2 = shared_variants(proto_shop, 2)
    a = proto_shop.open_session(seed=31).session_id
    proto_shop.add_to_cart(a, v1, 1)
    order = proto_shop.checkout(a, payment_method_id="PM-1").order_id
    proto_shop.add_to_cart(a, v2, 2)
    b = proto_shop.open_session(seed=32, history_orders=0).session_id
    return World(a=a, b=b, variant=v2, product=product_of(v2), order=order)


def _cases(w: World) -> list[tuple[str, dict[str, Any], str]]:
    v, p, o = w.variant, w.product, w.order
    item = {"variant_id": v, "quantity": 1}
    return [
        # wrong types
        ("add_to_cart", {"variant_id": v, "quantity": "lots"}, "quantity"),
        ("add_to_cart", {"variant_id": v, "quantity": 1.5}, "quantity"),
        ("add_to_cart", {"variant_id": 42}, "variant_id"),
        ("compare_products", {"product_ids": "P-000001"}, "product_ids"),
        ("request_return", {"order_id": o, "reason": "changed_mind",
                            "items": [{"variant_id": v, "quantity": "x"}]}, "items.0.quantity"),
        ("search_products", {"attributes": ["wireless"]}, "attributes"),
        # missing fields, misspelled fields, unknown tool
        ("add_to_cart", {"quantity": 1}, "variant_id: Field required"),
        ("add_to_cart", {"variant_id": None}, "variant_id"),
        ("cancel_order", {"order_id": o}, "reason: Field required"),
        ("add_to_cart", {"variant_id": v, "qty": 2}, "unknown argument(s) 'qty'"),
        ("delete_everything", {}, "Unknown tool"),
        # out of range and not in the enums
        ("add_to_cart", {"variant_id": v, "quantity": 0}, "quantity"),
        ("add_to_cart", {"variant_id": v, "quantity": 11}, "quantity"),
        ("update_cart_item", {"variant_id": v, "quantity": -1}, "quantity"),
        ("search_products", {"page_size": 51}, "page_size"),
        ("search_products", {"page": 0}, "page"),
        ("search_products", {"min_rating": 7}, "min_rating"),
        ("search_products", {"min_price_cents": -5}, "min_price_cents"),
        ("list_categories", {"depth": 9}, "depth"),
        ("cancel_order", {"order_id": o, "reason": "because"}, "reason"),
        ("request_return", {"order_id": o, "items": [], "reason": "changed_mind"}, "items"),
        ("request_return", {"order_id": o, "items": [item], "reason": "changed_mind",
                            "refund_to": "bitcoin"}, "refund_to"),
        ("checkout", {"payment_method_id": "PM-1", "shipping_option": "teleport"},
         "shipping_option"),
        # unknown or malformed ids
        ("get_product", {"product_id": "P-999999"}, "not_found"),
        ("get_product", {"product_id": "42"}, "product_id"),
        ("add_to_cart", {"variant_id": "V-999999-1"}, "not_found"),
        ("get_order", {"order_id": "O-99999"}, "not_found"),
        ("checkout", {"payment_method_id": "PM-99"}, "not_found"),
        ("checkout", {"payment_method_id": "PM-1", "address_id": "A-99"}, "not_found"),
        ("apply_discount_code", {"code": "NOSUCHCODE"}, "invalid_code"),
        ("search_products", {"category": "no/such/category"}, "category"),
        ("list_categories", {"parent": "'; DROP TABLE category; --"}, "not_found"),
        # 1 MB strings
        ("search_products", {"query": BIG}, "query"),
        ("apply_discount_code", {"code": BIG}, "code"),
        ("get_product", {"product_id": BIG}, "product_id"),
        ("present_products", {"product_ids": [p], "message": BIG}, "message"),
        ("search_policy", {"query": BIG}, "query"),
        ("view_cart", {BIG: 1}, "unknown argument"),
        ("search_products", {"attributes": {BIG: True}}, "attributes"),
    ]


async def _call(client: Client, tool: str, args: dict[str, Any]) -> Any:
    return await client.call_tool(tool, args)


async def test_bad_inputs_are_rejected_cleanly(proto_shop: Shop, world: World, mode: str) -> None:
    server = build_server(proto_shop)
    before = proto_shop.snapshot(world.a)
    async with Client(server, mode=mode) as client:
        for tool, args, expected in _cases(world):
            traced = len(proto_shop.trace(world.a))
            result = await client.call_tool(tool, {**args, "session_id": world.a})
            text = result.content[0].text
            assert result.is_error, (tool, args)
            assert expected in text, (tool, text[:300])
            assert len(text) < 2000, "error messages stay short, even for 1 MB inputs"
            assert proto_shop.snapshot(world.a) == before, (tool, args)
            trace = proto_shop.trace(world.a)
            assert len(trace) == traced + 1 and not trace[-1].ok, tool
            assert trace[-1].error_code != "internal_error", tool
            assert len(str(trace[-1].arguments)) < 5000, "huge arguments are clipped in the trace"
            follow = await client.call_tool("view_cart", {"session_id": world.a})
            assert not follow.is_error, "the server answers the next call normally"


async def test_bad_session_handles(server: ShopServer, proto_shop: Shop, mode: str) -> None:
    async with Client(server, mode=mode) as client:
        for handle, expected in [("abc", "session_id"), (BIG, "session_id"),
                                 ("A" * 32, "unknown session_id"), (None, "session_id")]:
            args = {} if handle is None else {"session_id": handle}
            result = await client.call_tool("view_cart", args)
            assert result.is_error and expected in result.content[0].text


@pytest.mark.parametrize("query", [
    "'; DROP TABLE product; --", "' OR 1=1 --", "title:foo AND (bar OR", '"unterminated',
    "*", "NEAR(a b)", "%_%", "\\", "+-!(){}[]^\"~*?:\\/", "SELECT * FROM variant", "🙂 ñ 中文",
    "a" * 200, "-", "AND OR NOT",
])
async def test_search_syntax_is_plain_text(server: ShopServer, world: World, query: str) -> None:
    async with Client(server) as client:
        result = await client.call_tool("search_products", {"query": query,
                                                            "session_id": world.b})
        assert not result.is_error, result.content[0].text
        assert result.structured_content["total"] >= 0
        policy = await client.call_tool("search_policy", {"query": query,
                                                          "session_id": world.b})
        assert not policy.is_error
        after = await client.call_tool("search_products", {"query": "", "session_id": world.b})
        assert after.structured_content["total"] > 0


async def test_another_sessions_ids(server: ShopServer, proto_shop: Shop, world: World,
                                    mode: str) -> None:
    """B cannot see or change A's order or cart, whatever ids it sends."""
    before_a, before_b = proto_shop.snapshot(world.a), proto_shop.snapshot(world.b)
    item = {"variant_id": world.variant, "quantity": 1}
    async with Client(server, mode=mode) as client:
        for tool, args in [
            ("get_order", {"order_id": world.order}),
            ("cancel_order", {"order_id": world.order, "reason": "other"}),
            ("check_return_eligibility", {"order_id": world.order}),
            ("request_return", {"order_id": world.order, "items": [item],
                                "reason": "defective"}),
            ("request_exchange", {"order_id": world.order, "variant_id": world.variant,
                                  "new_variant_id": world.variant, "reason": "other"}),
            ("remove_from_cart", {"variant_id": world.variant}),
            ("update_cart_item", {"variant_id": world.variant, "quantity": 0}),
        ]:
            result = await client.call_tool(tool, {**args, "session_id": world.b})
            assert result.is_error and "not_found" in result.content[0].text, (tool, result)
        cart = await client.call_tool("view_cart", {"session_id": world.b})
        assert cart.structured_content["lines"] == []
    assert proto_shop.snapshot(world.a) == before_a
    assert proto_shop.snapshot(world.b) == before_b


async def test_unexpected_exception(proto_shop: Shop, world: World,
                                    monkeypatch: pytest.MonkeyPatch,
                                    caplog: pytest.LogCaptureFixture) -> None:
    server = build_server(proto_shop)

    def broken(*_: Any, **__: Any) -> None:
        raise ZeroDivisionError("secret internals")

    monkeypatch.setattr(proto_shop, "view_cart", broken)
    async with Client(server) as client:
        with caplog.at_level(logging.ERROR):
            result = await client.call_tool("view_cart", {"session_id": world.a})
        assert result.is_error
        assert result.content[0].text == "Error executing tool view_cart"
        assert "secret" not in result.content[0].text
        crash = [r for r in caplog.records if r.exc_info]
        assert crash and isinstance(crash[0].exc_info[1].__cause__, ZeroDivisionError)
        record = proto_shop.trace(world.a)[-1]
        assert (record.tool, record.ok, record.error_code) == ("view_cart", False,
                                                               "internal_error")
        follow = await client.call_tool("get_customer", {"session_id": world.a})
        assert not follow.is_error


_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats()
    | st.text(max_size=20) | st.sampled_from(["P-000001", "V-000001-1", "O-1001", "PM-1",
                                             "A-1", "FREESHIP", "standard", "defective"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=6)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_arguments_never_crash(proto_shop: Shop, world: World, data: st.DataObject) -> None:
    server = _fuzz_server(proto_shop)
    tools = asyncio.run(_tool_params(server))
    tool = data.draw(st.sampled_from(sorted(tools)))
    names = st.sampled_from(sorted(tools[tool])) | st.text(min_size=1, max_size=8)
    args = data.draw(st.dictionaries(names, _VALUES, max_size=4))
    args["session_id"] = world.b
    before = proto_shop.snapshot(world.b)

    async def go() -> None:
        async with Client(server) as client:
            result = await client.call_tool(tool, args)
            text = result.content[0].text if result.content else ""
            assert text != f"Error executing tool {tool}", "no argument may crash a tool"
            if result.is_error and tool != "open_session":
                assert proto_shop.snapshot(world.b) == before
            follow = await client.call_tool("view_cart", {"session_id": world.b})
            assert not follow.is_error

    asyncio.run(go())


_SERVERS: dict[int, ShopServer] = {}


def _fuzz_server(shop: Shop) -> ShopServer:
    if id(shop) not in _SERVERS:
        _SERVERS[id(shop)] = build_server(shop, log_level="WARNING")
    return _SERVERS[id(shop)]


async def _tool_params(server: ShopServer) -> dict[str, set[str]]:
    return {t.name: set(t.input_schema.get("properties", {})) for t in await server.list_tools()}
