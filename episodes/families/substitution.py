"""Generator of the substitution family: the wanted product is out of stock; the agent puts an
acceptable similar product (in budget, same size, sharing a feature) in the cart.

The gold substitute is checked with the verifiers' matcher (``episodes.families.matching``)
under the world's overrides, and the wanted product is checked not to match any more.
"""

from __future__ import annotations

import math

from episodes.families.matching import eff_price, eff_stock, has_options, matches, stocked
from episodes.families.phrases import PERSONAS, join_words, leaf_noun, money, option_phrase
from episodes.families.planning import (
    Feature,
    WorldPlan,
    assemble,
    candidates,
    features_of,
    gold_call,
    gold_say,
    nice_budget,
    omit_slots,
    option_dims,
    pick_in_leaf,
    require,
    retrying,
    shared_feature,
    shares,
    similar_views,
    volatility_events,
)
from episodes.generate import GenContext, register
from mcp_shop.views import ProductView, VariantView
from verifiers.types import (
    GoldStep,
    Intent,
    ItemGoal,
    MindChange,
    ProductMatch,
    Slot,
    TaskSpec,
    World,
)

__all__ = ["substitution"]

# -- substitution -----------------------------------------------------------------------------


@register("substitution")
def substitution(ctx: GenContext) -> TaskSpec:
    """The wanted product is out of stock: put an acceptable substitute in the cart."""
    return retrying(ctx, _substitution)


def _substitution(ctx: GenContext) -> TaskSpec:
    p, rng = ctx.params, ctx.rng
    wanted = pick_in_leaf(ctx, lambda v: v.price_cents >= 1000, "a wanted product")
    slug = wanted.category_slug
    world = World(session_seed=ctx.session_seed())
    plan = WorldPlan(world)
    for v in wanted.variants:
        plan.set_stock(v, 0)
    plan.protect(wanted)
    qty = 2 if p.level >= 5 and rng.random() < 0.5 else 1
    margin = 0.1 + 0.2 * (1 - p.budget_tightness) * rng.random()
    budget = int(math.ceil(wanted.price_cents * (1 + margin) / 100)) * 100
    sims = [v for v in similar_views(ctx, wanted.product_id) if v.price_cents <= budget - 1]
    leaf = ctx.vocab.leaf(slug)
    size_dim = next((n for n, r in option_dims(ctx, slug).items() if r == "size"), "size")
    sizes = sorted({v.options[size_dim] for v in wanted.variants if size_dim in v.options})
    size = rng.choice(sizes) if sizes and p.constraints >= 3 else None
    feats = features_of(ctx, wanted) if p.constraints >= 4 else []
    pick: ProductView | None = None
    variant: VariantView | None = None
    feat: Feature | None = None
    for cand in sims[:8]:
        shared = [f for f in feats if shares(cand, f)]
        if feats and not shared:
            continue
        good = [v for v in stocked(cand, world, at_least=qty)
                if v.price_cents < budget and (size is None or has_options(v, {size_dim: size}))]
        if good:
            pick, variant = cand, rng.choice(good)
            feat = shared_feature(cand, rng.choice(shared)) if shared else None
            break
    require(pick is not None and variant is not None, "no substitute in budget")
    assert pick is not None and variant is not None
    plan.protect(pick)

    final = ProductMatch(category=slug, max_price_cents=budget,
                         exclude_product_ids=[wanted.product_id])
    slots = [Slot(name="item", value=wanted.product_id, phrase=f"the {wanted.title}"),
             Slot(name="budget", value=budget, phrase=f"up to {money(budget)}")]
    if size is not None:
        final.options[size_dim] = size
        slots.append(Slot(name="size", value=size, phrase=option_phrase(size_dim, size, "size")))
    if feat is not None:
        feat.apply(final)
        slots.append(Slot(name="feature", value={feat.name: feat.value},
                          phrase=feat.phrase(leaf)))
    if qty > 1:
        slots.append(Slot(name="quantity", value=qty, phrase=f"{qty} of the {wanted.title}"))
    omit_slots(slots, p.omitted_share, rng, keep=("item", "quantity"))

    initial = final.model_copy(deep=True)
    change: MindChange | None = None
    if p.changes_of_mind > 0:
        cap = nice_budget(eff_price(variant, world), 0.9, rng)
        if cap < budget:
            final.max_price_cents = cap
            change = MindChange(at_turn=1, slot="budget",
                                say=f"Actually, I'd like to stay under {money(cap)} each.",
                                new_value=cap, accept=final.model_copy(deep=True),
                                items=[ItemGoal(match=final.model_copy(deep=True),
                                                quantity=qty)])

    others = [v for v in sims if plan.free(v)]
    for view in others[:p.distractors]:
        if rng.random() < 0.5:
            plan.over_budget(view, final.max_price_cents or budget, rng)
        else:
            plan.sold_out(view)
    pool_views = [v for v in candidates(ctx, slug, exclude=[wanted.product_id, pick.product_id])
                  if plan.free(v)]
    plan.stock_outs(pool_views, p.out_of_stock_rate, rng)
    events = volatility_events(plan, pool_views, p.stock_volatility, rng)
    require(matches(pick, final, world, variant), "substitute variant does not match")
    require(eff_stock(variant, world) >= qty, "substitute short of stock")
    require(not matches(wanted, final, world), "wanted product still available")

    head = f"{qty} of the {wanted.title}" if qty > 1 else f"the {wanted.title}"
    extra = [s.phrase for s in slots if s.in_opening and s.name in ("size", "feature")]
    request = f"I'd like to buy {head}{' ' + join_words(extra) if extra else ''}."
    if slots[1].in_opening:
        request += f" I can spend {slots[1].phrase} each."
    intent = Intent(kind="substitution", request=request, slots=slots, accept=initial,
                    items=[ItemGoal(match=initial, quantity=qty, label=head)], change=change)
    price = eff_price(variant, world)
    gold: list[GoldStep] = []
    if change is not None:
        gold.append(gold_say("Got it, let me check that product."))
    gold += [
        gold_call("search_products", query=wanted.title, category=slug),
        gold_call("get_product", product_id=wanted.product_id),
        gold_call("find_similar", product_id=wanted.product_id),
        gold_call("get_product", product_id=pick.product_id),
        gold_call("present_products", product_ids=[pick.product_id],
              message=f"A similar alternative to the {wanted.title}."),
        gold_say(f"Sorry, the {wanted.title} is out of stock. The {pick.title} is similar at "
             f"{money(price)} — shall I add it?"),
        gold_call("add_to_cart", variant_id=variant.variant_id, quantity=qty),
        gold_say("Added it to your cart." if qty == 1 else f"Added {qty} of them to your cart."),
    ]
    desc = f"{wanted.product_id} is out of stock; put a similar {leaf_noun(leaf)} item in budget " \
           f"in the cart (x{qty})."
    return assemble(ctx, intent=intent, world=world, gold=gold, persona=rng.choice(PERSONAS),
                    description=desc, scenario=events)


