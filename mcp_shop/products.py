"""Product details as one session sees them (its prices and stock)."""

from __future__ import annotations

from sqlalchemy import Connection

from mcp_shop.errors import NotFound
from mcp_shop.ids import product_id
from mcp_shop.inventory import product_variants
from mcp_shop.models import Category, Product
from mcp_shop.sql import Sql, as_bool, as_json, fetch_one
from mcp_shop.views import ProductView, VariantView

__all__ = ["LOW_STOCK", "get_product", "stock_status"]

P = Product.__table__  # type: ignore[attr-defined]
C = Category.__table__  # type: ignore[attr-defined]
LOW_STOCK = 3
_PRODUCT = Sql("SELECT p.title, p.brand, p.description, p.attributes, p.option_names, p.rating, "
               "p.rating_count, p.final_sale, c.path, c.slug FROM product p "
               "JOIN category c ON c.id = p.category_id WHERE p.id = ?")


def stock_status(stock: int) -> str:
    """'out_of_stock', 'low_stock' (1 to 3 left) or 'in_stock'."""
    if stock <= 0:
        return "out_of_stock"
    return "low_stock" if stock <= LOW_STOCK else "in_stock"


def get_product(conn: Connection, session_id: str | None, product_pk: int) -> ProductView:
    """A product with attributes and every variant's price and stock in this session
    (``session_id=None``: the catalog's own prices and stock)."""
    row = fetch_one(conn, _PRODUCT, (product_pk,))
    if row is None:
        raise NotFound(f"product {product_id(product_pk)} does not exist; use search_products "
                       "to find product ids", product_id=product_id(product_pk))
    variants = product_variants(conn, session_id, product_pk)
    title, brand, description, attributes, option_names, rating, rating_count, final_sale, \
        path, slug = row
    return ProductView(
        product_id=product_id(product_pk), title=title, brand=brand, category=path,
        category_slug=slug, description=description, attributes=as_json(attributes),
        rating=rating, rating_count=rating_count, final_sale=as_bool(final_sale),
        option_names=as_json(option_names),
        variants=[VariantView(variant_id=v.variant_id, sku=v.sku, options=v.options,
                              price_cents=v.price_cents, stock=max(v.stock, 0),
                              stock_status=stock_status(v.stock)) for v in variants],
        price_cents=min(v.price_cents for v in variants),
        in_stock=any(v.stock > 0 for v in variants),
    )
