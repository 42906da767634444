"""The policy family: questions about the shop's rules, answered from the policy data.

Every answer is read from ``DEFAULT_POLICIES`` (the same data the shop applies and renders for
``search_policy``): return windows and restocking fees by category, non-returnable goods,
shipping prices and times, free-shipping thresholds by loyalty tier, the cancellation window
and warranties. Difficulty adds parts to the question (one answer group each) and, with policy
branching, questions whose answer depends on something the agent must look up first: the
customer's tier (``get_customer``) or a named product's category (``get_product``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from episodes.families.orders import days_phrases, money_phrases, number_word
from episodes.families.phrases import PERSONAS, greeting
from episodes.generate import GenContext, register, task_id
from mcp_shop.catalog.taxonomy import leaves
from mcp_shop.policies import DEFAULT_POLICIES, ReturnRule
from mcp_shop.views import ProductView
from verifiers.types import GoldStep, Intent, Slot, TaskSpec, World

__all__ = ["NEGATIVE_GROUPS", "generate_policy"]

_P = DEFAULT_POLICIES

_FINAL_SALE = ["final sale", "final-sale", "non-returnable", "not returnable",
               "cannot be returned", "can't be returned", "can not be returned",
               "isn't returnable", "is not returnable", "aren't returnable",
               "are not returnable"]
_FEE_WAIVED = ["unless the item is defective", "no restocking fee", "no fee", "waived",
               "doesn't apply", "does not apply", "won't apply", "not apply", "not charged",
               "won't be charged", "no charge", "full refund"]
_NO_WARRANTY = ["no warranty", "no manufacturer warranty", "not covered by a warranty",
                "no extended warranty", "only the return window", "beyond the return window"]
_FREE_ALWAYS = ["every order", "all orders", "any order", "always free", "no minimum",
                "regardless of"]
_SYNONYMS = {"grocery": ["groceries", "food"]}

NEGATIVE_GROUPS: tuple[tuple[str, ...], ...] = (
    tuple(_FINAL_SALE), tuple(_FEE_WAIVED), tuple(_NO_WARRANTY), tuple(_FREE_ALWAYS),
)
"""Answer groups that state a rule in the negative (no fee, no warranty, not returnable)."""

_SHIP_NAMES = {"standard": "standard shipping", "express": "express shipping",
               "next_day": "next-day shipping"}


@dataclass
class _Part:
    """One question of a policy task, with its answer groups and gold."""

    topic: str
    question: str
    answers: list[list[str]]
    query: str
    answer: str
    before: list[GoldStep] = field(default_factory=list)
    slots: list[Slot] = field(default_factory=list)


def _leaf_slugs() -> list[tuple[str, str]]:
    """(slug, lower-case plural name) of every leaf category."""
    return [(f"{i.department.slug}/{i.group.slug}/{i.leaf.slug}", i.leaf.name.lower())
            for i in leaves()]


def _pick_leaf(ctx: GenContext, pred: Callable[[str], bool]) -> tuple[str, str]:
    return ctx.rng.choice([(s, n) for s, n in _leaf_slugs() if pred(s)])


def _months(n: int) -> list[str]:
    word = number_word(n)
    out = [f"{n} months", f"{n}-month", f"{n} month", f"{word} months", f"{word}-month"]
    if n % 12 == 0:
        years = n // 12
        out += ([f"{years} year", "one year", "a year", "1-year", "one-year"] if years == 1
                else [f"{years} years", f"{number_word(years)} years", f"{years}-year"])
    if n == 6:
        out.append("half a year")
    return out


def _hours(n: int) -> list[str]:
    word = number_word(n)
    return [f"{n} hours", f"{n}-hour", f"{n} hour", f"{word} hours", f"{word}-hour",
            f"{n} hrs"]


def _percent(n: int) -> list[str]:
    return [f"{n}%", f"{n} %", f"{n} percent", f"{n} per cent", f"{number_word(n)} percent"]


def _window_part(rule: ReturnRule, name: str, question: str, query: str,
                 final_sale: bool = False) -> _Part:
    if final_sale:
        return _Part("window", question, [[*_FINAL_SALE, "clearance"]], query,
                     f"The {name} is a clearance item sold as final sale, so it can't be "
                     "returned or exchanged.")
    if not rule.returnable:
        return _Part("window", question, [list(_FINAL_SALE)], query,
                     f"{rule.label} items are final sale: {name} can't be returned or "
                     "exchanged.")
    who = (f"{name.capitalize()} fall under the general rule:" if not rule.slug_prefix
           else f"{rule.label} ({name}) can be returned")
    return _Part("window", question, [days_phrases(rule.window_days)], query,
                 f"{who} within {rule.window_days} days of delivery."
                 if rule.slug_prefix else
                 f"{who} returnable within {rule.window_days} days of delivery.")


# -- question builders (each returns one part) ------------------------------------------------


def _q_window(ctx: GenContext, tier: str) -> _Part:
    slug, name = _pick_leaf(ctx, lambda s: True)
    rule = _P.return_rule(slug)
    question = ctx.rng.choice([f"How long do I have to return {name}?",
                               f"What's your return window for {name}?"])
    if not rule.returnable:
        question = f"Can I return {name} if I change my mind?"
    return _window_part(rule, name, question, f"return window {name}")


def _q_fee(ctx: GenContext, tier: str) -> _Part:
    rule = ctx.rng.choice([r for r in _P.return_rules if r.restocking_fee_percent])
    slug, name = _pick_leaf(ctx, lambda s: _P.return_rule(s) is rule)
    pct = rule.restocking_fee_percent
    return _Part("fee", f"Is there a restocking fee if I return {name}?", [_percent(pct)],
                 f"restocking fee {name}",
                 f"Yes: returns of {name} carry a {pct}% restocking fee, unless the item is "
                 "defective, not as described or arrived damaged.")


def _q_fee_defective(ctx: GenContext, tier: str) -> _Part:
    rule = ctx.rng.choice([r for r in _P.return_rules if r.restocking_fee_percent])
    slug, name = _pick_leaf(ctx, lambda s: _P.return_rule(s) is rule)
    return _Part("fee", f"Would I pay a restocking fee to return {name} that turned out to be "
                 "defective?", [list(_FEE_WAIVED)], f"restocking fee defective {name}",
                 f"No: the {rule.restocking_fee_percent}% restocking fee on {name} does not "
                 "apply when the item is defective, not as described or arrived damaged, so "
                 "you'd get a full refund.")


def _q_ship_cost(ctx: GenContext, tier: str) -> _Part:
    option = ctx.rng.choice(_P.shipping_options)
    name = _SHIP_NAMES.get(option.code, option.name.lower())
    return _Part("ship_cost", f"How much does {name} cost?", [money_phrases(option.cost_cents)],
                 f"{name} cost", f"{name.capitalize()} costs "
                 f"{money_phrases(option.cost_cents)[0]} per order"
                 + (" (free above your tier's free-shipping threshold)."
                    if option.code == "standard" else "."))


def _q_ship_time(ctx: GenContext, tier: str) -> _Part:
    option = ctx.rng.choice([o for o in _P.shipping_options if o.deliver_after.days > 1])
    name = _SHIP_NAMES.get(option.code, option.name.lower())
    days = option.deliver_after.days
    return _Part("ship_time", f"How long does {name} take to arrive?", [days_phrases(days)],
                 f"{name} delivery time",
                 f"{name.capitalize()} is delivered in {days} days.")


def _free_part(tier: str, question: str, before: list[GoldStep], slots: list[Slot]) -> _Part:
    cents = _P.free_standard_shipping_cents[tier]
    if cents:
        answers, text = money_phrases(cents), (f"As a {tier} member you get free standard "
                                               f"shipping on orders of "
                                               f"{money_phrases(cents)[0]} or more (after "
                                               "discounts).")
    else:
        answers, text = list(_FREE_ALWAYS), (f"As a {tier} member you get free standard "
                                             "shipping on every order.")
    return _Part("free", question, [answers], "free shipping threshold", text, before, slots)


def _q_free(ctx: GenContext, tier: str) -> _Part:
    return _free_part(tier, f"I'm a {tier} member: how much do I need to spend to get free "
                      "shipping?", [], [])


def _q_free_mine(ctx: GenContext, tier: str) -> _Part:
    slot = Slot(name="tier", value=tier, phrase=f"I'm a {tier} member.", in_opening=False)
    return _free_part(tier, "How much do I need to spend to get free shipping?",
                      [GoldStep(tool="get_customer")], [slot])


def _q_non_returnable(ctx: GenContext, tier: str) -> _Part:
    labels = [r.label.lower() for r in _P.return_rules if not r.returnable]
    group = [x for lab in labels for x in [lab, *_SYNONYMS.get(lab, [])]]
    return _Part("non_returnable", "Is there anything I can't return?",
                 [group, ["final sale", "clearance"]], "non-returnable final sale",
                 f"{' and '.join(lab.capitalize() for lab in labels)} items are final sale "
                 "and can't be returned, and neither can clearance items marked final sale.")


def _q_warranty(ctx: GenContext, tier: str) -> _Part:
    rule = ctx.rng.choice(_P.warranty_rules)
    slug, name = _pick_leaf(ctx, lambda s: s.startswith(rule.slug_prefix))
    return _Part("warranty", f"What warranty do {name} come with?", [_months(rule.months)],
                 f"warranty {name}", f"{name.capitalize()} ({rule.label.lower()}) come with a "
                 f"{rule.months}-month manufacturer warranty from delivery.")


def _q_cancel_window(ctx: GenContext, tier: str) -> _Part:
    hours = int(_P.processing_after.total_seconds() // 3600)
    return _Part("cancel", "How long after ordering can I still cancel an order?",
                 [_hours(hours)], "cancel order",
                 f"An order can be cancelled while it is pending, that is within {hours} hours "
                 "of being placed.")


def _product(ctx: GenContext) -> ProductView:
    return ctx.pick(lambda v: True, what="a product")


def _q_window_product(ctx: GenContext, tier: str) -> _Part:
    view = _product(ctx)
    rule = _P.return_rule(view.category_slug)
    question = (f"If I buy the {view.title} ({view.product_id}), how long would I have to "
                "return it?")
    part = _window_part(rule, view.title, question, f"return window {view.category}",
                        final_sale=view.final_sale and rule.returnable)
    if rule.returnable and not view.final_sale:
        part.answer = (f"The {view.title} is in {view.category}, so it can be returned within "
                       f"{rule.window_days} days of delivery.")
    part.before = [GoldStep(tool="get_product", args={"product_id": view.product_id})]
    return part


def _q_warranty_product(ctx: GenContext, tier: str) -> _Part:
    view = _product(ctx)
    rule = next((w for w in _P.warranty_rules if view.category_slug.startswith(w.slug_prefix)),
                None)
    question = f"What warranty does the {view.title} ({view.product_id}) come with?"
    before = [GoldStep(tool="get_product", args={"product_id": view.product_id})]
    if rule is None:
        window = _P.return_rule(view.category_slug)
        return _Part("warranty", question, [list(_NO_WARRANTY)], "warranty",
                     f"The {view.title} ({view.category}) has no manufacturer warranty beyond "
                     f"the return window" + (f" of {window.window_days} days."
                                             if window.returnable and not view.final_sale
                                             else "."), before)
    return _Part("warranty", question, [_months(rule.months)], f"warranty {rule.label}",
                 f"The {view.title} is {rule.label.lower()}, so it comes with a {rule.months}-"
                 "month manufacturer warranty from delivery.", before)


def _lower_first(text: str) -> str:
    keep = text.startswith(("I ", "I'"))
    return text if keep else text[:1].lower() + text[1:]


Builder = Callable[[GenContext, str], _Part]
_BASE: dict[str, Builder] = {
    "window": _q_window, "fee": _q_fee, "ship_cost": _q_ship_cost, "ship_time": _q_ship_time,
    "free": _q_free, "non_returnable": _q_non_returnable, "warranty": _q_warranty,
    "cancel": _q_cancel_window,
}
_BRANCHING: dict[str, Builder] = {
    "free": _q_free_mine, "window": _q_window_product, "fee": _q_fee_defective,
    "warranty": _q_warranty_product,
}


@register("policy")
def generate_policy(ctx: GenContext) -> TaskSpec:
    """A question (or two or three) about the shop's policies with factual answers."""
    p, rng = ctx.params, ctx.rng
    n_parts = 1 if p.constraints <= 1 else (2 if p.constraints <= 3 else 3)
    tier = rng.choice(list(_P.free_standard_shipping_cents))
    parts: list[_Part] = []
    topics: set[str] = set()
    branch_share = (0.0, 0.6, 0.75)[min(p.policy_branching, 2)]
    while len(parts) < n_parts:
        branching = rng.random() < branch_share
        pool = _BRANCHING if branching else _BASE
        topic = rng.choice(sorted(set(pool) - topics) or sorted(set(_BASE) - topics))
        builder = pool.get(topic) or _BASE[topic]
        parts.append(builder(ctx, tier))
        topics.add(topic)
        branch_share = min(branch_share, 0.5)
    persona = rng.choice(PERSONAS)
    questions = [q.question for q in parts]
    links = ["Also,", "And"]
    request = " ".join([questions[0], *(f"{links[i % 2]} {_lower_first(q)}"
                                        for i, q in enumerate(questions[1:]))])
    gold: list[GoldStep] = []
    for part in parts:
        gold += part.before
        gold.append(GoldStep(tool="search_policy", args={"query": part.query}))
    gold.append(GoldStep(say=" ".join(part.answer for part in parts)))
    slots = [Slot(name="question", value=part.topic, phrase=part.question) for part in parts]
    slots += [s for part in parts for s in part.slots]
    intent = Intent(kind="policy", request=request, slots=slots,
                    answers=[g for part in parts for g in part.answers])
    family: Any = ctx.family
    return TaskSpec(
        task_id=task_id(ctx.family, ctx.difficulty, ctx.seed), family=family,
        difficulty=ctx.difficulty, seed=ctx.seed, catalog=ctx.catalog, params=ctx.params,
        world=World(session_seed=ctx.session_seed(), tier=tier,  # type: ignore[arg-type]
                    history_orders=p.history_depth),
        intents=[intent], persona=persona, opening=f"{greeting(persona, rng)} {request}",
        gold=gold, limits=ctx.limits(),
        description="Answer: " + " ".join(part.question for part in parts),
    )
