"""Checkout: turn the cart into an order, in one transaction.

Stock is taken atomically per line; the discount code is checked again; payment is one method,
or a gift card for up to its balance plus a card or PayPal account for the rest.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from mcp_shop.cart import cart_lines
from mcp_shop.discounts import cart_code, evaluate
from mcp_shop.errors import InvalidCode, InvalidInput, InvalidState, NotFound, PaymentDeclined
from mcp_shop.inventory import take_stock
from mcp_shop.models import Address, Cart, CartLine, Customer, DiscountCode, PaymentMethod
from mcp_shop.money import dollars
from mcp_shop.orders import place_order
from mcp_shop.shop_policies import policies_for
from mcp_shop.sql import Sql, fetch_all, fetch_one, run

__all__ = ["checkout"]

PM = PaymentMethod.__table__  # type: ignore[attr-defined]
AD = Address.__table__  # type: ignore[attr-defined]
CU = Customer.__table__  # type: ignore[attr-defined]
DC = DiscountCode.__table__  # type: ignore[attr-defined]
CL = CartLine.__table__  # type: ignore[attr-defined]
CART = Cart.__table__  # type: ignore[attr-defined]
# Hand-written (mcp_shop.sql): Core's per-statement work was most of these statements' cost.
_METHOD = Sql(f"SELECT {', '.join(c.name for c in PM.columns)} FROM {PM.name} "
              "WHERE session_id = ? AND public_id = ?")
_METHODS = Sql(f"SELECT public_id, label FROM {PM.name} WHERE session_id = ? ORDER BY id")
_ADDRESS_COLUMNS = f"SELECT {', '.join(c.name for c in AD.columns)} FROM {AD.name} "
_ADDRESS = Sql(_ADDRESS_COLUMNS + "WHERE session_id = ? AND public_id = ?")
_DEFAULT_ADDRESS = Sql(_ADDRESS_COLUMNS + "WHERE session_id = ? ORDER BY is_default DESC, id")
_ADDRESSES = Sql(f"SELECT public_id, label FROM {AD.name} WHERE session_id = ? ORDER BY id")
_TIER = Sql(f"SELECT tier FROM {CU.name} WHERE id = ?")
_DEBIT_GIFT_CARD = Sql(f"UPDATE {PM.name} SET balance_cents = balance_cents - ? "
                       "WHERE id = ? AND kind = 'gift_card'")
_USE_CODE = Sql(f"UPDATE {DC.name} SET used = ? WHERE id = ?")
_EMPTY_CART = Sql(f"DELETE FROM {CL.name} WHERE session_id = ?")
_NO_CODE = Sql(f"UPDATE {CART.name} SET discount_code_id = NULL WHERE session_id = ?")


def _method(conn: Connection, session_id: str, public_id: str) -> Any:
    row = fetch_one(conn, _METHOD, (session_id, public_id))
    if row is None:
        known = fetch_all(conn, _METHODS, (session_id,))
        raise NotFound(f"payment method {public_id!r} not found; this customer has: "
                       + ", ".join(f"{p} ({label})" for p, label in known))
    return row


def _address(conn: Connection, session_id: str, public_id: str | None) -> Any:
    row = (fetch_one(conn, _ADDRESS, (session_id, public_id)) if public_id
           else fetch_one(conn, _DEFAULT_ADDRESS, (session_id,)))
    if row is None:
        known = fetch_all(conn, _ADDRESSES, (session_id,))
        raise NotFound(f"address {public_id!r} not found; this customer has: "
                       + ", ".join(f"{p} ({label})" for p, label in known))
    return row


def _charges(primary: Any, secondary: Any | None, total: int) -> list[tuple[int, int]]:
    if primary.kind != "gift_card":
        if secondary is not None:
            raise InvalidInput("a second payment method only pays what a gift card does not "
                               f"cover; {primary.public_id} is a {primary.kind}: pay with it "
                               "alone, or put the gift card first")
        return [(primary.id, total)]
    covered = min(primary.balance_cents or 0, total)
    rest = total - covered
    if rest == 0:
        return [(primary.id, total)]
    if secondary is None:
        raise PaymentDeclined(
            f"gift card {primary.public_id} has {dollars(primary.balance_cents or 0)}, "
            f"the order is {dollars(total)}: add a card or PayPal account as second payment "
            f"method for the remaining {dollars(rest)}", shortfall_cents=rest)
    if secondary.kind == "gift_card":
        raise InvalidInput("the second payment method must be a card or PayPal account, "
                           "not another gift card")
    return [(primary.id, covered), (secondary.id, rest)]


def checkout(
    conn: Connection,
    session: Any,
    *,
    payment_method_id: str,
    shipping_option: str = "standard",
    address_id: str | None = None,
    second_payment_method_id: str | None = None,
) -> int:
    """Place an order from the cart; returns the new order's number.

    Raises InvalidState for an empty cart, OutOfStock if a line no longer has the stock,
    InvalidCode if the cart's code no longer applies, PaymentDeclined if the payment does
    not cover the total. Any error leaves the session exactly as it was.
    """
    sid = session.id
    option = policies_for(conn).shipping_option(shipping_option)
    if option is None:
        valid = ", ".join(o.code for o in policies_for(conn).shipping_options)
        raise InvalidInput(f"unknown shipping option {shipping_option!r}; valid: {valid}")
    lines = cart_lines(conn, sid)
    if not lines:
        raise InvalidState("the cart is empty: add items with add_to_cart before checkout")
    address = _address(conn, sid, address_id)
    primary = _method(conn, sid, payment_method_id)
    secondary = (_method(conn, sid, second_payment_method_id)
                 if second_payment_method_id else None)
    if secondary is not None and secondary.id == primary.id:
        raise InvalidInput("the second payment method must differ from the first")
    for state, qty in lines:
        take_stock(conn, sid, state, qty)
    subtotal = sum(v.price_cents * q for v, q in lines)
    code = cart_code(conn, sid)
    discount, shares, free_ship = 0, [0] * len(lines), False
    if code is not None:
        result = evaluate(code, lines, session.clock)
        if not result.applies:
            raise InvalidCode(f"{result.reason}; remove the code (remove_discount_code) or "
                              "change the cart", code=code.code)
        discount, shares, free_ship = result.discount_cents, result.line_discounts, \
            result.free_shipping
    tier = fetch_one(conn, _TIER, (session.customer_id,))[0]
    shipping = 0 if free_ship else policies_for(conn).shipping_cost(shipping_option, tier,
                                                                  subtotal - discount)
    total = subtotal - discount + shipping
    charges = _charges(primary, secondary, total)
    for method_pk, amount in charges:
        run(conn, _DEBIT_GIFT_CARD, (amount, method_pk))
    number = place_order(
        conn, session, lines, placed_at=session.clock, address=address,
        shipping_option=shipping_option, shipping_cents=shipping, discount_cents=discount,
        line_discounts=shares, discount_code=code.code if code is not None else None,
        charges=charges,
    )
    if code is not None and code.single_use:
        run(conn, _USE_CODE, (True, code.id))
    run(conn, _EMPTY_CART, (sid,))
    run(conn, _NO_CODE, (sid,))
    return number
