"""state_facts over MCP: facts come back (and are recorded) in canonical form, malformed ones are
refused with what would be valid, and nothing in the shop changes either way."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from mcp_shop import Shop
from mcp_shop.facts import FACT_KEYS, policy_facts
from mcp_shop.server import ShopServer


async def _call(client: Client, sid: str, facts: Any) -> Any:
    return await client.call_tool("state_facts", {"facts": facts, "session_id": sid})


async def test_facts_are_recorded_in_canonical_form(server: ShopServer, proto_shop: Shop) -> None:
    sid = proto_shop.open_session(seed=5, history_orders=2).session_id
    order = proto_shop.list_orders(sid)[0].order_id
    product = proto_shop.search(sid, {"page_size": 1}).hits[0]
    async with Client(server) as client:
        res = await _call(client, sid, [
            {"fact": "order_status", "about": order.lower(), "value": " Shipped"},
            {"fact": "delivered_on", "about": order, "value": "2026-03-05T10:00:00Z"},
            {"fact": "return_window_days", "about": "Headphones", "value": 15},
            {"fact": "warranty_months", "about": product.product_id, "value": 12},
            {"fact": "returnable", "about": "clearance", "value": False},
            {"fact": "shipping_cost_cents", "about": "next day", "value": 2499},
            {"fact": "free_shipping_threshold_cents", "about": "Gold", "value": 0},
            {"fact": "cancel_window_hours", "value": 2},
            {"fact": "cannot_cancel", "about": order, "value": "already shipped"},
        ])
    assert not res.is_error, res.content
    got = [(f["fact"], f["about"], f["value"]) for f in res.structured_content["stated"]]
    assert got == [
        ("order_status", order, "shipped"),
        ("delivered_on", order, "2026-03-05"),
        ("return_window_days", "electronics/audio/headphones", 15),
        ("warranty_months", product.product_id, 12),
        ("returnable", "final_sale", False),
        ("shipping_cost_cents", "next_day", 2499),
        ("free_shipping_threshold_cents", "gold", 0),
        ("cancel_window_hours", None, 2),
        ("cannot_cancel", order, "already_shipped"),
    ]
    (record,) = [r for r in proto_shop.trace(sid) if r.tool == "state_facts"]
    assert record.ok and record.result == res.structured_content


@pytest.mark.parametrize(("fact", "why"), [
    ({"fact": "order_colour", "about": "O-1001", "value": "red"}, "should be 'order_status'"),
    ({"fact": "order_status", "about": "O-1001", "value": "lost"}, "one of pending, processing"),
    ({"fact": "order_status", "about": "O-9999", "value": "shipped"}, "does not exist"),
    ({"fact": "order_status", "value": "shipped"}, "'about' must name an order id"),
    ({"fact": "delivered_on", "about": "O-1001", "value": "03/05"}, "YYYY-MM-DD"),
    ({"fact": "return_window_days", "about": "spaceships", "value": 30}, "no category is called"),
    ({"fact": "return_window_days", "about": "shoes", "value": "30 days"}, "whole number"),
    ({"fact": "return_window_days", "about": "shoes", "value": True}, "whole number"),
    ({"fact": "returnable", "about": "shoes", "value": "no"}, "true or false"),
    ({"fact": "shipping_days", "about": "teleport", "value": 1}, "standard, express or next_day"),
    ({"fact": "cancel_window_hours", "about": "O-1001", "value": 2}, "leave 'about' out"),
])
async def test_malformed_facts_are_refused_and_change_nothing(
        server: ShopServer, proto_shop: Shop, fact: dict[str, Any], why: str) -> None:
    sid = proto_shop.open_session(seed=6, history_orders=1).session_id
    before = proto_shop.snapshot(sid)
    async with Client(server) as client:
        res = await _call(client, sid, [fact])
        assert res.is_error and why in res.content[0].text, res.content[0].text
        assert "facts[0]" in res.content[0].text or "fact" in res.content[0].text
        too_many = await _call(client, sid, [{"fact": "cancel_window_hours", "value": 2}] * 11)
        assert too_many.is_error
        ok = await _call(client, sid, [{"fact": "cancel_window_hours", "value": 2}])
        assert not ok.is_error
    assert proto_shop.snapshot(sid) == before
    assert [r.ok for r in proto_shop.trace(sid) if r.tool == "state_facts"] == [False, False, True]


def test_every_policy_fact_is_a_valid_fact_of_the_shop(proto_shop: Shop) -> None:
    """The facts search_policy shows can be stated back as they are."""
    sid = proto_shop.open_session(seed=7).session_id
    facts = [f for section in policy_facts().values() for f in section]
    assert {f.fact for f in facts} <= set(FACT_KEYS)
    for f in facts:
        stated = proto_shop.state_facts(sid, [f.model_dump()]).stated[0]
        assert (stated.fact, stated.value) == (f.fact, f.value)
        assert stated.about == f.about or (f.about, stated.about) == ("", "*")
