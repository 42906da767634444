"""Variants of a generated product: which options it offers, and each option set's SKU,
price and stock.
"""

from __future__ import annotations

import json
import math
import random
from functools import cache, partial
from typing import Any, NamedTuple

from mcp_shop.catalog.specs import OptionSpec
from mcp_shop.catalog.vocab import COLOR_CODES, SHOE_SIZES
from mcp_shop.ids import VARIANTS_PER_PRODUCT

__all__ = ["MAX_VARIANTS", "VariantRow", "build_variants", "choose_options", "dumps",
           "shop_cents"]

MAX_VARIANTS = 40
"""Most variants a product has."""

dumps = json.JSONEncoder(separators=(",", ":")).encode
"""Compact JSON text of a value (what ``json.dumps(v, separators=(",", ":"))`` gives)."""


class VariantRow(NamedTuple):
    """One generated variant (the columns of ``Variant``)."""

    id: int
    product_id: int
    position: int
    sku: str
    options: dict[str, str]
    price_cents: int
    stock: int


_new_variant = partial(tuple.__new__, VariantRow)


def shop_cents(dollars: float, style: int) -> int:
    """``dollars`` as a shop-like price in cents (x.99, x.49, 149.99, 1,299.99 ...).

    Args:
        dollars: the raw price.
        style: 0..3, the product's choice of price ending.
    """
    if dollars < 10:
        return max(99, int(dollars) * 100 + (99, 49, 29, 79)[style])
    if dollars < 100:
        return int(dollars) * 100 + (99, 99, 49, 95)[style]
    if dollars < 1000:
        return int(round(dollars / 5) * 5) * 100 - 1
    return int(round(dollars / 50) * 50) * 100 - 1


@cache
def _option_code(value: str) -> str:
    code = COLOR_CODES.get(value)
    if code is None:
        code = "".join(ch for ch in value.upper() if ch.isalnum())[:6]
    return "-" + code


@cache
def _json_pair(name: str, value: str) -> str:
    """``',"name":"value"'``: one option of a variant's JSON object."""
    return "," + dumps(name) + ":" + dumps(value)


def _shoe_sizes(rng: random.Random, gender: str | None) -> list[str]:
    lo, hi = {"women": (5.0, 11.0), "men": (7.0, 13.0)}.get(gender or "", (6.0, 12.0))
    lo += (0.0, 0.0, 1.0)[int(rng.random() * 3)]
    halves = rng.random() < 0.55
    sizes = []
    x = lo
    while x <= hi:
        if x == int(x) or (halves and x < 12.5):
            sizes.append(f"{x:g}")
        x += 0.5
    if gender == "men" and rng.random() < 0.3:
        sizes.append("14")
    return sizes


def _option_values(rng: random.Random, spec: OptionSpec, gender: str | None) -> list[str]:
    values = spec.values
    if values is SHOE_SIZES:
        return _shoe_sizes(rng, gender)
    lo, hi = spec.count
    k = min(len(values), lo + int(rng.random() * (hi - lo + 1)))
    if spec.run:
        start = int(rng.random() * (len(values) - k + 1))
        return list(values[start:start + k])
    return rng.sample(values, k)


def choose_options(rng: random.Random, options: tuple[OptionSpec, ...], gender: str | None
                   ) -> list[tuple[str, list[str]]]:
    """The option dimensions a product offers and their values (at most ``MAX_VARIANTS``
    combinations)."""
    chosen = []
    for spec in options:
        if spec.p < 1.0 and rng.random() >= spec.p:
            continue
        chosen.append((spec.name, _option_values(rng, spec, gender)))
    total = math.prod(len(v) for _, v in chosen)
    while total > MAX_VARIANTS:
        # shrink the widest non-size dimension first (colors), then the sizes
        idx = max(range(len(chosen)), key=lambda j: (chosen[j][0] != "size", len(chosen[j][1])))
        name, vals = chosen[idx]
        if len(vals) == 1:
            idx = max(range(len(chosen)), key=lambda j: len(chosen[j][1]))
            name, vals = chosen[idx]
        chosen[idx] = (name, vals[:max(1, len(vals) - 1)])
        total = math.prod(len(v) for _, v in chosen)
    return chosen


def build_variants(rng: random.Random, pk: int, chosen: list[tuple[str, list[str]]],
                   upcharges: dict[str, dict[str, float]], base_sku: str, raw: float,
                   style: int, small_up: bool, sold_out: bool, encoded: bool,
                   out: list[VariantRow]) -> tuple[list[str], int, int, bool]:
    """Append a product's variants to ``out``: one per combination of the chosen options.

    Args:
        rng: the chunk's RNG.
        pk: the product key.
        chosen: ``choose_options`` of the product.
        upcharges: ``{option: {value: price factor}}``; factors under 1.15 apply only when
            ``small_up`` (some products charge a little more for XXL).
        base_sku: SKU prefix, e.g. 'AUR-42'.
        raw: the product's unrounded price in dollars.
        style: its price-ending style (see ``shop_cents``).
        small_up: apply small upcharges.
        sold_out: every variant has zero stock.
        encoded: append plain tuples with the options as JSON text.
        out: where the rows go.

    Returns:
        The option names, the lowest and highest price and whether any variant is in stock.
    """
    premium = None
    for name, values in chosen:
        if name == "color" and len(values) > 1 and rng.random() < 0.1:
            premium = values[1 + int(rng.random() * (len(values) - 1))]
    names = [name for name, _ in chosen]
    combos: list[tuple[tuple[str, ...], str, str, float]] = [((), "", "", 1.0)]
    for name, values in chosen:
        up = upcharges.get(name)
        entries = []
        for value in values:
            mult = 1.0
            if up is not None:
                mult = up.get(value, 1.0)
                if mult < 1.15 and not small_up:
                    mult = 1.0
            if value == premium:
                mult *= 1.1
            entries.append((value, _option_code(value), _json_pair(name, value), mult))
        combos = [(vals + (v,), codes + c, body + j, m0 * m)
                  for vals, codes, body, m0 in combos for v, c, j, m in entries]
    prices: dict[float, int] = {}
    lo = hi = -1
    in_stock = False
    base_id = pk * VARIANTS_PER_PRODUCT
    for position, (vals, codes, body, mult) in enumerate(combos, 1):
        price = prices.get(mult)
        if price is None:
            price = prices[mult] = shop_cents(raw * mult, style)
        if sold_out:
            stock = 0
        else:
            r = rng.random()
            stock = (0 if r < 0.07 else 1 + int((r - 0.07) * 50) if r < 0.13
                     else 5 + int(195 * ((r - 0.13) / 0.87) ** 2))
            in_stock = in_stock or stock > 0
        if lo < 0 or price < lo:
            lo = price
        if price > hi:
            hi = price
        if encoded:  # plain tuples: cheaper to pickle between processes
            row: Any = (base_id + position, pk, position, base_sku + codes,
                        "{" + body[1:] + "}", price, stock)
            out.append(row)
        else:
            out.append(_new_variant((base_id + position, pk, position, base_sku + codes,
                                     dict(zip(names, vals)), price, stock)))  # noqa: B905
    return names, lo, hi, in_stock

