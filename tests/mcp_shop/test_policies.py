"""Policies are data; the rendered text agents read is derived from that data."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mcp_shop.policies import DEFAULT_POLICIES, Policies, ReturnRule, render_policies


def _section(policies: Policies, key: str) -> str:
    return next(s.text for s in render_policies(policies) if s.key == key)


def test_every_return_rule_is_rendered_with_its_window_and_fee():
    text = _section(DEFAULT_POLICIES, "returns")
    for rule in DEFAULT_POLICIES.return_rules:
        if not rule.returnable:
            assert f"{rule.label}: final sale" in text
        else:
            assert f"{rule.label}: returnable within {rule.window_days} days" in text
        if rule.restocking_fee_percent:
            assert f"{rule.restocking_fee_percent}% restocking fee" in text


def test_rendering_follows_the_data():
    changed = DEFAULT_POLICIES.model_copy(update={
        "return_rules": [*DEFAULT_POLICIES.return_rules,
                         ReturnRule(slug_prefix="toys", label="Toys", window_days=90)],
        "processing_after": timedelta(hours=5),
        "free_standard_shipping_cents": {"standard": 9900, "silver": 4900, "gold": 0},
    })
    assert "Toys: returnable within 90 days" in _section(changed, "returns")
    assert "within 5 hours of being placed" in _section(changed, "cancellation")
    assert "standard members from $99.00" in _section(changed, "shipping")
    assert "Toys" not in _section(DEFAULT_POLICIES, "returns")


@pytest.mark.parametrize(("slug", "label"), [
    ("electronics/audio/headphones", "Electronics"),
    ("shoes/athletic/running-shoes", "Shoes"),
    ("grocery/beverages/coffee", "Grocery"),
    ("toys/games-puzzles/puzzles", "Most items"),
])
def test_most_specific_return_rule_applies(slug, label):
    assert DEFAULT_POLICIES.return_rule(slug).label == label


def test_shipping_cost_by_option_tier_and_order_value():
    p = DEFAULT_POLICIES
    assert p.shipping_cost("standard", "standard", 4999) == 599
    assert p.shipping_cost("standard", "standard", 5000) == 0
    assert p.shipping_cost("standard", "gold", 1) == 0
    assert p.shipping_cost("express", "gold", 100_000) == 1499
