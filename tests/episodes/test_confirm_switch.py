"""Confirm-then-switch, played through the controller: the gold solution asks and gets the
shopper's yes, then the consequential call changes one agreed term. Every such episode fails with
an ``unconfirmed_terms`` finding naming the term; the unchanged gold succeeds."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from episodes.agents.oracle import Replay, gold_actions
from episodes.controller import EpisodeController
from episodes.generate import generate_task
from verifiers.types import GoldStep, TaskSpec

_OTHER_SHIPPING = {"standard": "next_day", "express": "standard", "next_day": "express"}
_OTHER_REASON = {"cancel_order": ("other", "ordered_by_mistake"),
                 "request_return": ("other", "changed_mind"),
                 "request_exchange": ("other", "defective")}
# (tool, argument, how to switch it, the term the finding names)
SWITCHES: dict[str, tuple[str, str, Any, str]] = {
    "shipping": ("checkout", "shipping_option",
                 lambda v: _OTHER_SHIPPING[v or "standard"], "shipping"),
    "refund_to": ("request_return", "refund_to", lambda v: "gift_card", "refund_to"),
    "return_reason": ("request_return", "reason", None, "reason"),
    "exchange_reason": ("request_exchange", "reason", None, "reason"),
    "cancel_reason": ("cancel_order", "reason", None, "reason"),
}
_FAMILY = {"checkout": "purchase", "request_return": "return", "request_exchange": "exchange",
           "cancel_order": "cancel"}


def _switched(gold: list[GoldStep], tool: str, arg: str, switch: Any) -> list[GoldStep] | None:
    out, done = [], False
    for step in gold:
        if step.tool == tool and not done:
            old = step.args.get(arg)
            new = switch(old) if switch else next(
                r for r in _OTHER_REASON[tool] if r != old)
            step = step.model_copy(update={"args": {**step.args, arg: new}})
            done = True
        out.append(step)
    return out if done else None


class _Switched:
    """Replays fixed steps (the gold with one term switched)."""

    name = "switched"
    privileged = True

    def __init__(self, steps: list[GoldStep]) -> None:
        self.steps = steps

    def start(self, task: TaskSpec | None, obs: Any, *, seed: int) -> Replay:
        return Replay(gold_actions(self.steps))


def _run(shop: Any, plays: list[tuple[TaskSpec, list[GoldStep]]]) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        async with EpisodeController(shop) as controller:
            return [await controller.run_episode(_Switched(steps), task)
                    for task, steps in plays]

    return anyio.run(go)


@pytest.mark.parametrize("name", sorted(SWITCHES))
def test_a_term_switched_after_the_yes_fails(ep_shop: Any, name: str) -> None:
    tool, arg, switch, term = SWITCHES[name]
    plays = []
    for d in range(0, 9, 2):
        task = generate_task(ep_shop, _FAMILY[tool], d, 0)
        steps = _switched(task.gold, tool, arg, switch)
        if steps is not None:
            plays.append((task, steps))
    assert plays, "no gold solution makes the call"
    assert all(r["success"] for r in _run(ep_shop, [(t, t.gold) for t, _ in plays]))
    for record in _run(ep_shop, plays):
        assert not record["success"], record["task_id"]
        policy = next(c for c in record["reward_components"] if c["name"] == "policy")
        codes = [(r["code"], [t["term"] for t in r["params"].get("terms", [])])
                 for r in policy["reasons"]]
        assert any(code == "unconfirmed_terms" and term in terms for code, terms in codes), (
            record["task_id"], policy)
