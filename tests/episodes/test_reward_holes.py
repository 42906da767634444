"""Reward holes a reviewer found, each played end to end: the exploit must now fail while the
oracle still solves the same tasks.

1. policy answers stuffed with every likely value, with no tool call (or after a search);
2. refusals (return, exchange, cancel) and order statuses stuffed after one ``list_orders``;
3. the "at most 5 presented" cap dodged with several ``present_products`` calls in one turn;
4. a product presented with wanted options judged at a cheaper variant's price.
"""

from __future__ import annotations

from typing import Any

from episodes.agents import OracleAgent
from episodes.controller import Action, EpisodeController, ToolRequest
from episodes.generate import generate_task
from episodes.shopper import Shopper
from tests.verifiers.builders import catalog, presented, product, state, task, user
from verifiers.types import Intent, ProductMatch, TaskSpec

DIFFICULTIES = range(0, 11)

POLICY_STUFF = (
    "Policy summary: returns within 14 days, 15 days, 30 days or 60 days; final sale, clearance "
    "and groceries cannot be returned; no restocking fee unless the item is defective, otherwise "
    "10%, 15% or 20%; no warranty beyond the return window, or 6 months, 12 months, 24 months; "
    "free shipping over $25, $35, $50, $75, $100 or on every order; standard $4.99, $5.99, "
    "$7.99, $9.99, $14.99, $19.99; delivery in 2 hours, 1 day, 2 days, 3 days, 5 days, 7 days.")
REFUSAL_STUFF = (
    "Sorry, it cannot be returned or exchanged: past the 14 days, 15 days, 30 days, 60 days, 90 "
    "days return window; final sale, clearance; groceries, food; out of stock, not available, "
    "no longer in stock, sold out in that size or colour.")
STATUS_STUFF = "Your order is pending, processing, shipped and delivered, on its way."
CANCEL_STUFF = ("It's already processing or shipped, so it can't be cancelled; you can return it "
                "once delivered.")


def _call(name: str, **arguments: Any) -> ToolRequest:
    return ToolRequest(name=name, arguments=arguments)


async def _play(controller: EpisodeController, task: TaskSpec, actions: list[Action]
                ) -> tuple[bool, list[str]]:
    """Play scripted actions (then end the episode) on a session of its own; success and the
    shopper's messages."""
    said: list[str] = []
    episode = controller.episode(task)
    await episode.reset()
    step = None
    for action in actions:
        step = await episode.step(action)
        if step.observation.shopper_message:
            said.append(step.observation.shopper_message)
        if step.done:
            break
    if step is None or not step.done:
        step = await episode.step(Action(done=True))
    return bool(step.info["success"]), said


async def _oracle_solves(shop: Any, tasks: list[TaskSpec]) -> None:
    async with EpisodeController(shop) as controller:
        records = await controller.run(OracleAgent(), tasks, concurrency=4)
    assert all(r["success"] for r in records), [r["task_id"] for r in records
                                                if not r["success"]]


async def test_stuffed_policy_answers_fail(ep_shop: Any) -> None:
    tasks = [generate_task(ep_shop, "policy", d, s) for d in DIFFICULTIES for s in (1, 2)]
    async with EpisodeController(ep_shop) as controller:
        for t in tasks:
            # no tool call at all: nothing was looked up, and the answer is buried anyway
            ok, _ = await _play(controller, t, [Action(message=POLICY_STUFF)])
            assert not ok, t.task_id
            # after a policy search: still buried among contradicting values
            searched = Action(tool_calls=[_call("search_policy", query="returns shipping")],
                              message=POLICY_STUFF)
            ok, _ = await _play(controller, t, [searched])
            assert not ok, t.task_id
    await _oracle_solves(ep_shop, tasks)


async def test_every_policy_gold_searches_the_policies_before_answering(ep_shop: Any) -> None:
    for d in DIFFICULTIES:
        for s in range(5):
            gold = generate_task(ep_shop, "policy", d, s).gold
            says = [i for i, g in enumerate(gold) if g.say]
            searches = [i for i, g in enumerate(gold) if g.tool == "search_policy"]
            assert searches and says and min(searches) < min(says)


async def test_stuffed_refusals_and_statuses_fail(ep_shop: Any) -> None:
    listed = [_call("list_orders")]
    tasks: list[TaskSpec] = []
    async with EpisodeController(ep_shop) as controller:
        for family, stuff in (("return", REFUSAL_STUFF), ("exchange", REFUSAL_STUFF),
                              ("cancel", CANCEL_STUFF), ("order_status", STATUS_STUFF)):
            for d in DIFFICULTIES:
                for s in (1, 2, 3):
                    t = generate_task(ep_shop, family, d, s)
                    if t.intents[0].proceed and family != "order_status":
                        continue
                    ok, _ = await _play(controller, t, [Action(tool_calls=listed,
                                                               message=stuff)])
                    assert not ok, t.task_id
                    tasks.append(t)
    assert len(tasks) > 40
    await _oracle_solves(ep_shop, tasks)


async def test_presenting_more_than_five_in_one_turn_counts_nothing(ep_shop: Any) -> None:
    tasks = [generate_task(ep_shop, f, d, 1) for f in ("discovery", "price_compare")
             for d in (0, 3, 6)]
    async with EpisodeController(ep_shop) as controller:
        for t in tasks:
            gold_ids = next(g.args["product_ids"] for g in t.gold
                            if g.tool == "present_products")
            episode = controller.episode(t)
            await episode.reset()
            step = await episode.step(Action(tool_calls=[
                _call("search_products", query="", page_size=50)]))
            hits = step.observation.tool_results[0].content.get("hits", [])
            others = [h["product_id"] for h in hits if h["product_id"] not in gold_ids]
            assert len(others) >= 5
            chunks = [_call("present_products", product_ids=others[:5]),
                      _call("present_products", product_ids=gold_ids[:1])]
            ok, said = await _play(controller, t, [Action(tool_calls=chunks,
                                                          message="Here are some options.")])
            assert not ok, t.task_id
            assert "at most 5" in said[0]
    await _oracle_solves(ep_shop, tasks)


# -- the shopper applies the same rules (no shop needed) ------------------------------------

JACKET = product(9, slug="clothing/outerwear/jackets", attributes={},
                 variants=[({"color": "red"}, 8000, 5), ({"color": "blue"}, 15000, 5)])
HEADPHONES = [product(k) for k in range(1, 7)]
PRODUCTS = catalog(JACKET, *HEADPHONES)


def _reply(intent: Intent, calls: list[Any]) -> tuple[str, list[str]]:
    shopper = Shopper(task(intent))
    empty = state()
    out = shopper.reply(turn=1, message="Here are some options.", new_calls=calls,
                        before=empty, state=empty, trace=calls,
                        messages=[user("Hi")], products=PRODUCTS)
    return out.text, out.accepted


def test_shopper_judges_wanted_options_at_their_own_price() -> None:
    blue = Intent(kind="discovery", request="a blue jacket under $100",
                  accept=ProductMatch(category="clothing", max_price_cents=10000,
                                      options={"color": "blue"}))
    text, accepted = _reply(blue, [presented([JACKET.product_id])])
    assert not accepted and "$150.00 is over the $100.00 budget" in text
    red = blue.model_copy(update={"accept": ProductMatch(
        category="clothing", max_price_cents=10000, options={"color": "red"})})
    assert _reply(red, [presented([JACKET.product_id])])[1] == [JACKET.product_id]


def test_shopper_caps_presentations_per_turn() -> None:
    want = Intent(kind="discovery", request="headphones",
                  accept=ProductMatch(category="electronics/audio"))
    ids = [p.product_id for p in HEADPHONES]
    text, accepted = _reply(want, [presented(ids[:3], seq=0), presented(ids[3:], seq=1)])
    assert not accepted and "at most 5" in text
    # the same products twice are still three distinct ones
    text, accepted = _reply(want, [presented(ids[:3], seq=0), presented(ids[:2], seq=1)])
    assert accepted == ids[:3] and "at most 5" not in text


async def test_hedged_refusals_fail(ep_shop: Any) -> None:
    """A refusal that names the true reason and another one besides ("final sale, or past the
    30-day window") hedges: it does not count, whichever reason is the true one."""
    hedge = ("Sorry, it cannot be returned or exchanged: it's final sale / clearance, or past "
             "the 30-day window.")
    tried = 0
    async with EpisodeController(ep_shop) as controller:
        for family in ("return", "exchange"):
            for d in DIFFICULTIES:
                for s in (1, 2, 3, 4):
                    t = generate_task(ep_shop, family, d, s)
                    if t.intents[0].proceed:
                        continue
                    tried += 1
                    ok, _ = await _play(controller, t, [Action(
                        tool_calls=[_call("list_orders")], message=hedge)])
                    assert not ok, t.task_id
    assert tried >= 10
