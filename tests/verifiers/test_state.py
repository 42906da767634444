"""normalize() on real snapshots of the shop: cart, orders with codes and split payments,
cancellations, returns and exchanges, on each backend."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mcp_shop import ids
from mcp_shop.state import snapshot_bytes
from tests.mcp_shop.helpers import find_variants, sibling_variant
from verifiers.state import (
    normalize,
    order_public_id,
    product_of,
    product_public_id,
    variant_public_id,
)


@pytest.fixture
def sid(shop) -> str:
    return shop.open_session(seed=3, tier="gold", history_orders=0).session_id


def _method(shop, sid: str, kind: str) -> str:
    return next(p.payment_method_id for p in shop.get_customer(sid).payment_methods
                if p.kind == kind)


def test_public_ids_agree_with_the_shop() -> None:
    assert product_public_id(42) == ids.product_id(42) == "P-000042"
    key = ids.variant_key(42, 3)
    assert variant_public_id(key) == ids.variant_id(key) == "V-000042-3"
    assert order_public_id(1001) == ids.order_id(1001)
    assert product_of("V-000042-3") == "P-000042"


def test_importing_verifiers_needs_no_database_layer() -> None:
    """Of ``mcp_shop``, the verifiers load only the pure-data tool catalogue."""
    code = ("import sys, verifiers; bad = [m for m in sys.modules if m.split('.')[0] in "
            "('sqlalchemy', 'sqlmodel', 'mcp', 'mcp_shop') and m not in ('mcp_shop', "
            "'mcp_shop.tool_catalog')]; print(bad); sys.exit(bool(bad))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_fresh_session(shop, sid) -> None:
    s = normalize(shop.snapshot(sid))
    assert s.cart == [] and s.cart_code is None and s.orders == [] and s.returns == []
    assert s.clock == shop.session(sid).clock.isoformat()
    assert s.used_codes == []


def test_cart_lines_in_added_order_with_known_prices(shop, sid) -> None:
    a, b = find_variants(shop, sid, slug="home", min_stock=3, min_price=3000, count=2)
    shop.add_to_cart(sid, b, 1)
    shop.add_to_cart(sid, a, 2)
    shop.add_to_cart(sid, b, 1)  # more of a line keeps its place
    shop.set_price(sid, a, 4321)
    shop.set_stock(sid, b, 7)
    shop.apply_discount_code(sid, "WELCOME10")
    s = normalize(shop.snapshot(sid))
    assert [(ln.variant_id, ln.quantity) for ln in s.cart] == [(b, 2), (a, 2)]
    assert s.cart[0].product_id == "P-" + b.split("-")[1]
    # the override is known; the catalog price is not part of a snapshot
    assert [ln.unit_price_cents for ln in s.cart] == [0, 4321]
    assert s.prices == {a: 4321} and s.stock == {b: 7}
    assert s.cart_code == "WELCOME10"
    known = normalize(shop.snapshot(sid), prices={b: 999})
    assert [ln.unit_price_cents for ln in known.cart] == [999, 4321]


def test_order_with_code_and_split_payment(shop, sid) -> None:
    gift = _method(shop, sid, "gift_card")
    card = _method(shop, sid, "card")
    (v,) = find_variants(shop, sid, slug="home", min_stock=3, min_price=6000)
    shop.add_to_cart(sid, v, 2)
    shop.apply_discount_code(sid, "WELCOME10")
    view = shop.checkout(sid, payment_method_id=gift, second_payment_method_id=card,
                         shipping_option="express")
    s = normalize(shop.snapshot(sid))
    assert s.cart == [] and s.cart_code is None and s.used_codes == ["WELCOME10"]
    (o,) = s.orders
    assert o.order_id == view.order_id and o.status == "pending"
    assert o.code == "WELCOME10" and o.shipping_option == "express"
    assert (o.subtotal_cents, o.discount_cents, o.total_cents) == (
        view.subtotal_cents, view.discount_cents, view.total_cents)
    assert [(ln.variant_id, ln.quantity, ln.unit_price_cents) for ln in o.lines] == [
        (ln.variant_id, ln.quantity, ln.unit_price_cents) for ln in view.lines]
    assert [(p.payment_method_id, p.kind, p.direction) for p in o.payments] == [
        (gift, "gift_card", "charge"), (card, "card", "charge")]
    assert sum(p.amount_cents for p in o.payments) == o.total_cents
    assert o.tracking_numbers == [sh.tracking_number for sh in view.shipments]
    assert o.tracking_numbers


def test_cancellation_refunds(shop, sid) -> None:
    (v,) = find_variants(shop, sid, slug="home", min_stock=1)
    shop.add_to_cart(sid, v, 1)
    placed = shop.checkout(sid, payment_method_id="PM-1")
    shop.cancel_order(sid, placed.order_id, "ordered_by_mistake")
    (o,) = normalize(shop.snapshot(sid)).orders
    assert o.status == "cancelled" and o.cancel_reason == "ordered_by_mistake"
    assert [p.direction for p in o.payments] == ["charge", "refund"]
    assert o.payments[0].amount_cents == o.payments[1].amount_cents == o.total_cents


def test_returns_and_exchanges_of_a_past_order(shop, sid) -> None:
    (a,) = find_variants(shop, sid, slug="clothing", min_stock=3, multi_variant=True)
    (b,) = find_variants(shop, sid, slug="home", min_stock=3, min_price=1000)
    new = sibling_variant(shop, sid, a)
    oid = shop.add_past_order(sid, {a: 2, b: 3}, days_ago=10)
    shop.request_return(sid, oid, [(b, 2)], reason="changed_mind")
    shop.request_exchange(sid, oid, a, new, quantity=1, reason="wrong_size")
    snap = shop.snapshot(sid)
    s = normalize(snap)
    (o,) = s.orders
    assert o.order_id == oid and o.status == "delivered"
    (ret,) = s.returns
    assert (ret.return_id, ret.order_id, ret.reason, ret.refund_to, ret.lines) == (
        "R-1", oid, "changed_mind", "original", [(b, 2)])
    (x,) = s.exchanges
    assert (x.exchange_id, x.order_id, x.from_variant_id, x.to_variant_id, x.quantity,
            x.reason) == ("X-1", oid, a, new, 1, "wrong_size")
    lines = {ln.variant_id: ln for ln in o.lines}
    assert lines[b].returned_quantity == 2 and lines[a].exchanged_quantity == 1
    assert any(p.direction == "refund" for p in o.payments)
    # the replacement's parcel is tracked on the order too
    assert len(o.tracking_numbers) == 2
    # a JSON round trip (datetimes as text) normalises to the same state
    assert normalize(json.loads(snapshot_bytes(snap))) == s


def test_each_order_gets_its_own_lines_payments_and_parcels(shop) -> None:
    """Several orders of several lines: each state order has exactly its order's lines (by
    line number), payments and tracking numbers, whatever order the snapshot's rows come in."""
    sid = shop.open_session(seed=11, history_orders=6).session_id
    (v,) = find_variants(shop, sid, slug="home", min_stock=1)
    shop.add_to_cart(sid, v, 1)
    shop.checkout(sid, payment_method_id="PM-1")
    snap = shop.snapshot(sid)
    s = normalize(snap)
    views = {o.order_id: shop.get_order(sid, o.order_id) for o in shop.list_orders(sid)}
    assert [o.order_id for o in s.orders] == sorted(views, key=lambda o: int(o[2:]))
    assert len(s.orders) >= 3 and any(len(o.lines) > 1 for o in s.orders)
    for o in s.orders:
        view = views[o.order_id]
        assert [(ln.line_no, ln.variant_id, ln.quantity) for ln in o.lines] == [
            (ln.line_no, ln.variant_id, ln.quantity) for ln in view.lines]
        assert [(p.payment_method_id, p.amount_cents) for p in o.payments] == [
            (p.payment_method_id, p.amount_cents) for p in view.payments]
        assert o.tracking_numbers == [sh.tracking_number for sh in view.shipments]
    reversed_rows = {table: rows[::-1] for table, rows in snap.items()}
    assert normalize(reversed_rows) == s
