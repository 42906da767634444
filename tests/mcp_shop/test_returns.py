"""Returns and exchanges: eligibility by the simulated clock, fees, refunds, variants."""

from __future__ import annotations

import pytest

from mcp_shop import Ineligible, InvalidInput, NotFound, OutOfStock
from mcp_shop.policies import DEFAULT_POLICIES
from tests.mcp_shop.helpers import find_variants, sibling_variant


@pytest.fixture
def sid(shop) -> str:
    return shop.open_session(seed=13, tier="gold", history_orders=0).session_id


def delivered_order(shop, sid, variants, qty=1, **kw):
    for v in variants:
        shop.add_to_cart(sid, v, qty)
    order = shop.checkout(sid, payment_method_id=kw.pop("pm", "PM-1"), **kw)
    shop.advance_clock(sid, days=6)
    assert shop.get_order(sid, order.order_id).status == "delivered"
    return shop.get_order(sid, order.order_id)


def test_not_delivered_yet_is_ineligible(shop, sid):
    (v,) = find_variants(shop, sid, slug="home", min_stock=1)
    shop.add_to_cart(sid, v, 1)
    order = shop.checkout(sid, payment_method_id="PM-1")
    (line,) = shop.check_return_eligibility(sid, order.order_id)
    assert not line.eligible and "not delivered yet" in line.reason
    before = shop.snapshot(sid)
    with pytest.raises(Ineligible, match="not delivered yet"):
        shop.request_return(sid, order.order_id, [(v, 1)], reason="changed_mind")
    assert shop.snapshot(sid) == before


def test_return_refunds_price_less_discount_and_restocks(shop, sid):
    a, b = find_variants(shop, sid, slug="home", min_stock=3, min_price=3000, count=2)
    for v in (a, b):
        shop.add_to_cart(sid, v, 2)
    shop.apply_discount_code(sid, "WELCOME10")
    order = shop.checkout(sid, payment_method_id="PM-1")
    shop.advance_clock(sid, days=6)
    line = next(ln for ln in order.lines if ln.variant_id == a)
    stock = shop.get_product(sid, line.product_id)
    ret = shop.request_return(sid, order.order_id, [(a, 2)], reason="changed_mind")
    assert ret.refund_cents == line.unit_price_cents * 2 - line.discount_cents
    assert ret.fee_cents == 0
    after = shop.get_order(sid, order.order_id)
    assert [p.amount_cents for p in after.payments if p.kind == "refund"] == [ret.refund_cents]
    assert next(ln for ln in after.lines if ln.variant_id == a).returned_quantity == 2
    restocked = shop.get_product(sid, line.product_id)
    assert sum(v.stock for v in restocked.variants) == sum(v.stock for v in stock.variants) + 2
    with pytest.raises(Ineligible, match="already fully returned"):
        shop.request_return(sid, order.order_id, [(a, 1)], reason="changed_mind")


def test_partial_returns_add_up_to_the_line_total(shop, sid):
    (a,) = find_variants(shop, sid, slug="home", min_stock=3, min_price=1000)
    shop.add_discount_code(sid, "ODD7", kind="percent", value=7, single_use=False)
    shop.add_to_cart(sid, a, 3)
    shop.apply_discount_code(sid, "ODD7")
    order = shop.checkout(sid, payment_method_id="PM-1")
    shop.advance_clock(sid, days=6)
    refunds = [shop.request_return(sid, order.order_id, [(a, 1)], reason="other").refund_cents
               for _ in range(3)]
    line = order.lines[0]
    assert sum(refunds) == line.unit_price_cents * 3 - line.discount_cents


def test_window_closes_by_simulated_date(shop, sid):
    (v,) = find_variants(shop, sid, slug="electronics", min_stock=1)
    order = delivered_order(shop, sid, [v])
    window = DEFAULT_POLICIES.return_rule("electronics").window_days
    shop.advance_clock(sid, days=window - 1)
    assert shop.check_return_eligibility(sid, order.order_id)[0].eligible
    shop.advance_clock(sid, days=2)
    (line,) = shop.check_return_eligibility(sid, order.order_id)
    assert not line.eligible and f"{window}-day return window" in line.reason
    with pytest.raises(Ineligible, match="window"):
        shop.request_return(sid, order.order_id, [(v, 1)], reason="changed_mind")


def test_restocking_fee_and_its_waiver(shop, sid):
    a, b = find_variants(shop, sid, slug="electronics", min_stock=1, count=2)
    order = delivered_order(shop, sid, [a, b])
    fee_pct = DEFAULT_POLICIES.return_rule("electronics").restocking_fee_percent
    assert fee_pct > 0
    price = {ln.variant_id: ln.unit_price_cents for ln in order.lines}
    r1 = shop.request_return(sid, order.order_id, [(a, 1)], reason="changed_mind")
    assert r1.fee_cents == price[a] * fee_pct // 100
    assert r1.refund_cents == price[a] - r1.fee_cents
    r2 = shop.request_return(sid, order.order_id, [(b, 1)], reason="defective")
    assert (r2.fee_cents, r2.refund_cents) == (0, price[b])


def test_final_sale_and_non_returnable_categories(shop, sid):
    (food,) = find_variants(shop, sid, slug="grocery", min_stock=1)
    (clear,) = find_variants(shop, sid, final_sale=True, min_stock=1, exclude_slug="grocery")
    order = delivered_order(shop, sid, [food, clear])
    lines = {ln.variant_id: ln for ln in shop.check_return_eligibility(sid, order.order_id)}
    assert not lines[food].eligible and "final sale" in lines[food].reason
    assert not lines[clear].eligible and "final sale" in lines[clear].reason
    with pytest.raises(Ineligible):
        shop.request_exchange(sid, order.order_id, clear, clear, reason="other")


def test_refund_to_gift_card(shop, sid):
    (v,) = find_variants(shop, sid, slug="home", min_stock=1)
    order = delivered_order(shop, sid, [v])
    card = next(m for m in shop.get_customer(sid).payment_methods if m.kind == "gift_card")
    ret = shop.request_return(sid, order.order_id, [(v, 1)], reason="changed_mind",
                              refund_to="gift_card")
    after = next(m for m in shop.get_customer(sid).payment_methods if m.kind == "gift_card")
    assert after.balance_cents == card.balance_cents + ret.refund_cents


def test_full_refund_returns_each_method_what_it_paid(shop, sid):
    card = next(m for m in shop.get_customer(sid).payment_methods if m.kind == "gift_card")
    (v,) = find_variants(shop, sid, slug="home", min_price=card.balance_cents + 500, min_stock=1)
    order = delivered_order(shop, sid, [v], pm=card.payment_method_id,
                            second_payment_method_id="PM-1")
    shop.request_return(sid, order.order_id, [(v, 1)], reason="changed_mind")
    after = shop.get_order(sid, order.order_id)
    paid = {p.payment_method_id: p.amount_cents for p in after.payments if p.kind == "charge"}
    back = {p.payment_method_id: p.amount_cents for p in after.payments if p.kind == "refund"}
    assert back == paid  # full refund: each method gets back exactly what it paid


def test_return_input_errors(shop, sid):
    a, b = find_variants(shop, sid, slug="home", min_stock=2, count=2)
    order = delivered_order(shop, sid, [a])
    with pytest.raises(InvalidInput, match="valid: wrong_size"):
        shop.request_return(sid, order.order_id, [(a, 1)], reason="meh")
    with pytest.raises(InvalidInput, match="from 1 to 1"):
        shop.request_return(sid, order.order_id, [(a, 2)], reason="other")
    with pytest.raises(NotFound, match=f"not a line of {order.order_id}"):
        shop.request_return(sid, order.order_id, [(b, 1)], reason="other")
    with pytest.raises(InvalidInput, match="at least one"):
        shop.request_return(sid, order.order_id, [], reason="other")
    with pytest.raises(InvalidInput, match="refund_to"):
        shop.request_return(sid, order.order_id, [(a, 1)], reason="other", refund_to="cash")


def test_exchange_for_another_size_charges_or_refunds_the_difference(shop, sid):
    (v,) = find_variants(shop, sid, slug="shoes", min_stock=1, multi_variant=True)
    new = sibling_variant(shop, sid, v)
    order = delivered_order(shop, sid, [v])
    paid = order.lines[0].unit_price_cents
    shop.set_price(sid, new, paid + 1000)
    x = shop.request_exchange(sid, order.order_id, v, new, reason="wrong_size")
    assert x.price_difference_cents == 1000 and x.status == "replacement_shipped"
    after = shop.get_order(sid, order.order_id)
    assert after.payments[-1].kind == "charge" and after.payments[-1].amount_cents == 1000
    assert after.lines[0].exchanged_quantity == 1
    assert any(s.for_exchange == x.exchange_id for s in after.shipments)
    shop.advance_clock(sid, days=6)
    assert shop.get_order(sid, order.order_id).exchanges[0].status == "completed"


def test_exchange_cheaper_variant_refunds(shop, sid):
    (v,) = find_variants(shop, sid, slug="clothing", min_stock=1, multi_variant=True,
                         min_price=2000)
    new = sibling_variant(shop, sid, v)
    order = delivered_order(shop, sid, [v])
    shop.set_price(sid, new, order.lines[0].unit_price_cents - 500)
    x = shop.request_exchange(sid, order.order_id, v, new, reason="wrong_colour")
    assert x.price_difference_cents == -500
    assert shop.get_order(sid, order.order_id).payments[-1].kind == "refund"


def test_exchange_rules(shop, sid):
    (v,) = find_variants(shop, sid, slug="shoes", min_stock=1, multi_variant=True)
    (other,) = find_variants(shop, sid, slug="home", min_stock=1)
    new = sibling_variant(shop, sid, v)
    order = delivered_order(shop, sid, [v])
    with pytest.raises(Ineligible, match="same product"):
        shop.request_exchange(sid, order.order_id, v, other, reason="wrong_size")
    with pytest.raises(InvalidInput, match="already ordered"):
        shop.request_exchange(sid, order.order_id, v, v, reason="wrong_size")
    shop.set_stock(sid, new, 0)
    before = shop.snapshot(sid)
    with pytest.raises(OutOfStock):
        shop.request_exchange(sid, order.order_id, v, new, reason="wrong_size")
    assert shop.snapshot(sid) == before


def test_exchange_difference_is_on_discounted_prices_and_never_over_refunds(shop, sid):
    a, b = find_variants(shop, sid, slug="clothing", min_stock=2, multi_variant=True,
                         min_price=3000, count=2)
    shop.add_discount_code(sid, "HALF", kind="percent", value=50, single_use=False)
    for v in (a, b):
        shop.add_to_cart(sid, v, 1)
    shop.apply_discount_code(sid, "HALF")
    order = shop.checkout(sid, payment_method_id="PM-1")
    shop.advance_clock(sid, days=6)
    line_a = next(ln for ln in order.lines if ln.variant_id == a)
    paid_a = line_a.unit_price_cents - line_a.discount_cents
    new = sibling_variant(shop, sid, a)
    shop.set_price(sid, new, 1000)  # far below what was paid, even after the discount
    x = shop.request_exchange(sid, order.order_id, a, new, reason="wrong_size")
    assert x.price_difference_cents == 1000 * paid_a // line_a.unit_price_cents - paid_a
    assert -x.price_difference_cents < paid_a
    ret = shop.request_return(sid, order.order_id, [(b, 1)], reason="changed_mind")
    line_b = next(ln for ln in order.lines if ln.variant_id == b)
    assert ret.refund_cents == line_b.unit_price_cents - line_b.discount_cents
    after = shop.get_order(sid, order.order_id)
    charged = sum(p.amount_cents for p in after.payments if p.kind == "charge")
    refunded = sum(p.amount_cents for p in after.payments if p.kind == "refund")
    assert refunded <= charged


def test_replacement_from_an_exchange_is_final(shop, sid):
    (v,) = find_variants(shop, sid, slug="shoes", min_stock=1, multi_variant=True)
    new = sibling_variant(shop, sid, v)
    order = delivered_order(shop, sid, [v])
    x = shop.request_exchange(sid, order.order_id, v, new, reason="wrong_size")
    shop.advance_clock(sid, days=6)
    with pytest.raises(Ineligible, match=f"replacement sent by exchange {x.exchange_id}"):
        shop.request_return(sid, order.order_id, [(new, 1)], reason="defective")


def test_partial_refund_is_split_across_methods_in_proportion(shop, sid):
    card = next(m for m in shop.get_customer(sid).payment_methods if m.kind == "gift_card")
    a, b = find_variants(shop, sid, slug="home", min_price=card.balance_cents, min_stock=1,
                         count=2)
    order = delivered_order(shop, sid, [a, b], pm=card.payment_method_id,
                            second_payment_method_id="PM-1")
    paid = {p.payment_method_id: p.amount_cents for p in order.payments if p.kind == "charge"}
    ret = shop.request_return(sid, order.order_id, [(a, 1)], reason="changed_mind")
    back = {p.payment_method_id: p.amount_cents
            for p in shop.get_order(sid, order.order_id).payments if p.kind == "refund"}
    assert sum(back.values()) == ret.refund_cents
    total = sum(paid.values())
    for method, amount in back.items():
        assert abs(amount - ret.refund_cents * paid[method] / total) <= 1
