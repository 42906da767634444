"""Whether a product (and a chosen variant) is what the shopper would accept.

The rules are those of "Product matching" in ``docs/tasks.md``: every field of a
``ProductMatch`` that is set must hold. Each failed rule gives a short reason a shopper could
say and a report can show ("price $120.00 is over the $100.00 budget", "colour is red, not
blue"); ``reason_tag`` folds reasons into a few categories for failure statistics.

Checks run in a fixed order (identity, category, brand, price, rating, attributes, options,
stock) so the first reason is deterministic. ``match_checks`` returns every rule's outcome, so
callers can also measure how close a near miss came (the shaped reward's partial progress).
"""

from __future__ import annotations

import re
from typing import Any

from verifiers.types import ProductFacts, ProductMatch, VariantFacts

__all__ = [
    "dollars",
    "match_checks",
    "match_fraction",
    "match_product",
    "option_price",
    "reason_tag",
    "shown_price",
    "variant_matches",
]

_OPTION_NAMES = {"color": "colour"}


def dollars(cents: int) -> str:
    """'$1,234.50' for 123450 cents (the shop's own rendering of money)."""
    return f"${cents / 100:,.2f}"


def _same(a: Any, b: Any) -> bool:
    """Equal ignoring case and surrounding spaces (option values, brands)."""
    return str(a).strip().casefold() == str(b).strip().casefold()


def _has_options(variant: VariantFacts, options: dict[str, str]) -> bool:
    return all(k in variant.options and _same(variant.options[k], v) for k, v in options.items())


def shown_price(product: ProductFacts) -> int | None:
    """The price a product is shown at: its lowest in-stock variant price (the lowest price of
    all variants when none is in stock; None without variants)."""
    in_stock = [v.price_cents for v in product.variants if v.stock > 0]
    prices = in_stock or [v.price_cents for v in product.variants]
    return min(prices) if prices else None


def option_price(product: ProductFacts, options: dict[str, str], *,
                 in_stock: bool = True) -> int | None:
    """The price of the cheapest variant having ``options`` (in stock, unless ``in_stock`` is
    false); None when no such variant exists."""
    prices = [v.price_cents for v in product.variants
              if _has_options(v, options) and (v.stock > 0 or not in_stock)]
    return min(prices) if prices else None


def _option_reason(variant: VariantFacts, options: dict[str, str]) -> str | None:
    for key, want in options.items():
        have = variant.options.get(key)
        name = _OPTION_NAMES.get(key, key)
        if have is None:
            return f"has no {name} option, needs {want}"
        if not _same(have, want):
            return f"{name} is {have}, not {want}"
    return None


def variant_matches(match: ProductMatch, variant: VariantFacts, *,
                    price_cents: int | None = None) -> str | None:
    """None when a chosen variant has the wanted options, price and stock, else why not.

    Only the variant-level rules (options, ``max_price_cents``, ``in_stock``) are checked;
    ``match_product`` adds the product-level ones.
    """
    price = price_cents if price_cents is not None and price_cents > 0 else variant.price_cents
    if match.max_price_cents is not None and price > match.max_price_cents:
        return f"price {dollars(price)} is over the {dollars(match.max_price_cents)} budget"
    reason = _option_reason(variant, match.options)
    if reason is not None:
        return reason
    if match.in_stock and variant.stock <= 0:
        return f"{variant.variant_id} is out of stock"
    return None


def match_checks(match: ProductMatch, product: ProductFacts, *, variant_id: str | None = None,
                 price_cents: int | None = None) -> list[tuple[str, str | None]]:
    """Every rule set in ``match`` with its outcome: (rule, None if it holds else why not).

    ``variant_id`` names the chosen variant (a cart or order line); without it the product is
    judged as presented. ``price_cents`` is the price paid or shown; None or a non-positive
    value (an unknown price, see ``verifiers.state.normalize``) means: the chosen variant's
    price, else the product's lowest in-stock variant price. Without a chosen variant but with
    ``options`` set, the price is that of the cheapest in-stock variant having those options
    (see ``option_price``): a cheap red variant does not make the blue one affordable.
    """
    checks: list[tuple[str, str | None]] = []
    variant: VariantFacts | None = None
    if variant_id is not None:
        variant = next((v for v in product.variants if v.variant_id == variant_id), None)

    if match.product_ids is not None:
        checks.append(("product_ids", None if product.product_id in match.product_ids
                       else f"{product.product_id} is not one of the products asked for"))
    if match.exclude_product_ids:
        checks.append(("exclude_product_ids", None
                       if product.product_id not in match.exclude_product_ids
                       else f"{product.product_id} is the product to avoid"))
    if variant_id is not None and variant is None:
        checks.append(("variant", f"{variant_id} is not a variant of {product.product_id}"))
    if match.category is not None:
        ok = product.category_slug.startswith(match.category)
        name = match.category.rstrip("/").rsplit("/", 1)[-1].replace("-", " ")
        checks.append(("category", None if ok else f"not in the {name} category"))
    if match.brand is not None:
        checks.append(("brand", None if _same(product.brand, match.brand)
                       else f"brand is {product.brand}, not {match.brand}"))
    if match.max_price_cents is not None:
        price: int | None
        optioned = (None if variant_id is not None or not match.options
                    else option_price(product, match.options, in_stock=match.in_stock))
        if optioned is not None:
            price = optioned
        elif price_cents is not None and price_cents > 0:
            price = price_cents
        elif variant is not None:
            price = variant.price_cents
        else:
            price = shown_price(product)
        if price is None:
            checks.append(("max_price_cents", "has no price"))
        else:
            checks.append(("max_price_cents", None if price <= match.max_price_cents else
                           f"price {dollars(price)} is over the "
                           f"{dollars(match.max_price_cents)} budget"))
    if match.min_rating is not None:
        checks.append(("min_rating", None if product.rating >= match.min_rating else
                       f"rated {product.rating:g}, below {match.min_rating:g}"))
    for key, want in match.attributes.items():
        checks.append((f"attributes.{key}", _attribute_reason(product.attributes, key, want)))
    for key, least in match.attributes_at_least.items():
        have = product.attributes.get(key)
        if isinstance(have, bool) or not isinstance(have, int | float):
            reason: str | None = f"has no {key}"
        else:
            reason = None if have >= least else f"{key} is {have:g}, below {least:g}"
        checks.append((f"attributes_at_least.{key}", reason))
    for key, most in match.attributes_at_most.items():
        have = product.attributes.get(key)
        if isinstance(have, bool) or not isinstance(have, int | float):
            reason = f"has no {key}"
        else:
            reason = None if have <= most else f"{key} is {have:g}, above {most:g}"
        checks.append((f"attributes_at_most.{key}", reason))
    if match.options:
        if variant is not None:
            checks.append(("options", _option_reason(variant, match.options)))
        else:
            pool = [v for v in product.variants if v.stock > 0 or not match.in_stock]
            if any(_has_options(v, match.options) for v in pool):
                checks.append(("options", None))
            else:
                wanted = ", ".join(match.options.values())
                any_variant = any(_has_options(v, match.options) for v in product.variants)
                checks.append(("options", f"{wanted} is out of stock" if any_variant
                               else f"not available in {wanted}"))
    if match.in_stock:
        if variant is not None:
            stocked = variant.stock > 0
        else:
            stocked = any(v.stock > 0 for v in product.variants)
        checks.append(("in_stock", None if stocked else "out of stock"))
    return checks


def _attribute_reason(attributes: dict[str, Any], key: str, want: Any) -> str | None:
    """Why attribute ``key`` is not ``want`` (None when equal)."""
    have = attributes.get(key)
    if isinstance(want, bool):
        if have is want:
            return None
        return f"lacks {key}" if want else f"has {key}"
    if have is None:
        return f"has no {key}"
    if isinstance(want, str) and isinstance(have, str):
        equal = have == want
    else:
        equal = not isinstance(have, bool) and have == want
    return None if equal else f"{key} is {have}, wanted {want}"


def match_product(match: ProductMatch, product: ProductFacts, *, variant_id: str | None = None,
                  price_cents: int | None = None) -> str | None:
    """None when ``product`` (with ``variant_id`` where one is chosen) matches, else the first
    failing rule's reason (see ``match_checks`` for the arguments)."""
    for _, reason in match_checks(match, product, variant_id=variant_id,
                                  price_cents=price_cents):
        if reason is not None:
            return reason
    return None


def match_fraction(match: ProductMatch, product: ProductFacts, *,
                   variant_id: str | None = None, price_cents: int | None = None) -> float:
    """The share of the rules set in ``match`` that hold (1.0 when none is set)."""
    checks = match_checks(match, product, variant_id=variant_id, price_cents=price_cents)
    if not checks:
        return 1.0
    return sum(1 for _, r in checks if r is None) / len(checks)


_TAGS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"over the .* budget|over budget"), "over budget"),
    (re.compile(r"out of stock"), "out of stock"),
    (re.compile(r"not cancelled|no new return|no new exchange|was made though|not found"),
     "not done"),
    (re.compile(r"not one of the products|the product to avoid|not in the .* category|"
                r"^brand is|not a variant of|excluded|unknown product|unknown variant"),
     "wrong product"),
    (re.compile(r"quantity|units|covers"), "wrong quantity"),
    (re.compile(r"reason"), "wrong reason"),
    (re.compile(r"\w+ is [^,;]*, not |has no \w+ option|not available in"), "wrong variant"),
    (re.compile(r"^rated "), "low rating"),
    (re.compile(r"^lacks |^has no |^has \w+$|, wanted |, below "), "missing feature"),
    (re.compile(r"no products presented|too many products"), "not presented"),
    (re.compile(r"extra line|other line|other new line|not asked for"), "extra items"),
    (re.compile(r"code"), "wrong code"),
    (re.compile(r"payment|charge"), "wrong payment"),
    (re.compile(r"ships|shipping"), "wrong shipping"),
    (re.compile(r"no new order|orders were placed|is cancelled"), "no order"),
    (re.compile(r"answer"), "no answer"),
]


def reason_tag(reason: str | None) -> str:
    """A short category of a failure reason for statistics: 'over budget', 'wrong variant',
    'wrong product', 'out of stock', 'missing feature', 'low rating', 'not presented',
    'wrong quantity', 'extra items', 'wrong code', 'wrong payment', 'wrong shipping',
    'no order', 'wrong reason', 'no answer', 'not done', 'ok' (None or 'done') or 'other'."""
    if reason is None or reason == "done":
        return "ok"
    # several reasons are joined by '; ' (the first counts), and intent reasons quote a
    # product's reason after ': ', so judge the innermost part first
    first = reason.split("; ")[0]
    for part in (first.rsplit(": ", 1)[-1], first):
        for pattern, tag in _TAGS:
            if pattern.search(part):
                return tag
    return "other"
