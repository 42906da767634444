"""The shop's policies as structured data, and their text rendering.

Shop rules (returns, shipping, cancellation, discount codes, warranty) read these values; the
rendering is what agents read through ``search_policy`` and the ``shop://policies`` resource, so
the two can never disagree.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field

from mcp_shop.money import dollars

__all__ = [
    "CANCEL_REASONS",
    "DEFAULT_POLICIES",
    "EXCHANGE_REASONS",
    "MAX_LINE_QUANTITY",
    "RETURN_REASONS",
    "SHOP_FAULT_REASONS",
    "Policies",
    "PolicySection",
    "ReturnRule",
    "ShippingOption",
    "WarrantyRule",
    "render_policies",
]

MAX_LINE_QUANTITY = 10
CANCEL_REASONS = (
    "no_longer_needed",
    "ordered_by_mistake",
    "found_better_price",
    "shipping_too_slow",
    "other",
)
RETURN_REASONS = (
    "wrong_size",
    "defective",
    "not_as_described",
    "arrived_damaged",
    "changed_mind",
    "other",
)
EXCHANGE_REASONS = ("wrong_size", "wrong_colour", "defective", "other")
SHOP_FAULT_REASONS = frozenset({"defective", "not_as_described", "arrived_damaged"})


class ReturnRule(BaseModel):
    """Return terms for the categories under a slug prefix ('' matches everything)."""

    slug_prefix: str
    label: str
    returnable: bool = True
    window_days: int = 30
    restocking_fee_percent: int = 0


class ShippingOption(BaseModel):
    """A way to ship an order: its price and the simulated time to dispatch and deliver."""

    code: str
    name: str
    cost_cents: int
    ship_after: timedelta
    deliver_after: timedelta


class WarrantyRule(BaseModel):
    """Manufacturer warranty length for a department."""

    slug_prefix: str
    label: str
    months: int


class PolicySection(BaseModel):
    """One titled section of the rendered policies."""

    key: str
    title: str
    text: str


class Policies(BaseModel):
    """Every rule the shop applies, as data."""

    return_rules: list[ReturnRule]
    shipping_options: list[ShippingOption]
    free_standard_shipping_cents: dict[str, int] = Field(
        description="order value (after discount) from which standard shipping is free, by tier"
    )
    processing_after: timedelta = Field(description="pending orders start processing after this")
    warranty_rules: list[WarrantyRule]

    def return_rule(self, category_slug: str) -> ReturnRule:
        """The rule with the longest prefix matching ``category_slug``."""
        matches = [r for r in self.return_rules if category_slug.startswith(r.slug_prefix)]
        return max(matches, key=lambda r: len(r.slug_prefix))

    def shipping_option(self, code: str) -> ShippingOption | None:
        """The option named ``code``, or None."""
        return next((o for o in self.shipping_options if o.code == code), None)

    def shipping_cost(self, code: str, tier: str, order_value_cents: int) -> int:
        """Shipping cost for an order worth ``order_value_cents`` after discount."""
        option = self.shipping_option(code)
        assert option is not None
        if code == "standard" and order_value_cents >= self.free_standard_shipping_cents[tier]:
            return 0
        return option.cost_cents


DEFAULT_POLICIES = Policies(
    return_rules=[
        ReturnRule(slug_prefix="", label="Most items", window_days=30),
        ReturnRule(
            slug_prefix="electronics",
            label="Electronics",
            window_days=15,
            restocking_fee_percent=15,
        ),
        ReturnRule(slug_prefix="shoes", label="Shoes", window_days=60),
        ReturnRule(slug_prefix="clothing", label="Clothing", window_days=60),
        ReturnRule(slug_prefix="beauty", label="Beauty", window_days=14, restocking_fee_percent=10),
        ReturnRule(slug_prefix="grocery", label="Grocery", returnable=False, window_days=0),
    ],
    shipping_options=[
        ShippingOption(
            code="standard",
            name="Standard (5 days)",
            cost_cents=599,
            ship_after=timedelta(days=1),
            deliver_after=timedelta(days=5),
        ),
        ShippingOption(
            code="express",
            name="Express (2 days)",
            cost_cents=1499,
            ship_after=timedelta(hours=12),
            deliver_after=timedelta(days=2),
        ),
        ShippingOption(
            code="next_day",
            name="Next day",
            cost_cents=2499,
            ship_after=timedelta(hours=6),
            deliver_after=timedelta(days=1),
        ),
    ],
    free_standard_shipping_cents={"standard": 5000, "silver": 2500, "gold": 0},
    processing_after=timedelta(hours=2),
    warranty_rules=[
        WarrantyRule(slug_prefix="electronics", label="Electronics", months=12),
        WarrantyRule(slug_prefix="home", label="Home and kitchen", months=24),
        WarrantyRule(slug_prefix="sports", label="Sports equipment", months=6),
    ],
)



def render_policies(p: Policies = DEFAULT_POLICIES) -> list[PolicySection]:
    """The policies as titled text sections (returns, exchanges, shipping, ...)."""
    default = p.return_rule("")
    lines = [
        f"- {default.label}: returnable within {default.window_days} days of delivery, "
        "full refund of the price paid."
    ]
    for r in sorted(p.return_rules, key=lambda r: r.slug_prefix):
        if not r.slug_prefix:
            continue
        if not r.returnable:
            lines.append(f"- {r.label}: final sale, cannot be returned or exchanged.")
            continue
        fee = (
            f" A {r.restocking_fee_percent}% restocking fee applies unless the item is "
            "defective, not as described or arrived damaged."
            if r.restocking_fee_percent
            else ""
        )
        lines.append(f"- {r.label}: returnable within {r.window_days} days of delivery.{fee}")
    returns = (
        "Returns are accepted for delivered items only, counted in days from the delivery date.\n"
        + "\n".join(lines)
        + "\n- Clearance items marked final sale cannot be returned or exchanged."
        "\n- Refunds go back to the original payment methods, each in proportion to what it paid "
        "(a gift card part goes back to the gift card), or, if the customer asks, to a gift "
        "card as store credit."
        "\n- Refunds cover the item price less its share of any discount; shipping is not "
        "refunded.\n- Each item can be returned once; partial quantities are allowed."
    )
    exchanges = (
        "A delivered item can be exchanged for another variant (size, colour, ...) of the same "
        "product within its return window, if that variant is in stock. Final-sale items and "
        "non-returnable categories cannot be exchanged. If the new variant costs more, the "
        "difference is charged to the card or PayPal account that paid the order (the default "
        "card if a gift card paid it all); if it costs less, the difference "
        "is refunded, both on prices after the order's discount. The replacement ships at once; "
        "no restocking fee applies to exchanges. A replacement cannot be returned or exchanged "
        "again."
    )
    ship_lines = [
        f"- {o.name} ({o.code}): {dollars(o.cost_cents)}, delivered in "
        f"{o.deliver_after.days or 1} day(s)."
        for o in p.shipping_options
    ]
    tiers = ", ".join(
        f"{tier} members from {dollars(v)}" if v else f"{tier} members on every order"
        for tier, v in p.free_standard_shipping_cents.items()
    )
    shipping = (
        "Shipping options:\n"
        + "\n".join(ship_lines)
        + f"\nStandard shipping is free for {tiers} (order value after discounts)."
    )
    hours = int(p.processing_after.total_seconds() // 3600)
    cancellation = (
        f"An order can be cancelled while it is pending, that is within {hours} hours of being "
        "placed, before it starts processing. Cancelling refunds every payment to its method. "
        "A reason is required: " + ", ".join(CANCEL_REASONS) + ". Orders already processing, "
        "shipped or delivered cannot be cancelled; once delivered they can be returned."
    )
    discounts = (
        "One discount code per order. Codes can give a percentage off, a fixed amount off or "
        "free shipping; some need a minimum spend, some apply only to one category (the discount "
        "then counts only those items), some expire, and most can be used once. A code that "
        "does not apply is rejected with the reason."
    )
    warranty = "Manufacturer warranty:\n" + "\n".join(
        f"- {w.label}: {w.months} months from delivery." for w in p.warranty_rules
    ) + "\n- Other items: no warranty beyond the return window."
    payment = (
        "Payment by card, PayPal or gift card. A gift card pays up to its balance; if it does "
        "not cover the whole order, a second method (card or PayPal) pays the rest."
    )
    return [
        PolicySection(key="returns", title="Returns and refunds", text=returns),
        PolicySection(key="exchanges", title="Exchanges", text=exchanges),
        PolicySection(key="shipping", title="Shipping", text=shipping),
        PolicySection(key="cancellation", title="Cancelling an order", text=cancellation),
        PolicySection(key="discounts", title="Discount codes", text=discounts),
        PolicySection(key="payment", title="Payment", text=payment),
        PolicySection(key="warranty", title="Warranty", text=warranty),
    ]
