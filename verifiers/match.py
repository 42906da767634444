"""Whether a product (and a chosen variant) is what the shopper would accept.

The rules are those of "Product matching" in ``docs/tasks.md``: every field of a
``ProductMatch`` that is set must hold. Each failed rule gives a short reason a shopper could
say and a report can show ("price $120.00 is over the $100.00 budget", "colour is red, not
blue"), typed as a ``Reason`` whose code (``over_budget``, ``wrong_option``, ...) statistics read.

Checks run in a fixed order (identity, category, brand, price, rating, attributes, options,
stock) so the first reason is deterministic. ``match_checks`` returns every rule's outcome, so
callers can also measure how close a near miss came (the shaped reward's partial progress).
"""

from __future__ import annotations

from typing import Any

from verifiers.types import ProductFacts, ProductMatch, Reason, VariantFacts

__all__ = [
    "dollars",
    "match_checks",
    "match_fraction",
    "match_product",
    "match_reason",
    "option_price",
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


def _over_budget(price: int, budget: int) -> Reason:
    return Reason(code="over_budget", params={"price_cents": price, "budget_cents": budget},
                  text=f"price {dollars(price)} is over the {dollars(budget)} budget")


def _option_reason(variant: VariantFacts, options: dict[str, str]) -> Reason | None:
    for key, want in options.items():
        have = variant.options.get(key)
        name = _OPTION_NAMES.get(key, key)
        if have is None:
            return Reason(code="missing_option", params={"option": key, "want": want},
                          text=f"has no {name} option, needs {want}")
        if not _same(have, want):
            return Reason(code="wrong_option", params={"option": key, "have": have,
                                                       "want": want},
                          text=f"{name} is {have}, not {want}")
    return None


def _variant_reason(match: ProductMatch, variant: VariantFacts, *,
                    price_cents: int | None = None) -> Reason | None:
    price = price_cents if price_cents is not None and price_cents > 0 else variant.price_cents
    if match.max_price_cents is not None and price > match.max_price_cents:
        return _over_budget(price, match.max_price_cents)
    reason = _option_reason(variant, match.options)
    if reason is not None:
        return reason
    if match.in_stock and variant.stock <= 0:
        return Reason(code="out_of_stock", params={"variant_id": variant.variant_id},
                      text=f"{variant.variant_id} is out of stock")
    return None


def variant_matches(match: ProductMatch, variant: VariantFacts, *,
                    price_cents: int | None = None) -> str | None:
    """None when a chosen variant has the wanted options, price and stock, else why not.

    Only the variant-level rules (options, ``max_price_cents``, ``in_stock``) are checked;
    ``match_product`` adds the product-level ones.
    """
    reason = _variant_reason(match, variant, price_cents=price_cents)
    return None if reason is None else reason.text


def match_checks(match: ProductMatch, product: ProductFacts, *, variant_id: str | None = None,
                 price_cents: int | None = None) -> list[tuple[str, Reason | None]]:
    """Every rule set in ``match`` with its outcome: (rule, None if it holds else why not).

    ``variant_id`` names the chosen variant (a cart or order line); without it the product is
    judged as presented. ``price_cents`` is the price paid or shown; None or a non-positive
    value (an unknown price, see ``verifiers.state.normalize``) means: the chosen variant's
    price, else the product's lowest in-stock variant price. Without a chosen variant but with
    ``options`` set, the price is that of the cheapest in-stock variant having those options
    (see ``option_price``): a cheap red variant does not make the blue one affordable.
    """
    checks: list[tuple[str, Reason | None]] = []
    variant: VariantFacts | None = None
    if variant_id is not None:
        variant = next((v for v in product.variants if v.variant_id == variant_id), None)
    pid = product.product_id

    if match.product_ids is not None:
        checks.append(("product_ids", None if pid in match.product_ids else Reason(
            code="not_requested_product", params={"product_id": pid},
            text=f"{pid} is not one of the products asked for")))
    if match.exclude_product_ids:
        checks.append(("exclude_product_ids", None if pid not in match.exclude_product_ids
                       else Reason(code="excluded_product", params={"product_id": pid},
                                   text=f"{pid} is the product to avoid")))
    if variant_id is not None and variant is None:
        checks.append(("variant", Reason(
            code="not_a_variant", params={"variant_id": variant_id, "product_id": pid},
            text=f"{variant_id} is not a variant of {pid}")))
    if match.category is not None:
        ok = product.category_slug.startswith(match.category)
        name = match.category.rstrip("/").rsplit("/", 1)[-1].replace("-", " ")
        checks.append(("category", None if ok else Reason(
            code="wrong_category", params={"have": product.category_slug,
                                           "want": match.category},
            text=f"not in the {name} category")))
    if match.brand is not None:
        checks.append(("brand", None if _same(product.brand, match.brand) else Reason(
            code="wrong_brand", params={"have": product.brand, "want": match.brand},
            text=f"brand is {product.brand}, not {match.brand}")))
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
            checks.append(("max_price_cents", Reason(code="no_price", params={
                "product_id": pid}, text="has no price")))
        else:
            checks.append(("max_price_cents", None if price <= match.max_price_cents
                           else _over_budget(price, match.max_price_cents)))
    if match.min_rating is not None:
        checks.append(("min_rating", None if product.rating >= match.min_rating else Reason(
            code="rating_too_low", params={"have": product.rating, "want": match.min_rating},
            text=f"rated {product.rating:g}, below {match.min_rating:g}")))
    for key, want in match.attributes.items():
        checks.append((f"attributes.{key}", _attribute_reason(product.attributes, key, want)))
    for key, least in match.attributes_at_least.items():
        checks.append((f"attributes_at_least.{key}",
                       _bound_reason(product.attributes, key, least, "at_least")))
    for key, most in match.attributes_at_most.items():
        checks.append((f"attributes_at_most.{key}",
                       _bound_reason(product.attributes, key, most, "at_most")))
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
                options: dict[str, Any] = dict(match.options)
                checks.append(("options", Reason(
                    code="out_of_stock", params={"product_id": pid, "options": options},
                    text=f"{wanted} is out of stock") if any_variant else Reason(
                    code="option_unavailable", params={"product_id": pid, "options": options},
                    text=f"not available in {wanted}")))
    if match.in_stock:
        if variant is not None:
            stocked = variant.stock > 0
        else:
            stocked = any(v.stock > 0 for v in product.variants)
        checks.append(("in_stock", None if stocked else Reason(
            code="out_of_stock", params={"product_id": pid, "variant_id": variant_id},
            text="out of stock")))
    return checks


def _bound_reason(attributes: dict[str, Any], key: str, bound: float,
                  rule: str) -> Reason | None:
    """Why numeric attribute ``key`` is not ``rule`` (at_least, at_most) ``bound``."""
    have = attributes.get(key)
    if isinstance(have, bool) or not isinstance(have, int | float):
        return Reason(code="missing_attribute", params={"attribute": key},
                      text=f"has no {key}")
    ok = have >= bound if rule == "at_least" else have <= bound
    if ok:
        return None
    side = "below" if rule == "at_least" else "above"
    return Reason(code="attribute_mismatch", params={"attribute": key, "have": have,
                                                     "want": bound, "rule": rule},
                  text=f"{key} is {have:g}, {side} {bound:g}")


def _attribute_reason(attributes: dict[str, Any], key: str, want: Any) -> Reason | None:
    """Why attribute ``key`` is not ``want`` (None when equal)."""
    have = attributes.get(key)
    params: dict[str, Any] = {"attribute": key, "want": want, "rule": "equal"}
    if isinstance(want, bool):
        if have is want:
            return None
        if want:
            return Reason(code="missing_attribute", params={"attribute": key},
                          text=f"lacks {key}")
        return Reason(code="attribute_mismatch", params={**params, "have": have},
                      text=f"has {key}")
    if have is None:
        return Reason(code="missing_attribute", params={"attribute": key},
                      text=f"has no {key}")
    if isinstance(want, str) and isinstance(have, str):
        equal = have == want
    else:
        equal = not isinstance(have, bool) and have == want
    if equal:
        return None
    return Reason(code="attribute_mismatch", params={**params, "have": have},
                  text=f"{key} is {have}, wanted {want}")


def match_reason(match: ProductMatch, product: ProductFacts, *, variant_id: str | None = None,
                 price_cents: int | None = None) -> Reason | None:
    """None when ``product`` (with ``variant_id`` where one is chosen) matches, else the first
    failing rule's typed reason (see ``match_checks`` for the arguments)."""
    for _, reason in match_checks(match, product, variant_id=variant_id,
                                  price_cents=price_cents):
        if reason is not None:
            return reason
    return None


def match_product(match: ProductMatch, product: ProductFacts, *, variant_id: str | None = None,
                  price_cents: int | None = None) -> str | None:
    """None when ``product`` matches, else the first failing rule's reason in words (what the
    shopper says); ``match_reason`` gives it typed."""
    reason = match_reason(match, product, variant_id=variant_id, price_cents=price_cents)
    return None if reason is None else reason.text


def match_fraction(match: ProductMatch, product: ProductFacts, *,
                   variant_id: str | None = None, price_cents: int | None = None) -> float:
    """The share of the rules set in ``match`` that hold (1.0 when none is set)."""
    checks = match_checks(match, product, variant_id=variant_id, price_cents=price_cents)
    if not checks:
        return 1.0
    return sum(1 for _, r in checks if r is None) / len(checks)
