"""Multi-intent: an intent is judged when the shopper accepted it and moved on, so a flash sale
that sells out the accepted product a turn later fails nothing.

The generated multi tasks whose product intent (discovery, price comparison) is followed by
another intent get one more scenario event: every variant of the products the gold presented
for it drains to zero stock right after the shopper accepted it and moved on. The gold solution
must still succeed on every such task.
"""

from __future__ import annotations

from typing import Any

import anyio

from episodes.agents import make_agent
from episodes.controller import EpisodeController
from episodes.generate import generate_task
from verifiers.types import ScenarioEvent, TaskSpec

_PRESENTING = ("discovery", "price_compare")


def _drained(shop: Any, task: TaskSpec) -> TaskSpec | None:
    """``task`` with the drain event, or None where it does not apply."""
    kinds = [i.kind for i in task.intents]
    if not any(k in _PRESENTING for k in kinds[:-1]):
        return None
    turn, shown_turn, shown, at = 1, 0, [], -1
    for k, step in enumerate(task.gold):
        if step.say is not None:
            if shown and not shown_turn:
                shown_turn = turn
            turn += 1
        elif step.tool == "present_products" and not shown:
            shown, at = list(step.args["product_ids"]), k
    if not shown or not shown_turn:
        return None
    variants = [p.replace("P-", "V-") + "-" for p in shown]
    if any(p in str(s.args) or any(v in str(s.args) for v in variants)
           for s in task.gold[at + 1:] if s.tool for p in shown):
        return None  # a later step uses the product: draining it would change the task
    sid = shop.open_session(seed=0).session_id
    stock = {v.variant_id: 0 for p in shown for v in shop.get_product(sid, p).variants}
    # after the agent's message that follows the shopper's yes, i.e. once it moved on
    event = ScenarioEvent(turn=shown_turn + 1, stock=stock)
    return task.model_copy(update={"scenario": [*task.scenario, event]})


def test_an_accepted_intent_is_not_undone_by_a_later_flash_sale(ep_shop: Any) -> None:
    tasks = [generate_task(ep_shop, "multi", d, s) for d in range(0, 11) for s in range(12)]
    drained = [t for t in (_drained(ep_shop, t) for t in tasks) if t is not None]
    assert len(drained) >= 10, "too few multi tasks with a product intent before another"

    async def go() -> list[dict[str, Any]]:
        async with EpisodeController(ep_shop) as controller:
            return await controller.run(make_agent("oracle"), drained, concurrency=8)

    records = anyio.run(go)
    failed = [(r["task_id"], [c["reason"] for c in r["reward_components"] if c["value"] < 1])
              for r in records if not r["success"]]
    assert not failed, failed
