"""Returns and exchanges of delivered order lines, judged by the session's simulated clock.

A line is eligible while its order is delivered, the category's return window (counted from
delivery) is open, it is not final sale, and some of its quantity is neither returned nor
exchanged. Refunds cover the price paid less the line's share of the order discount.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from mcp_shop.errors import Ineligible, InvalidInput, NotFound, OutOfStock
from mcp_shop.ids import order_id, variant_id
from mcp_shop.inventory import adjust_stock, product_variants, require_variant, take_stock
from mcp_shop.models import ExchangeRequest, OrderLine, ReturnLine, ReturnRequest, Shipment
from mcp_shop.models import ShopSession as _S
from mcp_shop.orders import charge, refund, require_order, tracking_number
from mcp_shop.policies import (
    EXCHANGE_REASONS,
    RETURN_REASONS,
    SHOP_FAULT_REASONS,
    Policies,
)
from mcp_shop.shop_policies import policies_for
from mcp_shop.sql import Sql, as_bool, as_json, fetch_all, fetch_one, insert, run
from mcp_shop.views import LineEligibility

__all__ = [
    "check_return_eligibility",
    "exchange_difference",
    "request_exchange",
    "request_return",
]

OL = OrderLine.__table__  # type: ignore[attr-defined]
RR = ReturnRequest.__table__  # type: ignore[attr-defined]
RL = ReturnLine.__table__  # type: ignore[attr-defined]
XR = ExchangeRequest.__table__  # type: ignore[attr-defined]
SH = Shipment.__table__  # type: ignore[attr-defined]
S = _S.__table__  # type: ignore[attr-defined]


def _net_after(line: Any, units: int) -> int:
    """What the first ``units`` of a line cost after discount (telescopes to the line's net)."""
    return (line.unit_price_cents * line.quantity - line.discount_cents) * units // line.quantity


def _eligibility(order: Any, line: Any, now: datetime, policies: Policies) -> LineEligibility:
    rule = policies.return_rule(line.category_slug)
    left = line.quantity - line.returned_quantity - line.exchanged_quantity
    window_ends = order.delivered_at + timedelta(days=rule.window_days)
    if order.status == "cancelled":
        code, reason, ok = "order_cancelled", "the order was cancelled", False
    elif order.status != "delivered":
        code = "not_delivered"
        reason, ok = (f"the order is {order.status}, not delivered yet; returns open on delivery "
                      f"(expected {order.delivered_at:%Y-%m-%d})"), False
    elif line.final_sale:
        code = "final_sale"
        reason = (f"final sale: {rule.label.lower()} cannot be returned" if not rule.returnable
                  else "final sale: clearance items cannot be returned")
        ok = False
    elif now > window_ends:
        code = "window_closed"
        reason, ok = (f"the {rule.window_days}-day return window for {rule.label.lower()} "
                      f"closed on {window_ends:%Y-%m-%d}"), False
    elif left <= 0:
        code, reason, ok = "already_returned", "already fully returned or exchanged", False
    else:
        fee = (f"; {rule.restocking_fee_percent}% restocking fee unless defective, not as "
               "described or damaged" if rule.restocking_fee_percent else "")
        code = "eligible"
        reason, ok = f"eligible until {window_ends:%Y-%m-%d}{fee}", True
    return LineEligibility(
        line_no=line.line_no, variant_id=variant_id(line.variant_id), title=line.title,
        eligible=ok, reason=reason, reason_code=code,
        returnable_quantity=max(left, 0) if ok else 0,
        window_ends=window_ends if rule.returnable and not line.final_sale else None,
        restocking_fee_percent=rule.restocking_fee_percent,
        refund_per_unit_cents=_net_after(line, 1) if line.quantity else 0,
    )


_LINE_COLUMNS = [c.name for c in OL.columns]
_OPTIONS, _FINAL_SALE = _LINE_COLUMNS.index("options"), _LINE_COLUMNS.index("final_sale")
_LINES = Sql(f"SELECT {', '.join(_LINE_COLUMNS)} FROM {OL.name} WHERE order_id = ? "
             "ORDER BY line_no")
_EXCHANGE_TO = Sql(f"SELECT number FROM {XR.name} WHERE order_id = ? AND to_variant_id = ?")
_NEXT_RETURN = Sql(f"UPDATE {S.name} SET next_return_number = ? WHERE id = ?")
_NEXT_EXCHANGE = Sql(f"UPDATE {S.name} SET next_exchange_number = ? WHERE id = ?")
_RETURNED = Sql(f"UPDATE {OL.name} SET returned_quantity = returned_quantity + ? WHERE id = ?")
_EXCHANGED = Sql(f"UPDATE {OL.name} SET exchanged_quantity = exchanged_quantity + ? "
                 "WHERE id = ?")


def _lines(conn: Connection, order: Any) -> list[Any]:
    """The order's lines (hand-written: JSON and booleans converted as Core would)."""
    out = []
    for row in fetch_all(conn, _LINES, (order.id,)):
        values = list(row)
        values[_OPTIONS] = as_json(values[_OPTIONS])
        values[_FINAL_SALE] = as_bool(values[_FINAL_SALE])
        out.append(row._make(values))
    return out


def check_return_eligibility(conn: Connection, session: Any, number: int) -> list[LineEligibility]:
    """Per line of an order: can it be returned now, why (not), until when, with what fee."""
    order = require_order(conn, session.id, number)
    policies = policies_for(conn)
    return [_eligibility(order, ln, session.clock, policies) for ln in _lines(conn, order)]


def _find_line(conn: Connection, lines: Sequence[Any], variant_pk: int, order: Any) -> Any:
    for ln in lines:
        if ln.variant_id == variant_pk:
            return ln
    exchange = fetch_one(conn, _EXCHANGE_TO, (order.id, variant_pk))
    if exchange is not None:
        raise Ineligible(f"{variant_id(variant_pk)} is the replacement sent by exchange "
                         f"X-{exchange.number}; replacements from an exchange cannot be returned "
                         "or exchanged again", variant_id=variant_id(variant_pk))
    valid = ", ".join(variant_id(ln.variant_id) for ln in lines)
    raise NotFound(f"{variant_id(variant_pk)} is not a line of {order_id(order.number)}; its "
                   f"lines are: {valid}", variant_id=variant_id(variant_pk))


def _require_eligible(order: Any, line: Any, now: datetime, quantity: int,
                      policies: Policies) -> LineEligibility:
    elig = _eligibility(order, line, now, policies)
    if not elig.eligible:
        raise Ineligible(f"{elig.variant_id} ({line.title}) cannot be returned or exchanged: "
                         f"{elig.reason}", variant_id=elig.variant_id)
    if not 1 <= quantity <= elig.returnable_quantity:
        raise InvalidInput(f"quantity for {elig.variant_id} must be from 1 to "
                           f"{elig.returnable_quantity}, got {quantity}")
    return elig


def request_return(
    conn: Connection,
    session: Any,
    number: int,
    items: Sequence[tuple[int, int]],
    *,
    reason: str,
    refund_to: str = "original",
) -> str:
    """Return ``(variant, quantity)`` items of an order for a refund; returns 'R-<n>'."""
    if reason not in RETURN_REASONS:
        raise InvalidInput(f"unknown return reason {reason!r}; valid: {', '.join(RETURN_REASONS)}")
    if refund_to not in ("original", "gift_card"):
        raise InvalidInput("refund_to must be 'original' (the payment method) or 'gift_card'")
    if not items:
        raise InvalidInput("name at least one order line (variant_id and quantity) to return")
    if len({v for v, _ in items}) != len(items):
        raise InvalidInput("each order line may appear once in a return")
    order = require_order(conn, session.id, number, lock=True)
    lines = _lines(conn, order)
    plan = []
    for vpk, qty in items:
        line = _find_line(conn, lines, vpk, order)
        elig = _require_eligible(order, line, session.clock, qty, policies_for(conn))
        done = line.returned_quantity + line.exchanged_quantity
        gross = _net_after(line, done + qty) - _net_after(line, done)
        fee = 0 if reason in SHOP_FAULT_REASONS else gross * elig.restocking_fee_percent // 100
        plan.append((line, qty, gross - fee, fee))
    rnum = session.next_return_number
    run(conn, _NEXT_RETURN, (rnum + 1, session.id))
    total, fees = sum(p[2] for p in plan), sum(p[3] for p in plan)
    rid = insert(conn, RR, dict(
        session_id=session.id, number=rnum, order_id=order.id, status="refunded", reason=reason,
        refund_to=refund_to, refund_cents=total, fee_cents=fees, created_at=session.clock,
    ), returning_id=True)
    for line, qty, amount, fee in plan:
        insert(conn, RL, dict(session_id=session.id, return_id=rid, order_line_id=line.id,
                              quantity=qty, refund_cents=amount, fee_cents=fee))
        run(conn, _RETURNED, (qty, line.id))
        adjust_stock(conn, session.id, line.variant_id, qty)
    refund(conn, session.id, order, total, f"return R-{rnum}", to=refund_to)
    return f"R-{rnum}"


def exchange_difference(line: Any, new_unit_price_cents: int, quantity: int) -> int:
    """What swapping ``quantity`` units of ``line`` for units at ``new_unit_price_cents`` costs
    (> 0) or gives back (< 0), on prices net of the line's discount.

    The exchanged units cost what they were paid (their share of the line's net); the new units
    are priced at the session's current price less the same discount rate. A refund therefore
    never exceeds what the exchanged units were paid.
    """
    done = line.returned_quantity + line.exchanged_quantity
    paid = _net_after(line, done + quantity) - _net_after(line, done)
    gross = line.unit_price_cents * line.quantity
    net = gross - line.discount_cents
    new_net = new_unit_price_cents * quantity * net // gross if gross else 0
    return new_net - paid


def request_exchange(
    conn: Connection,
    session: Any,
    number: int,
    variant_pk: int,
    new_variant_pk: int,
    *,
    quantity: int = 1,
    reason: str,
) -> str:
    """Swap units of a delivered line for another variant of the same product; 'X-<n>'."""
    if reason not in EXCHANGE_REASONS:
        raise InvalidInput(f"unknown exchange reason {reason!r}; valid: "
                           f"{', '.join(EXCHANGE_REASONS)}")
    order = require_order(conn, session.id, number, lock=True)
    line = _find_line(conn, _lines(conn, order), variant_pk, order)
    _require_eligible(order, line, session.clock, quantity, policies_for(conn))
    new = require_variant(conn, session.id, new_variant_pk)
    if new.product_pk != line.product_id:
        raise Ineligible(f"{new.variant_id} is not a variant of the ordered product; exchanges "
                         "are for another size, colour, ... of the same product: return this "
                         "item and order the other one instead", variant_id=new.variant_id)
    if new.pk == line.variant_id:
        raise InvalidInput(f"{new.variant_id} is the variant already ordered; pick another one")
    if new.stock < quantity:
        others = [v.variant_id for v in product_variants(conn, session.id, line.product_id)
                  if v.stock >= quantity and v.pk != line.variant_id]
        raise OutOfStock(f"{new.variant_id} has {new.stock} in stock, {quantity} needed; "
                         f"variants in stock: {', '.join(others) or 'none'}",
                         variant_id=new.variant_id, available=new.stock)
    take_stock(conn, session.id, new, quantity)
    adjust_stock(conn, session.id, line.variant_id, quantity)
    diff = exchange_difference(line, new.price_cents, quantity)
    xnum = session.next_exchange_number
    run(conn, _NEXT_EXCHANGE, (xnum + 1, session.id))
    xid = insert(conn, XR, dict(
        session_id=session.id, number=xnum, order_id=order.id, order_line_id=line.id,
        quantity=quantity, from_variant_id=line.variant_id, to_variant_id=new.pk,
        price_difference_cents=diff, status="replacement_shipped", reason=reason,
        created_at=session.clock,
    ), returning_id=True)
    run(conn, _EXCHANGED, (quantity, line.id))
    insert(conn, SH, dict(
        session_id=session.id, order_id=order.id, exchange_id=xid, carrier="ParcelPost",
        tracking_number=tracking_number(session.seed, f"X-{xnum}"), status="label_created",
        shipped_at=session.clock + timedelta(days=1),
        delivered_at=session.clock + timedelta(days=5),
    ))
    if diff > 0:
        charge(conn, session.id, order, diff, f"exchange X-{xnum} price difference")
    elif diff < 0:
        refund(conn, session.id, order, -diff, f"exchange X-{xnum} price difference")
    return f"X-{xnum}"
