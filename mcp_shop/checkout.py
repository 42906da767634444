"""Checkout: turn the cart into an order, in one transaction.

Stock is taken atomically per line; the discount code is checked again; payment is one method,
or a gift card for up to its balance plus a card or PayPal account for the rest.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, select, update

from mcp_shop.cart import cart_lines
from mcp_shop.discounts import cart_code, evaluate
from mcp_shop.errors import InvalidCode, InvalidInput, InvalidState, NotFound, PaymentDeclined
from mcp_shop.inventory import take_stock
from mcp_shop.models import Address, Cart, CartLine, Customer, DiscountCode, PaymentMethod
from mcp_shop.money import dollars
from mcp_shop.orders import place_order
from mcp_shop.shop_policies import policies_for

__all__ = ["checkout"]

PM = PaymentMethod.__table__  # type: ignore[attr-defined]
AD = Address.__table__  # type: ignore[attr-defined]



def _method(conn: Connection, session_id: str, public_id: str) -> Any:
    row = conn.execute(select(PM).where(PM.c.session_id == session_id,
                                        PM.c.public_id == public_id)).first()
    if row is None:
        known = conn.execute(select(PM.c.public_id, PM.c.label)
                             .where(PM.c.session_id == session_id).order_by(PM.c.id)).all()
        raise NotFound(f"payment method {public_id!r} not found; this customer has: "
                       + ", ".join(f"{p} ({label})" for p, label in known))
    return row


def _address(conn: Connection, session_id: str, public_id: str | None) -> Any:
    q = select(AD).where(AD.c.session_id == session_id)
    row = conn.execute(
        q.where(AD.c.public_id == public_id) if public_id
        else q.order_by(AD.c.is_default.desc(), AD.c.id)
    ).first()
    if row is None:
        known = conn.execute(select(AD.c.public_id, AD.c.label)
                             .where(AD.c.session_id == session_id).order_by(AD.c.id)).all()
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
    tier = conn.execute(select(Customer.__table__.c.tier)  # type: ignore[attr-defined]
                        .where(Customer.__table__.c.id == session.customer_id)).scalar_one()  # type: ignore[attr-defined]
    shipping = 0 if free_ship else policies_for(conn).shipping_cost(shipping_option, tier,
                                                                  subtotal - discount)
    total = subtotal - discount + shipping
    charges = _charges(primary, secondary, total)
    for method_pk, amount in charges:
        conn.execute(update(PM).where(PM.c.id == method_pk, PM.c.kind == "gift_card")
                     .values(balance_cents=PM.c.balance_cents - amount))
    number = place_order(
        conn, session, lines, placed_at=session.clock, address=address,
        shipping_option=shipping_option, shipping_cents=shipping, discount_cents=discount,
        line_discounts=shares, discount_code=code.code if code is not None else None,
        charges=charges,
    )
    if code is not None and code.single_use:
        DC = DiscountCode.__table__  # type: ignore[attr-defined]  # noqa: N806
        conn.execute(update(DC).where(DC.c.id == code.id).values(used=True))
    conn.execute(delete(CartLine.__table__).where(CartLine.__table__.c.session_id == sid))  # type: ignore[attr-defined]
    conn.execute(update(Cart.__table__).where(Cart.__table__.c.session_id == sid)  # type: ignore[attr-defined]
                 .values(discount_code_id=None))
    return number
