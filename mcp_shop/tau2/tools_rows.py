"""The shop rows the tau2 tools read keys from and write to (the columns are the ones
/work/notes/tau2-contract.md maps each tau2 field to; :mod:`mcp_shop.tau2.projection` reads
them back into tau2's layout).

Reads here give keys and raw values only (which row is this order, this user, this payment
method); what the tools decide on is the tau2 record the projection gives. Writes follow the
contract: payments appended in history order, lines changed in place, request rows with the
session's next request numbers. Money is integer cents.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from mcp_shop import order_sql as q
from mcp_shop.models import (
    Address,
    Customer,
    ExchangeRequest,
    Order,
    OrderLine,
    Payment,
    PaymentMethod,
    ReturnLine,
    ReturnRequest,
    ShopSession,
)
from mcp_shop.sql import Sql, as_datetime, db_value, fetch_all, fetch_one, insert, run
from mcp_shop.tau2.records import UserAddress
from mcp_shop.tau2.session_world import order_number

__all__ = [
    "MethodRow",
    "OrderRow",
    "add_payment",
    "change_line",
    "clock",
    "customer_pk",
    "find_order",
    "gift_card_credit",
    "line_pks",
    "methods_of",
    "record_exchange",
    "record_return",
    "set_cancelled",
    "set_default_address",
    "set_order_address",
    "set_status",
]

ORD = Order.__table__  # type: ignore[attr-defined]
OL = OrderLine.__table__  # type: ignore[attr-defined]
PAY = Payment.__table__  # type: ignore[attr-defined]
PM = PaymentMethod.__table__  # type: ignore[attr-defined]
CU = Customer.__table__  # type: ignore[attr-defined]
AD = Address.__table__  # type: ignore[attr-defined]
RR = ReturnRequest.__table__  # type: ignore[attr-defined]
RL = ReturnLine.__table__  # type: ignore[attr-defined]
XR = ExchangeRequest.__table__  # type: ignore[attr-defined]
S = ShopSession.__table__  # type: ignore[attr-defined]

_ORDER = Sql(f"SELECT id, customer_id, address_id FROM {ORD.name} "
             "WHERE session_id = ? AND number = ?")
_CUSTOMER = Sql(f"SELECT id FROM {CU.name} WHERE session_id = ? AND public_id = ?")
_METHODS = Sql(f"SELECT id, public_id, kind, balance_cents FROM {PM.name} "
               "WHERE session_id = ? AND customer_id = ? ORDER BY id")
_LINES = Sql(f"SELECT id FROM {OL.name} WHERE order_id = ? ORDER BY line_no")
_STATUS = Sql(f"UPDATE {ORD.name} SET status = ? WHERE id = ?")
_ADDRESS = ("UPDATE {table} SET line1 = ?, line2 = ?, city = ?, region = ?, postcode = ?, "
            "country = ? WHERE ")
_ORDER_ADDRESS = Sql(_ADDRESS.format(table=AD.name) + "id = ?")
_DEFAULT_ADDRESS = Sql(_ADDRESS.format(table=AD.name)
                       + "session_id = ? AND customer_id = ? AND is_default = ?")
_RECIPIENT = Sql(f"SELECT recipient FROM {AD.name} WHERE id = ?")
_SHIP_TO = Sql(f"UPDATE {ORD.name} SET ship_to = ? WHERE id = ?")
_LINE = Sql(f"UPDATE {OL.name} SET variant_id = ?, unit_price_cents = ?, options = ? "
            "WHERE id = ?")
_EXCHANGE = Sql(f"UPDATE {ORD.name} SET status = 'exchange requested', "
                "exchange_payment_method_id = ?, exchange_price_difference_cents = ? "
                "WHERE id = ?")
_NEXT = Sql(f"SELECT next_return_number, next_exchange_number FROM {S.name} WHERE id = ?")
_BUMP_RETURN = Sql(f"UPDATE {S.name} SET next_return_number = ? WHERE id = ?")
_BUMP_EXCHANGE = Sql(f"UPDATE {S.name} SET next_exchange_number = ? WHERE id = ?")


@dataclass(frozen=True)
class OrderRow:
    """The keys of an order: its row, its customer's row, its own address row."""

    pk: int
    customer_pk: int
    address_pk: int


@dataclass(frozen=True)
class MethodRow:
    """A payment method's row: its key, kind ('card', 'paypal' or 'gift_card') and, for a
    gift card, its balance in cents."""

    pk: int
    kind: str
    balance_cents: int | None

    @property
    def gift_card(self) -> bool:
        return self.kind == "gift_card"

    def balance(self) -> float:
        """The gift card's balance in dollars, the float the projection shows (and tau2
        compares amounts with)."""
        return (self.balance_cents or 0) / 100


def find_order(conn: Connection, session_id: str, order_id: str) -> OrderRow | None:
    """The order whose tau2 id is ``order_id`` ('#W0123456'), or None."""
    number = order_number(order_id)
    row = None if number is None else fetch_one(conn, _ORDER, (session_id, number))
    return None if row is None else OrderRow(row[0], row[1], row[2])


def customer_pk(conn: Connection, session_id: str, user_id: str) -> int | None:
    row = fetch_one(conn, _CUSTOMER, (session_id, user_id))
    return None if row is None else int(row[0])


def methods_of(conn: Connection, session_id: str, customer: int) -> dict[str, MethodRow]:
    """The customer's payment methods by tau2 id."""
    return {public: MethodRow(pk, kind, balance)
            for pk, public, kind, balance in fetch_all(conn, _METHODS, (session_id, customer))}


def line_pks(conn: Connection, order_pk: int) -> list[int]:
    """The order's lines (one per unit) in tau2's item order."""
    return [r[0] for r in fetch_all(conn, _LINES, (order_pk,))]


def clock(conn: Connection, session_id: str) -> datetime:
    row = fetch_one(conn, q.CLOCK, (session_id,))
    assert row is not None, session_id
    value = as_datetime(row[0])
    assert value is not None
    return value


# --- writes --------------------------------------------------------------------------------


def add_payment(conn: Connection, session_id: str, order_pk: int, method_pk: int, *,
                refund: bool, cents: int, at: datetime) -> None:
    """Append a payment (tau2 'payment' = kind 'charge') or a refund to the order's history."""
    insert(conn, PAY, dict(session_id=session_id, order_id=order_pk, payment_method_id=method_pk,
                           kind="refund" if refund else "charge", amount_cents=cents,
                           reason="refund" if refund else "payment", created_at=at))


def gift_card_credit(conn: Connection, method_pk: int, cents: int) -> None:
    """Add ``cents`` (negative: take) to a gift card's balance (no-op for other methods)."""
    run(conn, q.GIFT_CARD_CREDIT, (cents, method_pk))


def set_status(conn: Connection, order_pk: int, status: str) -> None:
    run(conn, _STATUS, (status, order_pk))


def set_cancelled(conn: Connection, order_pk: int, reason: str, at: datetime) -> None:
    """Status 'cancelled' with tau2's cancel reason (the shop's own cancel statement)."""
    run(conn, q.CANCEL, (db_value(conn, at), reason, order_pk))


def _address_values(a: UserAddress) -> tuple[str, ...]:
    return (a.address1, a.address2, a.city, a.state, a.zip, a.country)


def set_order_address(conn: Connection, order: OrderRow, a: UserAddress) -> None:
    """Replace the order's own address (and the one-line snapshot shown natively)."""
    run(conn, _ORDER_ADDRESS, (*_address_values(a), order.address_pk))
    recipient = fetch_one(conn, _RECIPIENT, (order.address_pk,))[0]
    run(conn, _SHIP_TO, (f"{recipient}, {a.address1}, {a.city}, {a.state} {a.zip}", order.pk))


def set_default_address(conn: Connection, session_id: str, customer: int,
                        a: UserAddress) -> None:
    """Replace the customer's default address."""
    run(conn, _DEFAULT_ADDRESS, (*_address_values(a), session_id, customer, True))


def change_line(conn: Connection, line_pk: int, variant_pk: int, price_cents: int,
                options: dict[str, str]) -> None:
    """A unit of an order becomes another variant, with the price and options given."""
    run(conn, _LINE, (variant_pk, price_cents, json.dumps(options), line_pk))


def _numbers(conn: Connection, session_id: str) -> Any:
    return fetch_one(conn, _NEXT, (session_id,))


def record_exchange(conn: Connection, session_id: str, order_pk: int, method_pk: int,
                    difference_cents: int, pairs: list[tuple[int, int, int, int]],
                    at: datetime) -> None:
    """Status 'exchange requested' with the request's header on the order, and one
    ExchangeRequest per (line, old variant, new variant, difference in cents) pair."""
    run(conn, _EXCHANGE, (method_pk, difference_cents, order_pk))
    first = _numbers(conn, session_id)[1]
    run(conn, _BUMP_EXCHANGE, (first + len(pairs), session_id))
    if pairs:
        insert(conn, XR, [dict(
            session_id=session_id, number=first + k, order_id=order_pk, order_line_id=line,
            quantity=1, from_variant_id=old, to_variant_id=new, price_difference_cents=diff,
            status="requested", reason="", created_at=at)
            for k, (line, old, new, diff) in enumerate(pairs)])


def record_return(conn: Connection, session_id: str, order_pk: int, method: MethodRow,
                  lines: list[int], at: datetime) -> None:
    """Status 'return requested', one ReturnRequest naming the refund method, one ReturnLine
    per returned unit (line)."""
    set_status(conn, order_pk, "return requested")
    number = _numbers(conn, session_id)[0]
    run(conn, _BUMP_RETURN, (number + 1, session_id))
    rid = insert(conn, RR, dict(
        session_id=session_id, number=number, order_id=order_pk, status="requested",
        reason="", refund_to="gift_card" if method.kind == "gift_card" else "original",
        payment_method_id=method.pk, refund_cents=0, fee_cents=0, created_at=at),
        returning_id=True)
    if lines:
        insert(conn, RL, [dict(session_id=session_id, return_id=rid, order_line_id=line,
                               quantity=1, refund_cents=0, fee_cents=0) for line in lines])
