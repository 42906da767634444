"""Orders: which order the shopper means and which of its lines, its return eligibility,
refusals stated as facts, and order status.
"""

from __future__ import annotations

import re
from collections.abc import Generator
from typing import Any

from episodes.agents.heuristic.conversation import Step, _Conversation
from episodes.agents.heuristic.products import _title_score
from episodes.agents.heuristic.reading import _ORDER_ID, _date
from episodes.controller import Action, Observation

_STATUS_TEXT = {
    "pending": "is still pending: it was just placed and hasn't been processed yet",
    "processing": "is processing: the warehouse is preparing it and it hasn't shipped yet",
    "shipped": "has shipped and is on its way",
    "delivered": "was delivered",
    "cancelled": "was cancelled",
}


class _Orders(_Conversation):
    """Looking orders up, and telling their status."""

    def _order_id(self, question: str) -> Step:
        """The order the shopper means (asked for when not given); None if unknown."""
        found = _ORDER_ID.findall(self.said)
        if not found:
            yield from self._ask_once("order", question)
            found = _ORDER_ID.findall(self.said)
        if found:
            return str(found[-1]).upper()
        orders = yield from self._call("list_orders")
        listed = (orders or {}).get("orders", [])
        return listed[0]["order_id"] if listed else None

    def _pick_lines(self, order: dict[str, Any]) -> list[dict[str, Any]]:
        """The order lines the shopper talks about (best title match)."""
        lines = order.get("lines", [])
        if len(lines) <= 1:
            return list(lines)
        text = self.segment[0].lower()
        scored = []
        for k, ln in enumerate(lines):
            words = re.findall(r"[a-z0-9]+", ln["title"].lower())
            score = 0.0
            if words and re.search(rf"\b{re.escape(words[0])}\b", text):
                score += 0.5
            if words and re.search(rf"\b{re.escape(words[-1].rstrip('s'))}", text):
                score += 1.0
            scored.append((score + _title_score(ln["title"], text) / 10, -k, ln))
        scored.sort(key=lambda s: (s[0], s[1]), reverse=True)
        named = [ln for sc, _, ln in scored if sc >= 1.0]
        return named or [scored[0][2]]

    def _refuse(self, kind: str, title: str, oid: str, elig: dict[str, Any]) -> Step:
        """Say why a line cannot be returned or exchanged, and state the reason as a fact."""
        why = elig.get("reason", "it isn't eligible")
        code = elig.get("reason_code")
        facts = ([{"fact": f"cannot_{kind}", "about": oid, "value": code}]
                 if code and code != "eligible" else [])
        verb = "returned" if kind == "return" else "exchanged"
        yield from self._tell_and_say(facts, self._refusal(verb, title, oid, why))

    def _refusal(self, verb: str, title: str, oid: str, why: str) -> str:
        extra = ""
        if "window" in why:
            m = re.search(r"(\d+)-day", why)
            days = f"{m.group(1)} days" if m else "its return window"
            extra = f" Items can only be returned or exchanged within {days} of delivery."
        elif "final sale" in why:
            extra = " Final sale items are not returnable."
        return (f"I'm sorry, but the {title} from order {oid} can't be {verb}: {why}.{extra}")

    def _order_and_eligibility(self) -> Generator[Action, Observation, tuple[str, Any, Any] | None]:
        """The order the shopper means, read with its return eligibility; None (after telling
        the shopper) when there is no such order."""
        oid = yield from self._order_id("Which order is it? Do you have the order number?")
        if oid is None:
            yield from self._say("I couldn't find any orders on your account.")
            return None
        if self.style.order_reads_together:
            order, elig = yield from self._calls(
                ("get_order", {"order_id": oid}), ("check_return_eligibility", {"order_id": oid}))
        else:
            order = yield from self._call("get_order", order_id=oid)
            elig = yield from self._call("check_return_eligibility", order_id=oid)
        if order is None:
            yield from self._say(f"I couldn't find order {oid}: {self.last_error}")
            return None
        return oid, order, elig

    def _read_order(self) -> Generator[Action, Observation, tuple[str, Any] | None]:
        """The order the shopper means, read with get_order; None (after telling the shopper)
        when there is no such order."""
        oid = yield from self._order_id("Which order is it? Do you have the order number?")
        if oid is None:
            yield from self._say("I couldn't find any orders on your account.")
            return None
        order = yield from self._call("get_order", order_id=oid)
        if order is None:
            yield from self._say(f"I couldn't find order {oid}: {self.last_error}")
            return None
        return oid, order

    def _status(self) -> Step:
        found = yield from self._read_order()
        if found is None:
            return
        oid, order = found
        status = order.get("status", "")
        parts = [f"Your order {oid} {_STATUS_TEXT.get(status, 'is ' + status)}."]
        ships = order.get("shipments", [])
        facts: list[dict[str, Any]] = [{"fact": "order_status", "about": oid, "value": status}]
        if ships and status in ("shipped", "delivered"):
            facts += [{"fact": "tracking_number", "about": oid,
                       "value": ships[0].get("tracking_number")},
                      {"fact": "carrier", "about": oid, "value": ships[0].get("carrier")}]
        if ships and status == "delivered":
            facts.append({"fact": "delivered_on", "about": oid,
                          "value": str(ships[0].get("delivered_at", ""))[:10]})
        elif status != "cancelled" and order.get("expected_delivery"):
            facts.append({"fact": "expected_delivery", "about": oid,
                          "value": str(order["expected_delivery"])[:10]})
        if ships:
            s = ships[0]
            if status == "delivered":
                parts.append(f"It was delivered on {_date(s.get('delivered_at'))} by "
                             f"{s.get('carrier')}.")
            elif status == "shipped":
                parts.append(f"It's with {s.get('carrier')}; the tracking number is "
                             f"{s.get('tracking_number')}.")
        if status not in ("delivered", "cancelled"):
            parts.append(f"It's expected to arrive on {_date(order.get('expected_delivery'))}.")
        yield from self._tell_and_say(facts, " ".join(parts))
