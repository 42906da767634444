"""The cart: variants and quantities, checked against the session's stock, with totals.

A cart does not reserve stock; stock is checked when lines change and again at checkout.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from mcp_shop.discounts import evaluate, tier_and_cart_code
from mcp_shop.errors import InvalidInput, NotFound, OutOfStock, shown
from mcp_shop.ids import product_id, variant_id
from mcp_shop.inventory import VariantState, cart_states, require_variant
from mcp_shop.models import CartLine, Customer
from mcp_shop.policies import MAX_LINE_QUANTITY
from mcp_shop.shop_policies import policies_for
from mcp_shop.sql import Sql, fetch_one, run
from mcp_shop.views import CartLineView, CartView, CodeView

__all__ = ["add_to_cart", "cart_lines", "remove_from_cart", "update_cart_item", "view_cart"]

CL = CartLine.__table__  # type: ignore[attr-defined]
CU = Customer.__table__  # type: ignore[attr-defined]


_LINE = Sql("""SELECT (SELECT quantity FROM cart_line WHERE session_id = ? AND variant_id = ?),
                      (SELECT COALESCE(MAX(added_seq), 0) FROM cart_line WHERE session_id = ?)""")
_INSERT = Sql("INSERT INTO cart_line (session_id, variant_id, quantity, added_seq) "
              "VALUES (?, ?, ?, ?)")
_SET = Sql("UPDATE cart_line SET quantity = ? WHERE session_id = ? AND variant_id = ?")
_DELETE = Sql("DELETE FROM cart_line WHERE session_id = ? AND variant_id = ?")


def cart_lines(conn: Connection, session_id: str) -> list[tuple[VariantState, int]]:
    """The cart's lines in the order they were added, with the session's prices and stock."""
    return cart_states(conn, session_id)


def _check_quantity(quantity: int) -> None:
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not (
        1 <= quantity <= MAX_LINE_QUANTITY
    ):
        raise InvalidInput(f"quantity must be a whole number from 1 to {MAX_LINE_QUANTITY}, "
                           f"got {shown(quantity)}")


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


def _line(conn: Connection, session_id: str, variant_pk: int) -> tuple[int | None, int]:
    """The variant's quantity in the cart (None if absent) and the cart's last ``added_seq``."""
    have, seq = fetch_one(conn, _LINE, (session_id, variant_pk, session_id))
    return have, seq


def _current_quantity(conn: Connection, session_id: str, variant_pk: int) -> int | None:
    return _line(conn, session_id, variant_pk)[0]


def add_to_cart(conn: Connection, session_id: str, variant_pk: int, quantity: int) -> None:
    """Add ``quantity`` units of a variant (adding to a line already in the cart)."""
    _check_quantity(quantity)
    state = require_variant(conn, session_id, variant_pk)
    have, seq = _line(conn, session_id, variant_pk)
    total = (have or 0) + quantity
    if total > MAX_LINE_QUANTITY:
        raise InvalidInput(f"the cart already holds {have} of {state.variant_id}; at most "
                           f"{MAX_LINE_QUANTITY} per item, so add at most "
                           f"{MAX_LINE_QUANTITY - (have or 0)} more")
    _check_stock(state, total)
    if have is None:
        run(conn, _INSERT, (session_id, variant_pk, total, seq + 1))
    else:
        run(conn, _SET, (total, session_id, variant_pk))


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
    run(conn, _SET, (quantity, session_id, variant_pk))


def remove_from_cart(conn: Connection, session_id: str, variant_pk: int) -> None:
    """Remove a line from the cart."""
    _require_line(conn, session_id, variant_pk)
    run(conn, _DELETE, (session_id, variant_pk))


def view_cart(conn: Connection, session: Any) -> CartView:
    """The cart with its totals as checkout would compute them (standard shipping)."""
    lines = cart_lines(conn, session.id)
    subtotal = sum(v.price_cents * q for v, q in lines)
    tier, code = tier_and_cart_code(conn, session.id)
    code_view, discount, free_ship = None, 0, False
    if code is not None:
        result = evaluate(code, lines, session.clock)
        discount, free_ship = result.discount_cents, result.free_shipping
        code_view = CodeView(code=code.code, description=code.description, applies=result.applies,
                             reason=result.reason, discount_cents=discount,
                             free_shipping=free_ship)
    shipping = 0 if not lines or free_ship else policies_for(conn).shipping_cost(
        "standard", tier, subtotal - discount)
    return CartView(
        lines=[CartLineView(product_id=product_id(v.product_pk), variant_id=v.variant_id,
                            title=v.title, options=v.options, unit_price_cents=v.price_cents,
                            quantity=q, line_total_cents=v.price_cents * q, available=v.stock)
               for v, q in lines],
        item_count=sum(q for _, q in lines), subtotal_cents=subtotal, discount_cents=discount,
        code=code_view, standard_shipping_cents=shipping,
        total_cents=subtotal - discount + shipping,
    )
