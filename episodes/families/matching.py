"""Judging products in a generator: thin adapters over the verifiers' matcher.

A generator reads products at catalog level (``ProductView``) and plans a world of stock and
price overrides; the verifiers judge ``ProductFacts``. ``facts`` turns the one into the other
(``episodes.world.product_facts``) and every judgement goes to ``verifiers.match``, so a task's
gold is held to exactly the rules the shopper and the verifiers apply to the agent
(docs/tasks.md "Product matching").
"""

from __future__ import annotations

from episodes.world import product_facts
from mcp_shop.views import ProductView, VariantView
from verifiers import match as rules
from verifiers.types import ProductFacts, ProductMatch, VariantFacts, World

__all__ = [
    "closeness",
    "eff_price",
    "eff_stock",
    "facts",
    "has_options",
    "matches",
    "shown_price",
    "stocked",
    "why_not",
]


def eff_stock(v: VariantView, world: World) -> int:
    """The variant's stock once the world's overrides apply."""
    return world.stock.get(v.variant_id, v.stock)


def eff_price(v: VariantView, world: World) -> int:
    """The variant's price once the world's overrides apply."""
    return world.prices.get(v.variant_id, v.price_cents)


def stocked(view: ProductView, world: World, *, at_least: int = 1) -> list[VariantView]:
    """The variants of ``view`` with at least ``at_least`` units under ``world``."""
    return [v for v in view.variants if eff_stock(v, world) >= at_least]


def facts(view: ProductView, world: World) -> ProductFacts:
    """``view`` as the verifiers see it in a session built from ``world``."""
    return product_facts(view, world)


def why_not(view: ProductView, m: ProductMatch, world: World,
            variant: VariantView | None = None) -> str | None:
    """None when ``view`` (and ``variant`` when one is chosen) satisfies ``m`` under ``world``,
    else the verifiers' reason (``verifiers.match.match_product``)."""
    return rules.match_product(m, facts(view, world),
                               variant_id=variant.variant_id if variant is not None else None)


def matches(view: ProductView, m: ProductMatch, world: World,
            variant: VariantView | None = None) -> bool:
    """Does ``view`` (and ``variant`` when one is chosen) satisfy ``m`` under ``world``?"""
    return why_not(view, m, world, variant) is None


def shown_price(view: ProductView, world: World) -> int | None:
    """The price ``view`` is shown at under ``world`` (``verifiers.match.shown_price``)."""
    return rules.shown_price(facts(view, world))


def closeness(view: ProductView, m: ProductMatch, world: World) -> int:
    """How many of the rules set in ``m`` the product meets under ``world`` (near misses meet
    most of them)."""
    return sum(reason is None for _, reason in rules.match_checks(m, facts(view, world)))


def has_options(variant: VariantView, options: dict[str, str]) -> bool:
    """Whether the variant has every one of ``options`` (the matcher's option rule)."""
    seen = VariantFacts(variant_id=variant.variant_id, options=dict(variant.options),
                        price_cents=variant.price_cents, stock=variant.stock)
    return rules.variant_matches(ProductMatch(options=options, in_stock=False), seen) is None
