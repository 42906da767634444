"""Property-based tests of the shop's invariants over random operation sequences.

- stock never goes negative, and equals the catalog's less what live orders hold;
- money adds up: order total = lines - discount + shipping; refunds never exceed charges;
  gift card balances never go negative;
- a rejected operation leaves the session's state byte-identical;
- the cart equals a simple model of the successful cart operations;
- another session's state is untouched by all of it.
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from mcp_shop import ShopError
from mcp_shop.ids import parse_variant_id
from mcp_shop.models import Variant
from mcp_shop.state import snapshot_bytes
from tests.mcp_shop.helpers import find_variants, sibling_variant

CODES = ["WELCOME10", "SAVE20", "FREESHIP", "SHOES15", "SPRING5", "BOGUS"]
REASONS = ["changed_mind", "defective", "wrong_size"]

add = st.tuples(st.just("add"), st.integers(0, 7), st.integers(-1, 12))
pay = st.tuples(st.just("checkout"), st.sampled_from(["PM-1", "PM-1", "PM-2", "PM-3", "PM-9"]),
                st.booleans(), st.sampled_from(["standard", "express", "next_day", "boat"]))
op = st.one_of(
    add, add, add, pay, pay,
    st.tuples(st.just("update"), st.integers(0, 7), st.integers(-1, 12)),
    st.tuples(st.just("remove"), st.integers(0, 7)),
    st.tuples(st.just("code"), st.sampled_from(CODES)),
    st.tuples(st.just("uncode")),
    st.tuples(st.just("cancel"), st.integers(0, 3), st.just(0)),
    st.tuples(st.just("clock"), st.integers(1, 24 * 20)),
    st.tuples(st.just("clock"), st.integers(1, 24 * 20)),
    st.tuples(st.just("return"), st.integers(0, 3), st.integers(0, 3), st.integers(0, 3),
              st.sampled_from(REASONS), st.booleans()),
    st.tuples(st.just("exchange"), st.integers(0, 3), st.integers(0, 3)),
    st.tuples(st.just("stock"), st.integers(0, 7), st.integers(0, 4)),
)


@pytest.fixture(scope="module")
def pool(shop):
    """Eight variants: shoes with siblings, electronics, grocery, cheap and dear items."""
    sid = shop.open_session(seed=0, history_orders=0).session_id
    shoes = find_variants(shop, sid, slug="shoes", min_stock=6, multi_variant=True, count=2)
    found = shoes + [sibling_variant(shop, sid, shoes[0], min_stock=4)]
    found += find_variants(shop, sid, slug="electronics", min_stock=5)
    found += find_variants(shop, sid, slug="grocery", min_stock=5)
    found += find_variants(shop, sid, slug="home", max_price=1500, min_stock=5)
    found += find_variants(shop, sid, slug="clothing", min_price=4000, min_stock=5, count=2)
    return found


def _apply(shop, sid, step, pool, cart_model):
    kind = step[0]
    if kind == "add":
        v = pool[step[1]]
        shop.add_to_cart(sid, v, step[2])
        cart_model[v] += step[2]
    elif kind == "update":
        v = pool[step[1]]
        shop.update_cart_item(sid, v, step[2])
        if step[2] == 0:
            del cart_model[v]
        else:
            cart_model[v] = step[2]
    elif kind == "remove":
        shop.remove_from_cart(sid, pool[step[1]])
        del cart_model[pool[step[1]]]
    elif kind == "code":
        shop.apply_discount_code(sid, step[1])
    elif kind == "uncode":
        shop.remove_discount_code(sid)
    elif kind == "checkout":
        second = "PM-1" if step[2] else None
        shop.checkout(sid, payment_method_id=step[1], shipping_option=step[3],
                      second_payment_method_id=second)
        cart_model.clear()
    elif kind == "clock":
        shop.advance_clock(sid, hours=step[1])
    elif kind == "stock":
        shop.set_stock(sid, pool[step[1]], step[2])
    else:
        orders = shop.list_orders(sid)
        if not orders:
            event(f"{kind} skipped: no orders yet")
            return
        order = shop.get_order(sid, orders[step[1] % len(orders)].order_id)
        line = order.lines[step[2] % len(order.lines)]
        if kind == "cancel":
            shop.cancel_order(sid, order.order_id, "other")
        elif kind == "return":
            shop.request_return(sid, order.order_id, [(line.variant_id, step[3])],
                                reason=step[4], refund_to="gift_card" if step[5] else "original")
        elif kind == "exchange":
            product = shop.get_product(sid, line.product_id)
            others = [v.variant_id for v in product.variants if v.variant_id != line.variant_id]
            new = others[0] if others else line.variant_id
            shop.request_exchange(sid, order.order_id, line.variant_id, new, reason="wrong_size")


def _check_invariants(shop, sid, pool, cart_model, set_stock):
    snap = shop.snapshot(sid)
    assert all(r["stock"] >= 0 for r in snap["stock_override"])
    assert all((r["balance_cents"] or 0) >= 0 for r in snap["payment_method"])
    lines_by_order: dict[int, list[dict]] = {}
    for ln in snap["order_line"]:
        lines_by_order.setdefault(ln["order_id"], []).append(ln)
    for o in snap["shop_order"]:
        lines = lines_by_order[o["id"]]
        assert o["subtotal_cents"] == sum(ln["unit_price_cents"] * ln["quantity"] for ln in lines)
        assert o["discount_cents"] == sum(ln["discount_cents"] for ln in lines)
        assert o["total_cents"] == o["subtotal_cents"] - o["discount_cents"] + o["shipping_cents"]
        pays = [p for p in snap["payment"] if p["order_id"] == o["id"]]
        charged = sum(p["amount_cents"] for p in pays if p["kind"] == "charge")
        refunded = sum(p["amount_cents"] for p in pays if p["kind"] == "refund")
        assert charged >= o["total_cents"] and refunded <= charged
        if o["status"] == "cancelled":
            assert refunded == charged
    # Stock conservation for variants whose stock the test never set by hand.
    with shop.engine.connect() as conn:
        catalog = dict(conn.execute(select(Variant.__table__.c.id, Variant.__table__.c.stock)
                                    .where(Variant.__table__.c.id.in_(
                                        [parse_variant_id(v) for v in pool]))).all())
    cancelled = {o["id"] for o in snap["shop_order"] if o["status"] == "cancelled"}
    held: Counter[int] = Counter()
    for ln in snap["order_line"]:
        if ln["order_id"] not in cancelled:
            held[ln["variant_id"]] += ln["quantity"] - ln["returned_quantity"] - \
                ln["exchanged_quantity"]
    for x in snap["exchange_request"]:
        held[x["to_variant_id"]] += x["quantity"]
    overrides = {r["variant_id"]: r["stock"] for r in snap["stock_override"]}
    for v in pool:
        pk = parse_variant_id(v)
        if v not in set_stock:
            assert overrides.get(pk, catalog[pk]) == catalog[pk] - held[pk]
    cart = shop.view_cart(sid)
    assert {ln.variant_id: ln.quantity for ln in cart.lines} == dict(cart_model)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=st.builds(
    lambda adds, checkout, rest: adds + [checkout] + rest,
    st.lists(st.tuples(st.just("add"), st.integers(0, 7), st.integers(1, 3)), min_size=1,
             max_size=3),
    st.tuples(st.just("checkout"), st.just("PM-1"), st.just(False), st.just("standard")),
    st.lists(op, min_size=3, max_size=30),
))
def test_invariants_hold_over_random_operations(shop, pool, steps):
    sid = shop.open_session(seed=21, history_orders=0).session_id
    bystander = shop.open_session(seed=21, history_orders=2).session_id
    bystander_before = snapshot_bytes(shop.snapshot(bystander))
    cart_model: Counter[str] = Counter()
    set_stock: set[str] = set()
    for step in steps:
        before = snapshot_bytes(shop.snapshot(sid))
        try:
            _apply(shop, sid, step, pool, cart_model)
        except ShopError as exc:
            event(f"{step[0]} rejected: {exc.code}")
            assert snapshot_bytes(shop.snapshot(sid)) == before, f"rejected {step} changed state"
        else:
            event(f"{step[0]} ok")
            if step[0] == "stock":
                set_stock.add(pool[step[1]])
        _check_invariants(shop, sid, pool, cart_model, set_stock)
    assert snapshot_bytes(shop.snapshot(bystander)) == bystander_before
