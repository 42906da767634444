"""A session's view of the catalog: effective prices and stock (copy-on-write overrides).

The catalog is shared and never written; a session's stock or price of a variant lives in a
``stock_override`` / ``price_override`` row once it differs from the catalog's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, select, update

from mcp_shop.errors import InvalidInput, NotFound, OutOfStock
from mcp_shop.ids import product_id, variant_id
from mcp_shop.models import Category, PriceOverride, Product, StockOverride, Variant
from mcp_shop.sql import Sql, as_json, fetch_all, fetch_one, run

__all__ = [
    "VariantState",
    "adjust_stock",
    "cart_states",
    "effective_variants",
    "product_variants",
    "require_variant",
    "set_price",
    "set_stock",
    "take_stock",
]

V = Variant.__table__  # type: ignore[attr-defined]
P = Product.__table__  # type: ignore[attr-defined]
C = Category.__table__  # type: ignore[attr-defined]
SO = StockOverride.__table__  # type: ignore[attr-defined]
PO = PriceOverride.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class VariantState:
    """A variant as one session sees it, with its product's title and category."""

    pk: int
    product_pk: int
    position: int
    sku: str
    options: dict[str, str]
    price_cents: int
    stock: int
    title: str
    category_slug: str
    final_sale: bool

    @property
    def variant_id(self) -> str:
        return variant_id(self.pk)

    @property
    def product_id(self) -> str:
        return product_id(self.product_pk)


_STATE = """
    SELECT v.id, v.product_id, v.position, v.sku, v.options,
           COALESCE(po.price_cents, v.price_cents), COALESCE(so.stock, v.stock),
           p.title, c.slug, p.final_sale
    FROM variant v
    JOIN product p ON p.id = v.product_id
    JOIN category c ON c.id = p.category_id
    LEFT JOIN stock_override so ON so.session_id = ? AND so.variant_id = v.id
    LEFT JOIN price_override po ON po.session_id = ? AND po.variant_id = v.id
"""
_BY_PRODUCT = Sql(_STATE + " WHERE v.product_id = ? ORDER BY v.position")
_IN_CART = Sql(_STATE.replace("p.final_sale", "p.final_sale, cl.quantity")
               + " JOIN cart_line cl ON cl.variant_id = v.id AND cl.session_id = ?"
               + " ORDER BY cl.added_seq")
_BY_IDS: dict[int, Sql] = {}


def _by_ids(n: int) -> Sql:
    sql = _BY_IDS.get(n)
    if sql is None:
        sql = _BY_IDS[n] = Sql(_STATE + f" WHERE v.id IN ({', '.join('?' * n)})")
    return sql


def _to_state(row: Any) -> VariantState:
    return VariantState(row[0], row[1], row[2], row[3], as_json(row[4]), row[5], row[6], row[7],
                        row[8], bool(row[9]))


def effective_variants(
    conn: Connection, session_id: str, variant_pks: Iterable[int]
) -> dict[int, VariantState]:
    """The session's view of the given variants (missing keys are simply absent)."""
    pks = sorted(set(variant_pks))
    out: dict[int, VariantState] = {}
    for i in range(0, len(pks), 500):
        chunk = pks[i:i + 500]
        for row in fetch_all(conn, _by_ids(len(chunk)), (session_id, session_id, *chunk)):
            out[row[0]] = _to_state(row)
    return out


def cart_states(conn: Connection, session_id: str) -> list[tuple[VariantState, int]]:
    """The session's cart lines (in the order added) with the session's view of each variant."""
    rows = fetch_all(conn, _IN_CART, (session_id, session_id, session_id))
    return [(_to_state(r), r[10]) for r in rows]


def product_variants(conn: Connection, session_id: str | None,
                     product_pk: int) -> list[VariantState]:
    """Every variant of a product, in position order, as the session sees them (None: the
    catalog's values; no override row has a NULL session)."""
    rows = fetch_all(conn, _BY_PRODUCT, (session_id, session_id, product_pk))
    return [_to_state(r) for r in rows]


def require_variant(conn: Connection, session_id: str, variant_pk: int) -> VariantState:
    """The session's view of one variant; NotFound if the catalog has no such variant."""
    state = effective_variants(conn, session_id, [variant_pk]).get(variant_pk)
    if state is None:
        raise NotFound(
            f"variant {variant_id(variant_pk)} does not exist; use get_product to list a "
            "product's variants",
            variant_id=variant_id(variant_pk),
        )
    return state


_OVERRIDE_STOCK = Sql("SELECT stock FROM stock_override WHERE session_id = ? AND variant_id = ?")
_COPY_STOCK = Sql("INSERT INTO stock_override (session_id, variant_id, stock) "
                  "SELECT ?, id, stock FROM variant WHERE id = ?")
_TAKE = Sql("UPDATE stock_override SET stock = stock - ? "
            "WHERE session_id = ? AND variant_id = ? AND stock >= ?")
_ADJUST = Sql("UPDATE stock_override SET stock = stock + ? WHERE session_id = ? AND variant_id = ?")


def _ensure_override(conn: Connection, session_id: str, variant_pk: int) -> None:
    if fetch_one(conn, _OVERRIDE_STOCK, (session_id, variant_pk)) is None:
        run(conn, _COPY_STOCK, (session_id, variant_pk))


def take_stock(conn: Connection, session_id: str, state: VariantState, quantity: int) -> None:
    """Remove ``quantity`` units atomically, or raise OutOfStock (changing nothing)."""
    _ensure_override(conn, session_id, state.pk)
    done = run(conn, _TAKE, (quantity, session_id, state.pk, quantity)).rowcount
    if done != 1:
        left = fetch_one(conn, _OVERRIDE_STOCK, (session_id, state.pk))[0]
        raise OutOfStock(
            f"{state.title} ({state.variant_id}) has {left} in stock, {quantity} requested; "
            + (f"order at most {left}" if left else "choose another variant or product"),
            variant_id=state.variant_id,
            available=left,
        )


def adjust_stock(conn: Connection, session_id: str, variant_pk: int, delta: int) -> None:
    """Add ``delta`` units (returns, cancellations) to the session's stock of a variant."""
    _ensure_override(conn, session_id, variant_pk)
    run(conn, _ADJUST, (delta, session_id, variant_pk))


def set_stock(conn: Connection, session_id: str, variant_pk: int, stock: int) -> None:
    """Set the session's stock of a variant (task set-up, scenarios)."""
    if stock < 0:
        raise InvalidInput(f"stock must be >= 0, got {stock}")
    require_variant(conn, session_id, variant_pk)
    _ensure_override(conn, session_id, variant_pk)
    conn.execute(
        update(SO)
        .where(SO.c.session_id == session_id, SO.c.variant_id == variant_pk)
        .values(stock=stock)
    )


_UPSERT_STOCK = Sql("INSERT INTO stock_override (session_id, variant_id, stock) VALUES (?, ?, ?) "
                    "ON CONFLICT (session_id, variant_id) DO UPDATE SET stock = excluded.stock")
_UPSERT_PRICE = Sql("INSERT INTO price_override (session_id, variant_id, price_cents) "
                    "VALUES (?, ?, ?) ON CONFLICT (session_id, variant_id) "
                    "DO UPDATE SET price_cents = excluded.price_cents")


def set_many(conn: Connection, session_id: str, *, stock: dict[int, int] | None = None,
             prices: dict[int, int] | None = None) -> None:
    """Set many variants' stock and prices at once (task set-up, flash sales): every value
    and variant is checked first, so a bad one changes nothing."""
    stock, prices = stock or {}, prices or {}
    for pk, units in stock.items():
        if units < 0:
            raise InvalidInput(f"stock must be >= 0, got {units} for {variant_id(pk)}")
    for pk, cents in prices.items():
        if cents < 1:
            raise InvalidInput(f"price must be at least 1 cent, got {cents} for {variant_id(pk)}")
    wanted = set(stock) | set(prices)
    known = effective_variants(conn, session_id, wanted)
    missing = sorted(wanted - known.keys())
    if missing:
        raise NotFound(f"variant {variant_id(missing[0])} does not exist; use get_product to "
                       "list a product's variants", variant_id=variant_id(missing[0]))
    text = _UPSERT_STOCK.text(conn)
    if stock:
        conn.exec_driver_sql(text, [(session_id, pk, units) for pk, units in stock.items()])
    if prices:
        conn.exec_driver_sql(_UPSERT_PRICE.text(conn),
                             [(session_id, pk, cents) for pk, cents in prices.items()])


def set_price(conn: Connection, session_id: str, variant_pk: int, price_cents: int) -> None:
    """Set the session's price of a variant (sales, price moves)."""
    if price_cents < 1:
        raise InvalidInput(f"price must be at least 1 cent, got {price_cents}")
    require_variant(conn, session_id, variant_pk)
    key = and_(PO.c.session_id == session_id, PO.c.variant_id == variant_pk)
    if conn.execute(select(PO.c.price_cents).where(key)).first() is None:
        conn.execute(PO.insert(), dict(session_id=session_id, variant_id=variant_pk,
                                        price_cents=price_cents))
    else:
        conn.execute(update(PO).where(key).values(price_cents=price_cents))
