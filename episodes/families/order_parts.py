"""Shared parts of the order generators (``orders``: return, exchange; ``order_status``:
order status, cancel): wording of amounts, days, dates and items; the customer's history; past
orders placed so the session clock finds the target in the wanted state; retries.
"""


import random
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from episodes.families.phrases import greeting
from episodes.families.vocabulary import LeafVocab
from episodes.generate import GenContext, GenerationError, task_id
from episodes.preview import preview_world
from mcp_shop.policies import Policies, ReturnRule
from mcp_shop.views import (
    OrderLineView,
    OrderView,
    ProductView,
)
from verifiers.types import GoldStep, Intent, TaskSpec, World

_DAY_SECONDS = 86400.0
_ATTEMPTS = 12

# -- wording ----------------------------------------------------------------------------------

_ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen")
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")


def number_word(n: int) -> str:
    """0..99 in words: 7 -> 'seven', 24 -> 'twenty-four'; larger numbers as digits."""
    if 0 <= n < 20:
        return _ONES[n]
    if 20 <= n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")
    return str(n)


def days_phrases(n: int) -> list[str]:
    """Ways to write a span of ``n`` days: '15 days', '15-day', 'fifteen days', ..."""
    word = number_word(n)
    return [f"{n} days", f"{n}-day", f"{n} day", f"{word} days", f"{word}-day", f"{word} day"]


def money_phrases(cents: int) -> list[str]:
    """Ways to write an amount: '$14.99' and '14.99'; '$50.00', '$50' and '50 dollars'."""
    whole, rest = divmod(cents, 100)
    out = [f"${whole}.{rest:02d}", f"{whole}.{rest:02d}"]
    if rest == 0:
        out += [f"${whole}", f"{whole} dollars", f"{number_word(whole)} dollars"]
    return out


def _ordinal(day: int) -> str:
    if 10 <= day % 100 <= 20:
        return f"{day}th"
    return f"{day}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(day % 10, 'th') }"


def date_phrases(when: datetime) -> list[str]:
    """Ways to write a calendar date: 'March 5', 'Mar 5', '5 March', 'March 5th', '2026-03-05'."""
    month, abbr, day = when.strftime("%B"), when.strftime("%b"), when.day
    return [f"{month} {day}", f"{abbr} {day}", f"{abbr}. {day}", f"{day} {month}",
            f"{month} {_ordinal(day)}", f"{_ordinal(day)} of {month}", f"{when:%Y-%m-%d}"]


def _date(when: datetime) -> str:
    return f"{when:%A}, {when:%B} {when.day}"


def _ago_bucket(days: float) -> int:
    bounds = (1 / 24, 1.5 / 24, 0.5, 1.5, 2.5, 4.5, 10, 17.5, 24.5, 45, 75)
    return sum(days >= b for b in bounds)


def ago_phrase(days: float) -> str:
    """How a shopper says when something happened ``days`` days ago."""
    hours = days * 24
    bucket = _ago_bucket(days)
    if bucket == 0:
        return "a few minutes ago" if hours < 0.5 else "less than an hour ago"
    if bucket == 1:
        return "about an hour ago"
    if bucket == 2:
        return f"about {round(hours)} hours ago"
    return ("yesterday", "two days ago", "a few days ago", "about a week ago",
            "about two weeks ago", "about three weeks ago", "about a month ago",
            "about two months ago", "about three months ago")[bucket - 3]


def item_noun(title: str, leaf: LeafVocab | None) -> str:
    """The product noun of a title ('running shoes', 'kitchen knife'), lower case: the
    longest of the leaf's title nouns in it, else its first (the title's last word without
    a leaf)."""
    if leaf is None:
        return title.split()[-1].lower()
    names = list(leaf.nouns)
    hits = [n for n in names if n.lower() in title.lower()]
    return (max(hits, key=len) if hits else names[0]).lower()


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _plural(noun: str) -> bool:
    return noun.endswith("s") and not noun.endswith("ss")


def _grammar(noun: str) -> dict[str, str]:
    if _plural(noun):
        return {"It": "They", "it": "they", "is": "are", "was": "were", "does": "do",
                "them": "them", "its": "their"}
    return {"It": "It", "it": "it", "is": "is", "was": "was", "does": "does", "them": "it",
            "its": "its"}


def _leaf(ctx: GenContext, view: ProductView) -> LeafVocab | None:
    vocab = ctx.vocab
    return vocab.leaf(view.category_slug) if vocab.has_leaf(view.category_slug) else None


def _describe(ctx: GenContext, view: ProductView, *, brand: bool) -> str:
    """'the Nookery kitchen knife' or 'the kitchen knife'."""
    noun = item_noun(view.title, _leaf(ctx, view))
    return f"the {view.brand} {noun}" if brand else f"the {noun}"


_RETURN_REASON_TEXT: dict[str, tuple[str, ...]] = {
    "wrong_size": ("{It} {does}n't fit", "{It} {is} the wrong size for me"),
    "not_as_described": ("{It} {is}n't what the listing described",
                         "{It} {does}n't match the description on the site"),
    "arrived_damaged": ("{It} arrived damaged", "{It} {was} broken when {it} arrived"),
    "changed_mind": ("I changed my mind about {them}", "I don't need {them} anymore"),
}
_DEFECT_TEXT = {
    "electronics": ("{It} stopped working after a few days", "{It} won't turn on anymore"),
    "shoes": ("The sole is already coming apart",),
    "clothing": ("The stitching is already coming apart",),
}
_CANCEL_REASON_TEXT: dict[str, tuple[str, ...]] = {
    "no_longer_needed": ("I don't need it anymore", "It turns out I don't need it after all"),
    "ordered_by_mistake": ("I ordered it by mistake", "I placed that order by accident"),
    "found_better_price": ("I found it cheaper somewhere else",
                           "I found a better price elsewhere"),
    "shipping_too_slow": ("the delivery would take too long for me",
                          "it won't arrive in time for when I need it"),
}


def _return_reason_text(ctx: GenContext, rng: random.Random, reason: str, view: ProductView
                        ) -> str:
    noun = item_noun(view.title, _leaf(ctx, view))
    if reason == "defective":
        dept = view.category_slug.split("/")[0]
        options = _DEFECT_TEXT.get(dept, ("{It} {is} defective", "{It} {is} faulty"))
    else:
        options = _RETURN_REASON_TEXT[reason]
    return rng.choice(options).format(**_grammar(noun))


def _return_reasons(ctx: GenContext, view: ProductView) -> list[str]:
    out = ["defective", "not_as_described", "arrived_damaged", "changed_mind"]
    roles = ctx.vocab.role_names(view.category_slug)
    if any(roles.get(name) == "size" for name in view.option_names):
        out += ["wrong_size", "wrong_size"]
    return out


# -- the world, previewed in a sandbox (episodes.preview) ------------------------------------


def _history_leaves(ctx: GenContext, seed: int, depth: int) -> set[str]:
    """Leaf categories of the seeded history orders (targets avoid them: no ambiguity)."""
    if depth == 0:
        return set()
    built = preview_world(ctx.shop, World(session_seed=seed, history_orders=depth), history=True)
    return {ctx.product(ln.product_id).category_slug for o in built.history for ln in o.lines}


# -- shared generation steps ------------------------------------------------------------------


class _Retry(GenerationError):
    """This attempt drew something unusable; draw again."""


def _attempts(ctx: GenContext, build: Callable[[GenContext], TaskSpec]) -> TaskSpec:
    last: Exception | None = None
    for _ in range(_ATTEMPTS):
        try:
            return build(ctx)
        except GenerationError as exc:
            last = exc
    raise GenerationError(f"{ctx.family} d{ctx.difficulty} seed {ctx.seed}: no valid task in "
                          f"{_ATTEMPTS} attempts; last problem: {last}")


def _call(tool: str, **args: Any) -> GoldStep:
    return GoldStep(tool=tool, args=args)


def _say(text: str) -> GoldStep:
    return GoldStep(say=text)


def _ship_hours(policies: Policies, code: str) -> tuple[float, float]:
    """Hours from placing to shipping and to delivery with shipping option ``code``."""
    option = policies.shipping_option(code)
    assert option is not None
    return (option.ship_after.total_seconds() / 3600, option.deliver_after.total_seconds() / 3600)


def _shipping(ctx: GenContext) -> str:
    if ctx.difficulty < 3:
        return "standard"
    return ctx.rng.choices(["standard", "express", "next_day"], [3, 1, 1])[0]


def _branch(ctx: GenContext, refusals: Sequence[str], weights: Sequence[int]) -> str:
    """'ok', or (with policy branching, half of the time) one of ``refusals``."""
    if ctx.params.policy_branching >= 1 and ctx.rng.random() < 0.5:
        return ctx.rng.choices(list(refusals), list(weights))[0]
    return "ok"


def _returnable(ctx: GenContext, view: ProductView) -> bool:
    return _rule(ctx, view).returnable


def _rule(ctx: GenContext, view: ProductView) -> ReturnRule:
    """The return rule of ``view`` under the catalog's own policies (an imported catalog's
    may differ from the generated catalog's)."""
    return ctx.shop.policies.return_rule(view.category_slug)


def _omitted(ctx: GenContext, share: float | None = None) -> bool:
    """Whether a slot stays out of the opening (revealed only when asked)."""
    return ctx.rng.random() < (ctx.params.omitted_share if share is None else share)


def _outside(ctx: GenContext, avoid: set[str], fits: Callable[[LeafVocab], bool] | None = None
             ) -> set[str]:
    """The leaves a pick must avoid: ``avoid`` (the history's and the order's leaves, so that
    a description names one line only), unless no stocked leaf that ``fits`` lies outside it.
    Then nothing is avoided: a small catalog whose seeded history covers every such leaf still
    makes tasks, and the order id tells the lines apart."""
    if any(leaf.products and leaf.slug not in avoid and (fits is None or fits(leaf))
           for leaf in ctx.vocab.leaves):
        return avoid
    return set()


def _fillers(ctx: GenContext, count: int, avoid: set[str], exclude: set[str] | None = None
             ) -> list[tuple[ProductView, int]]:
    """Other lines of the target order: products of other leaf categories (on a small
    catalog, see ``_outside``, other products at least: never one of ``exclude``; fewer
    than ``count`` when the catalog has no more products)."""
    out: list[tuple[ProductView, int]] = []
    taken = set(exclude or ())
    total = sum(leaf.products for leaf in ctx.vocab.leaves)
    for _ in range(min(count, total - len(taken))):
        blocked = _outside(ctx, avoid)
        view = ctx.pick(lambda v, b=blocked: (v.category_slug not in b  # type: ignore[misc]
                                              and v.product_id not in taken),
                        what="a filler product")
        taken.add(view.product_id)
        avoid.add(view.category_slug)
        out.append((view, ctx.rng.choice([1, 1, 2])))
    return out


def _order_lines(ctx: GenContext, lines: Sequence[tuple[str, int]]) -> dict[str, int]:
    shuffled = list(lines)
    ctx.rng.shuffle(shuffled)
    return dict(shuffled)


def _near_miss(ctx: GenContext, target: ProductView, days_ago: float,
               exclude: set[str]) -> tuple[ProductView, float] | None:
    """Another product of the target's leaf, bought at a clearly different time."""
    page = ctx.search(category=target.category_slug, page_size=50)
    ids = [h.product_id for h in page.hits if h.product_id not in exclude]
    if not ids:
        return None
    other = ctx.product(ctx.rng.choice(ids))
    later = days_ago + ctx.rng.uniform(20, 40)
    earlier = days_ago - ctx.rng.uniform(15, 30)
    options = [d for d in (later, earlier)
               if 5.5 <= d <= 110 and _ago_bucket(d) != _ago_bucket(days_ago)]
    if not options:
        return None
    return other, ctx.rng.choice(options)


def _place(ctx: GenContext, target: dict[str, Any],
           extras: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """The past orders with the target at a random position; returns them and its index."""
    index = ctx.rng.randint(0, len(extras))
    placed = list(extras)
    placed.insert(index, target)
    return placed, index


def _past(lines: dict[str, int], days_ago: float, option: str) -> dict[str, Any]:
    return {"lines": lines, "days_ago": round(days_ago, 4), "shipping_option": option}


def _spec(ctx: GenContext, *, world: World, intent: Intent, persona: str, opening: str,
          gold: list[GoldStep], description: str) -> TaskSpec:
    family: Any = ctx.family
    return TaskSpec(
        task_id=task_id(ctx.family, ctx.difficulty, ctx.seed), family=family,
        difficulty=ctx.difficulty, seed=ctx.seed, catalog=ctx.catalog, params=ctx.params,
        world=world, intents=[intent], persona=persona, opening=opening, gold=gold,
        limits=ctx.limits(), description=description,
    )


def _opening(ctx: GenContext, persona: str, request: str) -> str:
    return f"{greeting(persona, ctx.rng)} {request}"


def _line(order: OrderView, variant_id: str) -> OrderLineView:
    return next(ln for ln in order.lines if ln.variant_id == variant_id)
