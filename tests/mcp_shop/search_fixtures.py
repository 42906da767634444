"""A small hand-made catalog for the search tests (and a large one for benchmarks).

``build_catalog(engine, n_products, seed)`` writes categories with attribute specs, products and
variants straight into the catalog tables; ``add_session`` creates a session with stock and price
overrides. Everything is drawn from ``random.Random(seed)``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert

from mcp_shop.ids import variant_key
from mcp_shop.models import (
    CatalogInfo,
    Category,
    PriceOverride,
    Product,
    ShopSession,
    StockOverride,
    Variant,
)

__all__ = ["CATEGORIES", "add_session", "build_catalog", "set_overrides"]


def _spec(name: str, type_: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "label": name.replace("_", " ").title(), **extra}


# (id, slug, name, parent_id, attribute specs of a leaf)
CATEGORIES: list[tuple[int, str, str, int | None, list[dict[str, Any]]]] = [
    (1, "electronics", "Electronics", None, []),
    (2, "electronics/audio", "Audio", 1, []),
    (3, "electronics/audio/headphones", "Headphones", 2, [
        _spec("wireless", "bool"),
        _spec("noise_cancelling", "bool"),
        _spec("battery_hours", "int", unit="h"),
        _spec("color", "enum", values=["black", "white", "blue", "red"]),
    ]),
    (4, "electronics/audio/speakers", "Speakers", 2, [
        _spec("waterproof", "bool"),
        _spec("battery_hours", "int", unit="h"),
        _spec("power_watts", "float", unit="W"),
    ]),
    (5, "toys", "Toys", None, []),
    (6, "toys/building-sets", "Building Sets", 5, [
        _spec("theme", "enum", values=["dinosaurs", "space", "city", "castle", "pirates"]),
        _spec("age_min", "int", unit="years"),
        _spec("pieces", "int"),
    ]),
    (7, "home", "Home", None, []),
    (8, "home/kitchen", "Kitchen", 7, []),
    (9, "home/kitchen/coffee-makers", "Coffee Makers", 8, [
        _spec("type", "enum", values=["drip", "espresso", "pod", "french press"]),
        _spec("capacity_cups", "int"),
        _spec("programmable", "bool"),
    ]),
    (10, "clothing", "Clothing", None, []),
    (11, "clothing/running-shoes", "Running Shoes", 10, [
        _spec("material", "enum", values=["mesh", "leather", "knit"]),
        _spec("waterproof", "bool"),
        _spec("color", "enum", values=["black", "white", "blue", "red"]),
    ]),
]

_BRANDS = {
    3: ["Sonix", "AudioMax", "Beatwave", "Kōto", "Pulse"],
    4: ["Sonix", "Boomly", "Pulse", "Rivera"],
    6: ["Blockly", "BrickWorks", "Tinker & Co"],
    9: ["Brewster", "Caffè Uno", "MorningCo"],
    11: ["Stride", "Runr", "Pulse", "Velo"],
}
_NOUNS = {3: "Headphones", 4: "Speaker", 6: "Building Set", 9: "Coffee Maker", 11: "Running Shoes"}
_ADJ = ["Classic", "Pro", "Ultra", "Lite", "Sport", "Studio", "Compact", "Deluxe"]
_WORDS = ["great", "sound", "comfort", "durable", "everyday", "premium", "gift", "travel",
          "quality", "design", "fun", "family", "fresh", "light", "fast", "soft"]
_LEAVES = [3, 4, 6, 9, 11]


def _attributes(rng: random.Random, cat: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for spec in CATEGORIES[cat - 1][4]:
        if spec["type"] == "bool":
            out[spec["name"]] = rng.random() < 0.5
        elif spec["type"] == "enum":
            out[spec["name"]] = rng.choice(spec["values"])
        elif spec["type"] == "int":
            out[spec["name"]] = rng.choice([5, 8, 10, 20, 30, 40, 100, 250, 500])
        else:
            out[spec["name"]] = round(rng.uniform(5, 60), 1)
    return out


def _products(n: int, seed: int) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    rng = random.Random(seed)
    for pk in range(1, n + 1):
        cat = rng.choice(_LEAVES)
        brands = _BRANDS[cat]
        brand = brands[min(int(rng.paretovariate(1.2)) - 1, len(brands) - 1)]
        attrs = _attributes(rng, cat)
        extra = ""
        if attrs.get("noise_cancelling"):
            extra = "Noise Cancelling "
        elif attrs.get("wireless") or attrs.get("waterproof"):
            extra = rng.choice(["Wireless ", "Waterproof ", ""])
        if "theme" in attrs:
            extra = f"{attrs['theme'].title()} "
        title = f"{brand} {rng.choice(_ADJ)} {extra}{_NOUNS[cat]}"
        if rng.random() < 0.5:
            title += f" {rng.choice('XZMQ')}{rng.randint(1, 9) * 100}"
        description = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(4, 12))) + "."
        base = int(rng.lognormvariate(8.3, 0.7)) // 100 * 100 + 99
        variants = []
        for pos in range(1, rng.randint(1, 3) + 1):
            variants.append({
                "id": variant_key(pk, pos), "product_id": pk, "position": pos,
                "sku": f"SKU-{pk}-{pos}", "options": {"size": str(pos)},
                "price_cents": base + rng.choice([0, 0, 500, 1000]),
                "stock": 0 if rng.random() < 0.3 else rng.randint(1, 20),
            })
        product = {
            "id": pk, "title": title, "brand": brand, "category_id": cat,
            "description": description, "attributes": attrs, "option_names": ["size"],
            "rating": round(rng.uniform(1.0, 5.0), 1), "rating_count": rng.choice(
                [0, 1, 3, 10, 10, 25, 100, rng.randint(0, 5000)]),
            "price_min_cents": min(v["price_cents"] for v in variants),
            "price_max_cents": max(v["price_cents"] for v in variants),
            "in_stock": any(v["stock"] > 0 for v in variants), "final_sale": False,
        }
        yield product, variants


def build_catalog(engine: Engine, n_products: int = 200, seed: int = 7,
                  batch: int = 5000) -> str:
    """Write a seeded catalog of ``n_products`` into empty catalog tables.

    Returns:
        The catalog fingerprint (also stored in ``catalog_info``).
    """
    fingerprint = f"test-{seed}-{n_products}"
    counts = {c[0]: 0 for c in CATEGORIES}
    n_variants = 0
    with engine.begin() as conn:
        products: list[dict[str, Any]] = []
        variants: list[dict[str, Any]] = []
        for product, vs in _products(n_products, seed):
            products.append(product)
            variants.extend(vs)
            counts[product["category_id"]] += 1
            if len(products) >= batch:
                n_variants += _flush(conn, products, variants)
        n_variants += _flush(conn, products, variants)
        rows = []
        for cid, slug, name, parent, specs in CATEGORIES:
            chain = _chain(cid)
            rows.append({
                "id": cid, "slug": slug, "name": name, "parent_id": parent,
                "department": CATEGORIES[chain[0] - 1][2],
                "path": " > ".join(CATEGORIES[c - 1][2] for c in chain),
                "is_leaf": bool(specs), "depth": len(chain) - 1, "attribute_specs": specs,
                "product_count": sum(counts[c[0]] for c in CATEGORIES if cid in _chain(c[0])),
            })
        conn.execute(insert(Category), rows)
        conn.execute(insert(CatalogInfo), [{
            "id": 1, "source": "generated", "seed": seed, "size": n_products,
            "generator_version": "test", "fingerprint": fingerprint,
            "product_count": n_products, "variant_count": n_variants,
            "category_count": len(CATEGORIES),
        }])
    return fingerprint


def _flush(conn: Connection, products: list[dict[str, Any]],
           variants: list[dict[str, Any]]) -> int:
    n = len(variants)
    if products:
        conn.execute(insert(Product), products)
        conn.execute(insert(Variant), variants)
    products.clear()
    variants.clear()
    return n


def _chain(cid: int) -> list[int]:
    out = [cid]
    while CATEGORIES[out[0] - 1][3] is not None:
        out.insert(0, CATEGORIES[out[0] - 1][3])  # type: ignore[arg-type]
    return out


def add_session(conn: Connection, session_id: str) -> None:
    """Insert a bare ``shop_session`` row (overrides need it for their foreign key)."""
    t = datetime(2026, 1, 1)
    conn.execute(insert(ShopSession), [{
        "id": session_id, "seed": 0, "catalog_fingerprint": "x", "clock": t, "started_at": t,
    }])


def set_overrides(conn: Connection, session_id: str, *, prices: dict[int, int] | None = None,
                  stock: dict[int, int] | None = None) -> None:
    """Replace the session's overrides: variant key -> price in cents / stock level."""
    conn.execute(delete(PriceOverride).where(PriceOverride.session_id == session_id))
    conn.execute(delete(StockOverride).where(StockOverride.session_id == session_id))
    if prices:
        conn.execute(insert(PriceOverride), [
            {"session_id": session_id, "variant_id": v, "price_cents": p} for v, p in prices.items()
        ])
    if stock:
        conn.execute(insert(StockOverride), [
            {"session_id": session_id, "variant_id": v, "stock": s} for v, s in stock.items()
        ])
