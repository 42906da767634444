"""A session's view of the catalog: effective prices and stock (copy-on-write overrides).

The catalog is shared and never written; a session's stock or price of a variant lives in a
``stock_override`` / ``price_override`` row once it differs from the catalog's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, func, select, update

from mcp_shop.errors import InvalidInput, NotFound, OutOfStock
from mcp_shop.ids import product_id, variant_id
from mcp_shop.models import Category, PriceOverride, Product, StockOverride, Variant

__all__ = [
    "VariantState",
    "adjust_stock",
    "effective_variants",
    "product_variants",
    "require_variant",
    "set_price",
    "set_stock",
    "take_stock",
]

V = Variant.__table__
P = Product.__table__
C = Category.__table__
SO = StockOverride.__table__
PO = PriceOverride.__table__


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


def _state_query(session_id: str) -> Any:
    return (
        select(
            V.c.id,
            V.c.product_id,
            V.c.position,
            V.c.sku,
            V.c.options,
            func.coalesce(PO.c.price_cents, V.c.price_cents),
            func.coalesce(SO.c.stock, V.c.stock),
            P.c.title,
            C.c.slug,
            P.c.final_sale,
        )
        .select_from(V)
        .join(P, P.c.id == V.c.product_id)
        .join(C, C.c.id == P.c.category_id)
        .outerjoin(SO, and_(SO.c.session_id == session_id, SO.c.variant_id == V.c.id))
        .outerjoin(PO, and_(PO.c.session_id == session_id, PO.c.variant_id == V.c.id))
    )


def _rows_to_states(rows: Iterable[Any]) -> list[VariantState]:
    return [VariantState(*row) for row in rows]


def effective_variants(
    conn: Connection, session_id: str, variant_pks: Iterable[int]
) -> dict[int, VariantState]:
    """The session's view of the given variants (missing keys are simply absent)."""
    pks = sorted(set(variant_pks))
    if not pks:
        return {}
    rows = conn.execute(_state_query(session_id).where(V.c.id.in_(pks))).all()
    return {s.pk: s for s in _rows_to_states(rows)}


def product_variants(conn: Connection, session_id: str, product_pk: int) -> list[VariantState]:
    """Every variant of a product, in position order, as the session sees them."""
    rows = conn.execute(
        _state_query(session_id).where(V.c.product_id == product_pk).order_by(V.c.position)
    ).all()
    return _rows_to_states(rows)


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


def _ensure_override(conn: Connection, session_id: str, variant_pk: int) -> None:
    exists = conn.execute(
        select(SO.c.stock).where(SO.c.session_id == session_id, SO.c.variant_id == variant_pk)
    ).first()
    if exists is None:
        base = conn.execute(select(V.c.stock).where(V.c.id == variant_pk)).scalar_one()
        conn.execute(SO.insert().values(session_id=session_id, variant_id=variant_pk, stock=base))


def take_stock(conn: Connection, session_id: str, state: VariantState, quantity: int) -> None:
    """Remove ``quantity`` units atomically, or raise OutOfStock (changing nothing)."""
    _ensure_override(conn, session_id, state.pk)
    done = conn.execute(
        update(SO)
        .where(
            SO.c.session_id == session_id,
            SO.c.variant_id == state.pk,
            SO.c.stock >= quantity,
        )
        .values(stock=SO.c.stock - quantity)
    ).rowcount
    if done != 1:
        left = conn.execute(
            select(SO.c.stock).where(SO.c.session_id == session_id, SO.c.variant_id == state.pk)
        ).scalar_one()
        raise OutOfStock(
            f"{state.title} ({state.variant_id}) has {left} in stock, {quantity} requested; "
            + (f"order at most {left}" if left else "choose another variant or product"),
            variant_id=state.variant_id,
            available=left,
        )


def adjust_stock(conn: Connection, session_id: str, variant_pk: int, delta: int) -> None:
    """Add ``delta`` units (returns, cancellations) to the session's stock of a variant."""
    _ensure_override(conn, session_id, variant_pk)
    conn.execute(
        update(SO)
        .where(SO.c.session_id == session_id, SO.c.variant_id == variant_pk)
        .values(stock=SO.c.stock + delta)
    )


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


def set_price(conn: Connection, session_id: str, variant_pk: int, price_cents: int) -> None:
    """Set the session's price of a variant (sales, price moves)."""
    if price_cents < 1:
        raise InvalidInput(f"price must be at least 1 cent, got {price_cents}")
    require_variant(conn, session_id, variant_pk)
    key = and_(PO.c.session_id == session_id, PO.c.variant_id == variant_pk)
    if conn.execute(select(PO.c.price_cents).where(key)).first() is None:
        conn.execute(PO.insert().values(session_id=session_id, variant_id=variant_pk,
                                        price_cents=price_cents))
    else:
        conn.execute(update(PO).where(key).values(price_cents=price_cents))
