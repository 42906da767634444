"""Orders: placing them, reading them, cancelling them, and moving money for them.

An order's schedule (processing, shipped, delivered) is fixed when it is placed; the session clock
decides which status it is in. Charges and refunds are ``payment`` rows; the refunds of an order
never exceed what was charged for it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, func, select, update

from mcp_shop.errors import InvalidInput, InvalidState, NotFound
from mcp_shop.ids import order_id, product_id, variant_id
from mcp_shop.inventory import VariantState, adjust_stock, effective_variants
from mcp_shop.models import (
    DiscountCode,
    ExchangeRequest,
    Order,
    OrderLine,
    Payment,
    PaymentMethod,
    ReturnLine,
    ReturnRequest,
    Shipment,
    ShopSession,
)
from mcp_shop.policies import CANCEL_REASONS, Policies
from mcp_shop.shop_policies import policies_for
from mcp_shop.sql import Sql, as_datetime, fetch_one, insert, run
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
RR = ReturnRequest.__table__  # type: ignore[attr-defined]
RL = ReturnLine.__table__  # type: ignore[attr-defined]
XR = ExchangeRequest.__table__  # type: ignore[attr-defined]
S = ShopSession.__table__  # type: ignore[attr-defined]
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
) -> int:
    """Write an order with its lines, charges and shipment; returns its number.

    ``policies`` default to the catalog's (:func:`mcp_shop.shop_policies.policies_for`).
    """
    if policies is None:
        policies = policies_for(conn)
    option = policies.shipping_option(shipping_option)
    assert option is not None
    number = session.next_order_number
    run(conn, _BUMP_ORDER, (number + 1, session.id))
    subtotal = sum(v.price_cents * q for v, q in lines)
    processing_at = placed_at + policies.processing_after
    shipped_at = placed_at + option.ship_after
    delivered_at = placed_at + option.deliver_after
    now = session.clock
    status = status_at(now, processing_at, shipped_at, delivered_at)
    oid = insert(conn, ORD, dict(
        session_id=session.id, number=number, status=status, placed_at=placed_at,
        address_id=address.id,
        ship_to=f"{address.recipient}, {address.line1}, {address.city}, {address.region} "
                f"{address.postcode}",
        shipping_option=shipping_option, subtotal_cents=subtotal, discount_cents=discount_cents,
        shipping_cents=shipping_cents, total_cents=subtotal - discount_cents + shipping_cents,
        discount_code=discount_code, processing_at=processing_at, shipped_at=shipped_at,
        delivered_at=delivered_at,
    ), returning_id=True)
    shares = list(line_discounts) if line_discounts is not None else [0] * len(lines)
    insert(conn, OL, [
        dict(session_id=session.id, order_id=oid, line_no=i + 1, product_id=v.product_pk,
             variant_id=v.pk, title=v.title, options=v.options, category_slug=v.category_slug,
             unit_price_cents=v.price_cents, quantity=q, discount_cents=shares[i],
             final_sale=v.final_sale or not policies.return_rule(v.category_slug).returnable)
        for i, (v, q) in enumerate(lines)
    ])
    for method_pk, amount in charges:
        if amount > 0:
            insert(conn, PAY, dict(
                session_id=session.id, order_id=oid, payment_method_id=method_pk, kind="charge",
                amount_cents=amount, reason="order payment", created_at=placed_at))
    insert(conn, SH, dict(
        session_id=session.id, order_id=oid, carrier=_CARRIERS[shipping_option],
        tracking_number=tracking_number(session.seed, f"O-{number}"),
        status={"delivered": "delivered", "shipped": "in_transit"}.get(status, "label_created"),
        shipped_at=shipped_at, delivered_at=delivered_at,
    ))
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
    shipping = policies_for(conn).shipping_option(shipping_option)
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
        shipping_cents = policies_for(conn).shipping_cost(shipping_option, tier, subtotal)
        at = SimpleNamespace(id=session.id, seed=session.seed, clock=session.clock,
                             next_order_number=number)
        place_order(conn, at, picked, placed_at=placed_at, address=address,
                    shipping_option=shipping_option, shipping_cents=shipping_cents,
                    charges=[(method, subtotal + shipping_cents)])
        out.append(order_id(number))
        number += 1
    return out


def require_order(conn: Connection, session_id: str, number: int, *, lock: bool = False) -> Any:
    """The session's order number ``number``; NotFound (with valid ids) otherwise."""
    q = select(ORD).where(ORD.c.session_id == session_id, ORD.c.number == number)
    row = conn.execute(q.with_for_update() if lock else q).first()
    if row is None:
        known = conn.execute(
            select(ORD.c.number).where(ORD.c.session_id == session_id).order_by(ORD.c.number)
        ).scalars().all()
        valid = ", ".join(order_id(n) for n in known) or "none yet"
        raise NotFound(f"order {order_id(number)} does not exist in this session; "
                       f"this customer's orders: {valid}", order_id=order_id(number))
    return row


def _net_paid_by_method(conn: Connection, order_pk: int) -> dict[int, int]:
    net: dict[int, int] = {}
    for method, kind, amount in conn.execute(
        select(PAY.c.payment_method_id, PAY.c.kind, PAY.c.amount_cents)
        .where(PAY.c.order_id == order_pk).order_by(PAY.c.id)
    ):
        net[method] = net.get(method, 0) + (amount if kind == "charge" else -amount)
    return net


def _gift_card_credit(conn: Connection, session_id: str, method_pk: int, amount: int) -> None:
    conn.execute(update(PM).where(PM.c.id == method_pk, PM.c.kind == "gift_card")
                 .values(balance_cents=PM.c.balance_cents + amount))


def refund(conn: Connection, session_id: str, order: Any, amount: int, reason: str,
           *, to: str = "original") -> None:
    """Refund ``amount`` of an order: to the methods that paid it, or to a gift card."""
    if amount <= 0:
        return
    net = _net_paid_by_method(conn, order.id)
    refunded_total = conn.execute(
        select(func.coalesce(func.sum(PAY.c.amount_cents), 0))
        .where(PAY.c.order_id == order.id, PAY.c.kind == "refund")
    ).scalar_one()
    charged_total = conn.execute(
        select(func.coalesce(func.sum(PAY.c.amount_cents), 0))
        .where(PAY.c.order_id == order.id, PAY.c.kind == "charge")
    ).scalar_one()
    if refunded_total + amount > charged_total:
        raise InvalidState(f"refund of {amount} cents would exceed what {order_id(order.number)} "
                           "was paid")
    now = conn.execute(select(S.c.clock).where(S.c.id == session_id)).scalar_one()
    if to == "gift_card":
        card = conn.execute(select(PM.c.id).where(PM.c.session_id == session_id,
                                                  PM.c.kind == "gift_card").order_by(PM.c.id)
                            ).scalar()
        if card is None:
            count = conn.execute(select(func.count()).select_from(PM)
                                 .where(PM.c.session_id == session_id)).scalar_one()
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
        conn.execute(PAY.insert(), dict(
            session_id=session_id, order_id=order.id, payment_method_id=method, kind="refund",
            amount_cents=part, reason=reason, created_at=now))
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
    now = conn.execute(select(S.c.clock).where(S.c.id == session_id)).scalar_one()
    conn.execute(PAY.insert(), dict(
        session_id=session_id, order_id=order.id, payment_method_id=method, kind="charge",
        amount_cents=amount, reason=reason, created_at=now))


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
    now = conn.execute(select(S.c.clock).where(S.c.id == session_id)).scalar_one()
    for method, paid in sorted(_net_paid_by_method(conn, order.id).items()):
        if paid > 0:
            conn.execute(PAY.insert(), dict(
                session_id=session_id, order_id=order.id, payment_method_id=method,
                kind="refund", amount_cents=paid, reason="order cancelled", created_at=now))
            _gift_card_credit(conn, session_id, method, paid)
    for vid, qty in conn.execute(select(OL.c.variant_id, OL.c.quantity)
                                 .where(OL.c.order_id == order.id)).all():
        adjust_stock(conn, session_id, vid, qty)
    if order.discount_code:
        DC = DiscountCode.__table__  # type: ignore[attr-defined]  # noqa: N806
        conn.execute(update(DC).where(DC.c.session_id == session_id,
                                      DC.c.code == order.discount_code).values(used=False))
    conn.execute(update(ORD).where(ORD.c.id == order.id).values(
        status="cancelled", cancelled_at=now, cancel_reason=reason))
    conn.execute(update(SH).where(SH.c.order_id == order.id).values(status="cancelled"))
    return get_order(conn, session_id, number)


def list_orders(conn: Connection, session_id: str) -> list[OrderSummary]:
    """The customer's orders, newest first."""
    counts = (select(OL.c.order_id, func.sum(OL.c.quantity).label("n"))
              .where(OL.c.session_id == session_id).group_by(OL.c.order_id).subquery())
    rows = conn.execute(
        select(ORD.c.number, ORD.c.status, ORD.c.placed_at, ORD.c.total_cents, counts.c.n)
        .join(counts, counts.c.order_id == ORD.c.id)
        .where(ORD.c.session_id == session_id).order_by(ORD.c.placed_at.desc(), ORD.c.number.desc())
    ).all()
    return [OrderSummary(order_id=order_id(r.number), status=r.status, placed_at=r.placed_at,
                         total_cents=r.total_cents, item_count=int(r.n)) for r in rows]


def get_order(conn: Connection, session_id: str, number: int) -> OrderView:
    """One order with its lines, payments, shipments, returns and exchanges."""
    o = require_order(conn, session_id, number)
    labels = {r.id: (r.public_id, r.label) for r in conn.execute(
        select(PM.c.id, PM.c.public_id, PM.c.label).where(PM.c.session_id == session_id))}
    lines = conn.execute(select(OL).where(OL.c.order_id == o.id).order_by(OL.c.line_no)).all()
    by_line = {ln.id: ln for ln in lines}
    returns = []
    for r in conn.execute(select(RR).where(RR.c.order_id == o.id).order_by(RR.c.id)).all():
        rlines = conn.execute(select(RL).where(RL.c.return_id == r.id).order_by(RL.c.id)).all()
        returns.append(ReturnView(
            return_id=f"R-{r.number}", order_id=order_id(number), status=r.status,
            reason=r.reason, refund_to=r.refund_to, refund_cents=r.refund_cents,
            fee_cents=r.fee_cents, created_at=r.created_at,
            lines=[{"variant_id": variant_id(by_line[x.order_line_id].variant_id),
                    "quantity": x.quantity, "refund_cents": x.refund_cents,
                    "fee_cents": x.fee_cents} for x in rlines]))
    exchanges = {x.id: x for x in conn.execute(
        select(XR).where(XR.c.order_id == o.id).order_by(XR.c.id)).all()}
    return OrderView(
        order_id=order_id(number), status=o.status, placed_at=o.placed_at, ship_to=o.ship_to,
        shipping_option=o.shipping_option, subtotal_cents=o.subtotal_cents,
        discount_cents=o.discount_cents, discount_code=o.discount_code,
        shipping_cents=o.shipping_cents, total_cents=o.total_cents,
        expected_delivery=o.delivered_at, cancelled_at=o.cancelled_at,
        cancel_reason=o.cancel_reason,
        lines=[OrderLineView(
            line_no=ln.line_no, product_id=product_id(ln.product_id),
            variant_id=variant_id(ln.variant_id), title=ln.title, options=ln.options,
            unit_price_cents=ln.unit_price_cents, quantity=ln.quantity,
            discount_cents=ln.discount_cents, final_sale=ln.final_sale,
            returned_quantity=ln.returned_quantity, exchanged_quantity=ln.exchanged_quantity,
        ) for ln in lines],
        payments=[PaymentView(
            kind=p.kind, payment_method_id=labels[p.payment_method_id][0],
            method_label=labels[p.payment_method_id][1], amount_cents=p.amount_cents,
            reason=p.reason, created_at=p.created_at,
        ) for p in conn.execute(select(PAY).where(PAY.c.order_id == o.id).order_by(PAY.c.id))],
        shipments=[ShipmentView(
            carrier=s.carrier, tracking_number=s.tracking_number, status=s.status,
            shipped_at=s.shipped_at, delivered_at=s.delivered_at,
            for_exchange=f"X-{exchanges[s.exchange_id].number}" if s.exchange_id else None,
        ) for s in conn.execute(select(SH).where(SH.c.order_id == o.id).order_by(SH.c.id))],
        returns=returns,
        exchanges=[ExchangeView(
            exchange_id=f"X-{x.number}", order_id=order_id(number), status=x.status,
            reason=x.reason, from_variant_id=variant_id(x.from_variant_id),
            to_variant_id=variant_id(x.to_variant_id), quantity=x.quantity,
            price_difference_cents=x.price_difference_cents, created_at=x.created_at,
        ) for x in exchanges.values()],
    )
