"""The synthetic catalog: a deterministic generator and its bulk loader.

``build_catalog`` / ``ensure_catalog`` write the catalog of a ``(seed, size)`` into a database;
``generate_products`` gives the same rows in memory (product ``i`` depends only on the seed).
"""

from __future__ import annotations

from mcp_shop.catalog.generator import (
    CHUNK_SIZE,
    ProductRow,
    VariantRow,
    categories,
    generate_products,
)
from mcp_shop.catalog.loader import (
    GENERATOR_VERSION,
    MAX_CATALOG_SIZE,
    Progress,
    build_catalog,
    catalog_fingerprint,
    ensure_catalog,
    load_catalog_info,
)
from mcp_shop.catalog.taxonomy import THEMES, CategorySpec

__all__ = [
    "CHUNK_SIZE",
    "CategorySpec",
    "GENERATOR_VERSION",
    "MAX_CATALOG_SIZE",
    "ProductRow",
    "Progress",
    "THEMES",
    "VariantRow",
    "build_catalog",
    "catalog_fingerprint",
    "categories",
    "ensure_catalog",
    "generate_products",
    "load_catalog_info",
]
