"""Generators of the product-finding families: discovery (find a product meeting the shopper's
constraints and present it) and price_compare (something like a named product, but cheaper).

Each picks its gold product first, derives the shopper's criteria from it (so the task is
solvable by construction), plants near-miss distractors and stock-outs in the world without
touching the gold, and checks at the end, with the verifiers' own matcher
(``episodes.families.matching``), that the gold still matches what the shopper accepts under
the world's price and stock overrides.

The helpers the other product and cart generators share live in ``planning`` and ``matching``;
the names this module exported before the split are still importable from it.
"""

from __future__ import annotations

import math
from typing import Any

from episodes.families.bundle import bundle
from episodes.families.matching import (
    closeness,
    eff_price,
    eff_stock,
    has_options,
    matches,
    shown_price,
    stocked,
)
from episodes.families.phrases import (
    PERSONAS,
    join_words,
    leaf_noun,
    money,
    option_phrase,
    request_sentence,
)
from episodes.families.planning import (
    Feature,
    Retry,
    WorldPlan,
    assemble,
    candidates,
    features_of,
    fit_text,
    gold_call,
    gold_say,
    nice_budget,
    omit_slots,
    option_dims,
    other_option_value,
    pick_in_leaf,
    rating_floor,
    require,
    retrying,
    search_args,
    shared_feature,
    shares,
    similar_views,
    volatility_events,
)
from episodes.families.substitution import substitution
from episodes.generate import GenContext, register
from mcp_shop.views import ProductView
from verifiers.types import GoldStep, Intent, MindChange, ProductMatch, Slot, TaskSpec, World

__all__ = [
    "Feature",
    "Retry",
    "WorldPlan",
    "assemble",
    "bundle",
    "candidates",
    "discovery",
    "eff_price",
    "eff_stock",
    "features_of",
    "matches",
    "nice_budget",
    "omit_slots",
    "price_compare",
    "require",
    "retrying",
    "shown_price",
    "substitution",
    "volatility_events",
]

# -- discovery --------------------------------------------------------------------------------


@register("discovery")
def discovery(ctx: GenContext) -> TaskSpec:
    """Find a product meeting the shopper's constraints and present it."""
    return retrying(ctx, _discovery)


def _discovery(ctx: GenContext) -> TaskSpec:
    p, rng = ctx.params, ctx.rng
    target = pick_in_leaf(ctx, lambda v: True, "an in-stock product")
    slug = target.category_slug
    world = World(session_seed=ctx.session_seed())
    plan = WorldPlan(world)
    plan.protect(target)
    in_stock = stocked(target, world)
    require(bool(in_stock), "target out of stock")

    # the gold variant: one with a colour or size when the option constraint is drawn
    leaf = ctx.vocab.leaf(slug)
    roles = option_dims(ctx, slug)
    option_variants = [v for v in in_stock if any(d in v.options for d in roles)]
    features = features_of(ctx, target)
    rng.shuffle(features)
    kinds: dict[str, float] = {"budget": 3.0, "brand": 1.5}
    if features:
        kinds["feature"] = 2.0
    if option_variants:
        kinds["option"] = 2.0
    if target.rating >= 3.5:
        kinds["rating"] = 1.0
    chosen: list[str] = []
    pool = dict(kinds)
    for _ in range(p.constraints - 1):
        if not pool:
            if "feature" in chosen and chosen.count("feature") < len(features):
                chosen.append("feature")
            continue
        names = sorted(pool)
        pick = rng.choices(names, [pool[n] for n in names])[0]
        chosen.append(pick)
        del pool[pick]

    gold_variant = rng.choice(option_variants if "option" in chosen else in_stock)
    price = max(shown_price(target, world) or 0, eff_price(gold_variant, world))
    noun = leaf_noun(leaf)
    final = ProductMatch(category=slug)
    slots: list[Slot] = [Slot(name="category", value=slug, phrase=noun)]
    used_features: list[Feature] = []
    option_dim: str | None = None
    budget: int | None = None
    for kind in chosen:
        if kind == "budget":
            budget = nice_budget(price, p.budget_tightness, rng)
            final.max_price_cents = budget
            slots.append(Slot(name="budget", value=budget, phrase=f"under {money(budget)}"))
        elif kind == "brand":
            final.brand = target.brand
            slots.append(Slot(name="brand", value=target.brand, phrase=f"from {target.brand}"))
        elif kind == "feature":
            feat = features[len(used_features)]
            used_features.append(feat)
            feat.apply(final)
            slots.append(Slot(name="feature", value={feat.name: feat.value},
                              phrase=feat.phrase(leaf)))
        elif kind == "option":
            dims = [d for d in roles if d in gold_variant.options]
            option_dim = rng.choice(dims)
            value = gold_variant.options[option_dim]
            final.options[option_dim] = value
            slots.append(Slot(name=roles[option_dim], value=value,
                              phrase=option_phrase(option_dim, value, roles[option_dim])))
        elif kind == "rating":
            final.min_rating = rating_floor(target.rating)
            slots.append(Slot(name="rating", value=final.min_rating,
                              phrase=f"rated at least {final.min_rating:g} stars"))
    omit_slots(slots, p.omitted_share, rng)

    # a change of mind: the opening states the pre-change criteria, the gold meets the final
    initial = final.model_copy(deep=True)
    change: MindChange | None = None
    if p.changes_of_mind > 0:
        change = _discovery_change(ctx, target, final, initial, slots, features, used_features,
                                   option_dim)

    # distractors: near misses in the same leaf; then stock-outs and flash sales
    pool_views = [v for v in candidates(ctx, slug, exclude=[target.product_id])
                  if plan.free(v)]
    rng.shuffle(pool_views)
    near = sorted(pool_views, key=lambda v: -closeness(v, final, world))
    for view in near[:p.distractors]:
        if final.max_price_cents is not None and rng.random() < 0.5:
            plan.over_budget(view, final.max_price_cents, rng)
        elif final.options:
            dim, value = next(iter(final.options.items()))
            hit = [v for v in view.variants if has_options(v, {dim: value})]
            for v in hit or view.variants:
                plan.set_stock(v, 0)
        else:
            plan.sold_out(view)
    rest = [v for v in pool_views if plan.free(v)]
    plan.stock_outs(rest, p.out_of_stock_rate, rng)
    events = volatility_events(plan, pool_views, p.stock_volatility, rng)
    require(matches(target, final, world), "target does not match the final criteria")
    require(matches(target, final, world, gold_variant), "gold variant does not match")

    intent = Intent(kind="discovery", request=request_sentence(slots[0], slots), slots=slots,
                    accept=initial, change=change)
    gold: list[GoldStep] = []
    if change is not None:
        gold.append(gold_say("Got it, let me look for that."))
    gold += [
        gold_call("search_products", **search_args(final)),
        gold_call("get_product", product_id=target.product_id),
        gold_call("present_products", product_ids=[target.product_id],
              message=f"The {target.title} matches what you asked for."),
        gold_say(f"I found the {target.title} at {money(eff_price(gold_variant, world))} — "
             f"it is {fit_text(target, final, leaf)}."),
    ]
    persona = rng.choice(PERSONAS)
    desc = f"Find {noun} matching {len(chosen) + 1} constraint(s) and present one"
    if change is not None:
        desc += f"; the shopper changes the {change.slot} at reply 1"
    return assemble(ctx, intent=intent, world=world, gold=gold, persona=persona,
                    description=desc + ".", scenario=events)


def _discovery_change(ctx: GenContext, target: ProductView, final: ProductMatch,
                      initial: ProductMatch, slots: list[Slot], features: list[Feature],
                      used: list[Feature], option_dim: str | None) -> MindChange | None:
    """Make ``initial`` differ from ``final`` in one slot and return the change to ``final``."""
    rng, slug = ctx.rng, target.category_slug
    leaf = ctx.vocab.leaf(slug)
    kinds: list[str] = []
    if option_dim is not None:
        kinds.append("option")
    if final.max_price_cents is not None:
        kinds.append("budget")
    spare = [f for f in features if f not in used]
    if spare:
        kinds.append("feature")
    if final.brand is None:
        kinds.append("brand")
    require(bool(kinds), "no slot to change")
    kind = rng.choice(kinds)
    if kind == "option":
        assert option_dim is not None
        role = option_dims(ctx, slug)[option_dim]
        value = final.options[option_dim]
        other = other_option_value(ctx, slug, option_dim, value)
        if other is None:
            return None
        initial.options[option_dim] = other
        _restate(slots, role, other, option_phrase(option_dim, other, role))
        said = option_phrase(option_dim, value, role)
        say = (f"Actually, I'd rather have it {said}." if role == "color"
               else f"Actually, make that {said}.")
        return MindChange(at_turn=1, slot=role, say=say, new_value=value,
                          accept=final.model_copy(deep=True))
    if kind == "budget":
        assert final.max_price_cents is not None
        new = final.max_price_cents
        if rng.random() < 0.5:
            old = max(100, (int(new * 0.7) // 500) * 500)
            say = f"Actually, I can spend a bit more: anything under {money(new)} is fine."
        else:
            old = int(math.ceil(new * 1.4 / 1000) * 1000)
            say = f"Actually, I'd like to keep it under {money(new)}."
        initial.max_price_cents = old
        _restate(slots, "budget", old, f"under {money(old)}")
        return MindChange(at_turn=1, slot="budget", say=say, new_value=new,
                          accept=final.model_copy(deep=True))
    if kind == "feature":
        feat = rng.choice(spare)
        feat.apply(final)
        phrase = feat.phrase(leaf)
        return MindChange(at_turn=1, slot="feature", say=f"Actually, show me only ones {phrase}.",
                          new_value=phrase, accept=final.model_copy(deep=True))
    final.brand = target.brand
    return MindChange(at_turn=1, slot="brand",
                      say=f"Actually, I'd prefer something from {target.brand}.",
                      new_value=target.brand, accept=final.model_copy(deep=True))


def _restate(slots: list[Slot], name: str, value: Any, phrase: str) -> None:
    for slot in slots:
        if slot.name == name:
            slot.value, slot.phrase = value, phrase


# -- price_compare ----------------------------------------------------------------------------


@register("price_compare")
def price_compare(ctx: GenContext) -> TaskSpec:
    """Something like a named product but cheaper."""
    return retrying(ctx, _price_compare)


def _price_compare(ctx: GenContext) -> TaskSpec:
    p, rng = ctx.params, ctx.rng
    ref = pick_in_leaf(ctx, lambda v: v.price_cents >= 1500, "a reference product")
    slug = ref.category_slug
    leaf = ctx.vocab.leaf(slug)
    world = World(session_seed=ctx.session_seed())
    plan = WorldPlan(world)
    plan.protect(ref)
    ref_price = ref.price_cents
    cheaper = [v for v in similar_views(ctx, ref.product_id, cheaper_than=ref_price)
               if v.price_cents < ref_price and v.in_stock]
    require(bool(cheaper), "nothing cheaper and similar")
    want_shared = p.constraints >= 2
    ref_feats = features_of(ctx, ref)
    options: list[tuple[ProductView, list[Feature]]] = []
    for cand in cheaper[:8]:
        shared = [f for f in ref_feats if shares(cand, f)]
        if not want_shared or shared:
            options.append((cand, shared))
    require(bool(options), "no cheaper product shares a feature")
    pick, shared = options[min(len(options) - 1, int(rng.random() * min(3, len(options))))]
    plan.protect(pick)
    rng.shuffle(shared)

    final = ProductMatch(category=slug, max_price_cents=ref_price - 1,
                         exclude_product_ids=[ref.product_id])
    slots = [Slot(name="item", value=ref.product_id,
                  phrase=f"the {ref.title} ({ref.product_id})")]
    used: list[Feature] = []
    n_feats = 0 if p.constraints < 2 else (1 if p.constraints < 4 else 2)
    for feat in shared[:n_feats]:
        feat = shared_feature(pick, feat)
        feat.apply(final)
        used.append(feat)
        slots.append(Slot(name="feature", value={feat.name: feat.value}, phrase=feat.phrase(leaf)))
    if p.constraints >= 3:
        cap = nice_budget(pick.price_cents, p.budget_tightness, rng, loose=0.2)
        if cap < ref_price:
            final.max_price_cents = cap
            slots.append(Slot(name="budget", value=cap, phrase=f"ideally under {money(cap)}"))
    omit_slots(slots, p.omitted_share, rng, keep=("item",))

    initial = final.model_copy(deep=True)
    change: MindChange | None = None
    if p.changes_of_mind > 0:
        spare = [shared_feature(pick, f) for f in shared[n_feats:]]
        if spare:
            feat = spare[0]
            feat.apply(final)
            change = MindChange(at_turn=1, slot="feature",
                                say=f"Actually, it should also be one {feat.phrase(leaf)}, "
                                    "like the original.",
                                new_value=feat.phrase(leaf), accept=final.model_copy(deep=True))
        else:
            cap = nice_budget(pick.price_cents, 0.9, rng)
            if cap < (final.max_price_cents or ref_price):
                final.max_price_cents = cap
                change = MindChange(at_turn=1, slot="budget",
                                    say=f"Actually, I'd like to stay under {money(cap)}.",
                                    new_value=cap, accept=final.model_copy(deep=True))

    others = [v for v in cheaper if plan.free(v)]
    for view in others[:p.distractors]:
        if rng.random() < 0.5:
            plan.over_budget(view, ref_price, rng)
        else:
            plan.sold_out(view)
    pool_views = [v for v in candidates(ctx, slug, exclude=[ref.product_id, pick.product_id])
                  if plan.free(v)]
    plan.stock_outs(pool_views, p.out_of_stock_rate, rng)
    events = volatility_events(plan, pool_views, p.stock_volatility, rng)
    require(matches(pick, final, world), "cheaper pick does not match")

    feats_text = join_words([s.phrase for s in slots[1:] if s.in_opening])
    request = (f"I like the {ref.title} ({ref.product_id}) but {money(ref_price)} is more than "
               f"I want to pay. Can you find me something like it but cheaper"
               f"{' ' + feats_text if feats_text else ''}?")
    intent = Intent(kind="price_compare", request=request, slots=slots, accept=initial,
                    change=change)
    price = shown_price(pick, world) or pick.price_cents
    gold: list[GoldStep] = []
    if change is not None:
        gold.append(gold_say("Got it, let me look for that."))
    gold += [
        gold_call("get_product", product_id=ref.product_id),
        gold_call("find_similar", product_id=ref.product_id, cheaper=True),
        gold_call("get_product", product_id=pick.product_id),
        gold_call("present_products", product_ids=[pick.product_id],
              message=f"Similar to the {ref.title}, for less."),
        gold_say(f"The {pick.title} is {money(price)}, cheaper than the {ref.title} at "
             f"{money(ref_price)}, and it is {fit_text(pick, final, leaf, budget=False)}."),
    ]
    desc = f"Find something like {ref.product_id} but cheaper"
    if used:
        desc += f", keeping {join_words([f.name for f in used])}"
    return assemble(ctx, intent=intent, world=world, gold=gold, persona=rng.choice(PERSONAS),
                    description=desc + ".", scenario=events)


