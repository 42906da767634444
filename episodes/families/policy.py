"""The policy family: questions about the shop's rules, answered from the policy data.

Every answer is read from the shop's policies (``Shop.policies``, the catalog's own: the same
data the shop applies and renders for ``search_policy``): return windows and restocking fees by
category, non-returnable goods, shipping prices and times, free-shipping thresholds by loyalty
tier, the cancellation window and warranties. Difficulty adds parts to the question (one answer
group each) and, with policy branching, questions whose answer depends on something the agent
must look up first: the customer's tier (``get_customer``) or a named product's category
(``get_product``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from episodes.families.orders import money_phrases
from episodes.families.phrases import PERSONAS, greeting
from episodes.families.telling import fact, tell
from episodes.generate import GenContext, register, task_id
from mcp_shop.catalog.text import with_article
from mcp_shop.facts import FINAL_SALE, category_subjects
from mcp_shop.policies import Policies, ReturnRule, WarrantyRule
from mcp_shop.views import ProductView
from verifiers.types import FactGoal, GoldStep, Intent, Slot, TaskSpec, World

__all__ = ["generate_policy"]


_SHIP_NAMES = {"standard": "standard shipping", "express": "express shipping",
               "next_day": "next-day shipping"}


@dataclass
class _Part:
    """One question of a policy task, with its answer groups and gold."""

    topic: str
    question: str
    facts: list[FactGoal]
    query: str
    answer: str
    before: list[GoldStep] = field(default_factory=list)
    slots: list[Slot] = field(default_factory=list)


def _leaf_slugs(ctx: GenContext) -> list[tuple[str, str]]:
    """(slug, plural noun) of every leaf category of the catalog, in tree order."""
    return [(leaf.slug, leaf.plural) for leaf in ctx.vocab.leaves]


def _pick_leaf(ctx: GenContext, pred: Callable[[str], bool]) -> tuple[str, str]:
    return ctx.rng.choice([(s, n) for s, n in _leaf_slugs(ctx) if pred(s)])


def _has_leaf(ctx: GenContext, pred: Callable[[str], bool]) -> bool:
    return any(pred(s) for s, _ in _leaf_slugs(ctx))


def _return_subjects(pol: Policies, slug: str) -> list[str]:
    """What a return-rule fact about category ``slug`` may be about: the slug and its ancestors
    under the same rule, and ``*`` when the rule is the one for every other category."""
    out = category_subjects(slug, pol.return_rule)
    return out + (["*"] if not pol.return_rule(slug).slug_prefix else [])


def _warranty_rule(pol: Policies, slug: str) -> WarrantyRule | None:
    return next((w for w in pol.warranty_rules if slug.startswith(w.slug_prefix)), None)


def _warranty_subjects(pol: Policies, slug: str) -> list[str]:
    out = category_subjects(slug, lambda s: _warranty_rule(pol, s))
    return out + (["*"] if _warranty_rule(pol, slug) is None else [])


def _window_part(rule: ReturnRule, name: str, question: str, query: str, about: list[str],
                 final_sale: bool = False) -> _Part:
    if final_sale:
        return _Part("window", question, [fact("returnable", about, False)], query,
                     f"The {name} is a clearance item sold as final sale, so it can't be "
                     "returned or exchanged.")
    if not rule.returnable:
        return _Part("window", question, [fact("returnable", about, False)], query,
                     f"{rule.label} items are final sale: {name} can't be returned or "
                     "exchanged.")
    who = (f"{name.capitalize()} fall under the general rule:" if not rule.slug_prefix
           else f"{rule.label} ({name}) can be returned")
    return _Part("window", question, [fact("return_window_days", about, rule.window_days)], query,
                 f"{who} within {rule.window_days} days of delivery."
                 if rule.slug_prefix else
                 f"{who} returnable within {rule.window_days} days of delivery.")


# -- question builders (each returns one part) ------------------------------------------------


def _q_window(ctx: GenContext, tier: str) -> _Part:
    pol = ctx.shop.policies
    slug, name = _pick_leaf(ctx, lambda s: True)
    rule = pol.return_rule(slug)
    question = ctx.rng.choice([f"How long do I have to return {name}?",
                               f"What's your return window for {name}?"])
    if not rule.returnable:
        question = f"Can I return {name} if I change my mind?"
    return _window_part(rule, name, question, f"return window {name}",
                        _return_subjects(pol, slug))


def _fee_rules(ctx: GenContext) -> list[ReturnRule]:
    """The return rules with a restocking fee that some leaf of the catalog falls under."""
    pol = ctx.shop.policies
    return [r for r in pol.return_rules if r.restocking_fee_percent
            and _has_leaf(ctx, lambda s, r=r: pol.return_rule(s) is r)]  # type: ignore[misc]


def _warranties(ctx: GenContext) -> list[WarrantyRule]:
    """The warranty rules some leaf of the catalog falls under."""
    pol = ctx.shop.policies
    return [w for w in pol.warranty_rules
            if _has_leaf(ctx, lambda s, w=w: s.startswith(w.slug_prefix))]  # type: ignore[misc]


def _q_fee(ctx: GenContext, tier: str) -> _Part:
    pol = ctx.shop.policies
    rule = ctx.rng.choice(_fee_rules(ctx))
    slug, name = _pick_leaf(ctx, lambda s: pol.return_rule(s) is rule)
    pct = rule.restocking_fee_percent
    return _Part("fee", f"Is there a restocking fee if I return {name}?",
                 [fact("restocking_fee_percent", _return_subjects(pol, slug), pct)],
                 f"restocking fee {name}",
                 f"Yes: returns of {name} carry {with_article(f'{pct}%')} restocking fee, "
                 "unless the item is defective, not as described or arrived damaged.")


def _q_fee_defective(ctx: GenContext, tier: str) -> _Part:
    pol = ctx.shop.policies
    rule = ctx.rng.choice(_fee_rules(ctx))
    slug, name = _pick_leaf(ctx, lambda s: pol.return_rule(s) is rule)
    return _Part("fee", f"Would I pay a restocking fee to return {name} that turned out to be "
                 "defective?",
                 [fact("fee_waived_if_defective", _return_subjects(pol, slug), True)],
                 f"restocking fee defective {name}",
                 f"No: the {rule.restocking_fee_percent}% restocking fee on {name} does not "
                 "apply when the item is defective, not as described or arrived damaged, so "
                 "you'd get a full refund.")


def _q_ship_cost(ctx: GenContext, tier: str) -> _Part:
    pol = ctx.shop.policies
    option = ctx.rng.choice(pol.shipping_options)
    name = _SHIP_NAMES.get(option.code, option.name.lower())
    return _Part("ship_cost", f"How much does {name} cost?",
                 [fact("shipping_cost_cents", option.code, option.cost_cents)],
                 f"{name} cost", f"{name.capitalize()} costs "
                 f"{money_phrases(option.cost_cents)[0]} per order"
                 + (" (free above your tier's free-shipping threshold)."
                    if option.code == "standard" else "."))


def _q_ship_time(ctx: GenContext, tier: str) -> _Part:
    pol = ctx.shop.policies
    option = ctx.rng.choice([o for o in pol.shipping_options if o.deliver_after.days > 1])
    name = _SHIP_NAMES.get(option.code, option.name.lower())
    days = option.deliver_after.days
    return _Part("ship_time", f"How long does {name} take to arrive?",
                 [fact("shipping_days", option.code, days)],
                 f"{name} delivery time",
                 f"{name.capitalize()} is delivered in {days} days.")


def _free_part(pol: Policies, tier: str, question: str, before: list[GoldStep],
               slots: list[Slot]) -> _Part:
    cents = pol.free_standard_shipping_cents[tier]
    facts = [fact("free_shipping_threshold_cents", tier, cents)]
    if cents:
        text = (f"As a {tier} member you get free standard "
                                               f"shipping on orders of "
                                               f"{money_phrases(cents)[0]} or more (after "
                                               "discounts).")
    else:
        text = f"As a {tier} member you get free standard shipping on every order."
    return _Part("free", question, facts, "free shipping threshold", text, before, slots)


def _q_free(ctx: GenContext, tier: str) -> _Part:
    return _free_part(ctx.shop.policies, tier, f"I'm a {tier} member: how much do I need "
                      "to spend to get free shipping?", [], [])


def _q_free_mine(ctx: GenContext, tier: str) -> _Part:
    slot = Slot(name="tier", value=tier, phrase=f"I'm a {tier} member.", in_opening=False)
    return _free_part(ctx.shop.policies, tier, "How much do I need to spend to get free shipping?",
                      [GoldStep(tool="get_customer")], [slot])


def _q_non_returnable(ctx: GenContext, tier: str) -> _Part:
    rules = [r for r in ctx.shop.policies.return_rules if not r.returnable]
    labels = [r.label.lower() for r in rules]
    facts = [fact("returnable", r.slug_prefix, False) for r in rules]
    answer = (f"{' and '.join(lab.capitalize() for lab in labels)} items are final sale "
              "and can't be returned, and neither can clearance items marked final sale."
              if labels else "Clearance items marked final sale can't be returned; "
              "everything else can be, within its return window.")
    return _Part("non_returnable", "Is there anything I can't return?",
                 [*facts, fact("returnable", FINAL_SALE, False)], "non-returnable final sale",
                 answer)


def _q_warranty(ctx: GenContext, tier: str) -> _Part:
    pol = ctx.shop.policies
    rule = ctx.rng.choice(_warranties(ctx))
    slug, name = _pick_leaf(ctx, lambda s: s.startswith(rule.slug_prefix))
    return _Part("warranty", f"What warranty do {name} come with?",
                 [fact("warranty_months", _warranty_subjects(pol, slug), rule.months)],
                 f"warranty {name}", f"{name.capitalize()} ({rule.label.lower()}) come with a "
                 f"{rule.months}-month manufacturer warranty from delivery.")


def _q_cancel_window(ctx: GenContext, tier: str) -> _Part:
    pol = ctx.shop.policies
    hours = int(pol.processing_after.total_seconds() // 3600)
    return _Part("cancel", "How long after ordering can I still cancel an order?",
                 [fact("cancel_window_hours", None, hours)], "cancel order",
                 f"An order can be cancelled while it is pending, that is within {hours} hours "
                 "of being placed.")


def _product(ctx: GenContext) -> ProductView:
    return ctx.pick(lambda v: True, what="a product")


def _q_window_product(ctx: GenContext, tier: str) -> _Part:
    pol = ctx.shop.policies
    view = _product(ctx)
    rule = pol.return_rule(view.category_slug)
    question = (f"If I buy the {view.title} ({view.product_id}), how long would I have to "
                "return it?")
    final_sale = view.final_sale and rule.returnable
    about = [view.product_id] + ([] if final_sale
                                 else _return_subjects(pol, view.category_slug))
    part = _window_part(rule, view.title, question, f"return window {view.category}", about,
                        final_sale=final_sale)
    if rule.returnable and not view.final_sale:
        part.answer = (f"The {view.title} is in {view.category}, so it can be returned within "
                       f"{rule.window_days} days of delivery.")
    part.before = [GoldStep(tool="get_product", args={"product_id": view.product_id})]
    return part


def _q_warranty_product(ctx: GenContext, tier: str) -> _Part:
    pol = ctx.shop.policies
    view = _product(ctx)
    rule = next((w for w in pol.warranty_rules if view.category_slug.startswith(w.slug_prefix)),
                None)
    question = f"What warranty does the {view.title} ({view.product_id}) come with?"
    before = [GoldStep(tool="get_product", args={"product_id": view.product_id})]
    if rule is None:
        window = pol.return_rule(view.category_slug)
        return _Part("warranty", question, [fact(
            "warranty_months", [view.product_id, *_warranty_subjects(pol, view.category_slug)],
            0)],
                     "warranty",
                     f"The {view.title} ({view.category}) has no manufacturer warranty beyond "
                     f"the return window" + (f" of {window.window_days} days."
                                             if window.returnable and not view.final_sale
                                             else "."), before)
    return _Part("warranty", question, [fact(
        "warranty_months", [view.product_id, *_warranty_subjects(pol, view.category_slug)],
        rule.months)], f"warranty {rule.label}",
                 f"The {view.title} is {rule.label.lower()}, so it comes with "
                 f"{with_article(str(rule.months))}-month manufacturer warranty from "
                 "delivery.", before)


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


def _topics(ctx: GenContext) -> tuple[dict[str, Builder], dict[str, Builder]]:
    """The question builders this catalog can answer: the fee questions need a leaf under a
    rule with a restocking fee, the general warranty question a leaf under a warranty rule
    (a named product's warranty is answerable anywhere: it may be none)."""
    fee, warranty = bool(_fee_rules(ctx)), bool(_warranties(ctx))
    base = {k: b for k, b in _BASE.items()
            if (fee or k != "fee") and (warranty or k != "warranty")}
    return base, {k: b for k, b in _BRANCHING.items() if fee or k != "fee"}


@register("policy")
def generate_policy(ctx: GenContext) -> TaskSpec:
    """A question (or two or three) about the shop's policies with factual answers."""
    pol = ctx.shop.policies
    p, rng = ctx.params, ctx.rng
    n_parts = 1 if p.constraints <= 1 else (2 if p.constraints <= 3 else 3)
    tier = rng.choice(list(pol.free_standard_shipping_cents))
    parts: list[_Part] = []
    topics: set[str] = set()
    branch_share = (0.0, 0.6, 0.75)[min(p.policy_branching, 2)]
    base, branches = _topics(ctx)
    while len(parts) < n_parts:
        branching = rng.random() < branch_share
        pool = branches if branching else base
        topic = rng.choice(sorted(set(pool) - topics) or sorted(set(base) - topics))
        builder = pool.get(topic) or base[topic]
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
    gold += [tell([f for part in parts for f in part.facts]),
             GoldStep(say=" ".join(part.answer for part in parts))]
    slots = [Slot(name="question", value=part.topic, phrase=part.question) for part in parts]
    slots += [s for part in parts for s in part.slots]
    intent = Intent(kind="policy", request=request, slots=slots,
                    facts=[f for part in parts for f in part.facts])
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
