"""Extreme numbers in every numeric argument of every tool: huge integers (10**400), floats at
the edge of the range (1e308), and what a JSON parser makes of ``1e400``, ``NaN`` and
``Infinity`` (inf and nan). Each call is answered with a typed error that names the argument
and says what would be valid (or with a normal result when the number is acceptable), changes
nothing, and is traced; never the generic "Error executing tool"."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pydantic_core
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from starlette.testclient import TestClient

from mcp_shop import Shop
from mcp_shop.server import ShopServer, build_server
from mcp_shop.server.http_app import build_http_app

HUGE = [10**400, -10**400, 10**4000, 2**64, -(2**63) - 1, 2**53 + 1]
EDGE_FLOATS = [1e308, -1e308, 5e-324, 1.5]
# what the server's JSON parser (pydantic-core, as the HTTP and stdio transports use) yields
# for these literals: 1e400 overflows to inf; NaN and Infinity are accepted as they are
WIRE = pydantic_core.from_json('[1e400, -1e400, NaN, Infinity, -Infinity]')

_SERVERS: dict[int, ShopServer] = {}


def _label(n: Any) -> str:
    if isinstance(n, int) and abs(n) > 10**20:
        return f"{'-' if n < 0 else ''}int{len(str(abs(n)))}digits"
    return repr(n)


def _server(shop: Shop) -> ShopServer:
    if id(shop) not in _SERVERS:
        _SERVERS[id(shop)] = build_server(shop, log_level="WARNING")
    return _SERVERS[id(shop)]


@pytest.fixture(scope="module")
def sid(proto_shop: Shop) -> str:
    return proto_shop.open_session(seed=41, history_orders=0).session_id


def _slots(number: Any) -> list[tuple[str, dict[str, Any]]]:
    """Every place a tool takes a number, holding ``number``."""
    v, o = "V-000001-1", "O-1001"
    return [
        ("open_session", {"seed": number}),
        ("search_products", {"min_price_cents": number}),
        ("search_products", {"max_price_cents": number}),
        ("search_products", {"min_rating": number}),
        ("search_products", {"page": number}),
        ("search_products", {"page_size": number}),
        ("search_products", {"attributes": {"battery_hours": number}}),
        ("search_products", {"attributes": {"screen_inches": number}}),
        ("search_products", {"attributes": {"theme": number}}),
        ("search_products", {"attributes_at_least": {"battery_hours": number}}),
        ("list_categories", {"depth": number}),
        ("find_similar", {"product_id": "P-000001", "max_price_cents": number}),
        ("find_similar", {"product_id": "P-000001", "limit": number}),
        ("add_to_cart", {"variant_id": v, "quantity": number}),
        ("update_cart_item", {"variant_id": v, "quantity": number}),
        ("request_return", {"order_id": o, "reason": "defective",
                            "items": [{"variant_id": v, "quantity": number}]}),
        ("state_facts", {"facts": [{"fact": "return_window_days", "about": "electronics",
                                    "value": number}]}),
        ("state_facts", {"facts": [{"fact": "shipping_cost_cents", "about": "express",
                                    "value": number}]}),
    ]


async def _check(server: ShopServer, shop: Shop, client: Any, sid: str, tool: str,
                 args: dict[str, Any]) -> None:
    """One call: a typed answer, no change on error, one trace record, server still fine."""
    before = shop.snapshot(sid)
    traced = len(shop.trace(sid))
    call_args = args if tool == "open_session" else {**args, "session_id": sid}
    if client is None:  # the server's traced entry point, with values a client cannot encode
        try:
            result = await server.call_tool(tool, call_args)
            ok, text = True, ""
        except Exception as exc:  # noqa: BLE001 - the error is what is checked
            ok, text = False, str(exc)
    else:
        result = await client.call_tool(tool, call_args)
        ok = not result.is_error
        text = result.content[0].text if result.content and not ok else ""
    if ok:
        return
    assert text != f"Error executing tool {tool}", (tool, args, "a crash, not a typed error")
    assert "invalid_input" in text or "invalid arguments" in text or "not_found" in text, text
    assert len(text) < 2000, text
    if tool == "open_session":
        return
    assert shop.snapshot(sid) == before, (tool, args)
    trace = shop.trace(sid)
    assert len(trace) == traced + 1, (tool, args, "the call is traced")
    assert trace[-1].error_code in ("invalid_input", "invalid_arguments", "not_found")


@pytest.mark.parametrize("number", HUGE + EDGE_FLOATS, ids=lambda n: _label(n))
async def test_numbers_through_the_client(proto_shop: Shop, sid: str, number: Any) -> None:
    server = _server(proto_shop)
    async with Client(server) as client:
        for tool, args in _slots(number):
            await _check(server, proto_shop, client, sid, tool, args)
        assert not (await client.call_tool("view_cart", {"session_id": sid})).is_error


@pytest.mark.parametrize("number", WIRE, ids=repr)
async def test_numbers_as_the_wire_parses_them(proto_shop: Shop, sid: str, number: Any) -> None:
    server = _server(proto_shop)
    for tool, args in _slots(number):
        await _check(server, proto_shop, None, sid, tool, args)


@pytest.mark.parametrize("number", [10**400, -10**400, 10**4000], ids=_label)
async def test_huge_attribute_value_is_invalid_input(proto_shop: Shop, sid: str,
                                                     number: int) -> None:
    """The campaign's case: a clear invalid_input naming the attribute and the valid range."""
    async with Client(_server(proto_shop)) as client:
        result = await client.call_tool("search_products", {
            "attributes": {"battery_hours": number}, "session_id": sid})
    text = result.content[0].text
    assert result.is_error
    assert text.startswith("Error executing tool search_products: invalid_input: ")
    assert "'battery_hours' takes a number of hours" in text
    assert "finite number between -1.798e+308 and 1.798e+308" in text
    assert "digits" in text and len(text) < 400
    assert proto_shop.trace(sid)[-1].error_code == "invalid_input"


_NUMBERS = (st.integers() | st.integers(-10**4000, 10**4000)
            | st.floats(allow_nan=False, allow_infinity=False)
            | st.sampled_from(HUGE + EDGE_FLOATS))


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_number_anywhere_gets_a_typed_answer(proto_shop: Shop, sid: str,
                                                 data: st.DataObject) -> None:
    number = data.draw(_NUMBERS, label="number")
    tool, args = data.draw(st.sampled_from(_slots(number)), label="slot")
    server = _server(proto_shop)

    async def go() -> None:
        async with Client(server) as client:
            await _check(server, proto_shop, client, sid, tool, args)

    asyncio.run(go())


@pytest.mark.parametrize(("tool", "args", "expected"), [
    ("add_to_cart", {"variant_id": "V-000001-1", "quantity": 1e308},
     "quantity: not a usable number (too large, or not finite); give a whole number from 1 to 10"
     " (got 1e+308)"),
    ("search_products", {"min_rating": 10**400},
     "min_rating: not a usable number (too large, or not finite); give a number from 0 to 5 "
     "(got an integer of 401 digits)"),
    ("search_products", {"attributes_at_least": {"battery_hours": -10**400}},
     "attributes_at_least.battery_hours: not a usable number (too large, or not finite); give a "
     "finite number (got a negative integer of 401 digits)"),
    ("request_return", {"order_id": "O-1001", "reason": "defective",
                        "items": [{"variant_id": "V-000001-1", "quantity": -1e308}]},
     "items.0.quantity: not a usable number (too large, or not finite); give a whole number "
     "from 1 to 10"),
    ("list_categories", {"depth": 1e300}, "give a whole number from 1 to 4"),
])
async def test_schema_rejections_say_what_is_valid(proto_shop: Shop, sid: str, tool: str,
                                                   args: dict[str, Any], expected: str) -> None:
    async with Client(_server(proto_shop)) as client:
        result = await client.call_tool(tool, {**args, "session_id": sid})
    assert result.is_error and expected in result.content[0].text, result.content[0].text


@pytest.mark.parametrize(("tool", "args", "expected"), [
    ("open_session", {"seed": WIRE[0]}, "seed: not a usable number (too large, or not finite); "
     "give a whole number from 0 to 2147483647 (got inf)"),
    ("search_products", {"attributes": {"battery_hours": WIRE[2]}},
     "attributes.battery_hours.float: not a usable number (too large, or not finite); give a "
     "finite number (got nan)"),
    ("search_products", {"min_price_cents": WIRE[1]},
     "give a whole number from 0 to 100000000 (got -inf)"),
])
async def test_wire_numbers_say_what_is_valid(proto_shop: Shop, sid: str, tool: str,
                                              args: dict[str, Any], expected: str) -> None:
    call_args = args if tool == "open_session" else {**args, "session_id": sid}
    with pytest.raises(Exception, match="invalid arguments") as caught:
        await _server(proto_shop).call_tool(tool, call_args)
    assert expected in str(caught.value), str(caught.value)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", "1" + "0" * 400])
def test_raw_json_numbers_over_http(proto_shop: Shop, sid: str, literal: str) -> None:
    """The literals themselves in a request body, parsed by the real HTTP transport."""
    number = "__NUMBER__"
    calls = [("add_to_cart", {"variant_id": "V-000001-1", "quantity": number}),
             ("search_products", {"attributes": {"battery_hours": number}}),
             ("search_products", {"min_rating": number}),
             ("state_facts", {"facts": [{"fact": "warranty_months", "about": "electronics",
                                         "value": number}]})]
    with TestClient(build_http_app(build_server(proto_shop)),
                    base_url="http://127.0.0.1:8000") as http:
        for i, (tool, args) in enumerate(calls):
            traced = len(proto_shop.trace(sid))
            body = json.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {
                "name": tool, "arguments": {**args, "session_id": sid}}})
            body = body.replace(f'"{number}"', literal)
            response = http.post("/mcp", content=body, headers={
                "content-type": "application/json", "mcp-protocol-version": "2025-06-18",
                "accept": "application/json, text/event-stream"})
            assert response.status_code == 200, response.text
            result = json.loads(response.text.split("data: ", 1)[1])["result"]
            text = result["content"][0]["text"]
            assert result["isError"] and ("invalid arguments" in text or "invalid_input" in text)
            assert "usable number" in text or "valid" in text, text
            trace = proto_shop.trace(sid)
            assert len(trace) == traced + 1 and not trace[-1].ok
