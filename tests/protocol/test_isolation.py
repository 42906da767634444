"""Isolation: 50 sessions shop at once (the same variants, mixed protocol eras) in memory and over
HTTP; every cart, order, stock level and trace ends exactly as that session's own calls imply."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from mcp import Client

from mcp_shop import Shop
from mcp_shop.ids import product_of
from mcp_shop.search import SearchQuery
from mcp_shop.server import build_server
from tests.protocol.journey import Recorder, assert_trace_matches

SESSIONS = 50


@dataclass
class Outcome:
    """What one shopper did and what it should have left behind."""

    session_id: str
    cart: dict[str, int]
    bought: bool
    stock_before: dict[str, int]
    history: set[str]
    calls: list[tuple[str, dict[str, Any], Any]]


def shared_variants(shop: Shop, count: int = 4) -> list[str]:
    """Variants (of distinct products) with stock for every shopper's largest order."""
    sid = shop.open_session(seed=0).session_id
    page = shop.search(sid, SearchQuery(in_stock_only=True, sort="popularity", page_size=50))
    found = []
    for hit in page.hits:
        product = shop.get_product(sid, hit.product_id)
        stocked = [v.variant_id for v in product.variants if v.stock >= 6]
        if stocked:
            found.append(stocked[0])
        if len(found) == count:
            return found
    raise LookupError("the test catalog has too few stocked variants")


def _stock(product: dict[str, Any], variant: str) -> int:
    return next(v["stock"] for v in product["variants"] if v["variant_id"] == variant)


async def shopper(connect: Callable[[str], Client], i: int, variants: list[str]) -> Outcome:
    """One session's random but seeded shopping, ending in a checkout for even ``i``."""
    rng = random.Random(i)
    async with connect("legacy" if i % 3 == 0 else "2026-07-28") as client:
        call = Recorder(client)
        call.session_id = (await call("open_session", seed=i))["session_id"]
        before = {}
        for v in variants:
            product = await call("get_product", product_id=product_of(v))
            before[v] = _stock(product, v)
        history = {o["order_id"] for o in (await call("list_orders"))["orders"]}
        want: dict[str, int] = {}
        for v in rng.sample(variants, k=rng.randint(1, len(variants))):
            want[v] = rng.randint(1, 3)
            await call("add_to_cart", variant_id=v, quantity=want[v])
            if rng.random() < 0.5:
                more = rng.randint(1, 2)
                await call("add_to_cart", variant_id=v, quantity=more)
                want[v] += more
        if len(want) > 1 and rng.random() < 0.5:
            gone = rng.choice(sorted(want))
            await call("remove_from_cart", variant_id=gone)
            del want[gone]
        if rng.random() < 0.5:
            changed = rng.choice(sorted(want))
            want[changed] = rng.randint(1, 5)
            await call("update_cart_item", variant_id=changed, quantity=want[changed])
        cart = await call("view_cart")
        assert {line["variant_id"]: line["quantity"] for line in cart["lines"]} == want
        bought = i % 2 == 0
        if bought:
            customer = await call("get_customer")
            card = next(m for m in customer["payment_methods"] if m["kind"] == "card")
            await call("checkout", payment_method_id=card["payment_method_id"],
                       shipping_option=rng.choice(["standard", "express", "next_day"]))
        return Outcome(call.session_id, want, bought, before, history, call.calls)


def check(shop: Shop, outcome: Outcome) -> None:
    """The session's final state is exactly what its own calls imply."""
    sid = outcome.session_id
    cart = {line.variant_id: line.quantity for line in shop.view_cart(sid).lines}
    new_orders = [o for o in shop.list_orders(sid) if o.order_id not in outcome.history]
    if outcome.bought:
        assert cart == {}
        assert len(new_orders) == 1
        order = shop.get_order(sid, new_orders[0].order_id)
        assert {line.variant_id: line.quantity for line in order.lines} == outcome.cart
    else:
        assert cart == outcome.cart
        assert new_orders == []
    for variant, before in outcome.stock_before.items():
        product = shop.get_product(sid, product_of(variant))
        now = next(v.stock for v in product.variants if v.variant_id == variant)
        sold = outcome.cart.get(variant, 0) if outcome.bought else 0
        assert now == before - sold, (sid, variant)
    assert_trace_matches(shop.trace(sid), outcome.calls)


@pytest.mark.parametrize("transport", ["memory", "http"])
async def test_concurrent_sessions_are_isolated(transport: str, proto_shop: Shop,
                                                request: pytest.FixtureRequest) -> None:
    variants = shared_variants(proto_shop)
    if transport == "memory":
        server = build_server(proto_shop)

        def connect(mode: str) -> Client:
            return Client(server, mode=mode)
    else:
        url = request.getfixturevalue("http_server").mcp_url

        def connect(mode: str) -> Client:
            return Client(url, mode=mode)

    outcomes = await asyncio.gather(*(shopper(connect, i, variants) for i in range(SESSIONS)))
    assert len({o.session_id for o in outcomes}) == SESSIONS
    for outcome in outcomes:
        check(proto_shop, outcome)
