"""The order and policy families: tasks validate, are deterministic, describe worlds that really
hold their target orders in the intended state, carry true facts to tell, and their gold solutions
replay through the shop (Python API and MCP)."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest
from mcp import Client

from episodes.difficulty import difficulty_params
from episodes.families import orders as fam_orders
from episodes.families import policy as fam_policy
from episodes.families.vocabulary import generated_leaves
from episodes.generate import GenContext
from mcp_shop import Shop
from mcp_shop.catalog_views import search_policies
from mcp_shop.policies import DEFAULT_POLICIES
from mcp_shop.server import build_server
from verifiers.types import TaskSpec, World

FAMILIES = {
    "return": fam_orders.generate_return,
    "exchange": fam_orders.generate_exchange,
    "order_status": fam_orders.generate_order_status,
    "cancel": fam_orders.generate_cancel,
    "policy": fam_policy.generate_policy,
}
ORDER_FAMILIES = ("return", "exchange", "order_status", "cancel")
DIFFICULTIES = range(11)
SEEDS = (0, 1, 2)
CONSEQUENTIAL = {"cancel_order": "cancel", "request_return": "return",
                 "request_exchange": "exchange", "checkout": "checkout"}
_CACHE: dict[tuple[str, int, int], TaskSpec] = {}


def _ctx(shop: Shop, family: str, difficulty: int, seed: int) -> GenContext:
    """The context ``generate_task`` builds, without importing every family."""
    return GenContext(shop=shop, family=family, difficulty=difficulty, seed=seed,
                      params=difficulty_params(difficulty),
                      rng=random.Random(f"task:{family}:{difficulty}:{seed}"))


def _task(shop: Shop, family: str, difficulty: int, seed: int) -> TaskSpec:
    key = (family, difficulty, seed)
    if key not in _CACHE:
        _CACHE[key] = FAMILIES[family](_ctx(shop, family, difficulty, seed))
    return _CACHE[key]


def _all(shop: Shop, families: tuple[str, ...] = tuple(FAMILIES)) -> list[TaskSpec]:
    return [_task(shop, f, d, s) for f in families for d in DIFFICULTIES for s in SEEDS]


def apply_world(shop: Shop, world: World) -> tuple[str, list[str]]:
    """Open a session set up as ``world`` says; returns it and the past orders' ids."""
    sid = shop.open_session(seed=world.session_seed, tier=world.tier,
                            history_orders=world.history_orders).session_id
    for variant, stock in world.stock.items():
        shop.set_stock(sid, variant, stock)
    for variant, cents in world.prices.items():
        shop.set_price(sid, variant, cents)
    for code in world.codes:
        shop.add_discount_code(sid, code["code"], **{k: v for k, v in code.items()
                                                      if k != "code"})
    ids = [shop.add_past_order(sid, past["lines"], days_ago=past["days_ago"],
                               shipping_option=past["shipping_option"])
           for past in world.past_orders]
    for variant, qty in world.cart.items():
        shop.add_to_cart(sid, variant, qty)
    if world.advance_hours:
        shop.advance_clock(sid, hours=world.advance_hours)
    return sid, ids


def call_tool(shop: Shop, sid: str, tool: str, args: dict[str, Any]) -> Any:
    """Run one gold tool step through the shop's Python API."""
    a = dict(args)
    if tool == "list_orders":
        return shop.list_orders(sid)
    if tool == "get_order":
        return shop.get_order(sid, a["order_id"])
    if tool == "check_return_eligibility":
        return shop.check_return_eligibility(sid, a["order_id"])
    if tool == "request_return":
        return shop.request_return(sid, a["order_id"],
                                   [(i["variant_id"], i["quantity"]) for i in a["items"]],
                                   reason=a["reason"], refund_to=a.get("refund_to", "original"))
    if tool == "request_exchange":
        return shop.request_exchange(sid, a["order_id"], a["variant_id"], a["new_variant_id"],
                                     quantity=a.get("quantity", 1), reason=a["reason"])
    if tool == "cancel_order":
        return shop.cancel_order(sid, a["order_id"], a["reason"])
    if tool == "get_product":
        return shop.get_product(sid, a["product_id"])
    if tool == "get_customer":
        return shop.get_customer(sid)
    if tool == "search_policy":
        return search_policies(shop.policies_text(), a["query"])
    if tool == "state_facts":
        return shop.state_facts(sid, a["facts"])
    raise AssertionError(f"gold uses a tool this test does not know: {tool}")


def _says(task: TaskSpec) -> str:
    return " ".join(g.say for g in task.gold if g.say)


def _told(task: TaskSpec) -> list[tuple[str, str | None, Any]]:
    """(fact, about, value) of every fact the gold states."""
    return [(f["fact"], f.get("about"), f["value"]) for g in task.gold
            if g.tool == "state_facts" for f in g.args["facts"]]


def _answered(task: TaskSpec) -> bool:
    """The gold states exactly the intent's facts, about one of their subjects."""
    told = _told(task)
    goals = task.intents[0].facts
    return len(told) == len(goals) and all(
        (g.fact, g.value) == (t[0], t[2]) and (t[1] in g.about if g.about else t[1] is None)
        for g, t in zip(goals, told, strict=True))


# -- shape, determinism ------------------------------------------------------------------------


@pytest.mark.parametrize("family", list(FAMILIES))
def test_tasks_validate_round_trip_and_are_deterministic(ep_shop: Shop, family: str) -> None:
    for d in DIFFICULTIES:
        for s in SEEDS:
            task = _task(ep_shop, family, d, s)
            assert task.family == family and task.difficulty == d and task.seed == s
            assert task.task_id == f"{family}-d{d}-s{s:07d}"
            assert TaskSpec.model_validate_json(task.model_dump_json()) == task
            again = FAMILIES[family](_ctx(ep_shop, family, d, s))
            assert again.model_dump_json() == task.model_dump_json(), (family, d, s)
            assert task.description and task.opening and task.gold
            assert task.gold[-1].say, "the gold ends by telling the shopper"
            intent = task.intents[0]
            assert intent.kind == family
            assert task.world.history_orders == task.params.history_depth
            for slot in intent.slots:
                if slot.in_opening and slot.name in ("order",):
                    assert str(slot.value) in task.opening


def test_difficulty_shows_in_the_tasks(ep_shop: Shop) -> None:
    returns = _all(ep_shop, ("return",))
    refused = [t for t in returns if not t.intents[0].proceed]
    assert refused and all(t.params.policy_branching >= 1 for t in refused)
    assert any(len(t.world.past_orders[0]["lines"]) > 1 or len(t.world.past_orders) > 1
               for t in returns)
    hidden = [t for t in returns if any(not s.in_opening for s in t.intents[0].slots)]
    assert hidden and all(t.difficulty > 0 for t in hidden)
    cancels = _all(ep_shop, ("cancel",))
    assert {t.intents[0].proceed for t in cancels} == {True, False}
    statuses = {t.intents[0].facts[0].value for t in _all(ep_shop, ("order_status",))}
    assert statuses == {"pending", "processing", "shipped", "delivered"}
    parts = [len({s.value for s in t.intents[0].slots if s.name == "question"})
             for t in _all(ep_shop, ("policy",))]
    assert min(parts) == 1 and max(parts) >= 3


# -- the world holds what the intent says -------------------------------------------------------


@pytest.mark.parametrize("family", ORDER_FAMILIES)
def test_target_orders_exist_in_the_intended_state(ep_shop: Shop, family: str) -> None:
    for task in _all(ep_shop, (family,)):
        intent = task.intents[0]
        sid, ids = apply_world(ep_shop, task.world)
        first = 1001 + task.world.history_orders
        assert ids == [f"O-{first + i}" for i in range(len(task.world.past_orders))]
        assert intent.order_id in ids, task.task_id
        order = ep_shop.get_order(sid, intent.order_id)
        if family in ("return", "exchange"):
            assert order.status == "delivered"
            elig = {e.variant_id: e for e in ep_shop.check_return_eligibility(
                sid, intent.order_id)}
            for variant, qty in intent.lines:
                line = next(ln for ln in order.lines if ln.variant_id == variant)
                assert qty <= line.quantity
                assert elig[variant].eligible == intent.proceed, (task.task_id,
                                                                   elig[variant].reason)
            if family == "exchange" and intent.proceed:
                product = ep_shop.get_product(sid, _product_of(order, intent))
                fits = [v for v in product.variants
                        if all(v.options.get(k) == x for k, x in intent.new_options.items())
                        and v.variant_id != intent.lines[0][0]]
                assert fits and any(v.stock >= intent.lines[0][1] for v in fits), task.task_id
        elif family == "cancel":
            if intent.proceed:
                assert order.status == "pending", task.task_id
            else:
                assert order.status in ("processing", "shipped"), task.task_id
        else:
            assert intent.facts[0].fact == "order_status", task.task_id
            assert order.status == intent.facts[0].value, task.task_id


def _product_of(order: Any, intent: Any) -> str:
    return next(ln.product_id for ln in order.lines if ln.variant_id == intent.lines[0][0])


def test_refusals_name_the_rule_that_applies(ep_shop: Shop) -> None:
    for task in _all(ep_shop, ("return", "exchange")):
        intent = task.intents[0]
        if intent.proceed:
            assert not intent.facts
            continue
        sid, _ = apply_world(ep_shop, task.world)
        order = ep_shop.get_order(sid, intent.order_id or "")
        line = next(ln for ln in order.lines if ln.variant_id == intent.lines[0][0])
        rule = DEFAULT_POLICIES.return_rule(
            ep_shop.get_product(sid, line.product_id).category_slug)
        elig = next(e for e in ep_shop.check_return_eligibility(sid, order.order_id)
                    if e.variant_id == line.variant_id)
        (goal,) = intent.facts
        assert (goal.fact, goal.about) == (f"cannot_{task.family}", [order.order_id])
        if "window" in elig.reason:
            assert goal.value == "window_closed" and f"{rule.window_days} days" in _says(task)
        else:
            assert "final sale" in elig.reason and goal.value == "final_sale"
        assert _answered(task), task.task_id


def test_status_answers_are_true(ep_shop: Shop) -> None:
    for task in _all(ep_shop, ("order_status", "cancel")):
        intent = task.intents[0]
        if not intent.facts:
            continue
        sid, _ = apply_world(ep_shop, task.world)
        order = ep_shop.get_order(sid, intent.order_id or "")
        parcel = order.shipments[0]
        values = {g.fact: g.value for g in intent.facts}
        assert all(g.about == [order.order_id] for g in intent.facts)
        if task.family == "order_status":
            assert values["order_status"] == order.status
            if order.status == "shipped":
                assert values["tracking_number"] == parcel.tracking_number
            if order.status == "delivered":
                assert values["delivered_on"] == f"{parcel.delivered_at:%Y-%m-%d}"
            elif "expected_delivery" in values:
                assert values["expected_delivery"] == f"{order.expected_delivery:%Y-%m-%d}"
        else:
            assert values == {"cannot_cancel": f"already_{order.status}"}
        assert _answered(task), task.task_id


def test_policy_answers_come_from_the_policies(ep_shop: Shop) -> None:
    text = " ".join(s.text for s in ep_shop.policies_text()).lower()
    for task in _all(ep_shop, ("policy",)):
        intent = task.intents[0]
        assert task.world.tier is not None
        assert _answered(task), task.task_id
        found = [(f.fact, f.value) for g in task.gold if g.tool == "search_policy"
                 for m in search_policies(ep_shop.policies_text(), g.args["query"]).matches
                 for f in m.facts]
        for goal in intent.facts:
            # the gold's own searches show the fact, and the policy text says it
            assert (goal.fact, goal.value) in found, (task.task_id, goal)
            if isinstance(goal.value, int) and not isinstance(goal.value, bool) and goal.value:
                shown = (f"${goal.value / 100:,.2f}" if goal.fact.endswith("_cents")
                         else str(goal.value))
                assert shown.lower() in text, (task.task_id, goal)


def test_policy_answers_follow_tier_and_product(ep_shop: Shop) -> None:
    for d in DIFFICULTIES:
        for s in range(6):
            ctx = _ctx(ep_shop, "policy", d, s)
            tier = ctx.rng.choice(["standard", "silver", "gold"])
            free = fam_policy._q_free_mine(ctx, tier)
            cents = DEFAULT_POLICIES.free_standard_shipping_cents[tier]
            assert [(f.fact, f.about, f.value) for f in free.facts] == [
                ("free_shipping_threshold_cents", [tier], cents)]
            part = fam_policy._q_window_product(ctx, tier)
            pid = part.before[0].args["product_id"]
            view = ctx.product(pid)
            rule = DEFAULT_POLICIES.return_rule(view.category_slug)
            (goal,) = part.facts
            assert goal.about[0] == pid
            if rule.returnable and not view.final_sale:
                assert (goal.fact, goal.value) == ("return_window_days", rule.window_days)
                assert view.category_slug in goal.about
            else:
                assert (goal.fact, goal.value) == ("returnable", False)
            part = fam_policy._q_warranty_product(ctx, tier)
            view = ctx.product(part.before[0].args["product_id"])
            months = [w.months for w in DEFAULT_POLICIES.warranty_rules
                      if view.category_slug.startswith(w.slug_prefix)]
            (goal,) = part.facts
            assert (goal.fact, goal.value) == ("warranty_months", months[0] if months else 0)


# -- the gold solution -------------------------------------------------------------------------


def test_gold_confirms_before_consequential_calls(ep_shop: Shop) -> None:
    for task in _all(ep_shop):
        intent = task.intents[0]
        last_say = None
        kinds = []
        for step in task.gold:
            if step.say is not None:
                last_say = step.say
            elif step.tool in CONSEQUENTIAL:
                kinds.append(CONSEQUENTIAL[step.tool])
                assert last_say is not None and last_say.startswith("Shall I"), task.task_id
                assert step.args["order_id"] in last_say
                assert step.args["order_id"] == intent.order_id
        if intent.kind in ("return", "exchange", "cancel"):
            assert kinds == ([intent.kind] if intent.proceed else []), task.task_id
        else:
            assert not kinds
        for step in task.gold:
            if step.say is not None and step.say.startswith("Shall I"):
                assert intent.proceed


def test_only_confirmations_sound_like_confirmations(ep_shop: Shop) -> None:
    """Refusals, answers and reports must not read as a request for the shopper's yes."""
    asks = re.compile(r"\b(shall|should|may|can) i\b|would you like me to|do you want me to|"
                      r"\bok(ay)? to\b|\bconfirm\b|go ahead|proceed", re.I)
    for task in _all(ep_shop):
        for step in task.gold:
            if step.say is not None and not step.say.startswith("Shall I"):
                assert not asks.search(step.say), (task.task_id, step.say)


def test_gold_replays_through_the_python_api(ep_shop: Shop) -> None:
    for task in _all(ep_shop):
        intent = task.intents[0]
        sid, _ = apply_world(ep_shop, task.world)
        results = [call_tool(ep_shop, sid, g.tool, g.args) for g in task.gold if g.tool]
        assert results
        after = ep_shop.get_order(sid, intent.order_id) if intent.order_id else None
        if task.family == "return" and intent.proceed:
            assert after is not None and len(after.returns) == 1
            got = [(x["variant_id"], x["quantity"]) for x in after.returns[0].lines]
            assert sorted(got) == sorted(intent.lines)
            assert after.returns[0].reason == intent.reason
            done = task.gold[-1].say or ""
            assert after.returns[0].return_id in done
            assert fam_orders.money_phrases(after.returns[0].refund_cents)[0] in done
        if task.family == "exchange" and intent.proceed:
            assert after is not None and len(after.exchanges) == 1
            x = after.exchanges[0]
            assert (x.from_variant_id, x.quantity) == intent.lines[0]
            new = ep_shop.get_product(sid, _product_of(after, intent))
            to = next(v for v in new.variants if v.variant_id == x.to_variant_id)
            assert all(to.options[k] == v for k, v in intent.new_options.items())
            assert x.exchange_id in (task.gold[-1].say or "")
        if task.family == "cancel":
            assert after is not None
            assert (after.status == "cancelled") == intent.proceed
            if intent.proceed:
                assert after.cancel_reason == intent.reason
                refunded = sum(p.amount_cents for p in after.payments if p.kind == "refund")
                assert refunded == after.total_cents
                assert fam_orders.money_phrases(refunded)[0] in (task.gold[-1].say or "")
        if task.family in ("return", "exchange") and not intent.proceed:
            assert after is not None and not after.returns and not after.exchanges


async def test_gold_tools_and_arguments_exist_over_mcp(ep_shop: Shop) -> None:
    server = build_server(ep_shop)
    async with Client(server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        for task in _all(ep_shop):
            for step in task.gold:
                if step.tool is None:
                    continue
                assert step.tool in tools, step.tool
                schema = tools[step.tool].input_schema
                assert set(step.args) <= set(schema["properties"]), (step.tool, step.args)
                missing = set(schema.get("required", [])) - set(step.args) - {"session_id"}
                assert not missing, (step.tool, missing)
        # a full replay over MCP at a few difficulties: the arguments pass the tool schemas
        for family in FAMILIES:
            for d in (0, 5, 10):
                task = _task(ep_shop, family, d, 0)
                sid, _ = apply_world(ep_shop, task.world)
                for step in task.gold:
                    if step.tool is None:
                        continue
                    result = await client.call_tool(step.tool, {**step.args, "session_id": sid})
                    assert not result.is_error, (task.task_id, step.tool,
                                                 str(result.content))


def test_preview_leaves_nothing_behind(ep_shop: Shop) -> None:
    from sqlalchemy import text

    task = _task(ep_shop, "return", 4, 0)
    with ep_shop.engine.connect() as conn:
        before = conn.execute(text("SELECT COUNT(*) FROM shop_session")).scalar_one()
    built = fam_orders.preview_world(ep_shop, task.world, [task.intents[0].order_id or ""])
    assert task.intents[0].order_id in built.orders
    with ep_shop.engine.connect() as conn:
        after = conn.execute(text("SELECT COUNT(*) FROM shop_session")).scalar_one()
    assert after == before


def test_wording_helpers() -> None:
    assert fam_orders.number_word(24) == "twenty-four"
    assert fam_orders.number_word(15) == "fifteen"
    assert "15-day" in fam_orders.days_phrases(15)
    assert fam_orders.money_phrases(5000)[:3] == ["$50.00", "50.00", "$50"]
    assert fam_orders.ago_phrase(14) == "about two weeks ago"
    assert fam_orders.ago_phrase(0.02) == "a few minutes ago"
    from datetime import datetime

    assert "March 3rd" in fam_orders.date_phrases(datetime(2026, 3, 3))
    knives = next(x for x in generated_leaves() if x.slug == "home/kitchen/knives")
    assert fam_orders.item_noun("Nookery Levni Dew 200 Kitchen Knife", knives) == "kitchen knife"
