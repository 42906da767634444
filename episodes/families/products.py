"""Generators of the product-choosing families: discovery, price_compare, substitution, bundle.

Each picks its gold product(s) first, derives the shopper's criteria from them (so the task is
solvable by construction), plants near-miss distractors and stock-outs in the world without
touching the gold, and checks at the end that the gold still matches what the shopper accepts
under the world's price and stock overrides.

The helpers here (effective prices and stock, matching, candidates, events, assembly) are shared
with the cart families (``episodes.families.cart``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from episodes.families.phrases import (
    PERSONAS,
    attr_phrase,
    attr_spec,
    greeting,
    join_words,
    leaf_info,
    leaf_noun,
    leaf_singular,
    money,
    option_phrase,
    request_sentence,
)
from episodes.generate import GenContext, GenerationError, register, task_id
from mcp_shop.catalog.data_play import THEMES
from mcp_shop.db import read_tx
from mcp_shop.ids import parse_product_id
from mcp_shop.search import similar as run_similar
from mcp_shop.views import ProductView, VariantView
from verifiers.types import (
    GoldStep,
    Intent,
    ItemGoal,
    MindChange,
    ProductMatch,
    ScenarioEvent,
    Slot,
    TaskSpec,
    World,
)

__all__ = [
    "Feature",
    "WorldPlan",
    "assemble",
    "candidates",
    "discovery",
    "eff_price",
    "eff_stock",
    "features_of",
    "matches",
    "nice_budget",
    "omit_slots",
    "price_compare",
    "Retry",
    "require",
    "retrying",
    "bundle",
    "shown_price",
    "substitution",
    "volatility_events",
]

_TRIES = 40
_OPTION_DIMS = ("color", "size")


class Retry(Exception):
    """This pick does not work out; draw again."""


def retrying(ctx: GenContext, build: Callable[[GenContext], TaskSpec]) -> TaskSpec:
    """Run ``build`` until a draw works out (each retry continues the same rng)."""
    last = ""
    for _ in range(_TRIES):
        try:
            return build(ctx)
        except Retry as exc:
            last = str(exc)
    raise GenerationError(f"{ctx.family} d{ctx.difficulty} seed {ctx.seed}: no solvable task in "
                          f"{_TRIES} draws ({last})")


# -- effective values under a world ----------------------------------------------------------


def eff_stock(v: VariantView, world: World) -> int:
    """The variant's stock once the world's overrides apply."""
    return world.stock.get(v.variant_id, v.stock)


def eff_price(v: VariantView, world: World) -> int:
    """The variant's price once the world's overrides apply."""
    return world.prices.get(v.variant_id, v.price_cents)


def shown_price(view: ProductView, world: World) -> int | None:
    """The lowest in-stock variant price under the world (None: nothing in stock)."""
    prices = [eff_price(v, world) for v in view.variants if eff_stock(v, world) > 0]
    return min(prices) if prices else None


def _opts_hold(variant: VariantView, options: dict[str, str]) -> bool:
    return all(variant.options.get(k, "").lower() == str(val).lower()
               for k, val in options.items())


def matches(view: ProductView, m: ProductMatch, world: World,
            variant: VariantView | None = None) -> bool:
    """Does ``view`` (and ``variant`` when one is chosen) satisfy ``m`` under ``world``?

    The rules of docs/tasks.md "Product matching": a chosen variant is judged on its own price,
    stock and options; a presented product on its lowest in-stock price and on some in-stock
    variant having the options.
    """
    if m.category is not None and not view.category_slug.startswith(m.category):
        return False
    if m.brand is not None and view.brand.lower() != m.brand.lower():
        return False
    if m.product_ids is not None and view.product_id not in m.product_ids:
        return False
    if view.product_id in m.exclude_product_ids:
        return False
    if m.min_rating is not None and view.rating < m.min_rating:
        return False
    for name, value in m.attributes.items():
        if view.attributes.get(name) != value:
            return False
    for name, low in m.attributes_at_least.items():
        got = view.attributes.get(name)
        if not isinstance(got, int | float) or isinstance(got, bool) or got < low:
            return False
    if variant is not None:
        if m.in_stock and eff_stock(variant, world) <= 0:
            return False
        if m.max_price_cents is not None and eff_price(variant, world) > m.max_price_cents:
            return False
        return _opts_hold(variant, m.options)
    price = shown_price(view, world)
    if m.in_stock and price is None:
        return False
    if m.max_price_cents is not None:
        lowest = price if price is not None else min(eff_price(v, world) for v in view.variants)
        if lowest > m.max_price_cents:
            return False
    if m.options:
        pool = [v for v in view.variants if eff_stock(v, world) > 0 or not m.in_stock]
        if not any(_opts_hold(v, m.options) for v in pool):
            return False
    return True


# -- catalog reading ---------------------------------------------------------------------------


def candidates(ctx: GenContext, slug: str, *, exclude: Sequence[str] = (), limit: int = 50,
               **filters: Any) -> list[ProductView]:
    """In-stock products of a category (catalog values), most popular first."""
    page = ctx.search(category=slug, in_stock_only=True, sort="popularity",
                      page_size=min(50, limit), **filters)
    return [ctx.product(h.product_id) for h in page.hits if h.product_id not in exclude]


def similar_views(ctx: GenContext, pid: str, *, cheaper_than: int | None = None,
                  in_stock_only: bool = True, limit: int = 20) -> list[ProductView]:
    """Products similar to ``pid`` at catalog level (what find_similar ranks first)."""
    with read_tx(ctx.shop.engine) as conn:
        hits = run_similar(conn, ctx.shop.index, parse_product_id(pid), None,
                           cheaper_than_cents=cheaper_than, in_stock_only=in_stock_only,
                           limit=limit)
    return [ctx.product(h.product_id) for h in hits]


@dataclass(frozen=True)
class Feature:
    """One attribute constraint the product satisfies: equality, or a numeric minimum."""

    name: str
    value: Any
    at_least: bool

    def phrase(self, slug: str) -> str:
        return attr_phrase(slug, self.name, self.value, at_least=self.at_least)

    def apply(self, m: ProductMatch) -> None:
        if self.at_least:
            m.attributes_at_least[self.name] = float(self.value)
        else:
            m.attributes[self.name] = self.value


def features_of(view: ProductView) -> list[Feature]:
    """The attribute constraints ``view`` satisfies that a shopper would ask for."""
    out: list[Feature] = []
    for name, value in sorted(view.attributes.items()):
        spec = attr_spec(view.category_slug, name)
        if spec is None or name in ("min_age", "max_age", "theme") or spec.type == "text":
            continue
        if spec.type == "bool":
            if value is True:
                out.append(Feature(name, True, False))
        elif spec.type == "enum":
            if isinstance(value, str) and value != "none":
                out.append(Feature(name, value, False))
        elif isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            out.append(Feature(name, value, True))
    return out


def stocked(view: ProductView, world: World, *, at_least: int = 1) -> list[VariantView]:
    """The variants of ``view`` with at least ``at_least`` units under ``world``."""
    return [v for v in view.variants if eff_stock(v, world) >= at_least]


def nice_budget(cents: int, tightness: float, rng: Any, *, loose: float = 0.35) -> int:
    """A budget (whole dollars, in cents) strictly above ``cents``: loose budgets sit up to
    ``loose`` above and are rounded to $5 or $10; tight ones sit just above."""
    slack = 0.02 + (loose - 0.02) * (1 - tightness) * rng.uniform(0.6, 1.0)
    dollars = math.ceil(cents * (1 + slack) / 100)
    if tightness < 0.5:
        step = 10 if dollars >= 100 else 5
        dollars = math.ceil(dollars / step) * step
    while dollars * 100 <= cents:
        dollars += 1
    return dollars * 100


def omit_slots(slots: list[Slot], share: float, rng: Any, *,
               keep: Sequence[str] = ("category", "item")) -> None:
    """Mark a share of the slots (never those named in ``keep``) as left out of the opening."""
    pool = [s for s in slots if s.name not in keep]
    k = min(len(pool), round(share * len(slots)))
    for slot in rng.sample(pool, k):
        slot.in_opening = False


# -- the world: distractors, stock-outs, flash sales -----------------------------------------


@dataclass
class WorldPlan:
    """Stock and price overrides being planned, with the variants no change may touch."""

    world: World
    protected: set[str] = field(default_factory=set)
    touched: set[str] = field(default_factory=set)

    def protect(self, view: ProductView) -> None:
        self.protected.update(v.variant_id for v in view.variants)

    def free(self, view: ProductView) -> bool:
        ids = {v.variant_id for v in view.variants}
        return not ids & (self.protected | self.touched)

    def set_stock(self, v: VariantView, stock: int) -> None:
        assert v.variant_id not in self.protected
        self.world.stock[v.variant_id] = stock
        self.touched.add(v.variant_id)

    def over_budget(self, view: ProductView, budget: int, rng: Any) -> None:
        """Price ``view`` just over ``budget`` (its variants keep their relative upcharges)."""
        base = min(v.price_cents for v in view.variants)
        bump = max(100, int(budget * rng.uniform(0.01, 0.08)))
        for v in view.variants:
            assert v.variant_id not in self.protected
            self.world.prices[v.variant_id] = budget + bump + (v.price_cents - base)
            self.touched.add(v.variant_id)

    def sold_out(self, view: ProductView) -> None:
        for v in view.variants:
            self.set_stock(v, 0)

    def stock_outs(self, pool: Sequence[ProductView], rate: float, rng: Any,
                   cap: int = 40) -> None:
        """Take a share ``rate`` of the pool's untouched variants out of stock."""
        if rate <= 0:
            return
        n = 0
        for view in pool:
            for v in view.variants:
                if v.variant_id in self.protected or v.variant_id in self.touched:
                    continue
                if n < cap and rng.random() < rate:
                    self.set_stock(v, 0)
                    n += 1


def volatility_events(plan: WorldPlan, pool: Sequence[ProductView], volatility: float,
                      rng: Any) -> list[ScenarioEvent]:
    """Flash sales and other shoppers' purchases after the agent's turns 1 to 3: drain or
    reprice a few non-gold candidate variants (the gold is protected)."""
    if volatility <= 0:
        return []
    n_events = 1 + int(volatility >= 0.15) + int(volatility >= 0.25)
    free = [v for view in pool for v in view.variants
            if v.variant_id not in plan.protected and v.variant_id not in plan.touched]
    events: list[ScenarioEvent] = []
    for turn in sorted(rng.sample([1, 2, 3], n_events)):
        if not free:
            break
        event = ScenarioEvent(turn=turn)
        for v in rng.sample(free, min(len(free), rng.randint(1, 3))):
            if rng.random() < 0.6:
                event.stock[v.variant_id] = 0
            else:
                base = plan.world.prices.get(v.variant_id, v.price_cents)
                event.prices[v.variant_id] = max(100, int(base * rng.choice([0.8, 0.85, 1.15])))
        events.append(event)
    return events


# -- assembly ---------------------------------------------------------------------------------


def assemble(ctx: GenContext, *, intent: Intent, world: World, gold: list[GoldStep],
             persona: str, description: str, scenario: Sequence[ScenarioEvent] = ()
             ) -> TaskSpec:
    """The task: the opening is a persona greeting and the intent's request."""
    opening = f"{greeting(persona, ctx.rng)} {intent.request}"
    return TaskSpec(
        task_id=task_id(ctx.family, ctx.difficulty, ctx.seed), family=ctx.family,  # type: ignore[arg-type]
        difficulty=ctx.difficulty, seed=ctx.seed, catalog=ctx.catalog, params=ctx.params,
        world=world, intents=[intent], persona=persona, opening=opening,
        scenario=list(scenario), gold=gold, limits=ctx.limits(), description=description)


def _say(text: str) -> GoldStep:
    return GoldStep(say=text)


def _call(tool: str, **args: Any) -> GoldStep:
    return GoldStep(tool=tool, args=args)


def _search_args(m: ProductMatch, *, query: str = "") -> dict[str, Any]:
    args: dict[str, Any] = {"query": query, "category": m.category, "in_stock_only": True,
                            "page_size": 10}
    if m.brand:
        args["brand"] = m.brand
    if m.max_price_cents is not None:
        args["max_price_cents"] = m.max_price_cents
    if m.min_rating is not None:
        args["min_rating"] = m.min_rating
    if m.attributes:
        args["attributes"] = dict(m.attributes)
    if m.attributes_at_least:
        args["attributes_at_least"] = dict(m.attributes_at_least)
    return {k: v for k, v in args.items() if v is not None}


def _pick_in_leaf(ctx: GenContext, predicate: Callable[[ProductView], bool],
                  what: str) -> ProductView:
    try:
        return ctx.pick(lambda v: v.in_stock and predicate(v), what=what)
    except GenerationError as exc:
        raise Retry(str(exc)) from None


def require(ok: bool, why: str) -> None:
    if not ok:
        raise Retry(why)


def _other_option_value(ctx: GenContext, slug: str, dim: str, not_value: str) -> str | None:
    for spec in leaf_info(slug).leaf.options:
        if spec.name == dim:
            others = [v for v in spec.values if v.lower() != not_value.lower()]
            return ctx.rng.choice(others) if others else None
    return None


def _rating_floor(rating: float) -> float:
    return math.floor(rating * 2) / 2


# -- discovery --------------------------------------------------------------------------------


@register("discovery")
def discovery(ctx: GenContext) -> TaskSpec:
    """Find a product meeting the shopper's constraints and present it."""
    return retrying(ctx, _discovery)


def _discovery(ctx: GenContext) -> TaskSpec:
    p, rng = ctx.params, ctx.rng
    target = _pick_in_leaf(ctx, lambda v: True, "an in-stock product")
    slug = target.category_slug
    world = World(session_seed=ctx.session_seed())
    plan = WorldPlan(world)
    plan.protect(target)
    in_stock = stocked(target, world)
    require(bool(in_stock), "target out of stock")

    # the gold variant: one with a colour or size when the option constraint is drawn
    option_variants = [v for v in in_stock if any(d in v.options for d in _OPTION_DIMS)]
    features = features_of(target)
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
    noun = leaf_noun(slug)
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
                              phrase=feat.phrase(slug)))
        elif kind == "option":
            dims = [d for d in _OPTION_DIMS if d in gold_variant.options]
            option_dim = rng.choice(dims)
            value = gold_variant.options[option_dim]
            final.options[option_dim] = value
            slots.append(Slot(name=option_dim, value=value,
                              phrase=option_phrase(option_dim, value)))
        elif kind == "rating":
            final.min_rating = _rating_floor(target.rating)
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
    near = sorted(pool_views, key=lambda v: -_closeness(v, final, world))
    for view in near[:p.distractors]:
        if final.max_price_cents is not None and rng.random() < 0.5:
            plan.over_budget(view, final.max_price_cents, rng)
        elif final.options:
            dim, value = next(iter(final.options.items()))
            hit = [v for v in view.variants if v.options.get(dim, "").lower() == value.lower()]
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
        gold.append(_say("Got it, let me look for that."))
    gold += [
        _call("search_products", **_search_args(final)),
        _call("get_product", product_id=target.product_id),
        _call("present_products", product_ids=[target.product_id],
              message=f"The {target.title} matches what you asked for."),
        _say(f"I found the {target.title} at {money(eff_price(gold_variant, world))} — "
             f"it is {_fit_text(target, final, slug)}."),
    ]
    persona = rng.choice(PERSONAS)
    desc = f"Find {noun} matching {len(chosen) + 1} constraint(s) and present one"
    if change is not None:
        desc += f"; the shopper changes the {change.slot} at reply 1"
    return assemble(ctx, intent=intent, world=world, gold=gold, persona=persona,
                    description=desc + ".", scenario=events)


def _fit_text(view: ProductView, m: ProductMatch, slug: str, *, budget: bool = True) -> str:
    """'from Sonix, in black, with active noise cancelling and under $120' for the gold."""
    parts: list[str] = []
    if m.brand:
        parts.append(f"from {view.brand}")
    for dim, opt in m.options.items():
        parts.append(f"available {option_phrase(dim, opt)}")
    for name, value in m.attributes.items():
        parts.append(attr_phrase(slug, name, value))
    for name, low in m.attributes_at_least.items():
        parts.append(attr_phrase(slug, name, view.attributes.get(name, low), at_least=True))
    if m.min_rating is not None:
        parts.append(f"rated {view.rating:g} stars")
    if budget and m.max_price_cents is not None:
        parts.append(f"within your {money(m.max_price_cents)} budget")
    return join_words(parts) if parts else f"one of our {leaf_noun(slug)}"


def _closeness(view: ProductView, m: ProductMatch, world: World) -> int:
    """How many of the criteria a candidate meets (near misses meet most)."""
    score = 0
    if m.brand and view.brand.lower() == m.brand.lower():
        score += 1
    score += sum(view.attributes.get(k) == val for k, val in m.attributes.items())
    score += sum(isinstance(view.attributes.get(k), int | float)
                 and view.attributes.get(k, 0) >= low
                 for k, low in m.attributes_at_least.items())
    if m.options and any(_opts_hold(v, m.options) for v in view.variants):
        score += 1
    price = shown_price(view, world)
    if m.max_price_cents is not None and price is not None and price <= m.max_price_cents:
        score += 1
    return score


def _discovery_change(ctx: GenContext, target: ProductView, final: ProductMatch,
                      initial: ProductMatch, slots: list[Slot], features: list[Feature],
                      used: list[Feature], option_dim: str | None) -> MindChange | None:
    """Make ``initial`` differ from ``final`` in one slot and return the change to ``final``."""
    rng, slug = ctx.rng, target.category_slug
    kinds: list[str] = []
    if option_dim is not None:
        kinds.append(option_dim)
    if final.max_price_cents is not None:
        kinds.append("budget")
    spare = [f for f in features if f not in used]
    if spare:
        kinds.append("feature")
    if final.brand is None:
        kinds.append("brand")
    require(bool(kinds), "no slot to change")
    kind = rng.choice(kinds)
    if kind in _OPTION_DIMS:
        assert option_dim is not None
        value = final.options[option_dim]
        other = _other_option_value(ctx, slug, option_dim, value)
        if other is None:
            return None
        initial.options[option_dim] = other
        _restate(slots, option_dim, other, option_phrase(option_dim, other))
        say = (f"Actually, I'd rather have it {option_phrase(option_dim, value)}."
               if option_dim == "color" else f"Actually, make that {option_phrase(kind, value)}.")
        return MindChange(at_turn=1, slot=option_dim, say=say, new_value=value,
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
        phrase = feat.phrase(slug)
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
    ref = _pick_in_leaf(ctx, lambda v: v.price_cents >= 1500, "a reference product")
    slug = ref.category_slug
    world = World(session_seed=ctx.session_seed())
    plan = WorldPlan(world)
    plan.protect(ref)
    ref_price = ref.price_cents
    cheaper = [v for v in similar_views(ctx, ref.product_id, cheaper_than=ref_price)
               if v.price_cents < ref_price and v.in_stock]
    require(bool(cheaper), "nothing cheaper and similar")
    want_shared = p.constraints >= 2
    ref_feats = features_of(ref)
    options: list[tuple[ProductView, list[Feature]]] = []
    for cand in cheaper[:8]:
        shared = [f for f in ref_feats if _shares(cand, f)]
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
        feat = _shared_feature(pick, feat)
        feat.apply(final)
        used.append(feat)
        slots.append(Slot(name="feature", value={feat.name: feat.value}, phrase=feat.phrase(slug)))
    if p.constraints >= 3:
        cap = nice_budget(pick.price_cents, p.budget_tightness, rng, loose=0.2)
        if cap < ref_price:
            final.max_price_cents = cap
            slots.append(Slot(name="budget", value=cap, phrase=f"ideally under {money(cap)}"))
    omit_slots(slots, p.omitted_share, rng, keep=("item",))

    initial = final.model_copy(deep=True)
    change: MindChange | None = None
    if p.changes_of_mind > 0:
        spare = [_shared_feature(pick, f) for f in shared[n_feats:]]
        if spare:
            feat = spare[0]
            feat.apply(final)
            change = MindChange(at_turn=1, slot="feature",
                                say=f"Actually, it should also be one {feat.phrase(slug)}, "
                                    "like the original.",
                                new_value=feat.phrase(slug), accept=final.model_copy(deep=True))
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
        gold.append(_say("Got it, let me look for that."))
    gold += [
        _call("get_product", product_id=ref.product_id),
        _call("find_similar", product_id=ref.product_id, cheaper=True),
        _call("get_product", product_id=pick.product_id),
        _call("present_products", product_ids=[pick.product_id],
              message=f"Similar to the {ref.title}, for less."),
        _say(f"The {pick.title} is {money(price)}, cheaper than the {ref.title} at "
             f"{money(ref_price)}, and it is {_fit_text(pick, final, slug, budget=False)}."),
    ]
    desc = f"Find something like {ref.product_id} but cheaper"
    if used:
        desc += f", keeping {join_words([f.name for f in used])}"
    return assemble(ctx, intent=intent, world=world, gold=gold, persona=rng.choice(PERSONAS),
                    description=desc + ".", scenario=events)


def _shares(cand: ProductView, feat: Feature) -> bool:
    got = cand.attributes.get(feat.name)
    if feat.at_least:
        return isinstance(got, int | float) and not isinstance(got, bool) and got > 0
    return bool(got == feat.value)


def _shared_feature(cand: ProductView, feat: Feature) -> Feature:
    """The constraint both products meet (a numeric minimum is the lower of the two)."""
    if feat.at_least:
        got = cand.attributes.get(feat.name, feat.value)
        return Feature(feat.name, min(got, feat.value), True)
    return feat


# -- substitution -----------------------------------------------------------------------------


@register("substitution")
def substitution(ctx: GenContext) -> TaskSpec:
    """The wanted product is out of stock: put an acceptable substitute in the cart."""
    return retrying(ctx, _substitution)


def _substitution(ctx: GenContext) -> TaskSpec:
    p, rng = ctx.params, ctx.rng
    wanted = _pick_in_leaf(ctx, lambda v: v.price_cents >= 1000, "a wanted product")
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
    sizes = sorted({v.options["size"] for v in wanted.variants if "size" in v.options})
    size = rng.choice(sizes) if sizes and p.constraints >= 3 else None
    feats = features_of(wanted) if p.constraints >= 4 else []
    pick: ProductView | None = None
    variant: VariantView | None = None
    feat: Feature | None = None
    for cand in sims[:8]:
        shared = [f for f in feats if _shares(cand, f)]
        if feats and not shared:
            continue
        good = [v for v in stocked(cand, world, at_least=qty)
                if v.price_cents < budget and (size is None or v.options.get("size") == size)]
        if good:
            pick, variant = cand, rng.choice(good)
            feat = _shared_feature(cand, rng.choice(shared)) if shared else None
            break
    require(pick is not None and variant is not None, "no substitute in budget")
    assert pick is not None and variant is not None
    plan.protect(pick)

    final = ProductMatch(category=slug, max_price_cents=budget,
                         exclude_product_ids=[wanted.product_id])
    slots = [Slot(name="item", value=wanted.product_id, phrase=f"the {wanted.title}"),
             Slot(name="budget", value=budget, phrase=f"up to {money(budget)}")]
    if size is not None:
        final.options["size"] = size
        slots.append(Slot(name="size", value=size, phrase=option_phrase("size", size)))
    if feat is not None:
        feat.apply(final)
        slots.append(Slot(name="feature", value={feat.name: feat.value},
                          phrase=feat.phrase(slug)))
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
        gold.append(_say("Got it, let me check that product."))
    gold += [
        _call("search_products", query=wanted.title, category=slug),
        _call("get_product", product_id=wanted.product_id),
        _call("find_similar", product_id=wanted.product_id),
        _call("get_product", product_id=pick.product_id),
        _call("present_products", product_ids=[pick.product_id],
              message=f"A similar alternative to the {wanted.title}."),
        _say(f"Sorry, the {wanted.title} is out of stock. The {pick.title} is similar at "
             f"{money(price)} — shall I add it?"),
        _call("add_to_cart", variant_id=variant.variant_id, quantity=qty),
        _say("Added it to your cart." if qty == 1 else f"Added {qty} of them to your cart."),
    ]
    desc = f"{wanted.product_id} is out of stock; put a similar {leaf_noun(slug)} item in budget " \
           f"in the cart (x{qty})."
    return assemble(ctx, intent=intent, world=world, gold=gold, persona=rng.choice(PERSONAS),
                    description=desc, scenario=events)


# -- bundle -----------------------------------------------------------------------------------

_TOYS = "toys"
_KIT_GROUPS = ("sports/camping-hiking", "sports/fitness", "electronics/audio", "home/kitchen",
               "home/bedding", "garden/gardening", "clothing/tops", "pets/dogs")


@register("bundle")
def bundle(ctx: GenContext) -> TaskSpec:
    """A gift (one themed toy) or a kit (2-3 items of one department) under one budget."""
    if ctx.params.level >= 5 and ctx.rng.random() < 0.7:
        return retrying(ctx, _kit)
    return retrying(ctx, _gift)


def _gift(ctx: GenContext) -> TaskSpec:
    p, rng = ctx.params, ctx.rng
    toy = _pick_in_leaf(ctx, lambda v: v.category_slug.startswith(_TOYS + "/")
                        and isinstance(v.attributes.get("theme"), str)
                        and isinstance(v.attributes.get("max_age"), int), "a themed toy")
    world = World(session_seed=ctx.session_seed())
    plan = WorldPlan(world)
    plan.protect(toy)
    variant = rng.choice(stocked(toy, world))
    theme = str(toy.attributes["theme"])
    lo, hi = int(toy.attributes.get("min_age", 0)), int(toy.attributes["max_age"])
    age = rng.randint(max(lo, 2), max(max(lo, 2), min(hi, 12)))
    match = ProductMatch(category=_TOYS, attributes={"theme": theme},
                         attributes_at_least={"max_age": float(age)},
                         attributes_at_most={"min_age": float(age)})
    slots = [Slot(name="category", value=_TOYS, phrase="a toy"),
             Slot(name="recipient", value=age, phrase=f"for my {age}-year-old"),
             Slot(name="theme", value=theme,
                  phrase=f"who loves {_theme_words(theme)}")]
    leaf_kind = p.constraints >= 3
    if leaf_kind:
        match.category = toy.category_slug
        slots[0] = Slot(name="category", value=toy.category_slug,
                        phrase=leaf_singular(toy.category_slug))
    if p.constraints >= 4 and toy.rating >= 3.5:
        match.min_rating = _rating_floor(toy.rating)
        slots.append(Slot(name="rating", value=match.min_rating,
                          phrase=f"rated at least {match.min_rating:g} stars"))
    price = eff_price(variant, world)
    budget = nice_budget(price, p.budget_tightness, rng)
    slots.append(Slot(name="budget", value=budget, phrase=f"under {money(budget)}"))
    omit_slots(slots, p.omitted_share, rng, keep=("category", "theme"))

    change: MindChange | None = None
    initial = match.model_copy(deep=True)
    if p.changes_of_mind > 0:
        other = rng.choice([t for t in THEMES if t != theme])
        initial.attributes["theme"] = other
        slots[2] = Slot(name="theme", value=other,
                        phrase=f"who loves {_theme_words(other)}")
        change = MindChange(at_turn=1, slot="theme",
                            say=f"Actually, they're more into {_theme_words(theme)} these days.",
                            new_value=theme,
                            items=[ItemGoal(match=match.model_copy(deep=True), quantity=1,
                                            label=f"a {_theme_words(theme)} gift")])
    label = f"a {_theme_words(str(initial.attributes['theme']))} gift"
    near = [v for v in candidates(ctx, match.category or _TOYS, exclude=[toy.product_id],
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
        gold.append(_say("Got it, let me look for that."))
    gold += [
        _call("search_products", **_search_args(match.model_copy(update={"max_price_cents":
                                                                         budget}))),
        _call("get_product", product_id=toy.product_id),
        _call("add_to_cart", variant_id=variant.variant_id, quantity=1),
        _say(f"Added the {toy.title} ({money(price)}) to your cart — total {money(price)}, "
             f"within your {money(budget)} budget."),
    ]
    desc = f"A {theme} gift for a {age}-year-old under {money(budget)}, in the cart."
    return assemble(ctx, intent=intent, world=world, gold=gold, persona="gift shopper",
                    description=desc, scenario=events)


def _theme_words(theme: str) -> str:
    return theme.replace("_", " ")


def _kit(ctx: GenContext) -> TaskSpec:
    p, rng = ctx.params, ctx.rng
    group = rng.choice(_KIT_GROUPS)
    leaf_slugs = sorted({f"{i.department.slug}/{i.group.slug}/{i.leaf.slug}"
                         for i in _group_leaves(group)})
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
        feats = features_of(view)
        if p.constraints >= 4 and feats:
            rng.choice(feats).apply(m)
        picks.append((view, variant, m))
    total = sum(eff_price(v, world) for _, v, _ in picks)
    budget = nice_budget(total, p.budget_tightness, rng, loose=0.3)
    items = []
    slots = [Slot(name="category", value=group, phrase=_kit_name(group))]
    for view, _variant, m in picks:
        label = leaf_singular(m.category or view.category_slug)
        feat_text = join_words([attr_phrase(view.category_slug, k, v)
                                for k, v in m.attributes.items()] +
                               [attr_phrase(view.category_slug, k, v, at_least=True)
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
            spare = [f for f in features_of(view) if f.name not in m.attributes
                     and f.name not in m.attributes_at_least]
            if spare:
                feat = rng.choice(spare)
                new_items = [it.model_copy(deep=True) for it in items]
                feat.apply(new_items[idx].match)
                phrase = feat.phrase(view.category_slug)
                new_items[idx].label += f" {phrase}"
                change = MindChange(at_turn=1, slot="feature",
                                    say=f"Actually, the {leaf_noun(view.category_slug)} one "
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
    request = f"I'm putting together {_kit_name(group)}: I need {join_words(said)}"
    if slots[-1].in_opening:
        request += f", {slots[-1].phrase}"
    intent = Intent(kind="bundle", request=request + ".", slots=slots, items=items,
                    budget_cents=budget, change=change)
    gold: list[GoldStep] = []
    if change is not None:
        gold.append(_say("Got it, let me look for those."))
    for (view, variant, _m), item in zip(picks, final_items, strict=True):
        gold += [
            _call("search_products", **_search_args(item.match.model_copy(
                update={"max_price_cents": budget}))),
            _call("get_product", product_id=view.product_id),
            _call("add_to_cart", variant_id=variant.variant_id, quantity=1),
        ]
    names = join_words([f"the {view.title}" for view, _, _ in picks])
    gold.append(_say(f"Added {names} — total {money(total)}, within your {money(budget)} "
                     "budget."))
    desc = f"{_kit_name(group).capitalize()}: {n} items of {group} under {money(budget)} total."
    return assemble(ctx, intent=intent, world=world, gold=gold, persona=rng.choice(PERSONAS),
                    description=desc, scenario=events)


def _group_leaves(group: str) -> list[Any]:
    from mcp_shop.catalog.taxonomy import leaves

    return [i for i in leaves() if f"{i.department.slug}/{i.group.slug}" == group]


def _kit_name(group: str) -> str:
    names = {"sports/camping-hiking": "a camping kit", "sports/fitness": "a home gym kit",
             "electronics/audio": "an audio setup", "home/kitchen": "a kitchen starter kit",
             "home/bedding": "a bedding set", "garden/gardening": "a gardening kit",
             "clothing/tops": "a wardrobe refresh", "pets/dogs": "a new-puppy kit"}
    return names.get(group, "a kit")
