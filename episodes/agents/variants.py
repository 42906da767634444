"""Correct-but-different agents: the gold solution replayed with one twist that keeps it right.
Each must succeed wherever the oracle does (``tests/episodes/test_redteam.py`` and
``shop-episodes audit`` hold each to 99%, over the episodes its twist changed).

They are privileged like the oracle (they read the task's gold and intents):

- ``other_product``: presents another product meeting every criterion of the intent (found by
  searching the shop and judged with ``verifiers.match``); ``_other_product(drained_only=True)``
  picks only a product a later flash-sale event sells out or reprices, but no generated task
  has one that meets its intent, so it is not registered;
- ``other_payment`` / ``other_shipping``: another payment method or shipping option where the
  intent leaves it open, named in the confirmation and used at checkout;
- ``extra_reads``: read-only calls before the work and before the last message;
- ``reordered``: runs of independent calls (the same tool on different things) in reverse;
- ``extra_question``: one more clarifying question first;
- ``presentation_order``: another product of the category presented before the gold's;
- ``named_in_message``: products named by their ids in the message instead of presented;
- ``facts_reordered``, ``facts_split``, ``facts_extra``: facts in reverse order, over two calls,
  or with true facts of kinds nobody asked about (read from the look-ups);
- ``ask_<phrase>``: every "Shall I ..." of the gold asked another way (``PHRASINGS``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator
from typing import Any

from episodes.agents.driven import Driven
from episodes.agents.oracle import Replay, gold_actions
from episodes.controller import Action, Observation, Policy, ToolRequest
from episodes.world import product_facts
from mcp_shop.views import ProductView
from verifiers.match import match_reason
from verifiers.types import GoldStep, Intent, ProductMatch, TaskSpec

__all__ = ["PHRASINGS", "VARIANT_AGENTS", "VariantAgent"]

Script = Generator[Action, Observation, None]

# other ways to ask the shopper's yes, each followed by the gold's "place the order ...?"
PHRASINGS: dict[str, str] = {
    "shall_we": "Shall we", "do_you_want_me_to": "Do you want me to",
    "is_it_ok_if_i": "Is it OK if I", "should_we": "Should we",
    "ready_for_me_to": "Ready for me to", "would_you_like_me_to": "Would you like me to",
    "should_i": "Should I", "can_i": "Can I", "could_i": "Could I", "may_i": "May I",
    "do_you_want_us_to": "Do you want us to", "would_you_like_us_to": "Would you like us to",
    "is_it_okay_for_me_to": "Is it okay for me to", "happy_for_me_to": "Happy for me to",
    "are_you_happy_for_me_to": "Are you happy for me to", "want_me_to": "Want me to",
    "can_we": "Can we", "okay_to": "Okay to", "is_it_alright_if_i": "Is it alright if I",
    "would_you_like_me_to_go_ahead_and": "Would you like me to go ahead and",
    "let_me_know_if_i_should": "Let me know if I should",
    "please_confirm_i_should": "Please confirm I should",
    "is_it_fine_if_i": "Is it fine if I",
}
_SHALL = re.compile(r"\b[Ss]hall I\b")
_READ_ONLY_RUNS = ("get_product", "add_to_cart", "get_order", "check_return_eligibility")


def _say_steps(gold: list[GoldStep], fn: Callable[[str], str]) -> list[GoldStep]:
    return [g.model_copy(update={"say": fn(g.say)}) if g.say is not None else g for g in gold]


def _phrased(phrase: str) -> Callable[[TaskSpec], list[GoldStep]]:
    def steps(task: TaskSpec) -> list[GoldStep]:
        def ask(text: str) -> str:
            return _SHALL.sub(lambda m: phrase if m.group(0)[0] == "S" else
                              phrase[0].lower() + phrase[1:], text)
        return _say_steps(task.gold, ask)
    return steps


def _extra_reads(task: TaskSpec) -> list[GoldStep]:
    gold = list(task.gold)
    last_say = max(i for i, g in enumerate(gold) if g.say is not None)
    return [GoldStep(tool="list_categories"), GoldStep(tool="view_cart"), *gold[:last_say],
            GoldStep(tool="view_cart"), *gold[last_say:]]


def _reordered(task: TaskSpec) -> list[GoldStep]:
    out: list[GoldStep] = []
    run: list[GoldStep] = []
    for g in [*task.gold, GoldStep()]:
        if run and (g.tool != run[0].tool or g.tool not in _READ_ONLY_RUNS or g.say):
            out += reversed(run) if run[0].tool in _READ_ONLY_RUNS else run
            run = []
        if g.tool in _READ_ONLY_RUNS and g.say is None:
            run.append(g)
        elif g.tool is not None or g.say is not None:
            out.append(g)
    return out


def _extra_question(task: TaskSpec) -> list[GoldStep]:
    gold = list(task.gold)
    first = next(i for i, g in enumerate(gold) if g.say is not None)
    ask = GoldStep(say="Before I go on, is there anything else I should keep in mind?")
    return [*gold[:first], ask, *gold[first:]]


def _named_in_message(task: TaskSpec) -> list[GoldStep]:
    out: list[GoldStep] = []
    named: list[str] = []
    for g in task.gold:
        if g.tool == "present_products" and g.say is None:
            named += g.args.get("product_ids", [])
            continue
        if g.say is not None and named:
            out.append(g.model_copy(update={"say": f"How about {', '.join(named)}? {g.say}"}))
            named = []
        else:
            out.append(g)
    if named:
        out.append(GoldStep(say=f"How about {', '.join(named)}?"))
    return out


def _facts_steps(task: TaskSpec, fn: Callable[[list[Any]], list[list[Any]]]) -> list[GoldStep]:
    out: list[GoldStep] = []
    for g in task.gold:
        if g.tool == "state_facts":
            parts = fn(list(g.args.get("facts", [])))
            out += [g.model_copy(update={"args": {**g.args, "facts": p}, "say": None})
                    for p in parts[:-1]]
            out.append(g.model_copy(update={"args": {**g.args, "facts": parts[-1]}}))
        else:
            out.append(g)
    return out


def _facts_reordered(task: TaskSpec) -> list[GoldStep]:
    return _facts_steps(task, lambda f: [f[::-1]])


def _facts_split(task: TaskSpec) -> list[GoldStep]:
    return _facts_steps(task, lambda f: [f[:len(f) // 2], f[len(f) // 2:]] if len(f) > 1
                        else [f])


_STATIC: dict[str, Callable[[TaskSpec], list[GoldStep]]] = {
    "extra_reads": _extra_reads, "reordered": _reordered, "extra_question": _extra_question,
"named_in_message": _named_in_message,
    "facts_reordered": _facts_reordered, "facts_split": _facts_split,
    **{f"ask_{key}": _phrased(phrase) for key, phrase in PHRASINGS.items()},
}


# -- twists that read tool results ------------------------------------------------------------


class _Live(Driven):
    """Plays a script that sees every tool result (``results``) as it goes."""

    def __init__(self, task: TaskSpec, script: Callable[[_Live, TaskSpec], Script]) -> None:
        self.results: list[Any] = []
        self.drive(script(self, task))

    def observe(self, obs: Observation) -> None:
        self.results.extend(r for r in obs.tool_results if r.ok)

    def last(self, name: str) -> Any:
        return next((r.content for r in reversed(self.results) if r.name == name), None)


def _play(steps: list[GoldStep]) -> Script:
    """The steps as the oracle plays them (without its closing message)."""
    actions = gold_actions(steps)
    if steps and steps[-1].say is None:
        actions = actions[:-1]  # gold_actions' closing "All done." (gold ends with a message)
    for action in actions:  # noqa: UP028 - a list has no send(): observations are dropped
        yield action


def _facts_extra(live: _Live, task: TaskSpec) -> Script:
    """The gold, with the true facts of unasked kinds its look-ups show added to each
    ``state_facts`` call (order facts from ``get_order``, policy facts from
    ``search_policy``)."""
    for g in task.gold:
        if g.tool != "state_facts":
            yield from _play([g])
            continue
        facts = list(g.args.get("facts", []))
        asked = {f["fact"] for f in facts}
        extra: list[dict[str, Any]] = []
        order = live.last("get_order")
        if order is not None:
            oid = order["order_id"]
            shown = [("order_status", order.get("status")),
                     ("expected_delivery", str(order.get("expected_delivery") or "")[:10])]
            extra += [{"fact": k, "about": oid, "value": v} for k, v in shown if v]
        policy = live.last("search_policy")
        for match in (policy or {}).get("matches", []):
            extra += match.get("facts", [])
        extra = [f for f in extra if f["fact"] not in asked]
        yield from _play([g.model_copy(update={"args": {**g.args,
                                                        "facts": (facts + extra)[:10]}})])


def _checkout_intent(task: TaskSpec) -> Intent | None:
    purchases = [i for i in task.intents if i.kind == "purchase"]
    return purchases[0] if len(purchases) == 1 else None


def _other_checkout(what: str) -> Callable[[_Live, TaskSpec], Script]:
    """Another payment method (``what`` = "payment") or shipping option ("shipping") where the
    purchase leaves it open: named in the confirmation and used at checkout."""

    def script(live: _Live, task: TaskSpec) -> Script:
        intent = _checkout_intent(task)
        checkout = next((g for g in task.gold if g.tool == "checkout"), None)
        open_term = intent is not None and (intent.payment_kind is None if what == "payment"
                                            else intent.shipping_option is None)
        if not open_term or checkout is None or "second_payment_method_id" in checkout.args:
            yield from _play(task.gold)
            return
        swap: tuple[str, str, str] | None = None
        new_args = dict(checkout.args)
        for g in task.gold:
            if g.say is not None and "order" in g.say and swap is None and _asks(g.say):
                swap = _swap(live, checkout.args, what)
                if swap is not None:
                    new_args[_ARG[what]] = swap[2]
            if g.tool == "checkout":
                g = g.model_copy(update={"args": new_args})
            if g.say is not None and swap is not None and _asks(g.say):
                g = g.model_copy(update={"say": g.say.replace(swap[0], swap[1])})
            yield from _play([g])

    return script


_ARG = {"payment": "payment_method_id", "shipping": "shipping_option"}
_SHIP_NAME = {"standard": "standard", "express": "express", "next_day": "next-day"}


def _asks(text: str) -> bool:
    return bool(_SHALL.search(text))


def _swap(live: _Live, args: dict[str, Any], what: str) -> tuple[str, str, str] | None:
    """(old words, new words, new argument value) or None."""
    if what == "shipping":
        old = args.get("shipping_option", "standard")
        new = "express" if old != "express" else "standard"
        return (f"{_SHIP_NAME[old]} shipping", f"{_SHIP_NAME[new]} shipping", new)
    methods = (live.last("get_customer") or {}).get("payment_methods", [])
    used = next((m for m in methods if m["payment_method_id"] == args["payment_method_id"]), None)
    other = next((m for m in methods if m["payment_method_id"] != args["payment_method_id"]
                  and m["kind"] != "gift_card"), None)
    if used is None or other is None:
        return None
    return (used["label"], other["label"], other["payment_method_id"])


def _product_intents(task: TaskSpec) -> list[ProductMatch]:
    out = []
    for i in task.intents:
        if i.kind in ("discovery", "price_compare") and i.accept is not None:
            out.append(i.change.accept if i.change is not None and i.change.accept is not None
                       else i.accept)
    return out


def _drained(task: TaskSpec) -> set[str]:
    """Products a flash-sale event sells out or reprices."""
    return {v.rsplit("-", 1)[0].replace("V-", "P-", 1) for e in task.scenario
            for v in (*e.stock, *e.prices)}


def _other_product(*, drained_only: bool = False, first: bool = False
                   ) -> Callable[[_Live, TaskSpec], Script]:
    """Another product meeting the intent presented instead of the gold's (``drained_only``:
    one a later event sells out or reprices), or (``first``) another product of the same
    search presented before the gold's (the presentation order changed)."""

    def script(live: _Live, task: TaskSpec) -> Script:
        accepts = _product_intents(task)
        wanted = _drained(task) if drained_only else None
        k = 0
        for g in task.gold:
            if g.tool == "present_products" and k < len(accepts) and wanted != set():
                accept = accepts[k]
                k += 1
                gold = list(g.args["product_ids"])
                pick = yield from _find_other(accept, set(gold), wanted, matching=not first)
                if pick is not None:
                    ids = [pick, *gold] if first else [pick]
                    g = g.model_copy(update={"args": {**g.args, "product_ids": ids}})
            yield from _play([g])

    return script


def _find_other(accept: ProductMatch, gold: set[str], wanted: set[str] | None, *,
                matching: bool = True) -> Generator[Action, Observation, str | None]:
    """A product other than ``gold`` meeting ``accept`` now (one of ``wanted`` if given; any
    product the search finds when not ``matching``)."""
    args: dict[str, Any] = {"in_stock_only": True, "page_size": 20, "query": ""}
    if accept.category:
        args["category"] = accept.category
    if accept.max_price_cents:
        args["max_price_cents"] = accept.max_price_cents
    if accept.brand:
        args["brand"] = accept.brand
    if accept.min_rating:
        args["min_rating"] = accept.min_rating
    if accept.attributes:
        args["attributes"] = dict(accept.attributes)
    if accept.attributes_at_least:
        args["attributes_at_least"] = dict(accept.attributes_at_least)
    if wanted is None:
        obs = yield Action(tool_calls=[ToolRequest(name="search_products", arguments=args)])
        hits = [h["product_id"] for r in obs.tool_results if r.ok
                for h in r.content.get("hits", [])]
    else:  # the products the task's events touch (the agent is privileged)
        hits = sorted(wanted)
    ids = [p for p in hits if p not in gold][:8]
    if not ids:
        return None
    obs = yield Action(tool_calls=[ToolRequest(name="get_product", arguments={"product_id": p})
                                   for p in ids])
    for r in obs.tool_results:
        if r.ok and r.name == "get_product":
            facts = product_facts(ProductView.model_validate(r.content))
            if not matching or match_reason(accept, facts) is None:
                return str(facts.product_id)
    return None


_LIVE: dict[str, Callable[[_Live, TaskSpec], Script]] = {
    "facts_extra": _facts_extra,
    "other_payment": _other_checkout("payment"),
    "other_shipping": _other_checkout("shipping"),
    "other_product": _other_product(drained_only=False),
    "presentation_order": _other_product(first=True),
}
VARIANT_AGENTS: tuple[str, ...] = (*_LIVE, *_STATIC)


class VariantAgent:
    """One correct-but-different twist on the gold solution, by name (``VARIANT_AGENTS``)."""

    privileged = True

    def __init__(self, twist: str) -> None:
        if twist not in VARIANT_AGENTS:
            raise ValueError(f"unknown variant {twist!r}; one of {', '.join(VARIANT_AGENTS)}")
        self.name = twist

    def start(self, task: TaskSpec | None, obs: Observation, *, seed: int) -> Policy:
        if task is None:
            raise ValueError("variant agents replay the gold solution: they need the task")
        if self.name in _LIVE:
            return _Live(task, _LIVE[self.name])
        return Replay(gold_actions(_STATIC[self.name](task)))
