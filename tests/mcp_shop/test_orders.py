"""Cancelling orders, and reading orders across sessions."""

from __future__ import annotations

import pytest

from mcp_shop import InvalidInput, InvalidState, NotFound
from mcp_shop.ids import product_of
from tests.mcp_shop.helpers import find_variants


@pytest.fixture
def sid(shop) -> str:
    return shop.open_session(seed=9, tier="silver", history_orders=0).session_id


def place(shop, sid, n=1, **kw):
    variants = find_variants(shop, sid, min_stock=2, count=n)
    for v in variants:
        shop.add_to_cart(sid, v, 1)
    return shop.checkout(sid, payment_method_id=kw.pop("pm", "PM-1"), **kw)


def test_cancel_pending_refunds_restocks_and_releases_code(shop, sid):
    variants = find_variants(shop, sid, min_stock=2, min_price=2500, count=3)
    stock0 = {v: shop.get_product(sid, product_of(v)) for v in variants}
    for v in variants:
        shop.add_to_cart(sid, v, 1)
    shop.apply_discount_code(sid, "WELCOME10")
    order = shop.checkout(sid, payment_method_id="PM-1")
    cancelled = shop.cancel_order(sid, order.order_id, "ordered_by_mistake")
    assert cancelled.status == "cancelled" and cancelled.cancel_reason == "ordered_by_mistake"
    refunds = [p for p in cancelled.payments if p.kind == "refund"]
    assert sum(p.amount_cents for p in refunds) == order.total_cents
    for product in stock0.values():
        after = shop.get_product(sid, product.product_id)
        assert [x.stock for x in after.variants] == [x.stock for x in product.variants]
    assert shop.view_cart(sid).lines == []
    place_again = find_variants(shop, sid, min_stock=2, min_price=2500, count=3)
    for v in place_again:
        shop.add_to_cart(sid, v, 1)
    assert shop.apply_discount_code(sid, "WELCOME10").code.applies


def test_cancel_restores_gift_card_balance(shop, sid):
    card = next(m for m in shop.get_customer(sid).payment_methods if m.kind == "gift_card")
    order = place(shop, sid, pm=card.payment_method_id, second_payment_method_id="PM-1")
    shop.cancel_order(sid, order.order_id, "no_longer_needed")
    after = next(m for m in shop.get_customer(sid).payment_methods if m.kind == "gift_card")
    assert after.balance_cents == card.balance_cents


def test_only_pending_orders_can_be_cancelled(shop, sid):
    order = place(shop, sid)
    shop.advance_clock(sid, hours=3)
    before = shop.snapshot(sid)
    with pytest.raises(InvalidState, match="is processing and cannot be cancelled"):
        shop.cancel_order(sid, order.order_id, "other")
    assert shop.snapshot(sid) == before
    shop.advance_clock(sid, days=10)
    with pytest.raises(InvalidState, match="request a return"):
        shop.cancel_order(sid, order.order_id, "other")


def test_cancel_reason_and_twice(shop, sid):
    order = place(shop, sid)
    with pytest.raises(InvalidInput, match="valid: no_longer_needed"):
        shop.cancel_order(sid, order.order_id, "because")
    shop.cancel_order(sid, order.order_id, "other")
    with pytest.raises(InvalidState, match="already cancelled"):
        shop.cancel_order(sid, order.order_id, "other")


def test_orders_of_another_session_are_invisible(shop, sid):
    order = place(shop, sid)
    other = shop.open_session(seed=9, history_orders=0).session_id
    with pytest.raises(NotFound, match="does not exist in this session"):
        shop.get_order(other, order.order_id)
    with pytest.raises(NotFound):
        shop.cancel_order(other, order.order_id, "other")
    assert shop.get_order(sid, order.order_id).status == "pending"


def test_seeded_history_is_consistent_with_the_clock(shop):
    s = shop.open_session(seed=3, history_orders=6).session_id
    orders = shop.list_orders(s)
    assert len(orders) == 6
    for summary in orders:
        order = shop.get_order(s, summary.order_id)
        expected = "delivered" if order.expected_delivery <= shop.session(s).clock else \
            order.status
        assert order.status == expected
        assert sum(p.amount_cents for p in order.payments) == order.total_cents


def test_past_orders_are_numbered_on_from_the_history_and_checkout_after_them(shop):
    """A batch of past orders moves the session's order numbers past all of them: seeded
    history, then a task's past orders, then a checkout each take the next numbers."""
    s = shop.open_session(seed=5, history_orders=4).session_id
    assert sorted(o.order_id for o in shop.list_orders(s)) == [
        f"O-{n}" for n in range(1001, 1005)]
    (v,) = find_variants(shop, s, slug="home", min_stock=2)
    assert shop.add_past_order(s, {v: 1}, days_ago=5) == "O-1005"
    assert shop.add_past_order(s, {v: 2}, days_ago=1) == "O-1006"
    shop.add_to_cart(s, v, 1)
    assert shop.checkout(s, payment_method_id="PM-1").order_id == "O-1007"
    assert len(shop.list_orders(s)) == 7
