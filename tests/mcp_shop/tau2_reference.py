"""A reference of tau2 retail's tool rules over the plain records, for tests only.

Written for this project from the observed behaviour of tau2-bench's retail tools (what each
tool checks, what it changes, which amounts it rounds; its sources were read for these facts),
in code of our own, not a copy. It works on a
``RetailDB`` (mcp_shop.tau2.records) in memory; the shop's tau2 surface must give the same
states (compared with ``db_hash``) and the same successes and failures. A failed call raises
``ToolFailed`` and changes nothing.

Two behaviours of tau2 are kept on purpose because its verdicts depend on them: a change of
items sets every changed line's price and options from the last new item of the call, and that
call's price difference is recorded unrounded.
"""

from __future__ import annotations

import ast
import json
import operator
from collections import Counter
from collections.abc import Callable
from typing import Any

from mcp_shop.tau2.records import (
    CANCEL_REASONS,
    TOOL_PARAMS,
    GiftCard,
    Order,
    OrderPayment,
    RetailDB,
    Task,
    User,
    UserAddress,
    Variant,
)

Calls = list[tuple[str, dict[str, Any]]]

__all__ = ["Calls", "Reference", "ToolFailed", "gold_calls", "replay"]


class ToolFailed(Exception):
    """A tool call tau2 would answer with an error."""


def _need(ok: bool, message: str) -> None:
    if not ok:
        raise ToolFailed(message)


_OPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv}


def _arith(node: ast.AST) -> float:
    if isinstance(node, ast.Expression):
        return _arith(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return float(_OPS[type(node.op)](_arith(node.left), _arith(node.right)))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
        value = _arith(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    raise ToolFailed("Invalid expression")


class Reference:
    """tau2 retail's sixteen tools over one world (a deep copy of the one given)."""

    def __init__(self, db: RetailDB) -> None:
        self.db = db.model_copy(deep=True)

    # --- look-ups --------------------------------------------------------------------------

    def _order(self, order_id: str) -> Order:
        _need(order_id in self.db.orders, "Order not found")
        return self.db.orders[order_id]

    def _user(self, user_id: str) -> User:
        _need(user_id in self.db.users, "User not found")
        return self.db.users[user_id]

    def _method(self, user_id: str, method_id: str) -> Any:
        methods = self._user(user_id).payment_methods
        _need(method_id in methods, "Payment method not found")
        return methods[method_id]

    def _variant_of(self, product_id: str, item_id: str) -> Variant:
        _need(product_id in self.db.products, "Product not found")
        variants = self.db.products[product_id].variants
        _need(item_id in variants, "Variant not found")
        return variants[item_id]

    @staticmethod
    def _has_units(order: Order, item_ids: list[str]) -> None:
        owned = Counter(i.item_id for i in order.items)
        for item, count in Counter(item_ids).items():
            _need(count <= owned[item], f"{item} not found")

    def _difference(self, order: Order, item_ids: list[str], new_item_ids: list[str],
                    *, allow_same: bool) -> tuple[float, Variant | None]:
        """tau2's price difference (accumulated in the order given) and the last new item."""
        self._has_units(order, item_ids)
        _need(len(item_ids) == len(new_item_ids), "The number of items should match")
        diff: float = 0
        last = None
        for old, new in zip(item_ids, new_item_ids, strict=True):
            _need(allow_same or old != new, "The new item id should be different")
            line = next(i for i in order.items if i.item_id == old)
            last = self._variant_of(line.product_id, new)
            _need(last.available, f"New item {new} not found or available")
            diff += last.price - line.price
        return diff, last

    # --- the tools ---------------------------------------------------------------------------

    def find_user_id_by_email(self, email: str) -> str:
        for uid, u in self.db.users.items():
            if u.email.lower() == email.lower():
                return uid
        raise ToolFailed("User not found")

    def find_user_id_by_name_zip(self, first_name: str, last_name: str, zip: str) -> str:
        for uid, u in self.db.users.items():
            if (u.name.first_name.lower(), u.name.last_name.lower(), u.address.zip) == (
                    first_name.lower(), last_name.lower(), zip):
                return uid
        raise ToolFailed("User not found")

    def get_user_details(self, user_id: str) -> dict[str, Any]:
        return self._user(user_id).model_dump()

    def get_order_details(self, order_id: str) -> dict[str, Any]:
        return self._order(order_id).model_dump()

    def get_product_details(self, product_id: str) -> dict[str, Any]:
        _need(product_id in self.db.products, "Product not found")
        return self.db.products[product_id].model_dump()

    def get_item_details(self, item_id: str) -> dict[str, Any]:
        for p in self.db.products.values():
            if item_id in p.variants:
                return p.variants[item_id].model_dump()
        raise ToolFailed("Item not found")

    def list_all_product_types(self) -> str:
        return json.dumps({p.name: p.product_id for p in self.db.products.values()},
                          sort_keys=True)

    def calculate(self, expression: str) -> str:
        _need(all(c in "0123456789+-*/(). " for c in expression),
              "Invalid characters in expression")
        try:
            tree = ast.parse(expression, mode="eval")
            return str(round(float(_arith(tree)), 2))  # tau2: float(...)
        except (SyntaxError, ZeroDivisionError) as exc:
            raise ToolFailed(str(exc)) from None

    def transfer_to_human_agents(self, summary: str) -> str:
        return "Transfer successful"

    def cancel_pending_order(self, order_id: str, reason: str) -> dict[str, Any]:
        order = self._order(order_id)
        _need(order.status == "pending", "Non-pending order cannot be cancelled")
        _need(reason in CANCEL_REASONS, "Invalid reason")
        methods = [self._method(order.user_id, p.payment_method_id)
                   for p in order.payment_history]
        refunds = []
        for pay, method in zip(order.payment_history, methods, strict=True):
            refunds.append(OrderPayment(transaction_type="refund", amount=pay.amount,
                                        payment_method_id=pay.payment_method_id))
            if isinstance(method, GiftCard):
                method.balance = round(method.balance + pay.amount, 2)
        order.status, order.cancel_reason = "cancelled", reason  # type: ignore[assignment]
        order.payment_history.extend(refunds)
        return order.model_dump()

    def modify_pending_order_address(self, order_id: str, address1: str, address2: str,
                                     city: str, state: str, country: str,
                                     zip: str) -> dict[str, Any]:
        order = self._order(order_id)
        _need("pending" in order.status, "Non-pending order cannot be modified")
        order.address = UserAddress(address1=address1, address2=address2, city=city,
                                    state=state, country=country, zip=zip)
        return order.model_dump()

    def modify_user_address(self, user_id: str, address1: str, address2: str, city: str,
                            state: str, country: str, zip: str) -> dict[str, Any]:
        user = self._user(user_id)
        user.address = UserAddress(address1=address1, address2=address2, city=city,
                                   state=state, country=country, zip=zip)
        return user.model_dump()

    def modify_pending_order_items(self, order_id: str, item_ids: list[str],
                                   new_item_ids: list[str],
                                   payment_method_id: str) -> dict[str, Any]:
        order = self._order(order_id)
        _need(order.status == "pending", "Non-pending order cannot be modified")
        diff, last = self._difference(order, item_ids, new_item_ids, allow_same=False)
        method = self._method(order.user_id, payment_method_id)
        _need(not isinstance(method, GiftCard) or method.balance >= diff,
              "Insufficient gift card balance to pay for the new item")
        order.payment_history.append(OrderPayment(
            transaction_type="payment" if diff > 0 else "refund", amount=abs(diff),
            payment_method_id=payment_method_id))
        if isinstance(method, GiftCard):
            method.balance = round(method.balance - diff, 2)
        assert last is not None or not item_ids
        for old, new in zip(item_ids, new_item_ids, strict=True):
            line = next(i for i in order.items if i.item_id == old)
            line.item_id = new
            if last is not None:  # tau2: every changed line takes the last new item's
                line.price, line.options = last.price, dict(last.options)
        order.status = "pending (item modified)"
        return order.model_dump()

    def modify_pending_order_payment(self, order_id: str,
                                     payment_method_id: str) -> dict[str, Any]:
        order = self._order(order_id)
        _need("pending" in order.status, "Non-pending order cannot be modified")
        new = self._method(order.user_id, payment_method_id)
        history = order.payment_history
        _need(len(history) == 1 and history[0].transaction_type == "payment",
              "There should be exactly one payment for a pending order")
        old_id, amount = history[0].payment_method_id, history[0].amount
        _need(old_id != payment_method_id,
              "The new payment method should be different from the current one")
        _need(not isinstance(new, GiftCard) or new.balance >= amount,
              "Insufficient gift card balance to pay for the order")
        old = self._method(order.user_id, old_id)
        history.append(OrderPayment(transaction_type="payment", amount=amount,
                                    payment_method_id=payment_method_id))
        history.append(OrderPayment(transaction_type="refund", amount=amount,
                                    payment_method_id=old_id))
        if isinstance(new, GiftCard):
            new.balance = round(new.balance - amount, 2)
        if isinstance(old, GiftCard):
            old.balance = round(old.balance + amount, 2)
        return order.model_dump()

    def exchange_delivered_order_items(self, order_id: str, item_ids: list[str],
                                       new_item_ids: list[str],
                                       payment_method_id: str) -> dict[str, Any]:
        order = self._order(order_id)
        _need(order.status == "delivered", "Non-delivered order cannot be exchanged")
        diff, _ = self._difference(order, item_ids, new_item_ids, allow_same=True)
        diff = round(diff, 2)
        method = self._method(order.user_id, payment_method_id)
        _need(not isinstance(method, GiftCard) or method.balance >= diff,
              "Insufficient gift card balance to pay for the price difference")
        order.status = "exchange requested"
        order.exchange_items, order.exchange_new_items = sorted(item_ids), sorted(new_item_ids)
        order.exchange_payment_method_id = payment_method_id
        order.exchange_price_difference = diff
        return order.model_dump()

    def return_delivered_order_items(self, order_id: str, item_ids: list[str],
                                     payment_method_id: str) -> dict[str, Any]:
        order = self._order(order_id)
        _need(order.status == "delivered", "Non-delivered order cannot be returned")
        method = self._method(order.user_id, payment_method_id)
        _need(isinstance(method, GiftCard)
              or payment_method_id == order.payment_history[0].payment_method_id,
              "Payment method should be the original payment method")
        self._has_units(order, item_ids)
        order.status = "return requested"
        order.return_items, order.return_payment_method_id = sorted(item_ids), payment_method_id
        return order.model_dump()

    def call(self, name: str, arguments: dict[str, Any]) -> Any:
        """Run tool ``name``; any failure (unknown tool, bad arguments, a rule) is ToolFailed.
        Every tool checks everything before it changes anything, so a failure leaves the
        world as it was (no copy to roll back to: the tests check it)."""
        _need(name in TOOL_PARAMS, f"Tool {name} not found")
        _need(set(arguments) == set(TOOL_PARAMS[name]),
              f"{name} takes {list(TOOL_PARAMS[name])}, not {sorted(arguments)}")
        return getattr(self, name)(**arguments)


def in_cents(db: RetailDB) -> RetailDB:
    """The world with every amount as whole cents, as the shop keeps it (tau2 stores an item
    change's difference as an unrounded float, e.g. 51.58000000000001)."""
    out = db.model_copy(deep=True)
    for order in out.orders.values():
        for pay in order.payment_history:
            pay.amount = round(pay.amount, 2)
        if order.exchange_price_difference is not None:
            order.exchange_price_difference = round(order.exchange_price_difference, 2)
    return out


def replay(db: RetailDB, calls: list[tuple[str, dict[str, Any]]], *,
           skip_failures: bool = True) -> tuple[RetailDB, list[str]]:
    """The world after ``calls`` from ``db``, and the failures (skipped, as tau2 skips a failing
    gold action, unless ``skip_failures`` is False)."""
    ref = Reference(db)
    failures = []
    for name, args in calls:
        try:
            ref.call(name, args)
        except ToolFailed as exc:
            if not skip_failures:
                raise
            failures.append(f"{name}: {exc}")
    return ref.db, failures


def gold_calls(task: Task) -> Calls:
    """A task's gold actions as (tool, arguments) calls."""
    return [(a.name, dict(a.arguments)) for a in task.gold_actions()]
