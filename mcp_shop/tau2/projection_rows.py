"""The rows the tau2 projection reads (:mod:`mcp_shop.tau2.projection`), in bulk: one
hand-written statement (:class:`mcp_shop.sql.Sql`) per table for a whole session, one order or
one user, never one per row, run on the driver (on PostgreSQL all of an order's or a user's
statements in one pipeline, one round trip).

Each order and each user comes out as one hashable tuple of plain values (no keys of the
session's own rows, so two sessions holding the same order give equal tuples): what
``projection.order_record`` and ``projection.user_record`` take, and what the projection
memoises each one's JSON text by. JSON columns are read as their text on both backends, so every
value is hashable and read the same way.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from mcp_shop import models
from mcp_shop.sql import Sql

__all__ = ["OrderRows", "UserRows", "order_rows", "user_rows"]

OrderRows = tuple[Any, ...]
"""One order's values: (head, lines, payments, shipments, return method, returned variants,
exchanges) with head = (number, status, cancel_reason, exchange difference in cents, user id,
exchange method id, line1, line2, city, region, postcode, country), lines = ((title, product
key, variant key, unit price in cents, options JSON), ...) in line order, payments = ((kind,
cents, method id), ...), shipments = ((tracking ids JSON, variant keys JSON), ...) in key
order, the last return request's method id (None: no request), the variant keys of its
returned units, and exchanges = ((from variant, to variant), ...)."""

UserRows = tuple[Any, ...]
"""One user's values: (user id, first name, last name, email, (line1, line2, city, region,
postcode, country) of the default address, methods = ((public id, kind, brand, last four,
balance cents), ...) in key order, order numbers in key order)."""


def _t(model: Any) -> str:
    return str(model.__tablename__)


_ORD, _CU, _AD, _PM = _t(models.Order), _t(models.Customer), _t(models.Address), \
    _t(models.PaymentMethod)
_OL, _PAY, _SH = _t(models.OrderLine), _t(models.Payment), _t(models.Shipment)
_RR, _RL, _XR = _t(models.ReturnRequest), _t(models.ReturnLine), _t(models.ExchangeRequest)


def _both(sql: str, session: str, one: str) -> tuple[Sql, Sql]:
    """The statement for a whole session and for one order (or customer). ``{text(x)}``
    reads JSON column ``x`` as its text: SQLite holds it as text already (a cast would cost
    a function call per row), PostgreSQL's driver would parse it."""
    def made(where: str) -> Sql:
        return Sql(_TEXT.sub(r"\1", sql).format(where=where),
                   pg=_TEXT.sub(r"CAST(\1 AS TEXT)", sql).format(where=where))
    return made(session), made(one)


_TEXT = re.compile(r"\{text\(([a-z_.]+)\)\}")


_ONE_ORDER = f"IN (SELECT id FROM {_ORD} WHERE session_id = ? AND number = ?)"
# (the session's own rows of the user: no index on customer_id, that on session_id serves)
_ONE_USER = f"session_id = ? AND customer_id IN (SELECT id FROM {_CU} WHERE session_id = ? " \
    "AND public_id = ?)"
# every statement takes (session,) for a whole session and (session, number) for one order;
# for one user, (session, user id) or for _ONE_USER (session, session, user id)
_HEADS = _both(f"""SELECT o.id, o.number, o.status, o.cancel_reason,
    o.exchange_price_difference_cents, c.public_id, m.public_id, a.line1, a.line2, a.city,
    a.region, a.postcode, a.country
    FROM {_ORD} o JOIN {_CU} c ON c.id = o.customer_id JOIN {_AD} a ON a.id = o.address_id
    LEFT JOIN {_PM} m ON m.id = o.exchange_payment_method_id
    WHERE {{where}} ORDER BY o.id""", "o.session_id = ?", "o.session_id = ? AND o.number = ?")
_LINES = _both(f"""SELECT l.order_id, l.title, l.product_id, l.variant_id, l.unit_price_cents,
    {{text(l.options)}} FROM {_OL} l WHERE {{where}} ORDER BY l.order_id, l.line_no""",
               "l.session_id = ?", f"l.order_id {_ONE_ORDER}")
_PAYMENTS = _both(f"""SELECT p.order_id, p.kind, p.amount_cents, m.public_id
    FROM {_PAY} p JOIN {_PM} m ON m.id = p.payment_method_id
    WHERE {{where}} ORDER BY p.id""", "p.session_id = ?", f"p.order_id {_ONE_ORDER}")
_SHIPMENTS = _both(f"""SELECT s.order_id, {{text(s.tracking_ids)}},
    {{text(s.variant_ids)}} FROM {_SH} s WHERE {{where}} ORDER BY s.id""",
                   "s.session_id = ?", f"s.order_id {_ONE_ORDER}")
_RETURNS = _both(f"""SELECT r.order_id, m.public_id FROM {_RR} r
    JOIN {_PM} m ON m.id = r.payment_method_id WHERE {{where}} ORDER BY r.id""",
                 "r.session_id = ?", f"r.order_id {_ONE_ORDER}")
_RETURNED = _both(f"""SELECT r.order_id, l.variant_id FROM {_RL} x
    JOIN {_RR} r ON r.id = x.return_id JOIN {_PM} m ON m.id = r.payment_method_id
    JOIN {_OL} l ON l.id = x.order_line_id WHERE {{where}} ORDER BY x.id""",
                  "x.session_id = ?", f"r.order_id {_ONE_ORDER}")
_EXCHANGES = _both(f"""SELECT e.order_id, e.from_variant_id, e.to_variant_id FROM {_XR} e
    WHERE {{where}} ORDER BY e.id""", "e.session_id = ?", f"e.order_id {_ONE_ORDER}")
_ORDER_READS = (_HEADS, _LINES, _PAYMENTS, _SHIPMENTS, _RETURNS, _RETURNED, _EXCHANGES)

_CUSTOMERS = _both(f"""SELECT id, public_id, first_name, last_name, email FROM {_CU}
    WHERE {{where}} ORDER BY id""", "session_id = ?", "session_id = ? AND public_id = ?")
_HOMES = _both(f"""SELECT customer_id, line1, line2, city, region, postcode, country
    FROM {_AD} WHERE is_default AND {{where}} ORDER BY id""",
               "session_id = ?", _ONE_USER)
_METHODS = _both(f"""SELECT customer_id, public_id, kind, brand, last_four, balance_cents
    FROM {_PM} WHERE {{where}} ORDER BY id""", "session_id = ?", _ONE_USER)
_ORDER_NUMBERS = _both(f"""SELECT customer_id, number FROM {_ORD} WHERE {{where}}
    ORDER BY id""", "session_id = ?", _ONE_USER)


def _fetch(conn: Connection, statements: Sequence[tuple[Sql, tuple[Any, ...]]], *,
           pipeline: bool) -> list[list[tuple[Any, ...]]]:
    """Every row of each statement as plain tuples, straight from the driver (inside
    ``conn``'s transaction). On PostgreSQL with ``pipeline`` the statements go in one
    pipeline, one round trip for all of them (for the few rows of one order or user; whole
    sessions read faster without)."""
    driver: Any = conn.connection.dbapi_connection
    if not pipeline or conn.dialect.name != "postgresql":
        return [driver.execute(sql.text(conn), params).fetchall()
                for sql, params in statements]
    with driver.pipeline():
        cursors = [driver.execute(sql.text(conn), params) for sql, params in statements]
    return [c.fetchall() for c in cursors]


def _grouped(rows: list[tuple[Any, ...]]) -> dict[Any, list[Any]]:
    """Rows by their first column: the rest of each row, or its one value when one is left."""
    out: dict[Any, list[Any]] = defaultdict(list)
    if rows and len(rows[0]) == 2:
        for key, value in rows:
            out[key].append(value)
    else:
        for row in rows:
            out[row[0]].append(row[1:])
    return out


def order_rows(conn: Connection, session_id: str, number: int | None = None
               ) -> list[OrderRows]:
    """The session's orders (or the one numbered ``number``) as :data:`OrderRows`, in key
    order."""
    one = number is not None
    params = (session_id, number) if one else (session_id,)
    heads, *children = _fetch(conn, [(sql[one], params) for sql in _ORDER_READS],
                              pipeline=one)
    lines, payments, shipments, returns, returned, exchanges = map(_grouped, children)
    empty: list[Any] = []
    out = []
    for head in heads:
        pk = head[0]
        methods = returns.get(pk)
        out.append((head[1:], tuple(lines.get(pk, empty)), tuple(payments.get(pk, empty)),
                    tuple(shipments.get(pk, empty)), methods[-1] if methods else None,
                    tuple(returned.get(pk, empty)), tuple(exchanges.get(pk, empty))))
    return out


def user_rows(conn: Connection, session_id: str, user_id: str | None = None
              ) -> list[UserRows]:
    """The session's users (or the one whose tau2 user id is ``user_id``) as
    :data:`UserRows`, in key order."""
    one = user_id is not None
    params = (session_id, session_id, user_id) if one else (session_id,)
    customers, homes, methods, numbers = _fetch(
        conn, [(_CUSTOMERS[one], params[1:] if one else params),
               *((sql[one], params) for sql in (_HOMES, _METHODS, _ORDER_NUMBERS))],
        pipeline=one)
    home = {r[0]: r[1:] for r in homes}
    by_customer, orders = _grouped(methods), _grouped(numbers)
    empty: list[Any] = []
    return [(c[1], c[2], c[3], c[4], home[c[0]], tuple(by_customer.get(c[0], empty)),
             tuple(orders.get(c[0], empty))) for c in customers]
