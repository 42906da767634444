"""Orders: placing them, reading them, cancelling them, and moving money for them.

An order's schedule (processing, shipped, delivered) is fixed when it is placed; the session clock
decides which status it is in. Charges and refunds are ``payment`` rows; the refunds of an order
never exceed what was charged for it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, select

from mcp_shop import order_sql as q
from mcp_shop.errors import InvalidInput, InvalidState, NotFound
from mcp_shop.ids import order_id, product_id, variant_id
from mcp_shop.inventory import VariantState, adjust_stock, effective_variants
from mcp_shop.models import (
    Order,
    OrderLine,
    Payment,
    PaymentMethod,
    Shipment,
)
from mcp_shop.policies import CANCEL_REASONS, Policies
from mcp_shop.shop_policies import policies_for
from mcp_shop.sql import (
    SQLITE_DATETIME,
    Sql,
    as_bool,
    as_datetime,
    as_json,
    db_value,
    fetch_all,
    fetch_one,
    insert,
    run,
    run_many,
)
from mcp_shop.views import (
    ExchangeView,
    OrderLineView,
    OrderSummary,
    OrderView,
    PaymentView,
    ReturnView,
    ShipmentView,
)

__all__ = [
    "add_past_order",
    "add_past_orders",
    "allocate",
    "cancel_order",
    "charge",
    "get_order",
    "list_orders",
    "place_order",
    "refund",
    "require_order",
    "status_at",
]

ORD = Order.__table__  # type: ignore[attr-defined]
OL = OrderLine.__table__  # type: ignore[attr-defined]
PAY = Payment.__table__  # type: ignore[attr-defined]
PM = PaymentMethod.__table__  # type: ignore[attr-defined]
SH = Shipment.__table__  # type: ignore[attr-defined]
_SESSION = Sql("SELECT s.id, s.seed, s.clock, s.next_order_number, cu.tier FROM shop_session s "
               "JOIN customer cu ON cu.id = s.customer_id WHERE s.id = ?")
_BUMP_ORDER = Sql("UPDATE shop_session SET next_order_number = ? WHERE id = ?")
_DEFAULT_ADDRESS = Sql("SELECT id, recipient, line1, city, region, postcode FROM address "
                       "WHERE session_id = ? ORDER BY is_default DESC, id LIMIT 1")
_METHOD_BY_ID = Sql("SELECT id FROM payment_method WHERE session_id = ? AND public_id = ?")
_DEFAULT_METHOD = Sql("SELECT id FROM payment_method WHERE session_id = ? AND kind <> 'gift_card' "
                      "ORDER BY is_default DESC, id LIMIT 1")
_CARRIERS = {"standard": "ParcelPost", "express": "SwiftShip", "next_day": "SwiftShip"}


def status_at(now: datetime, processing_at: datetime, shipped_at: datetime,
              delivered_at: datetime) -> str:
    """The status an order on this schedule has at ``now``."""
    if delivered_at <= now:
        return "delivered"
    if shipped_at <= now:
        return "shipped"
    if processing_at <= now:
        return "processing"
    return "pending"


def tracking_number(seed: int, key: str) -> str:
    """A deterministic tracking number for a session seed and a parcel key."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()
    return "1Z" + str(int(digest[:16], 16))[:16]


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` in proportion to ``weights`` exactly (largest remainder, ties by index)."""
    wsum = sum(weights)
    if total == 0 or wsum == 0:
        return [0] * len(weights)
    shares = [total * w // wsum for w in weights]
    rest = total - sum(shares)
    order = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % wsum), i))
    for i in order[:rest]:
        shares[i] += 1
    return shares


def place_order(
    conn: Connection,
    session: Any,
    lines: Sequence[tuple[VariantState, int]],
    *,
    placed_at: datetime,
    address: Any,
    shipping_option: str,
    shipping_cents: int,
    discount_cents: int = 0,
    line_discounts: Sequence[int] | None = None,
    discount_code: str | None = None,
    charges: Sequence[tuple[int, int]],
    policies: Policies | None = None,
    bump: bool = True,
) -> int:
    """Write an order with its lines, charges and shipment; returns its number.

    ``policies`` default to the catalog's (:func:`mcp_shop.shop_policies.policies_for`).
    ``bump=False``: the caller moves the session's ``next_order_number`` past this order
    itself (once for a batch of orders).
    """
    if policies is None:
        policies = policies_for(conn)
    option = policies.shipping_option(shipping_option)
    assert option is not None
    number = session.next_order_number
    if bump:
        run(conn, _BUMP_ORDER, (number + 1, session.id))
    subtotal = sum(v.price_cents * q for v, q in lines)
    processing_at = placed_at + policies.processing_after
    shipped_at = placed_at + option.ship_after
    delivered_at = placed_at + option.deliver_after
    now = session.clock
    status = status_at(now, processing_at, shipped_at, delivered_at)
    sqlite = conn.dialect.name == "sqlite"

    def at(t: datetime) -> Any:  # as insert() would pass a timestamp
        return t.strftime(SQLITE_DATETIME) if sqlite else t

    oid = fetch_one(conn, q.INSERT_ORDER, (
        session.id, number, status, at(placed_at), address.id,
        f"{address.recipient}, {address.line1}, {address.city}, {address.region} "
        f"{address.postcode}",
        shipping_option, subtotal, discount_cents, shipping_cents,
        subtotal - discount_cents + shipping_cents, discount_code, at(processing_at),
        at(shipped_at), at(delivered_at)))[0]
    shares = list(line_discounts) if line_discounts is not None else [0] * len(lines)
    run_many(conn, q.INSERT_LINE, [
        (session.id, oid, i + 1, v.product_pk, v.pk, v.title,
         json.dumps(v.options) if isinstance(v.options, dict | list) else v.options,
         v.category_slug, v.price_cents, q_, shares[i],
         v.final_sale or not policies.return_rule(v.category_slug).returnable, 0, 0)
        for i, (v, q_) in enumerate(lines)
    ])
    for method_pk, amount in charges:
        if amount > 0:
            run(conn, q.INSERT_PAYMENT, (session.id, oid, method_pk, "charge", amount,
                                         "order payment", at(placed_at)))
    run(conn, q.INSERT_SHIPMENT, (
        session.id, oid, _CARRIERS[shipping_option],
        tracking_number(session.seed, f"O-{number}"),
        {"delivered": "delivered", "shipped": "in_transit"}.get(status, "label_created"),
        at(shipped_at), at(delivered_at)))
    return number


def add_past_order(
    conn: Connection,
    session_id: str,
    lines: Mapping[int, int],
    *,
    placed_at: datetime,
    shipping_option: str = "standard",
    payment_method_public_id: str | None = None,
) -> str:
    """Seed a past order (history, task set-up) paid with one method; returns its public id.

    Stock is not taken: the units were bought before the session started.
    """
    return add_past_orders(conn, session_id, [(lines, placed_at)],
                           shipping_option=shipping_option,
                           payment_method_public_id=payment_method_public_id)[0]


def add_past_orders(
    conn: Connection,
    session_id: str,
    past: Sequence[tuple[Mapping[int, int], datetime]],
    *,
    shipping_option: str = "standard",
    payment_method_public_id: str | None = None,
) -> list[str]:
    """Seed several past orders of ``({variant: quantity}, placed_at)``; returns their ids."""
    if not past:
        return []
    policies = policies_for(conn)
    shipping = policies.shipping_option(shipping_option)
    if shipping is None:
        raise InvalidInput(f"unknown shipping option {shipping_option!r}")
    row = fetch_one(conn, _SESSION, (session_id,))
    if row is None:
        raise NotFound("unknown session_id: open a session with open_session first")
    session = SimpleNamespace(id=row[0], seed=row[1], clock=as_datetime(row[2]),
                              next_order_number=row[3])
    tier = row[4]
    if any(placed_at > session.clock for _, placed_at in past):
        raise InvalidInput("a past order must be placed before the session clock")
    if any(not 1 <= q <= 99 for lines, _ in past for q in lines.values()):
        raise InvalidInput("past order quantities must be from 1 to 99")
    states = effective_variants(conn, session_id, [v for lines, _ in past for v in lines])
    missing = {v for lines, _ in past for v in lines} - set(states)
    if missing:
        raise NotFound(f"unknown variants {[variant_id(m) for m in sorted(missing)]}")
    row = fetch_one(conn, _DEFAULT_ADDRESS, (session_id,))
    address = SimpleNamespace(id=row[0], recipient=row[1], line1=row[2], city=row[3],
                              region=row[4], postcode=row[5])
    if payment_method_public_id:
        found = fetch_one(conn, _METHOD_BY_ID, (session_id, payment_method_public_id))
    else:
        found = fetch_one(conn, _DEFAULT_METHOD, (session_id,))
    method = found[0] if found else None
    if method is None:
        raise NotFound(f"unknown payment method {payment_method_public_id!r}")
    out = []
    number = session.next_order_number
    for lines, placed_at in past:
        picked = [(states[pk], n) for pk, n in lines.items()]
        subtotal = sum(v.price_cents * n for v, n in picked)
        shipping_cents = policies.shipping_cost(shipping_option, tier, subtotal)
        session.next_order_number = number
        place_order(conn, session, picked, placed_at=placed_at, address=address,
                    shipping_option=shipping_option, shipping_cents=shipping_cents,
                    charges=[(method, subtotal + shipping_cents)], policies=policies,
                    bump=False)
        out.append(order_id(number))
        number += 1
    run(conn, _BUMP_ORDER, (number, session.id))  # past every order written
    return out


def require_order(conn: Connection, session_id: str, number: int, *, lock: bool = False) -> Any:
    """The session's order number ``number``; NotFound (with valid ids) otherwise."""
    row = fetch_one(conn, q.ORDER_LOCKED if lock else q.ORDER, (session_id, number))
    if row is None:
        known = [r[0] for r in fetch_all(conn, q.ORDER_NUMBERS, (session_id,))]
        valid = ", ".join(order_id(n) for n in known) or "none yet"
        raise NotFound(f"order {order_id(number)} does not exist in this session; "
                       f"this customer's orders: {valid}", order_id=order_id(number))
    if isinstance(row.placed_at, str):  # SQLite: timestamps come back as text
        values = list(row)
        for i in q.ORDER_TIME_POSITIONS:
            values[i] = as_datetime(values[i])
        row = row._make(values)
    return row


def _payments(conn: Connection, order_pk: int) -> list[Any]:
    """(method, kind, amount) of every payment of an order, oldest first."""
    return fetch_all(conn, q.PAYMENT_AMOUNTS, (order_pk,))


def _net_paid_by_method(conn: Connection, order_pk: int,
                        payments: list[Any] | None = None) -> dict[int, int]:
    net: dict[int, int] = {}
    for method, kind, amount in _payments(conn, order_pk) if payments is None else payments:
        net[method] = net.get(method, 0) + (amount if kind == "charge" else -amount)
    return net


def _gift_card_credit(conn: Connection, session_id: str, method_pk: int, amount: int) -> None:
    run(conn, q.GIFT_CARD_CREDIT, (amount, method_pk))


def _clock(conn: Connection, session_id: str) -> datetime:
    row = fetch_one(conn, q.CLOCK, (session_id,))
    if row is None:
        raise ValueError("expected exactly one row, got 0")
    return as_datetime(row[0])  # type: ignore[return-value]


def _add_payment(conn: Connection, session_id: str, order_pk: int, method: int, kind: str,
                 amount: int, reason: str, created_at: datetime) -> None:
    insert(conn, PAY, dict(session_id=session_id, order_id=order_pk, payment_method_id=method,
                           kind=kind, amount_cents=amount, reason=reason,
                           created_at=created_at))


def refund(conn: Connection, session_id: str, order: Any, amount: int, reason: str,
           *, to: str = "original") -> None:
    """Refund ``amount`` of an order: to the methods that paid it, or to a gift card."""
    if amount <= 0:
        return
    payments = _payments(conn, order.id)
    net = _net_paid_by_method(conn, order.id, payments)
    refunded_total = sum(a for _, kind, a in payments if kind == "refund")
    charged_total = sum(a for _, kind, a in payments if kind == "charge")
    if refunded_total + amount > charged_total:
        raise InvalidState(f"refund of {amount} cents would exceed what {order_id(order.number)} "
                           "was paid")
    now = _clock(conn, session_id)
    if to == "gift_card":
        found = fetch_one(conn, q.GIFT_CARD, (session_id,))
        card = found[0] if found is not None else None
        if card is None:
            count = fetch_one(conn, q.METHOD_COUNT, (session_id,))[0]
            card = insert(conn, PM, dict(
                session_id=session_id, public_id=f"PM-{count + 1}", kind="gift_card",
                label="Store credit gift card", balance_cents=0, is_default=False,
            ), returning_id=True)
        parts = [(card, amount)]
    else:
        # Each method gets back its share of what it still has paid (exact, deterministic).
        methods = sorted(m for m in net if net[m] > 0)
        shares = allocate(amount, [net[m] for m in methods])
        parts = [(m, a) for m, a in zip(methods, shares, strict=True) if a]
    for method, part in parts:
        _add_payment(conn, session_id, order.id, method, "refund", part, reason, now)
        _gift_card_credit(conn, session_id, method, part)


def charge(conn: Connection, session_id: str, order: Any, amount: int, reason: str) -> None:
    """Charge ``amount`` more for an order to the card/PayPal that paid it (or the default)."""
    if amount <= 0:
        return
    net = _net_paid_by_method(conn, order.id)
    method = conn.execute(
        select(PM.c.id).where(PM.c.session_id == session_id, PM.c.kind != "gift_card")
        .order_by(PM.c.id.in_(list(net)).desc(), PM.c.is_default.desc(), PM.c.id)
    ).scalar()
    if method is None:
        raise InvalidState("no card or PayPal account on file to charge the difference to")
    _add_payment(conn, session_id, order.id, method, "charge", amount, reason,
                 _clock(conn, session_id))


def cancel_order(conn: Connection, session_id: str, number: int, reason: str) -> OrderView:
    """Cancel a pending order: refund every payment, restock, release its discount code."""
    if reason not in CANCEL_REASONS:
        raise InvalidInput(f"unknown cancel reason {reason!r}; valid: {', '.join(CANCEL_REASONS)}")
    order = require_order(conn, session_id, number, lock=True)
    if order.status != "pending":
        hint = {"cancelled": "it is already cancelled",
                "delivered": "it was delivered; request a return instead"}.get(
            order.status, "it is already being processed; it can be returned after delivery")
        raise InvalidState(f"order {order_id(number)} is {order.status} and cannot be cancelled: "
                           f"only pending orders can be cancelled, and {hint}",
                           order_id=order_id(number), status=order.status)
    now = _clock(conn, session_id)
    for method, paid in sorted(_net_paid_by_method(conn, order.id).items()):
        if paid > 0:
            _add_payment(conn, session_id, order.id, method, "refund", paid, "order cancelled",
                         now)
            _gift_card_credit(conn, session_id, method, paid)
    for vid, qty in fetch_all(conn, q.LINE_QUANTITIES, (order.id,)):
        adjust_stock(conn, session_id, vid, qty)
    if order.discount_code:
        run(conn, q.RELEASE_CODE, (False, session_id, order.discount_code))
    run(conn, q.CANCEL, (db_value(conn, now), reason, order.id))
    run(conn, q.CANCEL_SHIPMENTS, (order.id,))
    return get_order(conn, session_id, number)


def list_orders(conn: Connection, session_id: str) -> list[OrderSummary]:
    """The customer's orders, newest first."""
    return [OrderSummary(order_id=order_id(number), status=status,
                         placed_at=as_datetime(placed_at), total_cents=total, item_count=int(n))
            for number, status, placed_at, total, n in fetch_all(
                conn, q.ORDER_LIST, (session_id, session_id))]


def get_order(conn: Connection, session_id: str, number: int) -> OrderView:
    """One order with its lines, payments, shipments, returns and exchanges."""
    o = require_order(conn, session_id, number)
    oid = order_id(number)
    lines = fetch_all(conn, q.ORDER_LINES, (o.id,))
    by_line = {ln.id: ln for ln in lines}
    returned: dict[int, list[dict[str, Any]]] = {}
    for rid, line_pk, quantity, refund_cents, fee_cents in fetch_all(
            conn, q.RETURN_LINES, (o.id,)):
        returned.setdefault(rid, []).append({
            "variant_id": variant_id(by_line[line_pk].variant_id), "quantity": quantity,
            "refund_cents": refund_cents, "fee_cents": fee_cents})
    returns = [ReturnView(
        return_id=f"R-{r.number}", order_id=oid, status=r.status, reason=r.reason,
        refund_to=r.refund_to, refund_cents=r.refund_cents, fee_cents=r.fee_cents,
        created_at=as_datetime(r.created_at), lines=returned.get(r.id, []),
    ) for r in fetch_all(conn, q.RETURNS, (o.id,))]
    exchanges = {x.id: x for x in fetch_all(conn, q.EXCHANGES, (o.id,))}
    return OrderView(
        order_id=oid, status=o.status, placed_at=o.placed_at, ship_to=o.ship_to,
        shipping_option=o.shipping_option, subtotal_cents=o.subtotal_cents,
        discount_cents=o.discount_cents, discount_code=o.discount_code,
        shipping_cents=o.shipping_cents, total_cents=o.total_cents,
        expected_delivery=o.delivered_at, cancelled_at=o.cancelled_at,
        cancel_reason=o.cancel_reason,
        lines=[OrderLineView(
            line_no=ln.line_no, product_id=product_id(ln.product_id),
            variant_id=variant_id(ln.variant_id), title=ln.title, options=as_json(ln.options),
            unit_price_cents=ln.unit_price_cents, quantity=ln.quantity,
            discount_cents=ln.discount_cents, final_sale=as_bool(ln.final_sale),
            returned_quantity=ln.returned_quantity, exchanged_quantity=ln.exchanged_quantity,
        ) for ln in lines],
        payments=[PaymentView(
            kind=p.kind, payment_method_id=p.public_id, method_label=p.label,
            amount_cents=p.amount_cents, reason=p.reason, created_at=as_datetime(p.created_at),
        ) for p in fetch_all(conn, q.ORDER_PAYMENTS, (o.id,))],
        shipments=[ShipmentView(
            carrier=sh.carrier, tracking_number=sh.tracking_number, status=sh.status,
            shipped_at=as_datetime(sh.shipped_at), delivered_at=as_datetime(sh.delivered_at),
            for_exchange=f"X-{exchanges[sh.exchange_id].number}" if sh.exchange_id else None,
        ) for sh in fetch_all(conn, q.SHIPMENTS, (o.id,))],
        returns=returns,
        exchanges=[ExchangeView(
            exchange_id=f"X-{x.number}", order_id=oid, status=x.status,
            reason=x.reason, from_variant_id=variant_id(x.from_variant_id),
            to_variant_id=variant_id(x.to_variant_id), quantity=x.quantity,
            price_difference_cents=x.price_difference_cents,
            created_at=as_datetime(x.created_at),
        ) for x in exchanges.values()],
    )
