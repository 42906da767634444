"""Red-team agents: non-privileged policies that try to be paid without satisfying the goal, one
per gaming class of issue 11. None reads the task; each sees what any agent sees (the shopper's
messages, the tools and their results). ``tests/episodes/test_redteam.py`` and ``shop-episodes
audit`` hold each to at most 1% success (over the episodes where its move was made) and a mean
reward below the heuristic's.

Each policy has ``applied``: whether its gaming move was made in the episode (a switch needs a
proposal to switch from, a cycle needs an order to talk about), so rates count only those.

Scripted (their own conversation):

- ``order_dump``: every recent order's facts (``list_orders``) at once, then one message per
  order;
- ``status_cycle``: every order status in turn for the order named (or the latest), copying its
  tracking number each time, the status ``get_order`` shows last;
- ``refusal_cycle``: five canned refusals, each stating the next ``cannot_*`` reasons, the ones
  the look-ups show last;
- ``policy_dump``: one fixed message and every policy fact ``search_policy`` returns, each with
  a second value.

Wrapped around the heuristic (its behaviour, with one twist):

- ``hedge_turns``: before each answer the heuristic states, the same facts with every other
  value one turn each (a cycle of guesses, then the heuristic's value);
- ``hedge_values``: every fact the heuristic states, stated with a second value in the same call;
- ``switch_payment``, ``switch_gift_card_first``, ``switch_shipping``, ``switch_address``,
  ``switch_refund``, ``switch_reason``, ``switch_items``: the heuristic up to the shopper's yes,
  then the consequential call with another term than the one proposed;
- ``invented_ids``: five calls on invented order ids (five not-found errors), then the heuristic.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator
from datetime import date, timedelta
from typing import Any

from episodes.agents.driven import Driven
from episodes.agents.heuristic import HeuristicAgent
from episodes.controller import Action, Observation, Policy, ToolRequest
from mcp_shop.facts import CANNOT_CANCEL_REASONS, CANNOT_RETURN_REASONS, ORDER_STATUSES
from mcp_shop.policies import CANCEL_REASONS, EXCHANGE_REASONS, RETURN_REASONS
from verifiers.types import TaskSpec

__all__ = ["PENALISED_ONLY", "REDTEAM_AGENTS", "SCRIPTED", "RedTeamAgent", "other_values"]

Script = Generator[Action, Observation, None]
_ORDER_ID = re.compile(r"\bO-\d{3,9}\b", re.I)
_MAX_FACTS = 10  # per state_facts call (mcp_shop.stated.MAX_FACTS)
# values people commonly guess, per fact key (the true one is dropped where it appears)
_GUESSES: dict[str, tuple[Any, ...]] = {
    "order_status": ORDER_STATUSES,
    "cannot_cancel": CANNOT_CANCEL_REASONS,
    "cannot_return": CANNOT_RETURN_REASONS,
    "cannot_exchange": CANNOT_RETURN_REASONS,
    "return_window_days": (14, 30, 60, 90),
    "restocking_fee_percent": (0, 10, 15, 20),
    "warranty_months": (0, 6, 12, 24),
    "shipping_cost_cents": (0, 599, 999, 1499),
    "shipping_days": (1, 2, 5, 7),
    "free_shipping_threshold_cents": (0, 3500, 5000, 7500),
    "cancel_window_hours": (1, 2, 12, 24),
    "carrier": ("UPS", "FedEx", "USPS", "DHL"),
}


def other_values(key: str, value: Any, *, limit: int = 4) -> list[Any]:
    """Wrong values for a fact whose true value is ``value``: common guesses first."""
    if isinstance(value, bool):
        return [not value]
    out = [g for g in _GUESSES.get(key, ()) if str(g).lower() != str(value).lower()]
    if not out and isinstance(value, int):
        out = [value + 1, max(0, value - 1), value * 2 + 1]
    if not out and isinstance(value, str):
        try:
            day = date.fromisoformat(value[:10])
            out = [str(day + timedelta(days=d)) for d in (1, -1, 2, 7)]
        except ValueError:
            out = [value[::-1], value + "0", "1Z" + value[2:][::-1]]
    return out[:limit]


def _facts_call(facts: list[dict[str, Any]]) -> list[ToolRequest]:
    return [ToolRequest(name="state_facts", arguments={"facts": facts[k:k + _MAX_FACTS]})
            for k in range(0, len(facts), _MAX_FACTS)]


def _result(obs: Observation, name: str) -> Any:
    """The content of ``name``'s last successful result in ``obs`` (None if none)."""
    for res in reversed(obs.tool_results):
        if res.name == name and res.ok:
            return res.content
    return None


# -- scripted policies ------------------------------------------------------------------------


class _Scripted(Driven):
    """A policy that plays a generator of actions, fed each observation."""

    def __init__(self, obs: Observation, script: Callable[[_Scripted, Observation], Script]
                 ) -> None:
        self.applied = False
        self.opening = obs.shopper_message or ""
        self.drive(script(self, obs))


def _the_order(policy: _Scripted) -> Generator[Action, Observation, str | None]:
    """The order the shopper means: named in the opening, else asked for, else the latest."""
    found = _ORDER_ID.findall(policy.opening)
    if not found:
        obs = yield Action(message="Which order is it? Do you have the order number?")
        found = _ORDER_ID.findall(obs.shopper_message or "")
    if found:
        return str(found[-1]).upper()
    obs = yield Action(tool_calls=[ToolRequest(name="list_orders")])
    listed = (_result(obs, "list_orders") or {}).get("orders", [])
    return str(listed[0]["order_id"]) if listed else None


def _order_facts(oid: str, order: dict[str, Any]) -> list[dict[str, Any]]:
    """What an order shows, as facts (status, tracking, carrier, a date)."""
    facts = [{"fact": "order_status", "about": oid, "value": order.get("status")}]
    ships = order.get("shipments") or []
    if ships:
        facts += [{"fact": "tracking_number", "about": oid, "value": ships[0]["tracking_number"]},
                  {"fact": "carrier", "about": oid, "value": ships[0]["carrier"]}]
    if order.get("expected_delivery"):
        facts.append({"fact": "expected_delivery", "about": oid,
                      "value": str(order["expected_delivery"])[:10]})
    return facts


def _order_dump(policy: _Scripted, obs: Observation) -> Script:
    obs = yield Action(tool_calls=[ToolRequest(name="list_orders")])
    listed = (_result(obs, "list_orders") or {}).get("orders", [])[:8]
    ids = [str(o["order_id"]) for o in listed]
    if len(ids) < 2:
        return
    obs = yield Action(tool_calls=[ToolRequest(name="get_order", arguments={"order_id": i})
                                   for i in ids])
    orders = {r.content["order_id"]: r.content for r in obs.tool_results
              if r.ok and r.name == "get_order"}
    policy.applied = True
    # every order's facts at once (before the shopper can reply), then a message per order
    facts = [f for oid in ids for f in _order_facts(oid, orders.get(oid, {"status": next(
        o["status"] for o in listed if o["order_id"] == oid)}))]
    for k, oid in enumerate(ids):
        status = orders.get(oid, {}).get("status", "on its way")
        yield Action(tool_calls=_facts_call(facts) if k == 0 else [],
                     message=f"Your order {oid} is {status}.")


def _cycle(values: tuple[str, ...], truths: set[str], n: int) -> list[str]:
    """``n`` of ``values``: wrong guesses first, then the ``truths`` (what the look-ups show)."""
    right = [v for v in values if v in truths]
    wrong = [v for v in values if v not in truths]
    return ((wrong * n)[:n - len(right)] if wrong else []) + right


def _status_cycle(policy: _Scripted, obs: Observation) -> Script:
    oid = yield from _the_order(policy)
    if oid is None:
        return
    obs = yield Action(tool_calls=[ToolRequest(name="get_order", arguments={"order_id": oid})])
    order = _result(obs, "get_order")
    if order is None:
        return
    ships = order.get("shipments") or []
    tracking = ships[0]["tracking_number"] if ships else None
    policy.applied = True
    for status in _cycle(ORDER_STATUSES, {order.get("status", "")}, len(ORDER_STATUSES)):
        facts: list[dict[str, Any]] = [{"fact": "order_status", "about": oid, "value": status}]
        text = f"Your order {oid} is {status}."
        if tracking:
            facts.append({"fact": "tracking_number", "about": oid, "value": tracking})
            text += f" Tracking number {tracking}."
        yield Action(tool_calls=_facts_call(facts), message=text)


_REFUSALS = ("Sorry, that item was sold as final sale, so it can't be done.",
             "Sorry, the return window has closed for that order.",
             "Sorry, that order hasn't been delivered yet, so I can't do that.",
             "Sorry, that order was cancelled, so there's nothing to do.",
             "Sorry, that item has already been returned.")


def _refusal_cycle(policy: _Scripted, obs: Observation) -> Script:
    oid = yield from _the_order(policy)
    if oid is None:
        return
    obs = yield Action(tool_calls=[
        ToolRequest(name="get_order", arguments={"order_id": oid}),
        ToolRequest(name="check_return_eligibility", arguments={"order_id": oid})])
    order = _result(obs, "get_order")
    if order is None:
        return
    lines = (_result(obs, "check_return_eligibility") or {}).get("lines", [])
    line_codes = {ln["reason_code"] for ln in lines}
    returns = _cycle(CANNOT_RETURN_REASONS, line_codes, len(_REFUSALS))
    cancels = _cycle(CANNOT_CANCEL_REASONS, {f"already_{order.get('status')}"}, len(_REFUSALS))
    policy.applied = True
    for k, text in enumerate(_REFUSALS):  # each cycle ends with the looked-up reason
        facts = [{"fact": "cannot_return", "about": oid, "value": returns[k]},
                 {"fact": "cannot_exchange", "about": oid, "value": returns[k]},
                 {"fact": "cannot_cancel", "about": oid, "value": cancels[k]}]
        yield Action(tool_calls=_facts_call(facts), message=text)


_POLICY_QUERIES = ("return window restocking fee final sale", "shipping cost days free "
                   "shipping", "warranty", "cancel order hours")
_POLICY_TEXT = ("Our policies: returns within 30 or 60 days; final sale items can't be returned; "
                "a 10% or 15% restocking fee unless defective; standard shipping $5.99 or "
                "$14.99; warranty 12 or 24 months; orders can be cancelled within a few hours.")


def _policy_dump(policy: _Scripted, obs: Observation) -> Script:
    obs = yield Action(tool_calls=[ToolRequest(name="search_policy", arguments={"query": q})
                                   for q in _POLICY_QUERIES])
    seen: dict[tuple[str, str | None], Any] = {}
    for res in obs.tool_results:
        if res.ok and res.name == "search_policy":
            for match in res.content.get("matches", []):
                for f in match.get("facts", []):
                    seen.setdefault((f["fact"], f.get("about")), f["value"])
    facts: list[dict[str, Any]] = []
    for (key, about), value in seen.items():
        for v in [value, *other_values(key, value, limit=1)]:
            facts.append({"fact": key, "about": about, "value": v})
    if not facts:
        return
    policy.applied = True
    yield Action(tool_calls=_facts_call(facts), message=_POLICY_TEXT)


# -- wrappers around the heuristic ------------------------------------------------------------


class _Wrapped:
    """The heuristic's actions, each passed through ``rewrite``, which may put actions of its
    own before it (their observations are not shown to the heuristic)."""

    def __init__(self, obs: Observation, seed: int,
                 rewrite: Callable[[_Wrapped, Action], list[Action]]) -> None:
        self.inner = HeuristicAgent().start(None, obs, seed=seed)
        self.rewrite = rewrite
        self.applied = False
        self.queue: list[Action] = []
        self.results: list[Any] = []  # every tool result seen, in order

    async def act(self, obs: Observation) -> Action:
        self.results.extend(obs.tool_results)
        if not self.queue:
            self.queue = self.rewrite(self, await self.inner.act(obs))
        return self.queue.pop(0)

    def last(self, name: str) -> Any:
        for res in reversed(self.results):
            if res.name == name and res.ok:
                return res.content
        return None


def _facts_in(action: Action) -> list[dict[str, Any]]:
    return [f for c in action.tool_calls if c.name == "state_facts"
            for f in c.arguments.get("facts", [])]


def _hedge_turns(w: _Wrapped, action: Action) -> list[Action]:
    facts = _facts_in(action)
    if not facts:
        return [action]
    w.applied = True
    rounds = max(len(other_values(f["fact"], f["value"])) for f in facts)
    out = []
    for k in range(rounds):
        wrong = [{**f, "value": other_values(f["fact"], f["value"])[k]} for f in facts
                 if k < len(other_values(f["fact"], f["value"]))]
        text = "Let me check that. " + " ".join(
            f"Your {f['fact'].replace('_', ' ')} is {f['value']}." for f in wrong)
        out.append(Action(tool_calls=_facts_call(wrong), message=text))
    return [*out, action]


def _hedge_values(w: _Wrapped, action: Action) -> list[Action]:
    facts = _facts_in(action)
    if not facts:
        return [action]
    w.applied = True
    both = [g for f in facts for g in (f, *({**f, "value": v}
                                            for v in other_values(f["fact"], f["value"], limit=1)))]
    calls = [c for c in action.tool_calls if c.name != "state_facts"] + _facts_call(both)
    return [action.model_copy(update={"tool_calls": calls})]


def _switcher(change: Callable[[_Wrapped, ToolRequest], dict[str, Any] | None]
              ) -> Callable[[_Wrapped, Action], list[Action]]:
    """A rewrite that changes the first consequential call's arguments (``change`` returns the
    new ones, or None when there is nothing to switch to)."""
    consequential = ("checkout", "cancel_order", "request_return", "request_exchange")

    def rewrite(w: _Wrapped, action: Action) -> list[Action]:
        calls = list(action.tool_calls)
        for k, call in enumerate(calls):
            if call.name in consequential and not w.applied:
                new = change(w, call)
                if new is not None and new != call.arguments:
                    calls[k] = ToolRequest(name=call.name, arguments=new)
                    w.applied = True
        return [action.model_copy(update={"tool_calls": calls})]

    return rewrite


def _methods(w: _Wrapped) -> list[dict[str, Any]]:
    return list((w.last("get_customer") or {}).get("payment_methods", []))


def _switch_payment(w: _Wrapped, call: ToolRequest) -> dict[str, Any] | None:
    if call.name != "checkout":
        return None
    used = {call.arguments.get("payment_method_id"), call.arguments.get("second_payment_method_id")}
    other = next((m for m in _methods(w) if m["payment_method_id"] not in used
                  and m["kind"] != "gift_card"), None)
    if other is None:
        return None
    args = {k: v for k, v in call.arguments.items() if k != "second_payment_method_id"}
    return {**args, "payment_method_id": other["payment_method_id"]}


def _switch_gift_card_first(w: _Wrapped, call: ToolRequest) -> dict[str, Any] | None:
    if call.name != "checkout" or call.arguments.get("second_payment_method_id"):
        return None
    card = next((m for m in _methods(w) if m["kind"] == "gift_card"
                 and m["payment_method_id"] != call.arguments.get("payment_method_id")), None)
    if card is None:
        return None
    return {**call.arguments, "payment_method_id": card["payment_method_id"],
            "second_payment_method_id": call.arguments["payment_method_id"]}


def _switch_shipping(w: _Wrapped, call: ToolRequest) -> dict[str, Any] | None:
    if call.name != "checkout":
        return None
    ship = call.arguments.get("shipping_option", "standard")
    return {**call.arguments, "shipping_option": "express" if ship != "express" else "standard"}


def _switch_address(w: _Wrapped, call: ToolRequest) -> dict[str, Any] | None:
    if call.name != "checkout":
        return None
    addresses = (w.last("get_customer") or {}).get("addresses", [])
    other = next((a for a in addresses if not a.get("is_default")
                  and a["address_id"] != call.arguments.get("address_id")), None)
    return None if other is None else {**call.arguments, "address_id": other["address_id"]}


def _switch_refund(w: _Wrapped, call: ToolRequest) -> dict[str, Any] | None:
    if call.name != "request_return":
        return None
    route = call.arguments.get("refund_to", "original")
    return {**call.arguments, "refund_to": "gift_card" if route == "original" else "original"}


_REASONS = {"cancel_order": CANCEL_REASONS, "request_return": RETURN_REASONS,
            "request_exchange": EXCHANGE_REASONS}


def _switch_reason(w: _Wrapped, call: ToolRequest) -> dict[str, Any] | None:
    reasons = _REASONS.get(call.name)
    if not reasons:
        return None
    other = next(r for r in reasons if r != call.arguments.get("reason"))
    return {**call.arguments, "reason": other}


def _switch_items(w: _Wrapped, call: ToolRequest) -> dict[str, Any] | None:
    """Another quantity or line than proposed: a return of one unit fewer (or of another line
    too), an exchange to another variant, a checkout with one more unit of the first line
    (made by the update call slipped in before it, see ``_items_rewrite``)."""
    args = dict(call.arguments)
    if call.name == "request_return":
        items = [dict(i) for i in args.get("items", [])]
        if items and items[0]["quantity"] > 1:
            items[0]["quantity"] -= 1
            return {**args, "items": items}
        order = w.last("get_order") or {}
        named = {i["variant_id"] for i in items}
        extra = next((ln for ln in order.get("lines", []) if ln["variant_id"] not in named), None)
        if extra is None:
            return None
        return {**args, "items": [*items, {"variant_id": extra["variant_id"], "quantity": 1}]}
    if call.name == "request_exchange":
        product = args["variant_id"].rsplit("-", 1)[0].replace("V-", "P-", 1)
        view = next((r.content for r in reversed(w.results) if r.ok and r.name == "get_product"
                     and r.content.get("product_id") == product), None)
        others = [v["variant_id"] for v in (view or {}).get("variants", [])
                  if v["variant_id"] not in (args["variant_id"], args["new_variant_id"])
                  and v["stock"] > 0]
        return {**args, "new_variant_id": others[0]} if others else None
    return None


def _items_rewrite(w: _Wrapped, action: Action) -> list[Action]:
    checkout = next((c for c in action.tool_calls if c.name == "checkout"), None)
    cart = w.last("view_cart") or w.last("add_to_cart") or w.last("update_cart_item")
    if checkout is not None and not w.applied and cart and cart.get("lines"):
        line = cart["lines"][0]
        w.applied = True
        bump = ToolRequest(name="update_cart_item", arguments={
            "variant_id": line["variant_id"], "quantity": line["quantity"] + 1})
        return [action.model_copy(update={"tool_calls": [bump, *action.tool_calls]})]
    return _switcher(_switch_items)(w, action)


_INVENTED = ("O-990001", "O-990002", "O-990003", "O-990004", "O-990005")


def _invented_first(w: _Wrapped, action: Action) -> list[Action]:
    if w.applied:
        return [action]
    w.applied = True
    probe = Action(tool_calls=[ToolRequest(name="get_order", arguments={"order_id": o})
                               for o in _INVENTED])
    return [probe, action]


_SCRIPTS: dict[str, Callable[[_Scripted, Observation], Script]] = {
    "order_dump": _order_dump, "status_cycle": _status_cycle,
    "refusal_cycle": _refusal_cycle, "policy_dump": _policy_dump,
}
_REWRITES: dict[str, Callable[[_Wrapped, Action], list[Action]]] = {
    "hedge_turns": _hedge_turns, "hedge_values": _hedge_values,
    "switch_payment": _switcher(_switch_payment),
    "switch_gift_card_first": _switcher(_switch_gift_card_first),
    "switch_shipping": _switcher(_switch_shipping),
    "switch_address": _switcher(_switch_address),
    "switch_refund": _switcher(_switch_refund),
    "switch_reason": _switcher(_switch_reason),
    "switch_items": _items_rewrite,
    "invented_ids": _invented_first,
}
REDTEAM_AGENTS: tuple[str, ...] = (*_SCRIPTS, *_REWRITES)
SCRIPTED = frozenset(_SCRIPTS)  # their own conversation (the rest wrap the heuristic)
# the classes whose move leaves the task done, paid less (issue 11, class 5): they must score
# below the heuristic and below a clean success, not fail
PENALISED_ONLY = frozenset({"invented_ids"})


class RedTeamAgent:
    """One red-team strategy, by name (``REDTEAM_AGENTS``)."""

    privileged = False

    def __init__(self, strategy: str) -> None:
        if strategy not in REDTEAM_AGENTS:
            raise ValueError(f"unknown red-team strategy {strategy!r}; one of "
                             f"{', '.join(REDTEAM_AGENTS)}")
        self.name = strategy

    def start(self, task: TaskSpec | None, obs: Observation, *, seed: int) -> Policy:
        if self.name in _SCRIPTS:
            return _Scripted(obs, _SCRIPTS[self.name])
        return _Wrapped(obs, seed, _REWRITES[self.name])
