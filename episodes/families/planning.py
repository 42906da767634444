"""What the product-choosing generators share: retries, catalog reading, the features a
shopper asks for, budgets, the world plan (distractors, stock-outs, flash sales), gold steps and
task assembly.

Used by ``products`` (discovery, price_compare), ``substitution``, ``bundle`` and ``cart``
(cart, purchase). Judging products is ``episodes.families.matching``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from episodes.families.phrases import (
    attr_phrase,
    greeting,
    join_words,
    leaf_noun,
    money,
    option_phrase,
)
from episodes.families.vocabulary import OPTION_ROLES, LeafVocab
from episodes.generate import GenContext, GenerationError, task_id
from mcp_shop.db import read_tx
from mcp_shop.ids import parse_product_id
from mcp_shop.search import similar as run_similar
from mcp_shop.views import ProductView, VariantView
from verifiers.types import GoldStep, Intent, ProductMatch, ScenarioEvent, Slot, TaskSpec, World

__all__ = [
    "Feature",
    "Retry",
    "WorldPlan",
    "assemble",
    "candidates",
    "features_of",
    "fit_text",
    "gold_call",
    "gold_say",
    "nice_budget",
    "omit_slots",
    "option_dims",
    "other_option_value",
    "pick_in_leaf",
    "rating_floor",
    "require",
    "retrying",
    "search_args",
    "shared_feature",
    "shares",
    "similar_views",
    "volatility_events",
]

_TRIES = 40


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

    def phrase(self, leaf: LeafVocab) -> str:
        """How the shopper asks for it in ``leaf`` ('with active noise cancelling')."""
        return attr_phrase(leaf.attr(self.name), self.name, self.value, at_least=self.at_least)

    def apply(self, m: ProductMatch) -> None:
        if self.at_least:
            m.attributes_at_least[self.name] = float(self.value)
        else:
            m.attributes[self.name] = self.value


def features_of(ctx: GenContext, view: ProductView) -> list[Feature]:
    """The attribute constraints ``view`` satisfies that a shopper would ask for (only the
    attributes its leaf declares)."""
    out: list[Feature] = []
    for name, value in sorted(view.attributes.items()):
        spec = ctx.vocab.attr(view.category_slug, name)
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


def gold_say(text: str) -> GoldStep:
    return GoldStep(say=text)


def gold_call(tool: str, **args: Any) -> GoldStep:
    return GoldStep(tool=tool, args=args)


def search_args(m: ProductMatch, *, query: str = "") -> dict[str, Any]:
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


def pick_in_leaf(ctx: GenContext, predicate: Callable[[ProductView], bool],
                  what: str) -> ProductView:
    try:
        return ctx.pick(lambda v: v.in_stock and predicate(v), what=what)
    except GenerationError as exc:
        raise Retry(str(exc)) from None


def require(ok: bool, why: str) -> None:
    if not ok:
        raise Retry(why)


def option_dims(ctx: GenContext, slug: str) -> dict[str, str]:
    """{option name: role} of the leaf's size and colour dimensions, colours first (the
    dimensions a shopper names by role: 'in blue', 'size 10')."""
    roles = ctx.vocab.role_names(slug)
    return {n: r for role in OPTION_ROLES for n, r in roles.items() if r == role}


def other_option_value(ctx: GenContext, slug: str, dim: str, not_value: str) -> str | None:
    """Another value of the leaf's option ``dim`` (None if it has no other)."""
    spec = ctx.vocab.leaf(slug).option(dim) if ctx.vocab.has_leaf(slug) else None
    if spec is None:
        return None
    others = [v for v in spec.values if v.lower() != not_value.lower()]
    return ctx.rng.choice(others) if others else None


def rating_floor(rating: float) -> float:
    return math.floor(rating * 2) / 2


def fit_text(view: ProductView, m: ProductMatch, leaf: LeafVocab, *, budget: bool = True
             ) -> str:
    """'from Sonix, in black, with active noise cancelling and under $120' for the gold."""
    parts: list[str] = []
    if m.brand:
        parts.append(f"from {view.brand}")
    for dim, opt in m.options.items():
        spec = leaf.option(dim)
        parts.append(f"available {option_phrase(dim, opt, spec.role if spec else None)}")
    for name, value in m.attributes.items():
        parts.append(attr_phrase(leaf.attr(name), name, value))
    for name, low in m.attributes_at_least.items():
        parts.append(attr_phrase(leaf.attr(name), name, view.attributes.get(name, low),
                                 at_least=True))
    if m.min_rating is not None:
        parts.append(f"rated {view.rating:g} stars")
    if budget and m.max_price_cents is not None:
        parts.append(f"within your {money(m.max_price_cents)} budget")
    return join_words(parts) if parts else f"one of our {leaf_noun(leaf)}"


def shares(cand: ProductView, feat: Feature) -> bool:
    got = cand.attributes.get(feat.name)
    if feat.at_least:
        return isinstance(got, int | float) and not isinstance(got, bool) and got > 0
    return bool(got == feat.value)


def shared_feature(cand: ProductView, feat: Feature) -> Feature:
    """The constraint both products meet (a numeric minimum is the lower of the two)."""
    if feat.at_least:
        got = cand.attributes.get(feat.name, feat.value)
        return Feature(feat.name, min(got, feat.value), True)
    return feat


