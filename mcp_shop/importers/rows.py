"""One source product checked (:func:`prepare`) and turned into database rows (:func:`encode`):
options and prices cleaned, attributes typed by their leaf's specs, stock, ratings and
final-sale marks synthesised where the source is silent."""

from __future__ import annotations

import json
import math
from functools import lru_cache
from typing import Any, NamedTuple

from mcp_shop.ids import VARIANTS_PER_PRODUCT
from mcp_shop.importers import synth
from mcp_shop.importers.records import SourceProduct, SourceVariant
from mcp_shop.importers.stats import parse_bool, parse_number, snake_name
from mcp_shop.importers.text import MAX_PRICE_CENTS, clean_text

__all__ = ["MAX_STOCK", "Prepared", "clean_attributes", "encode", "prepare"]

MAX_STOCK = 1_000_000
MAX_VARIANTS = VARIANTS_PER_PRODUCT - 1
_MAX_TEXT = 100_000  # characters kept of a description
_MAX_ATTR = 2_000  # characters kept of an attribute value


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def clean_attributes(attributes: dict[str, str]) -> dict[str, str]:
    """Labels and values trimmed and storable (:func:`clean_text`); empty ones and
    non-strings dropped."""
    out: dict[str, str] = {}
    for label, value in attributes.items():
        if isinstance(label, str) and isinstance(value, str):
            label, value = clean_text(label.strip()), clean_text(value.strip()[:_MAX_ATTR])
            if label and value:
                out[label] = value
    return out


class Prepared(NamedTuple):
    """A source product the import can use, as plain values (cheap to spill between the
    passes): its option names, usable variants ``(option values, sku, price, stock,
    available)`` and cleaned attributes."""

    key: str
    title: str
    brand: str
    description: str
    option_names: tuple[str, ...]
    variants: tuple[tuple[tuple[str, ...], str, int, int | None, bool | None], ...]
    attributes: dict[str, str]
    rating: float | None
    rating_count: int | None
    final_sale: bool | None


def _price(v: SourceVariant) -> int | None:
    p = v.price_cents
    if isinstance(p, int) and not isinstance(p, bool) and 0 < p <= MAX_PRICE_CENTS:
        return p
    return None


def prepare(p: SourceProduct) -> tuple[Prepared | None, list[str]]:
    """The usable form of ``p`` and the problems found.

    The product is refused (None) without a key, a title, a variant or any usable price.
    Variants lacking a value of a named option, repeating an earlier variant's option values
    or beyond the 999th are dropped (each a problem). A variant without a price takes the
    lowest price of its product's other variants.
    """
    if not isinstance(p.key, str) or not p.key.strip():
        return None, ["no product key (handle, id or parent_asin)"]
    key = clean_text(p.key)
    if not isinstance(p.title, str) or not p.title.strip():
        return None, [f"product {key!r} has no title"]
    if not p.variants:
        return None, [f"product {p.key!r} has no variants"]
    names: list[str] = []
    for n in p.option_names or tuple(k for v in p.variants[:1] for k in v.options):
        n = clean_text(" ".join(str(n).split()))
        if n and n not in names:
            names.append(n)
    problems: list[str] = []
    seen: set[tuple[str, ...]] = set()
    kept: list[tuple[tuple[str, ...], SourceVariant]] = []
    for i, v in enumerate(p.variants, 1):
        values = tuple(clean_text(" ".join(str(v.options.get(n) or "").split()))
                       for n in names)
        if not all(values):
            missing = ", ".join(n for n, x in zip(names, values, strict=True) if not x)
            problems.append(f"product {p.key!r}: variant {i} has no value for {missing}; "
                            "dropped")
        elif values in seen:
            problems.append(f"product {p.key!r}: variant {i} repeats options "
                            f"{', '.join(values)}; dropped")
        elif len(kept) >= MAX_VARIANTS:
            problems.append(f"product {p.key!r}: more than {MAX_VARIANTS} variants; "
                            f"variant {i} dropped")
        else:
            seen.add(values)
            kept.append((values, v))
    prices = [x for _, v in kept if (x := _price(v)) is not None]
    if not prices:
        return None, [f"product {p.key!r} has no usable price (a positive amount such as "
                      "19.99 on at least one variant)"]
    low = min(prices)
    variants = tuple((values, clean_text(str(v.sku or "")), _price(v) or low, v.stock,
                      v.available) for values, v in kept)
    return Prepared(key, clean_text(p.title), clean_text(str(p.brand or "")),
                    clean_text(str(p.description or "")), tuple(names),
                    variants, clean_attributes(p.attributes), p.rating, p.rating_count,
                    p.final_sale), problems


def typed(spec: dict[str, Any], value: str) -> Any:
    """``value`` as its attribute spec's type, or None when it does not fit."""
    kind = spec["type"]
    if kind == "bool":
        return parse_bool(value)
    if kind in ("int", "float"):
        num = parse_number(value)
        if num is None:
            return None
        return int(num[0]) if kind == "int" else num[0]
    return value


def encode(prep: Prepared, pk: int, category_id: int, specs: dict[str, dict[str, Any]],
           seed: int, final_sale_share: float) -> tuple[tuple, list[tuple]]:
    """The product row and variant rows (database-ready, JSON as text) of product ``pk``."""
    (key, title, brand, description, option_names, variants, attributes, rating, rating_count,
     final_sale) = prep
    draws = synth.Draws(seed, key)
    sold_out = draws.random() < 0.03
    syn_rating, syn_count = synth.rating(draws)
    syn_final = draws.random() < final_sale_share
    count = rating_count if _count_ok(rating_count) else syn_count
    if (isinstance(rating, (int, float)) and not isinstance(rating, bool)
            and math.isfinite(rating) and 1.0 <= rating <= 5.0):
        rating = float(rating)
    else:
        rating = syn_rating
    attrs: dict[str, Any] = {}
    for label, value in attributes.items():
        name = snake_name(label)
        spec = specs.get(name)
        if spec is not None and name not in attrs:
            v = typed(spec, value)
            if v is not None:
                attrs[name] = v
    vrows: list[tuple] = []
    lo = hi = -1
    in_stock = False
    base = pk * VARIANTS_PER_PRODUCT
    for position, (values, sku, price, given, available) in enumerate(variants, 1):
        drawn = synth.stock(draws, sold_out)
        if isinstance(given, int) and not isinstance(given, bool):
            stock = max(0, min(MAX_STOCK, given))
        elif available is False:
            stock = 0
        elif available is True:
            stock = drawn or 1 + int(draws.random() * 20)
        else:
            stock = drawn
        in_stock = in_stock or stock > 0
        lo = price if lo < 0 else min(lo, price)
        hi = max(hi, price)
        sku = sku.strip()[:100] or f"{key[:80]}-{position}"
        options = _json(dict(zip(option_names, values, strict=True))) if values else "{}"
        vrows.append((base + position, pk, position, sku, options, price, stock))
    final = final_sale if isinstance(final_sale, bool) else syn_final
    prow = (pk, title.strip(), " ".join(brand.split())[:200], category_id,
            description[:_MAX_TEXT], _json(attrs), _names(option_names), rating, count,
            lo, hi, in_stock, final)
    return prow, vrows


@lru_cache(maxsize=4096)
def _names(option_names: tuple[str, ...]) -> str:
    return _json(list(option_names))


def _count_ok(count: Any) -> bool:
    return isinstance(count, int) and not isinstance(count, bool) and 0 <= count < 10**9
