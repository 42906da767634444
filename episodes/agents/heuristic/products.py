"""Product choice: what the shopper wants of a product (criteria read from its messages and
from its reasons for turning products down), how well a product fits, which variant to buy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from episodes.agents.heuristic.reading import _budget, _category, _cents, _value
from episodes.agents.heuristic.vocab import _STOP, _Phrase, _vocab


@dataclass
class _Crit:
    """What the shopper wants of a product, as understood so far."""

    category: str | None = None
    brand: str | None = None
    budget: int | None = None
    min_rating: float | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    at_least: dict[str, float] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    age: int | None = None
    exclude: set[str] = field(default_factory=set)


def _read_product_text(crit: _Crit, text: str) -> None:
    """Update ``crit`` from one message (later statements override earlier ones)."""
    v = _vocab()
    low = text.lower()
    if crit.category is None:
        crit.category = _category(low)
    budget = _budget(low)
    if budget is not None:
        crit.budget = budget
    for m in re.finditer(r"(?:\bfrom|\bby|\bprefer)\s+([a-z]+)", low):
        brand = v.brands.get(m.group(1))
        if brand:
            crit.brand = brand
    rating = re.search(r"rated at least (\d(?:\.\d)?)", low)
    if rating:
        crit.min_rating = float(rating.group(1))
    age = re.search(r"(\d+)-year-old", low)
    if age:
        crit.age = int(age.group(1))
    themes = [(t.start(), t.group(2)) for t in re.finditer(
        r"\b(loves?|into|likes?|fan of|about)\s+(\w+)", low) if t.group(2) in v.themes]
    if themes:
        crit.attrs["theme"] = max(themes)[1]
    slugs = [crit.category] if crit.category and crit.category in v.attrs else [
        s for s in v.attrs if crit.category and s.startswith(crit.category)]
    hits: list[tuple[int, _Phrase]] = []
    for slug in slugs:
        hits += [(m2.start(), p) for p in v.attrs[slug] for m2 in p.rx.finditer(low)]
    for _, p in sorted(hits, key=lambda h: h[0]):
        if p.at_least:
            crit.at_least[p.key] = float(p.value)
        else:
            crit.attrs[p.key] = p.value
    opts = v.options.get(crit.category or "", v.all_options if not crit.category else [])
    if crit.category and crit.category not in v.options:
        opts = [p for s, ps in v.options.items() if s.startswith(crit.category) for p in ps]
    found: list[tuple[int, int, _Phrase]] = []
    for p in opts:
        for m3 in p.rx.finditer(low):
            found.append((m3.start(), m3.end() - m3.start(), p))
    for _, _, p in sorted(found, key=lambda f: (f[0], f[1])):
        crit.options[p.key] = p.value


def _learn_rejection(crit: _Crit, reason: str) -> None:
    """Tighten ``crit`` from the shopper's reason for turning a product down."""
    v = _vocab()
    low = reason.lower().strip()
    if m := re.search(r"over the \$([\d,]+(?:\.\d+)?) budget", low):
        crit.budget = _cents(m.group(1).replace(",", ""))
    elif m := re.search(r"^brand is \w+, not (\w+)", low):
        crit.brand = v.brands.get(m.group(1), m.group(1).capitalize())
    elif m := re.search(r"^(colour|color|size|width|\w+) is (.+?), not (.+)$", low):
        name = "color" if m.group(1) in ("colour", "color") else m.group(1)
        if name in v.option_values.values():
            crit.options[name] = m.group(3)
        else:
            crit.attrs[m.group(1)] = _value(m.group(3))
    elif m := re.search(r"not available in (.+)$|^(.+?) is out of stock$", low):
        value = (m.group(1) or m.group(2) or "").strip()
        for part in value.split(", "):
            name = v.option_values.get(part)
            if name:
                crit.options[name] = part
    elif m := re.search(r"^rated [\d.]+, below ([\d.]+)", low):
        crit.min_rating = float(m.group(1))
    elif m := re.search(r"^lacks (\w+)", low):
        crit.attrs[m.group(1)] = True
    elif m := re.search(r"^has (\w+)$", low):
        crit.attrs[m.group(1)] = False
    elif m := re.search(r"^(\w+) is (\S+), wanted (.+)$", low):
        crit.attrs[m.group(1)] = _value(m.group(3))
    elif m := re.search(r"^(\w+) is ([\d.]+), below ([\d.]+)", low):
        crit.at_least[m.group(1)] = float(m.group(3))
    elif m := re.search(r"not in the (.+) category", low):
        crit.category = _category(m.group(1)) or crit.category


def _in_stock(view: dict[str, Any]) -> list[dict[str, Any]]:
    return [x for x in view.get("variants", []) if x.get("stock", 0) > 0]


def _has_options(variant: dict[str, Any], options: dict[str, str]) -> bool:
    have = {k: str(x).lower() for k, x in variant.get("options", {}).items()}
    return all(have.get(k) == str(x).lower() for k, x in options.items() if k in have)


def _misses(view: dict[str, Any], crit: _Crit, *, each: bool = False) -> int:
    """How many of the criteria a product fails (0: it fits). ``each``: judge the price of the
    variant that would be bought, not the lowest shown price."""
    bad = 0
    if view.get("product_id") in crit.exclude:
        return 99
    if crit.category and not str(view.get("category_slug", "")).startswith(crit.category):
        bad += 3
    if crit.brand and str(view.get("brand", "")).lower() != crit.brand.lower():
        bad += 1
    if crit.min_rating is not None and float(view.get("rating", 0)) < crit.min_rating:
        bad += 1
    attrs = view.get("attributes", {})
    for k, want in crit.attrs.items():
        if attrs.get(k) != want:
            bad += 1
    for k, low in crit.at_least.items():
        have = attrs.get(k)
        if isinstance(have, bool) or not isinstance(have, int | float) or have < low:
            bad += 1
    if crit.age is not None:
        top, bottom = attrs.get("max_age"), attrs.get("min_age")
        if isinstance(top, int) and top < crit.age:
            bad += 1
        if isinstance(bottom, int) and bottom > crit.age:
            bad += 1
    stocked = _in_stock(view)
    if not stocked:
        return bad + 5
    if not any(_has_options(x, crit.options) for x in stocked):
        bad += 1
    if crit.budget is not None:
        fitting = [x for x in stocked if _has_options(x, crit.options)] or stocked
        price = min(x["price_cents"] for x in (fitting if each else stocked))
        if price > crit.budget:
            bad += 1
    return bad


def _variant_for(view: dict[str, Any], options: dict[str, str], *, quantity: int = 1,
                 budget: int | None = None) -> dict[str, Any] | None:
    """The cheapest in-stock variant with the options (and enough stock), if any."""
    pool = [x for x in view.get("variants", []) if x.get("stock", 0) >= quantity
            and _has_options(x, options)]
    if budget is not None:
        pool = [x for x in pool if x["price_cents"] <= budget] or pool
    return min(pool, key=lambda x: (x["price_cents"], x["variant_id"])) if pool else None


def _title_score(title: str, text: str) -> float:
    """How well a product title matches a mention in ``text`` (share of its words found)."""
    words = [w for w in re.findall(r"[a-z0-9]+", title.lower()) if w not in _STOP]
    have = set(re.findall(r"[a-z0-9]+", text.lower()))
    return sum(w in have for w in words) / max(1, len(words))
