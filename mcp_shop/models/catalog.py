"""Catalog tables: immutable once built, shared by every session on the database.

Ids are dense integers; the ids shown to agents are derived from them (``P-000042``,
``V-000042-3``) by :mod:`mcp_shop.ids`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Integer
from sqlmodel import Field, SQLModel

__all__ = ["CatalogInfo", "CatalogPolicies", "Category", "Product", "Variant"]


class CatalogInfo(SQLModel, table=True):
    """The one catalog of this database: how it was made and how big it is."""

    __tablename__ = "catalog_info"

    id: int = Field(default=1, primary_key=True)
    source: str = Field(description="'generated' or 'imported'")
    seed: int = Field(description="generator seed (0 for imports)")
    size: int = Field(description="requested number of products")
    generator_version: str
    fingerprint: str = Field(description="stable digest naming this catalog's content")
    product_count: int
    variant_count: int
    category_count: int


class Category(SQLModel, table=True):
    """A node of the category tree; leaves hold products and define typed attributes."""

    __tablename__ = "category"

    id: int = Field(primary_key=True)
    slug: str = Field(index=True, unique=True, description="e.g. 'electronics/audio/headphones'")
    name: str
    parent_id: int | None = Field(default=None, index=True)
    department: str = Field(description="top-level name, e.g. 'Electronics'")
    path: str = Field(description="e.g. 'Electronics > Audio > Headphones'")
    is_leaf: bool
    depth: int
    attribute_specs: list[dict[str, Any]] = Field(
        default_factory=list,
        sa_column=Column(JSON, nullable=False),
        description="[{name, type: bool|int|float|enum|text, unit?, values?, label}]",
    )
    product_count: int = 0


class Product(SQLModel, table=True):
    """A product with its typed attributes; prices and stock live on its variants."""

    __tablename__ = "product"

    id: int = Field(primary_key=True)
    title: str
    brand: str = Field(index=True)
    category_id: int = Field(index=True)
    description: str
    attributes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    option_names: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    rating: float = Field(description="mean rating, 1.0 to 5.0")
    rating_count: int
    price_min_cents: int = Field(description="lowest catalog price over the variants")
    price_max_cents: int
    in_stock: bool = Field(description="some variant has catalog stock")
    final_sale: bool = Field(default=False, description="clearance item: not returnable")


class Variant(SQLModel, table=True):
    """One purchasable option set of a product (size, colour, ...) with its own SKU and price."""

    __tablename__ = "variant"

    # INTEGER on SQLite makes the key the table's rowid (no extra index, half the insert time).
    id: int = Field(sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"),
                                     primary_key=True, autoincrement=False))
    product_id: int = Field(index=True)
    position: int = Field(description="1-based index within the product")
    sku: str
    options: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    price_cents: int
    stock: int


class CatalogPolicies(SQLModel, table=True):
    """The shop policies of a catalog that brings its own (an imported one): one row.

    A database without this table or row (every generated catalog, and databases made
    before the table existed) uses ``mcp_shop.policies.DEFAULT_POLICIES``.
    """

    __tablename__ = "catalog_policies"

    id: int = Field(default=1, primary_key=True)
    policies: dict[str, Any] = Field(
        sa_column=Column(JSON, nullable=False),
        description="a mcp_shop.policies.Policies as JSON (model_dump(mode='json'))",
    )
