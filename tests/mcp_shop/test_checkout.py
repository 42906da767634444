"""Checkout: order, payment and shipping; atomic stock; gift cards; the clock moves orders."""

from __future__ import annotations

import pytest

from mcp_shop import InvalidInput, InvalidState, NotFound, OutOfStock, PaymentDeclined
from mcp_shop.ids import product_of
from mcp_shop.policies import DEFAULT_POLICIES
from tests.mcp_shop.helpers import find_variants


@pytest.fixture
def sid(shop) -> str:
    return shop.open_session(seed=7, tier="standard", history_orders=0).session_id


def stock_of(shop, sid, vid) -> int:
    product = shop.get_product(sid, product_of(vid))
    return next(v.stock for v in product.variants if v.variant_id == vid)


def test_checkout_places_a_pending_order_and_takes_stock(shop, sid):
    a, b = find_variants(shop, sid, min_stock=3, count=2)
    before = {v: stock_of(shop, sid, v) for v in (a, b)}
    shop.add_to_cart(sid, a, 2)
    cart = shop.add_to_cart(sid, b, 1)
    order = shop.checkout(sid, payment_method_id="PM-1", shipping_option="express")
    assert order.status == "pending"
    assert [(ln.variant_id, ln.quantity) for ln in order.lines] == [(a, 2), (b, 1)]
    assert order.subtotal_cents == cart.subtotal_cents
    assert order.shipping_cents == 1499
    assert order.total_cents == order.subtotal_cents - order.discount_cents + order.shipping_cents
    assert [(p.kind, p.amount_cents) for p in order.payments] == [("charge", order.total_cents)]
    assert stock_of(shop, sid, a) == before[a] - 2 and stock_of(shop, sid, b) == before[b] - 1
    assert shop.view_cart(sid).lines == []
    assert shop.list_orders(sid)[0].order_id == order.order_id


def test_empty_cart_unknown_method_unknown_option(shop, sid):
    with pytest.raises(InvalidState, match="cart is empty"):
        shop.checkout(sid, payment_method_id="PM-1")
    (a,) = find_variants(shop, sid)
    shop.add_to_cart(sid, a, 1)
    with pytest.raises(NotFound, match="PM-9.*this customer has: PM-1"):
        shop.checkout(sid, payment_method_id="PM-9")
    with pytest.raises(InvalidInput, match="valid: standard, express, next_day"):
        shop.checkout(sid, payment_method_id="PM-1", shipping_option="drone")
    with pytest.raises(NotFound, match="address"):
        shop.checkout(sid, payment_method_id="PM-1", address_id="A-9")


def test_stock_gone_since_adding_rejects_checkout_and_changes_nothing(shop, sid):
    a, b = find_variants(shop, sid, min_stock=3, count=2)
    shop.add_to_cart(sid, a, 1)
    shop.add_to_cart(sid, b, 3)
    shop.set_stock(sid, b, 2)
    before = shop.snapshot(sid)
    with pytest.raises(OutOfStock, match="has 2 in stock, 3 requested"):
        shop.checkout(sid, payment_method_id="PM-1")
    assert shop.snapshot(sid) == before


def _gift_card(shop, sid):
    return next(m for m in shop.get_customer(sid).payment_methods if m.kind == "gift_card")


def test_gift_card_must_cover_or_be_split(shop, sid):
    card = _gift_card(shop, sid)
    (v,) = find_variants(shop, sid, min_price=card.balance_cents + 100, min_stock=1)
    shop.add_to_cart(sid, v, 1)
    before = shop.snapshot(sid)
    with pytest.raises(PaymentDeclined, match="add a card or PayPal"):
        shop.checkout(sid, payment_method_id=card.payment_method_id)
    assert shop.snapshot(sid) == before
    with pytest.raises(InvalidInput, match="must differ"):
        shop.checkout(sid, payment_method_id=card.payment_method_id,
                      second_payment_method_id=card.payment_method_id)
    order = shop.checkout(sid, payment_method_id=card.payment_method_id,
                          second_payment_method_id="PM-1")
    charges = [(p.payment_method_id, p.amount_cents) for p in order.payments]
    assert charges == [(card.payment_method_id, card.balance_cents),
                       ("PM-1", order.total_cents - card.balance_cents)]
    assert _gift_card(shop, sid).balance_cents == 0


def test_gift_card_covering_everything(shop, sid):
    card = _gift_card(shop, sid)
    (v,) = find_variants(shop, sid, max_price=card.balance_cents - 700, min_stock=1)
    shop.add_to_cart(sid, v, 1)
    order = shop.checkout(sid, payment_method_id=card.payment_method_id)
    assert [p.payment_method_id for p in order.payments] == [card.payment_method_id]
    assert _gift_card(shop, sid).balance_cents == card.balance_cents - order.total_cents


@pytest.mark.parametrize("option", [o.code for o in DEFAULT_POLICIES.shipping_options])
def test_clock_moves_order_through_its_states(shop, sid, option):
    (v,) = find_variants(shop, sid, min_stock=1)
    shop.add_to_cart(sid, v, 1)
    order = shop.checkout(sid, payment_method_id="PM-1", shipping_option=option)
    spec = DEFAULT_POLICIES.shipping_option(option)
    seen = []
    for _ in range(0, int(spec.deliver_after.total_seconds() // 3600) + 2):
        view = shop.get_order(sid, order.order_id)
        if not seen or seen[-1] != view.status:
            seen.append(view.status)
        shop.advance_clock(sid, hours=1)
    assert seen == ["pending", "processing", "shipped", "delivered"]
    final = shop.get_order(sid, order.order_id)
    assert final.shipments[0].status == "delivered" and final.shipments[0].tracking_number


def test_clock_only_moves_forward(shop, sid):
    with pytest.raises(InvalidInput, match="forward"):
        shop.advance_clock(sid, hours=-1)


def test_second_method_only_with_a_gift_card_first(shop, sid):
    (v,) = find_variants(shop, sid, min_stock=1)
    shop.add_to_cart(sid, v, 1)
    card = next(m for m in shop.get_customer(sid).payment_methods if m.kind == "gift_card")
    before = shop.snapshot(sid)
    with pytest.raises(InvalidInput, match="put the gift card first"):
        shop.checkout(sid, payment_method_id="PM-1",
                      second_payment_method_id=card.payment_method_id)
    assert shop.snapshot(sid) == before
