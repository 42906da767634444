"""tau2 retail's seven writing tools over a session's rows.

Each tool reads the tau2 records it decides on (the order, the user's payment methods, the
products) through the projection, applies tau2's rule for it in tau2's order of checks (so the
first refusal is tau2's), and only then writes the shop rows (:mod:`mcp_shop.tau2.tools_rows`);
a refused call writes nothing. The result is the changed order or user as tau2's record.

Amounts are decided as tau2 decides them, on the dollar floats the projection shows (a price
difference summed pair by pair in the order given, compared with a gift card's balance), and
written in cents: an item change's difference is stored as whole cents where tau2 keeps its
unrounded float (docs/tau2-retail.md section 8, "Money"). An item change sets every changed
unit's price and options from the *last* new item of the call, as tau2 does (section 8, "A
tau2 quirk"), so that the DB verdict is tau2's in every order of the pairs.

Known differences of the stored state from tau2's, which never change a verdict of ours (both
sides of the DB check are projected alike): beside the cents above, an exchange of no items
(empty lists, which tau2 accepts) records a difference tau2 keeps as the integer ``0`` and the
projection shows as ``0.0``, and a difference that tau2's float sum leaves at ``-0.0`` reads
back as ``0.0``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from mcp_shop.tau2 import tools_rows as rows
from mcp_shop.tau2.projection import project_order, project_product, project_user
from mcp_shop.tau2.records import CANCEL_REASONS, Order, UserAddress, Variant
from mcp_shop.tau2.session_world import world_ids
from mcp_shop.tau2.tools_common import fail
from mcp_shop.tau2.tools_rows import MethodRow, OrderRow
from mcp_shop.tau2.world import cents

__all__ = [
    "cancel_pending_order",
    "exchange_delivered_order_items",
    "modify_pending_order_address",
    "modify_pending_order_items",
    "modify_pending_order_payment",
    "modify_user_address",
    "return_delivered_order_items",
]


# --- what every writing tool looks up ------------------------------------------------------


def _order(conn: Connection, session_id: str, order_id: str) -> tuple[OrderRow, Order]:
    row = rows.find_order(conn, session_id, order_id)
    record = None if row is None else project_order(conn, session_id, order_id)
    if row is None or record is None:
        raise fail("order_not_found", "Order not found", order_id=order_id)
    return row, record


def _method(conn: Connection, session_id: str, order: OrderRow, method_id: str,
            user_id: str) -> MethodRow:
    """A payment method of the order's user ('Payment method not found' otherwise)."""
    method = rows.methods_of(conn, session_id, order.customer_pk).get(method_id)
    if method is None:
        raise fail("payment_method_not_found", "Payment method not found",
                   payment_method_id=method_id, user_id=user_id)
    return method


def _need_status(order: Order, ok: bool, message: str, code: str) -> None:
    if not ok:
        raise fail(code, message, order_id=order.order_id, status=order.status)


def _has_units(order: Order, item_ids: Sequence[str]) -> None:
    """Every item id names a unit of the order, a repeated id as many units."""
    owned = Counter(i.item_id for i in order.items)
    for item, count in Counter(item_ids).items():
        if count > owned[item]:
            raise fail("item_not_in_order", f"{item} not found", order_id=order.order_id,
                       item_id=item, units=owned[item], asked=count)


def _units(order: Order, item_ids: Sequence[str]) -> list[int]:
    """The position of the unit each item id stands for (the k-th mention of an item: its k-th
    unit)."""
    seen: Counter[str] = Counter()
    out = []
    for item in item_ids:
        out.append([k for k, i in enumerate(order.items) if i.item_id == item][seen[item]])
        seen[item] += 1
    return out


@dataclass(frozen=True)
class _Change:
    difference: float  # tau2's float, summed pair by pair
    new: list[Variant]  # each pair's new item
    old_cents: list[int]  # the unit price tau2 subtracts for each pair


def _change(conn: Connection, session_id: str, order: Order, item_ids: Sequence[str],
            new_item_ids: Sequence[str], *, allow_same: bool) -> _Change:
    """tau2's checks of item pairs (units owned, as many new items as old, a new item of the
    same product, available, different when ``allow_same`` is False) and its difference."""
    _has_units(order, item_ids)
    if len(item_ids) != len(new_item_ids):
        raise fail("item_count_mismatch", "The number of items should match",
                   item_ids=len(item_ids), new_item_ids=len(new_item_ids))
    difference: float = 0
    new: list[Variant] = []
    old_cents: list[int] = []
    for old, item in zip(item_ids, new_item_ids, strict=True):
        if not allow_same and old == item:
            raise fail("same_item", "The new item id should be different", item_id=old)
        line = next(i for i in order.items if i.item_id == old)
        product = project_product(conn, session_id, line.product_id)
        if product is None:
            raise fail("product_not_found", "Product not found", product_id=line.product_id)
        variant = product.variants.get(item)
        if variant is None:
            raise fail("variant_not_found", "Variant not found", product_id=line.product_id,
                       item_id=item)
        if not variant.available:
            raise fail("item_unavailable", f"New item {item} not found or available",
                       item_id=item)
        difference += variant.price - line.price
        new.append(variant)
        old_cents.append(cents(line.price))
    return _Change(difference, new, old_cents)


def _insufficient(method: MethodRow, amount: float, message: str, method_id: str) -> None:
    if method.gift_card and method.balance() < amount:
        raise fail("insufficient_balance", message, payment_method_id=method_id,
                   balance=method.balance(), amount=round(amount, 2))


def _address(address1: str, address2: str, city: str, state: str, country: str,
             zip: str) -> UserAddress:
    return UserAddress(address1=address1, address2=address2, city=city, state=state,
                       country=country, zip=zip)


def _result(conn: Connection, session_id: str, order_id: str) -> dict[str, Any]:
    order = project_order(conn, session_id, order_id)
    assert order is not None
    return order.model_dump()


# --- the tools -------------------------------------------------------------------------------


def cancel_pending_order(conn: Connection, session_id: str, order_id: str,
                         reason: str) -> dict[str, Any]:
    """Cancel a pending order: a refund for every entry of its payment history (a gift card
    gets the amount back), status 'cancelled', the reason recorded."""
    row, order = _order(conn, session_id, order_id)
    _need_status(order, order.status == "pending", "Non-pending order cannot be cancelled",
                 "order_not_pending")
    if reason not in CANCEL_REASONS:
        raise fail("invalid_reason", "Invalid reason", reason=reason,
                   valid=list(CANCEL_REASONS))
    methods = [_method(conn, session_id, row, p.payment_method_id, order.user_id)
               for p in order.payment_history]
    at = rows.clock(conn, session_id)
    for pay, method in zip(order.payment_history, methods, strict=True):
        amount = cents(pay.amount)
        rows.add_payment(conn, session_id, row.pk, method.pk, refund=True, cents=amount, at=at)
        rows.gift_card_credit(conn, method.pk, amount)
    rows.set_cancelled(conn, row.pk, reason, at)
    return _result(conn, session_id, order_id)


def modify_pending_order_address(conn: Connection, session_id: str, order_id: str,
                                 address1: str, address2: str, city: str, state: str,
                                 country: str, zip: str) -> dict[str, Any]:
    """Replace the shipping address of an order whose status contains 'pending'."""
    row, order = _order(conn, session_id, order_id)
    _need_status(order, "pending" in order.status, "Non-pending order cannot be modified",
                 "order_not_pending")
    rows.set_order_address(conn, row, _address(address1, address2, city, state, country, zip))
    return _result(conn, session_id, order_id)


def modify_user_address(conn: Connection, session_id: str, user_id: str, address1: str,
                        address2: str, city: str, state: str, country: str,
                        zip: str) -> dict[str, Any]:
    """Replace a user's default address."""
    customer = rows.customer_pk(conn, session_id, user_id)
    if customer is None:
        raise fail("user_not_found", "User not found", user_id=user_id)
    rows.set_default_address(conn, session_id, customer,
                             _address(address1, address2, city, state, country, zip))
    user = project_user(conn, session_id, user_id)
    assert user is not None
    return user.model_dump()


def modify_pending_order_items(conn: Connection, session_id: str, order_id: str,
                               item_ids: list[str], new_item_ids: list[str],
                               payment_method_id: str) -> dict[str, Any]:
    """Swap units of a pending order for other items of the same products: the difference is
    paid (or refunded) through the method named, a gift card's balance moves by it, every
    changed unit takes the last new item's price and options (tau2's rule), and the status
    becomes 'pending (item modified)'."""
    row, order = _order(conn, session_id, order_id)
    _need_status(order, order.status == "pending", "Non-pending order cannot be modified",
                 "order_not_pending")
    change = _change(conn, session_id, order, item_ids, new_item_ids, allow_same=False)
    method = _method(conn, session_id, row, payment_method_id, order.user_id)
    _insufficient(method, change.difference,
                  "Insufficient gift card balance to pay for the new item", payment_method_id)
    diff_cents = sum(cents(v.price) - old for v, old in zip(change.new, change.old_cents,
                                                             strict=True))
    rows.add_payment(conn, session_id, row.pk, method.pk, refund=not change.difference > 0,
                     cents=abs(diff_cents), at=rows.clock(conn, session_id))
    rows.gift_card_credit(conn, method.pk, -diff_cents)
    items = [i.item_id for i in order.items]
    changed = []
    for old, item in zip(item_ids, new_item_ids, strict=True):
        k = items.index(old)  # tau2 changes the first unit that still has the old item
        items[k] = item
        changed.append(k)
    if change.new:
        last = change.new[-1]
        variant_pk = world_ids(conn, session_id).variant_pk
        lines = rows.line_pks(conn, row.pk)
        for k in sorted(set(changed)):
            rows.change_line(conn, lines[k], variant_pk[items[k]], cents(last.price),
                             dict(last.options))
    rows.set_status(conn, row.pk, "pending (item modified)")
    return _result(conn, session_id, order_id)


def modify_pending_order_payment(conn: Connection, session_id: str, order_id: str,
                                 payment_method_id: str) -> dict[str, Any]:
    """Pay an order whose status contains 'pending' (and that has exactly one payment) with
    another method: a payment by the new one, a refund to the old one, gift card balances
    moved."""
    row, order = _order(conn, session_id, order_id)
    _need_status(order, "pending" in order.status, "Non-pending order cannot be modified",
                 "order_not_pending")
    new = _method(conn, session_id, row, payment_method_id, order.user_id)
    history = order.payment_history
    if len(history) != 1 or history[0].transaction_type != "payment":
        raise fail("not_one_payment", "There should be exactly one payment for a pending order",
                   order_id=order_id, payments=len(history))
    old_id, amount = history[0].payment_method_id, history[0].amount
    if old_id == payment_method_id:
        raise fail("same_payment_method",
                   "The new payment method should be different from the current one",
                   payment_method_id=payment_method_id)
    _insufficient(new, amount, "Insufficient gift card balance to pay for the order",
                  payment_method_id)
    old = _method(conn, session_id, row, old_id, order.user_id)
    at, amount_cents = rows.clock(conn, session_id), cents(amount)
    rows.add_payment(conn, session_id, row.pk, new.pk, refund=False, cents=amount_cents, at=at)
    rows.add_payment(conn, session_id, row.pk, old.pk, refund=True, cents=amount_cents, at=at)
    rows.gift_card_credit(conn, new.pk, -amount_cents)
    rows.gift_card_credit(conn, old.pk, amount_cents)
    return _result(conn, session_id, order_id)


def exchange_delivered_order_items(conn: Connection, session_id: str, order_id: str,
                                   item_ids: list[str], new_item_ids: list[str],
                                   payment_method_id: str) -> dict[str, Any]:
    """Request an exchange of units of a delivered order for other available items of the same
    products: the request (sorted item lists, the method, the difference rounded to cents) is
    recorded and the status becomes 'exchange requested'; no money moves yet."""
    row, order = _order(conn, session_id, order_id)
    _need_status(order, order.status == "delivered", "Non-delivered order cannot be exchanged",
                 "order_not_delivered")
    change = _change(conn, session_id, order, item_ids, new_item_ids, allow_same=True)
    difference = round(change.difference, 2)
    method = _method(conn, session_id, row, payment_method_id, order.user_id)
    _insufficient(method, difference,
                  "Insufficient gift card balance to pay for the price difference",
                  payment_method_id)
    variant_pk = world_ids(conn, session_id).variant_pk
    lines = rows.line_pks(conn, row.pk)
    pairs = []
    for k, item, variant in zip(_units(order, item_ids), new_item_ids, change.new,
                                strict=True):
        unit = order.items[k]
        pairs.append((lines[k], variant_pk[unit.item_id], variant_pk[item],
                      cents(variant.price) - cents(unit.price)))
    rows.record_exchange(conn, session_id, row.pk, method.pk, round(difference * 100), pairs,
                         rows.clock(conn, session_id))
    return _result(conn, session_id, order_id)


def return_delivered_order_items(conn: Connection, session_id: str, order_id: str,
                                 item_ids: list[str], payment_method_id: str) -> dict[str, Any]:
    """Request a return of units of a delivered order, refunded to the method that paid it or
    to a gift card of the user: the request (sorted items, the method) is recorded and the
    status becomes 'return requested'; no money moves yet."""
    row, order = _order(conn, session_id, order_id)
    _need_status(order, order.status == "delivered", "Non-delivered order cannot be returned",
                 "order_not_delivered")
    method = _method(conn, session_id, row, payment_method_id, order.user_id)
    original = order.payment_history[0].payment_method_id if order.payment_history else None
    if not method.gift_card and payment_method_id != original:
        raise fail("not_original_payment_method",
                   "Payment method should be the original payment method",
                   payment_method_id=payment_method_id, original=original)
    _has_units(order, item_ids)
    lines = rows.line_pks(conn, row.pk)
    rows.record_return(conn, session_id, row.pk, method,
                       [lines[k] for k in _units(order, item_ids)],
                       rows.clock(conn, session_id))
    return _result(conn, session_id, order_id)
