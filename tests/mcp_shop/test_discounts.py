"""Discount codes: percent, fixed, free shipping; minimum spend, category, expiry, single use;
one code per cart; each rejection says why and changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mcp_shop import InvalidCode, InvalidInput, InvalidState
from tests.mcp_shop.helpers import find_variants


@pytest.fixture
def sid(shop) -> str:
    return shop.open_session(seed=5, tier="standard").session_id


def fill(shop, sid, *, at_least: int, slug: str = "", exclude_slug: str | None = None) -> None:
    """Add items until the subtotal reaches ``at_least`` cents."""
    for vid in find_variants(shop, sid, slug=slug, exclude_slug=exclude_slug, min_stock=3,
                             min_price=1500, count=30):
        if shop.view_cart(sid).subtotal_cents >= at_least:
            return
        shop.add_to_cart(sid, vid, 1)
    assert shop.view_cart(sid).subtotal_cents >= at_least


def test_percent_code(shop, sid):
    fill(shop, sid, at_least=5000)
    view = shop.apply_discount_code(sid, "welcome10")
    assert view.code.code == "WELCOME10" and view.code.applies
    assert view.discount_cents == view.subtotal_cents * 10 // 100


def test_fixed_code_and_minimum_spend(shop, sid):
    (v,) = find_variants(shop, sid, max_price=5000, min_stock=2)
    shop.add_to_cart(sid, v, 1)
    with pytest.raises(InvalidCode, match=r"minimum spend of \$100.00.*add \$"):
        shop.apply_discount_code(sid, "SAVE20")
    assert shop.view_cart(sid).code is None
    fill(shop, sid, at_least=10000)
    assert shop.apply_discount_code(sid, "SAVE20").discount_cents == 2000


def test_free_shipping_code(shop, sid):
    (v,) = find_variants(shop, sid, max_price=2000, min_stock=2)
    assert shop.add_to_cart(sid, v, 1).standard_shipping_cents > 0
    view = shop.apply_discount_code(sid, "FREESHIP")
    assert view.standard_shipping_cents == 0 and view.discount_cents == 0


def test_category_code_discounts_only_its_category(shop, sid):
    fill(shop, sid, at_least=3000, exclude_slug="shoes")
    with pytest.raises(InvalidCode, match="only to items in 'shoes'"):
        shop.apply_discount_code(sid, "SHOES15")
    (shoe,) = find_variants(shop, sid, slug="shoes", min_stock=2)
    view = shop.add_to_cart(sid, shoe, 1)
    shoe_total = next(ln.line_total_cents for ln in view.lines if ln.variant_id == shoe)
    assert shop.apply_discount_code(sid, "SHOES15").discount_cents == shoe_total * 15 // 100


def test_expired_unknown_and_malformed_codes(shop, sid):
    fill(shop, sid, at_least=2000)
    with pytest.raises(InvalidCode, match="expired on"):
        shop.apply_discount_code(sid, "SPRING5")
    with pytest.raises(InvalidCode, match="not a valid discount code"):
        shop.apply_discount_code(sid, "NOPE")
    with pytest.raises(InvalidInput):
        shop.apply_discount_code(sid, "' OR 1=1 --")
    assert shop.view_cart(sid).code is None


def test_one_code_per_cart(shop, sid):
    fill(shop, sid, at_least=5000)
    shop.apply_discount_code(sid, "WELCOME10")
    with pytest.raises(InvalidCode, match="already has code WELCOME10"):
        shop.apply_discount_code(sid, "FREESHIP")
    with pytest.raises(InvalidState):
        shop.apply_discount_code(sid, "WELCOME10")
    assert shop.remove_discount_code(sid).code is None
    with pytest.raises(InvalidState, match="no discount code"):
        shop.remove_discount_code(sid)
    assert shop.apply_discount_code(sid, "FREESHIP").code.code == "FREESHIP"


def test_code_that_stops_applying_is_shown_and_blocks_checkout(shop, sid):
    (cheap,) = find_variants(shop, sid, max_price=3000, min_stock=2)
    (dear,) = find_variants(shop, sid, min_price=6000, min_stock=2)
    shop.add_to_cart(sid, cheap, 1)
    shop.add_to_cart(sid, dear, 1)
    shop.apply_discount_code(sid, "WELCOME10")
    view = shop.remove_from_cart(sid, dear)
    assert not view.code.applies and "minimum spend" in view.code.reason
    assert view.discount_cents == 0
    before = shop.snapshot(sid)
    with pytest.raises(InvalidCode, match="remove the code"):
        shop.checkout(sid, payment_method_id="PM-1")
    assert shop.snapshot(sid) == before


def test_single_use_code_cannot_be_used_twice(shop, sid):
    fill(shop, sid, at_least=5000)
    shop.apply_discount_code(sid, "WELCOME10")
    order = shop.checkout(sid, payment_method_id="PM-1")
    assert order.discount_code == "WELCOME10"
    fill(shop, sid, at_least=5000)
    with pytest.raises(InvalidCode, match="already been used"):
        shop.apply_discount_code(sid, "WELCOME10")


def test_category_restricted_percent_code_added_by_task(shop, sid):
    shop.add_discount_code(sid, "TOYS20", kind="percent", value=20, category_slug="toys",
                           min_spend_cents=0, single_use=False)
    (toy,) = find_variants(shop, sid, slug="toys", min_stock=2)
    view = shop.add_to_cart(sid, toy, 2)
    assert shop.apply_discount_code(sid, "TOYS20").discount_cents == \
        view.subtotal_cents * 20 // 100


def test_code_expiry_follows_the_simulated_clock(shop, sid):
    clock = shop.session(sid).clock
    shop.add_discount_code(sid, "WEEKEND", kind="fixed", value=300,
                           expires_at=clock + timedelta(days=2), description="$3 off")
    (v,) = find_variants(shop, sid, min_price=1000, min_stock=2)
    shop.add_to_cart(sid, v, 1)
    assert shop.apply_discount_code(sid, "WEEKEND").discount_cents == 300
    shop.advance_clock(sid, days=2)
    view = shop.view_cart(sid)
    assert not view.code.applies and "expired on" in view.code.reason
    with pytest.raises(InvalidCode, match="expired"):
        shop.checkout(sid, payment_method_id="PM-1")
