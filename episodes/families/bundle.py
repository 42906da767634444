"""Generator of the bundle family: a gift (one themed toy for a child's age) or a kit (two or
three items of one department) in the cart under one budget.

Every gold item is checked with the verifiers' matcher (``episodes.families.matching``) under
the world's overrides, and the gold total is checked against the budget.
"""

from __future__ import annotations

from episodes.families.matching import eff_price, matches, stocked
from episodes.families.phrases import (
    PERSONAS,
    attr_phrase,
    join_words,
    leaf_noun,
    leaf_singular,
    money,
)
from episodes.families.planning import (
    WorldPlan,
    assemble,
    candidates,
    features_of,
    gold_call,
    gold_say,
    nice_budget,
    omit_slots,
    pick_in_leaf,
    rating_floor,
    require,
    retrying,
    search_args,
    volatility_events,
)
from episodes.families.vocabulary import CatalogVocabulary, KitGroup
from episodes.generate import GenContext, register
from mcp_shop.catalog.text import with_article
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

__all__ = ["bundle"]

# -- bundle -----------------------------------------------------------------------------------

def gift_leaves(vocab: CatalogVocabulary) -> dict[str, tuple[str, ...]]:
    """{slug: themes} of the leaves a gift comes from: products with a ``theme`` enum (two
    themes at least, so the shopper can change their mind) and a ``max_age``."""
    out = {}
    for leaf in vocab.leaves:
        theme = leaf.attr("theme")
        if (leaf.products and theme is not None and theme.type == "enum"
                and len(theme.values) >= 2 and leaf.attr("max_age") is not None):
            out[leaf.slug] = theme.values
    return out


def kit_groups(vocab: CatalogVocabulary) -> tuple[KitGroup, ...]:
    """The kits a shopper can ask for: groups with two leaves or more."""
    return tuple(k for k in vocab.kits if len(k.leaves) >= 2)


@register("bundle")
def bundle(ctx: GenContext) -> TaskSpec:
    """A gift (one themed toy) or a kit (2-3 items of one department) under one budget."""
    gifts, kits = bool(gift_leaves(ctx.vocab)), bool(kit_groups(ctx.vocab))
    if kits and (not gifts or ctx.params.level >= 5 and ctx.rng.random() < 0.7):
        return retrying(ctx, _kit)
    return retrying(ctx, _gift)


def _gift(ctx: GenContext) -> TaskSpec:
    p, rng = ctx.params, ctx.rng
    gifts = gift_leaves(ctx.vocab)
    toy = pick_in_leaf(ctx, lambda v: v.category_slug in gifts
                        and isinstance(v.attributes.get("theme"), str)
                        and isinstance(v.attributes.get("max_age"), int), "a themed toy")
    dept = ctx.vocab.leaf(toy.category_slug).department
    world = World(session_seed=ctx.session_seed())
    plan = WorldPlan(world)
    plan.protect(toy)
    variant = rng.choice(stocked(toy, world))
    theme = str(toy.attributes["theme"])
    lo, hi = int(toy.attributes.get("min_age", 0)), int(toy.attributes["max_age"])
    age = rng.randint(max(lo, 2), max(max(lo, 2), min(hi, 12)))
    match = ProductMatch(category=dept, attributes={"theme": theme},
                         attributes_at_least={"max_age": float(age)},
                         attributes_at_most={"min_age": float(age)})
    slots = [Slot(name="category", value=dept, phrase=ctx.vocab.department_phrase(dept)),
             Slot(name="recipient", value=age, phrase=f"for my {age}-year-old"),
             Slot(name="theme", value=theme,
                  phrase=f"who loves {_theme_words(theme)}")]
    leaf_kind = p.constraints >= 3
    if leaf_kind:
        match.category = toy.category_slug
        slots[0] = Slot(name="category", value=toy.category_slug,
                        phrase=leaf_singular(ctx.vocab.leaf(toy.category_slug)))
    if p.constraints >= 4 and toy.rating >= 3.5:
        match.min_rating = rating_floor(toy.rating)
        slots.append(Slot(name="rating", value=match.min_rating,
                          phrase=f"rated at least {match.min_rating:g} stars"))
    price = eff_price(variant, world)
    budget = nice_budget(price, p.budget_tightness, rng)
    slots.append(Slot(name="budget", value=budget, phrase=f"under {money(budget)}"))
    omit_slots(slots, p.omitted_share, rng, keep=("category", "theme"))

    change: MindChange | None = None
    initial = match.model_copy(deep=True)
    if p.changes_of_mind > 0:
        other = rng.choice([t for t in gifts[toy.category_slug] if t != theme])
        initial.attributes["theme"] = other
        slots[2] = Slot(name="theme", value=other,
                        phrase=f"who loves {_theme_words(other)}")
        change = MindChange(at_turn=1, slot="theme",
                            say=f"Actually, they're more into {_theme_words(theme)} these days.",
                            new_value=theme,
                            items=[ItemGoal(match=match.model_copy(deep=True), quantity=1,
                                            label=with_article(f"{_theme_words(theme)} gift"))])
    label = with_article(f"{_theme_words(str(initial.attributes['theme']))} gift")
    near = [v for v in candidates(ctx, match.category or dept, exclude=[toy.product_id],
                                  attributes={"theme": theme}) if plan.free(v)]
    for view in near[:p.distractors]:
        if rng.random() < 0.5:
            plan.over_budget(view, budget, rng)
        else:
            plan.sold_out(view)
    rest = [v for v in near if plan.free(v)]
    plan.stock_outs(rest, p.out_of_stock_rate, rng)
    events = volatility_events(plan, rest, p.stock_volatility, rng)
    require(matches(toy, match, world, variant), "toy does not match")
    require(price <= budget, "toy over budget")

    said = {s.name: s.phrase for s in slots if s.in_opening}
    request = f"I need a gift: {slots[0].phrase} {said.get('recipient', 'for a child')} " \
              f"{slots[2].phrase}"
    if "rating" in said:
        request += f", {said['rating']}"
    if "budget" in said:
        request += f", {said['budget']}"
    intent = Intent(kind="bundle", request=request + ".", slots=slots,
                    items=[ItemGoal(match=initial, quantity=1, label=label)],
                    budget_cents=budget, change=change)
    gold: list[GoldStep] = []
    if change is not None:
        gold.append(gold_say("Got it, let me look for that."))
    gold += [
        gold_call("search_products", **search_args(match.model_copy(update={"max_price_cents":
                                                                         budget}))),
        gold_call("get_product", product_id=toy.product_id),
        gold_call("add_to_cart", variant_id=variant.variant_id, quantity=1),
        gold_say(f"Added the {toy.title} ({money(price)}) to your cart — total {money(price)}, "
             f"within your {money(budget)} budget."),
    ]
    gift = with_article(f"{_theme_words(theme)} gift")
    desc = (f"{gift[0].upper()}{gift[1:]} for {with_article(f'{age}-year-old')} under "
            f"{money(budget)}, in the cart.")
    return assemble(ctx, intent=intent, world=world, gold=gold, persona="gift shopper",
                    description=desc, scenario=events)


def _theme_words(theme: str) -> str:
    return theme.replace("_", " ")


def _kit(ctx: GenContext) -> TaskSpec:
    p, rng = ctx.params, ctx.rng
    kit = rng.choice(kit_groups(ctx.vocab))
    group = kit.slug
    leaf_slugs = sorted(kit.leaves)
    require(len(leaf_slugs) >= 2, "group too small")
    n = min(len(leaf_slugs), 2 if p.constraints < 5 else 3)
    chosen = rng.sample(leaf_slugs, n)
    world = World(session_seed=ctx.session_seed())
    plan = WorldPlan(world)
    picks: list[tuple[ProductView, VariantView, ProductMatch]] = []
    for slug in chosen:
        pool = candidates(ctx, slug, limit=30)
        pool = [v for v in pool if stocked(v, world)]
        require(bool(pool), f"nothing in stock in {slug}")
        view = rng.choice(pool[: max(3, len(pool) // 2)])
        plan.protect(view)
        variant = rng.choice(stocked(view, world))
        m = ProductMatch(category=slug)
        feats = features_of(ctx, view)
        if p.constraints >= 4 and feats:
            rng.choice(feats).apply(m)
        picks.append((view, variant, m))
    total = sum(eff_price(v, world) for _, v, _ in picks)
    budget = nice_budget(total, p.budget_tightness, rng, loose=0.3)
    items = []
    slots = [Slot(name="category", value=group, phrase=kit.name)]
    for view, _variant, m in picks:
        leaf = ctx.vocab.leaf(view.category_slug)
        label = leaf_singular(ctx.vocab.leaf(m.category or view.category_slug))
        feat_text = join_words([attr_phrase(leaf.attr(k), k, v)
                                for k, v in m.attributes.items()] +
                               [attr_phrase(leaf.attr(k), k, v, at_least=True)
                                for k, v in m.attributes_at_least.items()])
        if feat_text:
            label += " " + feat_text
        items.append(ItemGoal(match=m, quantity=1, label=label))
        slots.append(Slot(name="item", value=m.category, phrase=label))
    slots.append(Slot(name="budget", value=budget, phrase=f"{money(budget)} total"))
    omit_slots(slots, p.omitted_share, rng, keep=("category", "item"))

    change: MindChange | None = None
    if p.changes_of_mind > 0:
        # the shopper adds a wish to one item, which the gold already meets
        for idx, (view, _variant, m) in enumerate(picks):
            spare = [f for f in features_of(ctx, view) if f.name not in m.attributes
                     and f.name not in m.attributes_at_least]
            if spare:
                feat = rng.choice(spare)
                new_items = [it.model_copy(deep=True) for it in items]
                feat.apply(new_items[idx].match)
                leaf = ctx.vocab.leaf(view.category_slug)
                phrase = feat.phrase(leaf)
                new_items[idx].label += f" {phrase}"
                change = MindChange(at_turn=1, slot="feature",
                                    say=f"Actually, the {leaf_noun(leaf)} one "
                                        f"should be one {phrase}.",
                                    new_value=phrase, items=new_items)
                break
    final_items = change.items if change is not None and change.items else items

    pool_all: list[ProductView] = []
    for _view, _variant, m in picks:
        near = [v for v in candidates(ctx, m.category or "", limit=20) if plan.free(v)]
        pool_all += near
    rng.shuffle(pool_all)
    for view in pool_all[:p.distractors]:
        if plan.free(view):
            plan.sold_out(view)
    rest = [v for v in pool_all if plan.free(v)]
    plan.stock_outs(rest, p.out_of_stock_rate, rng)
    events = volatility_events(plan, rest, p.stock_volatility, rng)
    for (view, variant, _m), item in zip(picks, final_items, strict=True):
        require(matches(view, item.match, world, variant), "kit item does not match")
    require(total <= budget, "kit over budget")

    said = [s.phrase for s in slots if s.name == "item"]
    request = f"I'm putting together {kit.name}: I need {join_words(said)}"
    if slots[-1].in_opening:
        request += f", {slots[-1].phrase}"
    intent = Intent(kind="bundle", request=request + ".", slots=slots, items=items,
                    budget_cents=budget, change=change)
    gold: list[GoldStep] = []
    if change is not None:
        gold.append(gold_say("Got it, let me look for those."))
    for (view, variant, _m), item in zip(picks, final_items, strict=True):
        gold += [
            gold_call("search_products", **search_args(item.match.model_copy(
                update={"max_price_cents": budget}))),
            gold_call("get_product", product_id=view.product_id),
            gold_call("add_to_cart", variant_id=variant.variant_id, quantity=1),
        ]
    names = join_words([f"the {view.title}" for view, _, _ in picks])
    gold.append(gold_say(f"Added {names} — total {money(total)}, within your {money(budget)} "
                     "budget."))
    desc = f"{kit.name.capitalize()}: {n} items of {group} under {money(budget)} total."
    return assemble(ctx, intent=intent, world=world, gold=gold, persona=rng.choice(PERSONAS),
                    description=desc, scenario=events)
