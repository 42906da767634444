"""Reward-hacking agents: each tries a shortcut a trained policy might find. None may reach
success, and their rewards must stay below an honest agent's (tests/episodes/test_hacking.py).

- ``present_all``: shows every product it can find, dozens at a time;
- ``add_everything``: puts every product it finds into the cart;
- ``claim_success``: says the job is done without doing anything;
- ``extra_orders``: follows the gold solution but also places an order nobody asked for;
- ``invented_ids``: calls tools and writes messages with ids no tool ever showed.
"""

from __future__ import annotations

from typing import Any

from episodes.agents.oracle import Replay, gold_actions
from episodes.controller import Action, Observation, Policy, ToolRequest
from verifiers.types import GoldStep, TaskSpec

__all__ = ["ADVERSARIAL_AGENTS", "AdversarialAgent"]


def _words(text: str | None) -> str:
    return " ".join(w for w in (text or "").replace(",", " ").split() if w.isalpha())[:150]


class _PresentAll:
    def __init__(self) -> None:
        self.page = 0
        self.query = ""

    async def act(self, obs: Observation) -> Action:
        if self.page == 0:
            self.query = _words(obs.shopper_message)
        self.page += 1
        if obs.tool_results and obs.tool_results[-1].name == "search_products":
            hits = obs.tool_results[-1].content.get("hits", []) if obs.tool_results[-1].ok else []
            ids = [h["product_id"] for h in hits]
            return Action(tool_calls=[ToolRequest(name="present_products",
                                                  arguments={"product_ids": ids[:50]})]
                          if ids else [], message="Here is everything we have!")
        return Action(tool_calls=[ToolRequest(name="search_products", arguments={
            "query": self.query if self.page < 3 else "", "page": max(1, self.page // 2),
            "page_size": 50})])


class _AddEverything:
    def __init__(self) -> None:
        self.step = 0

    async def act(self, obs: Observation) -> Action:
        self.step += 1
        if self.step == 1:
            return Action(tool_calls=[ToolRequest(name="search_products", arguments={
                "query": _words(obs.shopper_message), "in_stock_only": True, "page_size": 20})])
        if self.step == 2 and obs.tool_results and obs.tool_results[0].ok:
            hits = obs.tool_results[0].content.get("hits", [])
            calls = [ToolRequest(name="get_product", arguments={"product_id": h["product_id"]})
                     for h in hits]
            return Action(tool_calls=calls)
        if self.step == 3:
            calls = []
            for r in obs.tool_results:
                if r.ok and isinstance(r.content, dict):
                    stocked = [v for v in r.content.get("variants", []) if v["stock"] > 0]
                    if stocked:
                        calls.append(ToolRequest(name="add_to_cart", arguments={
                            "variant_id": stocked[0]["variant_id"], "quantity": 1}))
            return Action(tool_calls=calls, message="I added everything to your cart!")
        return Action(message="Everything you could want is in your cart.", done=self.step > 5)


class _ClaimSuccess:
    def __init__(self) -> None:
        self.step = 0

    async def act(self, obs: Observation) -> Action:
        self.step += 1
        if self.step > 3:
            return Action(done=True)
        return Action(message="All done! I found the perfect product, placed your order, "
                      "processed your return and your refund is on its way. It has shipped "
                      "and you'll love it.")


def _extra_order_plan(task: TaskSpec) -> list[Action]:
    """The gold solution with an unrequested order slipped in before the final message."""
    extra = [GoldStep(tool="add_to_cart", args={"variant_id": f"V-{pk:06d}-1", "quantity": 1})
             for pk in (1, 2, 3, 4)]  # some of them are in stock
    extra += [GoldStep(tool="checkout", args={"payment_method_id": "PM-1",
                                             "shipping_option": "standard"})]
    gold = list(task.gold)
    last_say = max(i for i, g in enumerate(gold) if g.say is not None)
    return gold_actions(gold[:last_say] + extra + gold[last_say:])


def _invented_plan() -> list[Action]:
    fake = [("get_product", {"product_id": "P-987654"}),
            ("add_to_cart", {"variant_id": "V-987654-1", "quantity": 1}),
            ("get_order", {"order_id": "O-987654"}),
            ("cancel_order", {"order_id": "O-987654", "reason": "other"}),
            ("request_return", {"order_id": "O-987653", "reason": "defective",
                                "items": [{"variant_id": "V-987653-2", "quantity": 1}]})]
    return [Action(tool_calls=[ToolRequest(name=n, arguments=a) for n, a in fake],
                   message="I've placed order O-987654 for P-987654 and refunded you; "
                   "shall I also process the return for order O-987653?"),
            Action(message="Done: order O-987654 is on its way with tracking 1Z999AA10123456784.")]


class AdversarialAgent:
    """One of the reward-hacking strategies, by name."""

    privileged = False

    def __init__(self, strategy: str) -> None:
        if strategy not in ADVERSARIAL_AGENTS:
            raise ValueError(f"unknown strategy {strategy!r}; one of "
                             f"{', '.join(ADVERSARIAL_AGENTS)}")
        self.name = strategy
        self.privileged = strategy == "extra_orders"  # it needs the gold to look competent

    def start(self, task: TaskSpec | None, obs: Observation, *, seed: int) -> Policy:
        policy: Any
        if self.name == "present_all":
            policy = _PresentAll()
        elif self.name == "add_everything":
            policy = _AddEverything()
        elif self.name == "claim_success":
            policy = _ClaimSuccess()
        elif self.name == "extra_orders":
            assert task is not None
            policy = Replay(_extra_order_plan(task))
        else:
            policy = Replay(_invented_plan())
        return policy


ADVERSARIAL_AGENTS = ("present_all", "add_everything", "claim_success", "extra_orders",
                      "invented_ids")
