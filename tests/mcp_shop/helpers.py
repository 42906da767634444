"""Finding catalog variants with given properties for the shop-rule tests."""

from __future__ import annotations

from sqlalchemy import exists, select

from mcp_shop import Shop
from mcp_shop.ids import product_of, variant_id
from mcp_shop.inventory import effective_variants
from mcp_shop.models import Category, Product, Variant

V, P, C = Variant.__table__, Product.__table__, Category.__table__


def find_variants(shop: Shop, session_id: str, *, slug: str = "", min_stock: int = 1,
                  max_price: int | None = None, min_price: int = 0, final_sale: bool = False,
                  exclude_slug: str | None = None, count: int = 1,
                  multi_variant: bool = False) -> list[str]:
    """Public ids of ``count`` variants (of distinct products) matching the criteria,
    judged with the session's effective stock and price."""
    q = (select(V.c.id, V.c.product_id).join(P, P.c.id == V.c.product_id)
         .join(C, C.c.id == P.c.category_id)
         .where(C.c.slug.startswith(slug), P.c.final_sale == final_sale,
                V.c.price_cents >= min_price)
         .order_by(V.c.id).limit(5000))
    if max_price is not None:
        q = q.where(V.c.price_cents <= max_price)
    if exclude_slug:
        q = q.where(~C.c.slug.startswith(exclude_slug))
    if multi_variant:
        v2 = V.alias("v2")
        q = q.where(V.c.position == 1, exists(select(v2.c.id).where(
            v2.c.product_id == V.c.product_id, v2.c.position == 2)))
    with shop.engine.connect() as conn:
        rows = conn.execute(q).all()
        states = effective_variants(conn, session_id, [r.id for r in rows])
    out, seen = [], set()
    for r in rows:
        s = states[r.id]
        if r.product_id in seen or s.stock < min_stock:
            continue
        if max_price is not None and s.price_cents > max_price:
            continue
        seen.add(r.product_id)
        out.append(variant_id(r.id))
        if len(out) == count:
            return out
    raise LookupError(f"test catalog has no {count} variants under {slug!r} with stock "
                      f">= {min_stock}")


def sibling_variant(shop: Shop, session_id: str, vid: str, *, min_stock: int = 1) -> str:
    """Another in-stock variant of the same product as ``vid``."""
    product = shop.get_product(session_id, product_of(vid))
    for v in product.variants:
        if v.variant_id != vid and v.stock >= min_stock:
            return v.variant_id
    raise LookupError(f"{product.product_id} has no other variant with stock >= {min_stock}")
