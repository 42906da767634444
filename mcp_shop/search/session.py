"""Per-session values and result rows: a session's effective lowest price and stock for the
products whose variants it overrides (cached per index while its override rows are unchanged),
the catalog variants those need (cached: the catalog never changes), and the result rows of hits.
"""

from __future__ import annotations

import threading
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Connection, bindparam, select

from mcp_shop.ids import VARIANTS_PER_PRODUCT, product_id
from mcp_shop.models import PriceOverride, Product, StockOverride, Variant
from mcp_shop.search.index import SearchIndex
from mcp_shop.sql import Sql, fetch_all

__all__ = ["CatalogVariants", "ProductHit", "VariantRows", "effective_values", "fetch_hits"]


class ProductHit(BaseModel):
    """One product of a result list, with this session's price and stock status."""

    product_id: str = Field(description="e.g. 'P-000042'")
    title: str
    brand: str
    category: str = Field(description="category path, e.g. 'Electronics > Audio > Headphones'")
    price_cents: int = Field(description="lowest variant price in this session, in cents")
    rating: float
    rating_count: int
    in_stock: bool = Field(description="some variant is in stock in this session")
    score: float | None = Field(None, description="relevance (text searches) or similarity")



_P = Product.__table__  # type: ignore[attr-defined]
_PO, _SO = PriceOverride.__table__, StockOverride.__table__  # type: ignore[attr-defined]
# Hand-written (mcp_shop.sql): every search runs these two, and Core's per-statement work
# (an expanding IN compiled per call) was about a third of a search's time.
_OVERRIDES = Sql(f"""SELECT variant_id, price_cents, NULL FROM {_PO.name} WHERE session_id = ?
                     UNION ALL
                     SELECT variant_id, NULL, stock FROM {_SO.name} WHERE session_id = ?""")
_ROWS_COLUMNS = "id, title, brand, category_id, rating, rating_count, price_min_cents, in_stock"
_ROWS: dict[int, Sql] = {}  # by number of ids


def _rows_sql(count: int) -> Sql:
    sql = _ROWS.get(count)
    if sql is None:
        sql = _ROWS[count] = Sql(f"SELECT {_ROWS_COLUMNS} FROM {_P.name} "
                                 f"WHERE id IN ({', '.join('?' * count)})")
    return sql


_V = Variant.__table__  # type: ignore[attr-defined]
_VARIANT_SQL: dict[int, Sql] = {}  # by number of product keys


def _variants_sql(count: int) -> Sql:
    sql = _VARIANT_SQL.get(count)
    if sql is None:
        sql = _VARIANT_SQL[count] = Sql(
            f"SELECT product_id, id, price_cents, stock FROM {_V.name} "
            f"WHERE product_id IN ({', '.join('?' * count)})")
    return sql


_VARIANTS_OF = select(_V.c.product_id, _V.c.id, _V.c.price_cents, _V.c.stock).where(
    _V.c.product_id.in_(select(_V.c.product_id).where(
        _V.c.id.in_(bindparam("vids", expanding=True)))))
VariantRows = tuple[tuple[int, int, int], ...]  # (variant key, catalog price, catalog stock)


class CatalogVariants:
    """Catalog variants of products, by the key of one of their variants, cached (the catalog
    never changes; the cache holds at most ``limit`` products and starts over when full)."""

    def __init__(self, limit: int = 50_000) -> None:
        self.limit = limit
        self._products: dict[int, VariantRows] = {}
        self._owner: dict[int, int] = {}  # variant key -> product key
        self._lock = threading.Lock()

    def __call__(self, conn: Connection, variant_keys: set[int]) -> dict[int, VariantRows]:
        """Product key -> its variants, for every product owning one of ``variant_keys``."""
        with self._lock:
            # not ``variant_keys - self._owner.keys()``: a set minus a keys view walks every
            # cached key (tens of thousands), where this looks up only the few asked for
            owner = self._owner
            missing = {v for v in variant_keys if v not in owner}
        fetched: dict[int, list[tuple[int, int, int]]] = {}
        if missing:
            # keys made by mcp_shop.ids.variant_key embed their product's key: use that index
            pks = sorted({v // VARIANTS_PER_PRODUCT for v in missing})
            for pk, vid, price, stock in fetch_all(conn, _variants_sql(len(pks)), pks):
                fetched.setdefault(pk, []).append((vid, price, stock))
            found = {vid for rows in fetched.values() for vid, _, _ in rows}
            if missing - found:  # other keys: ask the variant table who owns them
                for pk, vid, price, stock in conn.execute(
                        _VARIANTS_OF, {"vids": sorted(missing - found)}):
                    fetched.setdefault(pk, []).append((vid, price, stock))
        out = {pk: tuple(sorted(rows)) for pk, rows in fetched.items()}
        with self._lock:
            for v in variant_keys:
                pk = self._owner.get(v)
                if pk is not None and pk not in out:
                    out[pk] = self._products[pk]
            if len(self._products) + len(fetched) > self.limit:
                self._products.clear()
                self._owner.clear()
            for pk in fetched:
                self._products[pk] = out[pk]
                self._owner.update((vid, pk) for vid, _, _ in out[pk])
        return out


def effective_values(conn: Connection, session_id: str | None,
                     index: SearchIndex | None = None) -> dict[int, tuple[int, bool]]:
    """Product key -> (effective lowest price, effective in stock) for every product on which
    the session overrides some variant's price or stock.

    One primary-key lookup on the override tables; a session with overrides also needs the
    catalog variants of the products concerned, which ``index`` caches (the catalog never
    changes), else one indexed query.
    """
    if session_id is None:
        return {}
    rows = tuple(fetch_all(conn, _OVERRIDES, (session_id, session_id)))
    if not rows:
        return {}
    # the same overrides give the same values: a session's searches between two changes of its
    # stock or prices reuse them (keyed by the override rows themselves, so never stale)
    known = index.cache.setdefault("effective", {}) if index is not None else {}
    hit = known.get(session_id)
    if hit is not None and hit[0] == rows:
        return dict(hit[1])
    out = _effective(conn, rows, index)
    if len(known) >= 4096:
        known.clear()
    known[session_id] = (rows, out)
    return dict(out)


def _effective(conn: Connection, rows: tuple[Any, ...],
               index: SearchIndex | None) -> dict[int, tuple[int, bool]]:
    prices: dict[int, int] = {}
    stock: dict[int, int] = {}
    for vid, price, level in rows:
        if price is not None:
            prices[vid] = price
        if level is not None:
            stock[vid] = level
    touched = {*prices, *stock}
    if not touched:
        return {}
    cache = (index.cache.setdefault("variants", CatalogVariants()) if index is not None
             else CatalogVariants())
    variants = cache(conn, touched)
    out: dict[int, tuple[int, bool]] = {}
    for pk, catalog in variants.items():
        low, stocked = None, False
        for vid, price, level in catalog:
            price, level = prices.get(vid, price), stock.get(vid, level)
            low = price if low is None else min(low, price)
            stocked = stocked or level > 0
        if low is not None:
            out[pk] = (low, stocked)
    return out


def fetch_hits(conn: Connection, index: SearchIndex, ranked: list[tuple[int, float | None]],
               effective: dict[int, tuple[int, bool]]) -> list[ProductHit]:
    """Result rows for ``(product key, score)`` pairs, in that order (one query)."""
    if not ranked:
        return []
    rows = {r[0]: r for r in fetch_all(conn, _rows_sql(len(ranked)), [pk for pk, _ in ranked])}
    hits = []
    for pk, score in ranked:
        row = rows.get(pk)
        if row is None:  # index and database disagree: skip rather than fail
            continue
        _, title, brand, cat_id, rating, rating_count, price, in_stock = row
        price, in_stock = effective.get(pk, (price, in_stock))
        cat = index.categories.get(cat_id)
        hits.append(ProductHit.model_construct(
            product_id=product_id(pk), title=title, brand=brand,
            category=cat.path if cat else "", price_cents=int(price), rating=float(rating),
            rating_count=int(rating_count), in_stock=bool(in_stock),
            score=None if score is None else round(score, 4)))
    return hits
