"""Product matching rules (docs/tasks.md, "Product matching") and their reasons."""

from __future__ import annotations

import pytest

from tests.verifiers.builders import product
from verifiers.match import (
    match_fraction,
    match_product,
    match_reason,
    option_price,
    shown_price,
    variant_matches,
)
from verifiers.types import ProductMatch

HEADPHONES = product(
    7, brand="Sonix", slug="electronics/audio/headphones", rating=4.2,
    attributes={"noise_cancelling": True, "battery_hours": 30, "material": "plastic"},
    variants=[({"color": "black"}, 12000, 0), ({"color": "blue"}, 9500, 4),
              ({"color": "red"}, 8000, 2)])


def test_empty_match_accepts_anything() -> None:
    assert match_product(ProductMatch(), HEADPHONES) is None
    assert match_fraction(ProductMatch(), HEADPHONES) == 1.0


def test_category_is_a_slug_prefix() -> None:
    assert match_product(ProductMatch(category="electronics/audio"), HEADPHONES) is None
    assert match_product(ProductMatch(category="electronics/audio/earbuds"), HEADPHONES) \
        == "not in the earbuds category"


def test_brand_any_case() -> None:
    assert match_product(ProductMatch(brand="sonix"), HEADPHONES) is None
    assert match_product(ProductMatch(brand="Acme"), HEADPHONES) == "brand is Sonix, not Acme"


def test_presented_price_is_lowest_in_stock_variant() -> None:
    assert shown_price(HEADPHONES) == 8000
    assert match_product(ProductMatch(max_price_cents=8000), HEADPHONES) is None
    assert match_product(ProductMatch(max_price_cents=7999), HEADPHONES) \
        == "price $80.00 is over the $79.99 budget"


def test_price_paid_or_chosen_variant_price() -> None:
    budget = ProductMatch(max_price_cents=10000)
    assert match_product(budget, HEADPHONES, variant_id="V-000007-1", price_cents=None) \
        == "price $120.00 is over the $100.00 budget"
    assert match_product(budget, HEADPHONES, variant_id="V-000007-2") is None
    # a price paid overrides the current one; 0 means unknown and falls back to the variant
    assert match_product(budget, HEADPHONES, variant_id="V-000007-2", price_cents=10001) \
        == "price $100.01 is over the $100.00 budget"
    assert match_product(budget, HEADPHONES, variant_id="V-000007-2", price_cents=0) is None


def test_rating_and_attributes() -> None:
    assert match_product(ProductMatch(min_rating=4.5), HEADPHONES) == "rated 4.2, below 4.5"
    assert match_product(ProductMatch(attributes={"noise_cancelling": True}), HEADPHONES) is None
    assert match_product(ProductMatch(attributes={"waterproof": True}), HEADPHONES) \
        == "lacks waterproof"
    assert match_product(ProductMatch(attributes={"material": "metal"}), HEADPHONES) \
        == "material is plastic, wanted metal"
    assert match_product(ProductMatch(attributes_at_least={"battery_hours": 30}),
                         HEADPHONES) is None
    assert match_product(ProductMatch(attributes_at_least={"battery_hours": 40}),
                         HEADPHONES) == "battery_hours is 30, below 40"
    assert match_product(ProductMatch(attributes_at_least={"weight_g": 1}), HEADPHONES) \
        == "has no weight_g"


def test_options_without_a_chosen_variant_need_an_in_stock_variant() -> None:
    assert match_product(ProductMatch(options={"color": "BLUE"}), HEADPHONES) is None
    # black exists but has no stock
    assert match_product(ProductMatch(options={"color": "black"}), HEADPHONES) \
        == "black is out of stock"
    assert match_product(ProductMatch(options={"color": "black"}, in_stock=False),
                         HEADPHONES) is None
    assert match_product(ProductMatch(options={"color": "green"}), HEADPHONES) \
        == "not available in green"


def test_options_of_a_chosen_variant() -> None:
    blue = ProductMatch(options={"color": "blue"})
    assert match_product(blue, HEADPHONES, variant_id="V-000007-3") == "colour is red, not blue"
    assert match_product(blue, HEADPHONES, variant_id="V-000007-2") is None
    assert match_product(ProductMatch(options={"size": "M"}), HEADPHONES,
                         variant_id="V-000007-2") == "has no size option, needs M"
    assert match_product(blue, HEADPHONES, variant_id="V-000099-1") \
        == "V-000099-1 is not a variant of P-000007"


def test_stock_of_the_chosen_variant() -> None:
    assert match_product(ProductMatch(), HEADPHONES, variant_id="V-000007-1") == "out of stock"
    assert match_product(ProductMatch(in_stock=False), HEADPHONES, variant_id="V-000007-1") \
        is None
    sold_out = product(8, variants=[({"color": "black"}, 100, 0)])
    assert match_product(ProductMatch(), sold_out) == "out of stock"


def test_product_ids_and_exclusions() -> None:
    assert match_product(ProductMatch(product_ids=["P-000007"]), HEADPHONES) is None
    assert match_product(ProductMatch(product_ids=["P-000001"]), HEADPHONES) \
        == "P-000007 is not one of the products asked for"
    assert match_product(ProductMatch(exclude_product_ids=["P-000007"]), HEADPHONES) \
        == "P-000007 is the product to avoid"


def test_first_failing_rule_is_reported_and_fraction_counts_rules() -> None:
    m = ProductMatch(brand="Acme", max_price_cents=5000, min_rating=4.0)
    assert match_product(m, HEADPHONES) == "brand is Sonix, not Acme"
    # brand and price fail; rating and the default in_stock hold
    assert match_fraction(m, HEADPHONES) == pytest.approx(2 / 4)


def test_variant_matches() -> None:
    v = HEADPHONES.variants[1]
    assert variant_matches(ProductMatch(options={"color": "blue"}, max_price_cents=9500), v) \
        is None
    assert variant_matches(ProductMatch(max_price_cents=9000), v) \
        == "price $95.00 is over the $90.00 budget"
    assert variant_matches(ProductMatch(), HEADPHONES.variants[0]) \
        == "V-000007-1 is out of stock"


_BUDGET = ProductMatch(max_price_cents=9000)


@pytest.mark.parametrize(("match", "variant", "code", "params"), [
    (_BUDGET, "V-000007-2", "over_budget", {"price_cents": 9500, "budget_cents": 9000}),
    (ProductMatch(options={"color": "green"}), "V-000007-2", "wrong_option",
     {"option": "color", "have": "blue", "want": "green"}),
    (ProductMatch(options={"size": "9"}), "V-000007-2", "missing_option",
     {"option": "size", "want": "9"}),
    (ProductMatch(options={"color": "green"}), None, "option_unavailable",
     {"product_id": "P-000007", "options": {"color": "green"}}),
    (ProductMatch(options={"color": "black"}), None, "out_of_stock",
     {"product_id": "P-000007", "options": {"color": "black"}}),
    (ProductMatch(), "V-000007-1", "out_of_stock",
     {"product_id": "P-000007", "variant_id": "V-000007-1"}),
    (ProductMatch(brand="Acme"), None, "wrong_brand", {"have": "Sonix", "want": "Acme"}),
    (ProductMatch(category="electronics/audio/earbuds"), None, "wrong_category",
     {"have": "electronics/audio/headphones", "want": "electronics/audio/earbuds"}),
    (ProductMatch(min_rating=4.5), None, "rating_too_low", {"have": 4.2, "want": 4.5}),
    (ProductMatch(attributes={"material": "metal"}), None, "attribute_mismatch",
     {"attribute": "material", "have": "plastic", "want": "metal", "rule": "equal"}),
    (ProductMatch(attributes_at_least={"battery_hours": 40}), None, "attribute_mismatch",
     {"attribute": "battery_hours", "have": 30, "want": 40, "rule": "at_least"}),
    (ProductMatch(attributes={"waterproof": True}), None, "missing_attribute",
     {"attribute": "waterproof"}),
    (ProductMatch(exclude_product_ids=["P-000007"]), None, "excluded_product",
     {"product_id": "P-000007"}),
    (ProductMatch(product_ids=["P-000001"]), None, "not_requested_product",
     {"product_id": "P-000007"}),
    (ProductMatch(), "V-000001-1", "not_a_variant",
     {"variant_id": "V-000001-1", "product_id": "P-000007"}),
])
def test_reasons_are_typed(match: ProductMatch, variant: str | None, code: str,
                           params: dict[str, object]) -> None:
    """Each failed rule has a stable code with its parameters; the words are the same as
    ``match_product``'s, which the shopper says."""
    reason = match_reason(match, HEADPHONES, variant_id=variant)
    assert reason is not None and (reason.code, reason.params) == (code, params)
    assert reason.text == match_product(match, HEADPHONES, variant_id=variant)
    assert match_reason(ProductMatch(), HEADPHONES) is None


def test_price_with_options_is_that_of_the_cheapest_variant_having_them() -> None:
    """A cheap red variant does not make a pricey blue one affordable."""
    jacket = product(9, slug="clothing/outerwear/jackets", attributes={},
                     variants=[({"color": "red"}, 8000, 5), ({"color": "blue"}, 15000, 5),
                               ({"color": "blue"}, 9500, 0)])
    blue = ProductMatch(max_price_cents=10000, options={"color": "blue"})
    assert shown_price(jacket) == 8000
    assert match_product(blue, jacket) == "price $150.00 is over the $100.00 budget"
    assert match_product(blue, jacket, price_cents=8000) \
        == "price $150.00 is over the $100.00 budget"
    assert match_product(blue, jacket, variant_id="V-000009-2") \
        == "price $150.00 is over the $100.00 budget"
    # out of stock: the cheap blue one counts only when stock is not required
    assert match_product(blue.model_copy(update={"in_stock": False}), jacket) is None
    assert option_price(jacket, {"color": "blue"}) == 15000
    assert option_price(jacket, {"color": "green"}) is None
    assert match_product(ProductMatch(max_price_cents=10000, options={"color": "red"}),
                         jacket) is None
    # no variant has the options: the options rule fails, the price is the product's
    assert match_product(ProductMatch(max_price_cents=10000, options={"color": "green"}),
                         jacket) == "not available in green"
