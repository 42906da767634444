"""Cart rules: add, update, remove by variant; quantity bounds; stock checks; totals."""

from __future__ import annotations

import pytest

from mcp_shop import InvalidInput, NotFound, OutOfStock
from mcp_shop.policies import MAX_LINE_QUANTITY
from tests.mcp_shop.helpers import find_variants


@pytest.fixture
def sid(shop) -> str:
    return shop.open_session(seed=1, tier="standard").session_id


def test_add_merges_lines_and_totals_add_up(shop, sid):
    a, b = find_variants(shop, sid, min_stock=5, count=2)
    shop.add_to_cart(sid, a, 1)
    shop.add_to_cart(sid, b, 2)
    view = shop.add_to_cart(sid, a, 2)
    assert [(ln.variant_id, ln.quantity) for ln in view.lines] == [(a, 3), (b, 2)]
    assert view.item_count == 5
    assert view.subtotal_cents == sum(ln.unit_price_cents * ln.quantity for ln in view.lines)
    assert view.total_cents == view.subtotal_cents - view.discount_cents + \
        view.standard_shipping_cents


@pytest.mark.parametrize("bad", [0, -1, MAX_LINE_QUANTITY + 1, True, 2.5, "3"])
def test_quantity_bounds(shop, sid, bad):
    (a,) = find_variants(shop, sid, min_stock=MAX_LINE_QUANTITY + 1)
    with pytest.raises(InvalidInput, match="quantity"):
        shop.add_to_cart(sid, a, bad)
    assert shop.view_cart(sid).lines == []


def test_line_quantity_cap_counts_what_is_already_in_the_cart(shop, sid):
    (a,) = find_variants(shop, sid, min_stock=MAX_LINE_QUANTITY)
    shop.add_to_cart(sid, a, MAX_LINE_QUANTITY - 1)
    with pytest.raises(InvalidInput, match="at most 1 more"):
        shop.add_to_cart(sid, a, 2)
    assert shop.view_cart(sid).lines[0].quantity == MAX_LINE_QUANTITY - 1


def test_stock_is_checked(shop, sid):
    (a,) = find_variants(shop, sid, min_stock=3)
    shop.set_stock(sid, a, 2)
    with pytest.raises(OutOfStock, match="only 2") as err:
        shop.add_to_cart(sid, a, 3)
    assert err.value.context["available"] == 2
    shop.set_stock(sid, a, 0)
    with pytest.raises(OutOfStock, match="out of stock"):
        shop.add_to_cart(sid, a, 1)
    assert shop.view_cart(sid).lines == []


def test_update_sets_quantity_checks_stock_and_zero_removes(shop, sid):
    a, b = find_variants(shop, sid, min_stock=5, count=2)
    shop.add_to_cart(sid, a, 1)
    shop.add_to_cart(sid, b, 1)
    assert shop.update_cart_item(sid, a, 4).lines[0].quantity == 4
    shop.set_stock(sid, a, 4)
    with pytest.raises(OutOfStock):
        shop.update_cart_item(sid, a, 5)
    view = shop.update_cart_item(sid, a, 0)
    assert [ln.variant_id for ln in view.lines] == [b]


def test_remove_and_unknown_lines(shop, sid):
    a, b = find_variants(shop, sid, count=2)
    shop.add_to_cart(sid, a, 1)
    with pytest.raises(NotFound, match=f"{b} is not in the cart; cart variants: {a}"):
        shop.remove_from_cart(sid, b)
    assert shop.remove_from_cart(sid, a).lines == []
    with pytest.raises(NotFound):
        shop.update_cart_item(sid, a, 1)


@pytest.mark.parametrize("bad", ["P-000001", "V-1", "V-000001-0", "'; DROP TABLE variant; --",
                                 "", "V-000001-1x"])
def test_malformed_variant_ids(shop, sid, bad):
    with pytest.raises(InvalidInput, match="variant id"):
        shop.add_to_cart(sid, bad, 1)


def test_unknown_variant(shop, sid):
    with pytest.raises(NotFound, match="does not exist"):
        shop.add_to_cart(sid, "V-999999-7", 1)


def test_standard_shipping_free_over_tier_threshold(shop):
    std = shop.open_session(seed=2, tier="standard").session_id
    gold = shop.open_session(seed=2, tier="gold").session_id
    (cheap,) = find_variants(shop, std, max_price=2000, min_stock=2)
    for s in (std, gold):
        shop.add_to_cart(s, cheap, 1)
    assert shop.view_cart(std).standard_shipping_cents == 599
    assert shop.view_cart(gold).standard_shipping_cents == 0
    (dear,) = find_variants(shop, std, min_price=6000, min_stock=1)
    assert shop.add_to_cart(std, dear, 1).standard_shipping_cents == 0
