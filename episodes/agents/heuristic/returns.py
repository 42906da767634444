"""Returns, exchanges and cancellations: the reason, the lines and quantity, a proposal the
shopper agrees to, then the call.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from episodes.agents.heuristic.conversation import Step
from episodes.agents.heuristic.orders import _Orders
from episodes.agents.heuristic.products import _has_options
from episodes.agents.heuristic.reading import (
    _CANCEL_REASONS,
    _NUMBER_WORDS,
    _ORDER_ID,
    _RETURN_REASONS,
    _agrees,
    _money,
    _reason,
)
from episodes.agents.heuristic.vocab import _rx

_REASON_OBJECTION = re.compile(r"not why i want|note the reason", re.I)


def _exchange_reason(low: str, changed: set[str]) -> str:
    """The reason for an exchange a (lower-case) text gives, else the option ``changed``
    implies, else ``other``."""
    if re.search(r"too small|too big|doesn't fit|wrong size", low) or "size" in changed:
        return "wrong_size"
    if re.search(r"wrong colou?r", low) or "color" in changed:
        return "wrong_colour"
    if re.search(r"defective|faulty|stopped working|broken", low):
        return "defective"
    return "other"


def _exchange_reason_in(text: str) -> str | None:
    """The reason for an exchange a text gives, if it gives one."""
    found = _exchange_reason(text.lower(), set())
    return None if found == "other" else found


class _Returns(_Orders):
    """Returns, exchanges and cancellations."""

    def _agree(self, propose: Callable[[str], str], read: Callable[[str], str | None],
               reason: str, what: str) -> Step:
        """Propose the action (``propose``: the message naming ``reason``) at most twice
        until the shopper says yes; returns the reason agreed to, or None. When the shopper
        objects to the reason, its reply is read (``read``: the reason a text gives, or None)
        before proposing again, and the reason asked for when it is still not known."""
        for attempt in range(2):
            reply = yield from self._say(propose(reason))
            if _agrees(reply):
                return reason
            if attempt == 0 and _REASON_OBJECTION.search(reply):
                given = read(reply)
                if given is None or given == reason:
                    answer = yield from self._ask_once(
                        "reason_again", f"Sorry about that: what's the reason for the {what}?")
                    given = read(answer or "")
                reason = given or reason
        return None

    def _return(self) -> Step:
        if _reason(self.said, _RETURN_REASONS) is None:
            q = ("Which order is it (the order number), and what's the reason for the return?"
                 if not _ORDER_ID.search(self.said) else "What's the reason for the return?")
            yield from self._ask_once("reason", q)
        found = yield from self._order_and_eligibility()
        if found is None:
            return
        oid, order, elig = found
        lines = self._pick_lines(order)
        info = {e["variant_id"]: e for e in (elig or {}).get("lines", [])}
        blocked = [ln for ln in lines if not info.get(ln["variant_id"], {}).get("eligible")]
        if blocked:
            ln = blocked[0]
            yield from self._refuse("return", ln["title"], oid, info.get(ln["variant_id"], {}))
            return
        qty = self._return_quantity(lines)
        if qty is None and any(ln["quantity"] > 1 for ln in lines):
            yield from self._ask_once("quantity", "How many units would you like to return?")
            qty = self._return_quantity(lines)
        items = [{"variant_id": ln["variant_id"],
                  "quantity": min(qty or ln["quantity"],
                                  info[ln["variant_id"]]["returnable_quantity"])}
                 for ln in lines]
        what = " and ".join(f"{i['quantity']} x {ln['title']}" for i, ln in zip(items, lines,
                                                                              strict=True))
        agreed = yield from self._agree(
            lambda why: (f"Shall I return {what} from order {oid} for a refund to your original "
                         f"payment method (reason: {why.replace('_', ' ')})?"),
            lambda text: _reason(text, _RETURN_REASONS),
            _reason(self.said, _RETURN_REASONS) or "other", "return")
        if agreed is None:
            return
        reason = agreed
        res = yield from self._call("request_return", order_id=oid, items=items, reason=reason,
                                    refund_to="original")
        if res is None:
            yield from self._say(f"Sorry, the return failed: {self.last_error}")
            return
        yield from self._say(f"Done: return {res['return_id']} for order {oid} is approved; "
                             f"{_money(res['refund_cents'])} will be refunded.")

    def _return_quantity(self, lines: list[dict[str, Any]]) -> int | None:
        low = self.said.lower()
        found = list(re.finditer(r"only want to send back (\w+)|just (\w+) of the|"
                                 r"return (\w+) of|\bonly (\w+) of (?:the|my|them)\b", low))
        if not found:
            return None
        word = next(g for g in found[-1].groups() if g)
        return int(word) if word.isdigit() else _NUMBER_WORDS.get(word)

    def _exchange(self) -> Step:
        found = yield from self._order_and_eligibility()
        if found is None:
            return
        oid, order, elig = found
        lines = self._pick_lines(order)
        ln = lines[0]
        if len(lines) > 1:
            opts = [(sum(str(x).lower() in self.said.lower() for x in c["options"].values()), c)
                    for c in lines]
            ln = max(opts, key=lambda o: o[0])[1]
        info = {e["variant_id"]: e for e in (elig or {}).get("lines", [])}
        if not info.get(ln["variant_id"], {}).get("eligible"):
            yield from self._refuse("exchange", ln["title"], oid, info.get(ln["variant_id"], {}))
            return
        view = yield from self._call("get_product", product_id=ln["product_id"])
        if view is None:
            yield from self._say(f"Sorry, I couldn't look up the {ln['title']}.")
            return
        target = self._exchange_target(view, ln)
        if target is None:
            yield from self._ask_once("want", "Which size or colour would you like instead?")
            target = self._exchange_target(view, ln)
        if target is None:
            yield from self._say(f"Sorry, the {ln['title']} isn't available in what you "
                                 "asked for right now.")
            return
        qty = ln["quantity"]
        low = self.said.lower()
        if re.search(r"only want to swap one|just one of the two", low):
            qty = 1
        elif qty > 1 and not re.search(r"swap both|both of them", low):
            yield from self._ask_once("quantity", "How many of them would you like to "
                                      "exchange?")
            if re.search(r"just one|only one", self.said.lower()):
                qty = 1
        old = ", ".join(str(x) for x in ln["options"].values())
        new = ", ".join(str(x) for x in target["options"].values())
        agreed = yield from self._agree(
            lambda why: (f"Shall I exchange {qty} x {ln['title']} ({old}) from order {oid} for "
                         f"the {new} one (reason: {why.replace('_', ' ')})?"),
            _exchange_reason_in,
            _exchange_reason(low, target["changed"]), "exchange")
        if agreed is None:
            return
        reason = agreed
        res = yield from self._call("request_exchange", order_id=oid,
                                    variant_id=ln["variant_id"],
                                    new_variant_id=target["variant_id"], reason=reason,
                                    quantity=qty)
        if res is None:
            yield from self._say(f"Sorry, the exchange failed: {self.last_error}")
            return
        yield from self._say(f"Done: exchange {res['exchange_id']} for order {oid} is "
                             "confirmed; the replacement ships right away.")

    def _exchange_target(self, view: dict[str, Any], line: dict[str, Any]
                         ) -> dict[str, Any] | None:
        """The variant to exchange to: the first wanted option value in stock."""
        old = {k: str(x) for k, x in line["options"].items()}
        texts = " ".join(self.segment)
        from episodes.families.phrases import option_phrase

        mentions: list[tuple[int, str, str]] = []
        low = texts.lower()
        seen = {(k, str(x)) for var in view["variants"] for k, x in var["options"].items()}
        for name, value in seen:
            if old.get(name, "").lower() == value.lower():
                continue
            for rx in (_rx(option_phrase(name, value)), _rx(f"size {value}")
                       if name == "size" else None):
                if rx is None:
                    continue
                for m in rx.finditer(low):
                    mentions.append((m.start(), name, value))
        mentions.sort()
        for _, name, value in mentions:
            want = {**old, name: value}
            for var in view["variants"]:
                if var["variant_id"] == line["variant_id"] or var.get("stock", 0) <= 0:
                    continue
                if _has_options(var, want):
                    return {**var, "changed": {name}}
        return None

    def _cancel(self) -> Step:
        if _reason(self.said, _CANCEL_REASONS) is None and not _ORDER_ID.search(self.said):
            yield from self._ask_once("reason", "Which order is it (the order number), and "
                                      "why would you like to cancel it?")
        elif _reason(self.said, _CANCEL_REASONS) is None:
            yield from self._ask_once("reason", "May I ask why you'd like to cancel it?")
        found = yield from self._read_order()
        if found is None:
            return
        oid, order = found
        status = order.get("status", "")
        if status != "pending":
            state = {"shipped": "has already shipped", "delivered": "was already delivered",
                     "processing": "is already being processed at the warehouse",
                     "cancelled": "is already cancelled"}.get(status, f"is {status}")
            tracking = [s["tracking_number"] for s in order.get("shipments", [])]
            if status == "shipped" and tracking:
                state += f" (tracking number {tracking[0]})"
            facts = ([{"fact": "cannot_cancel", "about": oid, "value": f"already_{status}"}]
                     if status in ("processing", "shipped", "delivered", "cancelled") else [])
            yield from self._tell_and_say(facts, (
                f"I'm sorry, but order {oid} {state}, so it can no longer be cancelled: only "
                "pending orders can be. Once it is delivered you can return it for a refund."))
            return
        titles = ", ".join(ln["title"] for ln in order.get("lines", []))
        agreed = yield from self._agree(
            lambda why: (f"Shall I cancel order {oid} ({titles}, "
                         f"{_money(order['total_cents'])}) (reason: {why.replace('_', ' ')})?"),
            lambda text: _reason(text, _CANCEL_REASONS),
            _reason(self.said, _CANCEL_REASONS) or "other", "cancellation")
        if agreed is None:
            return
        reason = agreed
        res = yield from self._call("cancel_order", order_id=oid, reason=reason)
        if res is None:
            yield from self._say(f"Sorry, the cancellation failed: {self.last_error}")
            return
        refunded = sum(p["amount_cents"] for p in res.get("payments", [])
                       if p.get("kind") == "refund")
        yield from self._say(f"Order {oid} is cancelled; {_money(refunded)} will be refunded "
                             "to the payment method you used.")
