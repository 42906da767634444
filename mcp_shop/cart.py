"""The cart: variants and quantities, checked against the session's stock, with totals.

A cart does not reserve stock; stock is checked when lines change and again at checkout.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from mcp_shop.discounts import cart_code, evaluate
from mcp_shop.errors import InvalidInput, NotFound, OutOfStock
from mcp_shop.ids import product_id, variant_id
from mcp_shop.inventory import VariantState, effective_variants, require_variant
from mcp_shop.models import CartLine, Customer
from mcp_shop.policies import DEFAULT_POLICIES, MAX_LINE_QUANTITY
from mcp_shop.views import CartLineView, CartView, CodeView

__all__ = ["add_to_cart", "cart_lines", "remove_from_cart", "update_cart_item", "view_cart"]

CL = CartLine.__table__
CU = Customer.__table__


def cart_lines(conn: Connection, session_id: str) -> list[tuple[VariantState, int]]:
    """The cart's lines in the order they were added, with the session's prices and stock."""
    rows = conn.execute(select(CL.c.variant_id, CL.c.quantity)
                        .where(CL.c.session_id == session_id).order_by(CL.c.added_seq)).all()
    states = effective_variants(conn, session_id, [r.variant_id for r in rows])
    return [(states[r.variant_id], r.quantity) for r in rows]


def _check_quantity(quantity: int) -> None:
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not (
        1 <= quantity <= MAX_LINE_QUANTITY
    ):
        raise InvalidInput(f"quantity must be a whole number from 1 to {MAX_LINE_QUANTITY}, "
                           f"got {quantity!r}")


def _check_stock(state: VariantState, quantity: int) -> None:
    if state.stock >= quantity:
        return
    if state.stock == 0:
        raise OutOfStock(f"{state.title} ({state.variant_id}, {_opts(state)}) is out of stock; "
                         "choose another variant (see get_product) or a similar product",
                         variant_id=state.variant_id, available=0)
    raise OutOfStock(f"only {state.stock} of {state.title} ({state.variant_id}) in stock; "
                     f"the cart can hold 1 to {state.stock} of it",
                     variant_id=state.variant_id, available=state.stock)


def _opts(state: VariantState) -> str:
    return ", ".join(f"{k} {v}" for k, v in state.options.items()) or "single option"


def _current_quantity(conn: Connection, session_id: str, variant_pk: int) -> int | None:
    return conn.execute(select(CL.c.quantity).where(
        CL.c.session_id == session_id, CL.c.variant_id == variant_pk)).scalar()


def add_to_cart(conn: Connection, session_id: str, variant_pk: int, quantity: int) -> None:
    """Add ``quantity`` units of a variant (adding to a line already in the cart)."""
    _check_quantity(quantity)
    state = require_variant(conn, session_id, variant_pk)
    have = _current_quantity(conn, session_id, variant_pk)
    total = (have or 0) + quantity
    if total > MAX_LINE_QUANTITY:
        raise InvalidInput(f"the cart already holds {have} of {state.variant_id}; at most "
                           f"{MAX_LINE_QUANTITY} per item, so add at most "
                           f"{MAX_LINE_QUANTITY - (have or 0)} more")
    _check_stock(state, total)
    if have is None:
        seq = conn.execute(select(func.coalesce(func.max(CL.c.added_seq), 0))
                           .where(CL.c.session_id == session_id)).scalar_one()
        conn.execute(CL.insert().values(session_id=session_id, variant_id=variant_pk,
                                        quantity=total, added_seq=seq + 1))
    else:
        conn.execute(update(CL).where(CL.c.session_id == session_id,
                                      CL.c.variant_id == variant_pk).values(quantity=total))


def _require_line(conn: Connection, session_id: str, variant_pk: int) -> int:
    have = _current_quantity(conn, session_id, variant_pk)
    if have is None:
        in_cart = conn.execute(select(CL.c.variant_id).where(CL.c.session_id == session_id)
                               .order_by(CL.c.added_seq)).scalars().all()
        listed = ", ".join(variant_id(v) for v in in_cart) or "the cart is empty"
        raise NotFound(f"{variant_id(variant_pk)} is not in the cart; cart variants: {listed}",
                       variant_id=variant_id(variant_pk))
    return have


def update_cart_item(conn: Connection, session_id: str, variant_pk: int, quantity: int) -> None:
    """Set a cart line's quantity (0 removes the line)."""
    _require_line(conn, session_id, variant_pk)
    if quantity == 0 and not isinstance(quantity, bool):
        remove_from_cart(conn, session_id, variant_pk)
        return
    _check_quantity(quantity)
    _check_stock(require_variant(conn, session_id, variant_pk), quantity)
    conn.execute(update(CL).where(CL.c.session_id == session_id, CL.c.variant_id == variant_pk)
                 .values(quantity=quantity))


def remove_from_cart(conn: Connection, session_id: str, variant_pk: int) -> None:
    """Remove a line from the cart."""
    _require_line(conn, session_id, variant_pk)
    conn.execute(delete(CL).where(CL.c.session_id == session_id, CL.c.variant_id == variant_pk))


def _tier(conn: Connection, session: Any) -> str:
    return str(conn.execute(select(CU.c.tier).where(CU.c.id == session.customer_id)).scalar_one())


def view_cart(conn: Connection, session: Any) -> CartView:
    """The cart with its totals as checkout would compute them (standard shipping)."""
    lines = cart_lines(conn, session.id)
    subtotal = sum(v.price_cents * q for v, q in lines)
    code = cart_code(conn, session.id)
    code_view, discount, free_ship = None, 0, False
    if code is not None:
        result = evaluate(code, lines, session.clock)
        discount, free_ship = result.discount_cents, result.free_shipping
        code_view = CodeView(code=code.code, description=code.description, applies=result.applies,
                             reason=result.reason, discount_cents=discount,
                             free_shipping=free_ship)
    shipping = 0 if not lines or free_ship else DEFAULT_POLICIES.shipping_cost(
        "standard", _tier(conn, session), subtotal - discount)
    return CartView(
        lines=[CartLineView(product_id=product_id(v.product_pk), variant_id=v.variant_id,
                            title=v.title, options=v.options, unit_price_cents=v.price_cents,
                            quantity=q, line_total_cents=v.price_cents * q, available=v.stock)
               for v, q in lines],
        item_count=sum(q for _, q in lines), subtotal_cents=subtotal, discount_cents=discount,
        code=code_view, standard_shipping_cents=shipping,
        total_cents=subtotal - discount + shipping,
    )
