"""Generators of the order families: return, exchange, order_status and cancel.

Each task seeds the customer's history (``history_depth`` orders drawn from the session seed) and
adds its target order, and at higher difficulty a near-miss order, as past orders placed so that
the session clock finds the target in the wanted state: delivered inside or outside its return
window, pending, processing, shipped. The target of the ``i``-th past order is
``O-(1001 + history_depth + i)``.

Before a task is returned its world is built inside a database transaction that is always rolled
back (``episodes.preview.preview_world``): the target order's status and each line's return
eligibility are checked against the intent, and the gold solution's consequential call is run
once so that the gold messages quote the real outcome (return and exchange ids, refunds,
tracking numbers, dates). Nothing is left in the database, and the same world is rebuilt for the
episode.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from episodes.families.phrases import PERSONAS, greeting, join_words, leaf_info, options_phrase
from episodes.families.telling import fact, tell
from episodes.generate import GenContext, GenerationError, register, task_id
from episodes.preview import FIRST_ORDER_NUMBER, Built, preview_world
from episodes.world import sandbox
from mcp_shop import orders, returns, sessions
from mcp_shop.ids import order_id, parse_order_id, parse_variant_id
from mcp_shop.policies import DEFAULT_POLICIES, ReturnRule
from mcp_shop.views import (
    ExchangeView,
    LineEligibility,
    OrderLineView,
    OrderView,
    ProductView,
    ReturnView,
    VariantView,
)
from verifiers.types import FactGoal, GoldStep, Intent, Slot, TaskSpec, World

__all__ = [
    "Built",
    "FIRST_ORDER_NUMBER",
    "ago_phrase",
    "preview_world",
    "date_phrases",
    "days_phrases",
    "generate_cancel",
    "generate_exchange",
    "generate_order_status",
    "generate_return",
    "item_noun",
    "money_phrases",
    "number_word",
    "sandbox",
]

_DAY_SECONDS = 86400.0
_ATTEMPTS = 12
_POLICIES = DEFAULT_POLICIES

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


def item_noun(title: str, category_slug: str) -> str:
    """The product noun of a title ('running shoes', 'kitchen knife'), lower case."""
    try:
        nouns = leaf_info(category_slug).leaf.nouns
    except KeyError:
        return title.split()[-1].lower()
    names = [n if isinstance(n, str) else n[0] for n in nouns]
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


def _describe(view: ProductView, *, brand: bool) -> str:
    """'the Nookery kitchen knife' or 'the kitchen knife'."""
    noun = item_noun(view.title, view.category_slug)
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


def _return_reason_text(rng: random.Random, reason: str, view: ProductView) -> str:
    noun = item_noun(view.title, view.category_slug)
    if reason == "defective":
        dept = view.category_slug.split("/")[0]
        options = _DEFECT_TEXT.get(dept, ("{It} {is} defective", "{It} {is} faulty"))
    else:
        options = _RETURN_REASON_TEXT[reason]
    return rng.choice(options).format(**_grammar(noun))


def _return_reasons(view: ProductView) -> list[str]:
    out = ["defective", "not_as_described", "arrived_damaged", "changed_mind"]
    if "size" in view.option_names:
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


def _ship_hours(code: str) -> tuple[float, float]:
    option = _POLICIES.shipping_option(code)
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


def _returnable(view: ProductView) -> bool:
    return _POLICIES.return_rule(view.category_slug).returnable


def _rule(view: ProductView) -> ReturnRule:
    return _POLICIES.return_rule(view.category_slug)


def _omitted(ctx: GenContext, share: float | None = None) -> bool:
    """Whether a slot stays out of the opening (revealed only when asked)."""
    return ctx.rng.random() < (ctx.params.omitted_share if share is None else share)


def _fillers(ctx: GenContext, count: int, avoid: set[str]) -> list[tuple[ProductView, int]]:
    """Other lines of the target order: products of other leaf categories."""
    out: list[tuple[ProductView, int]] = []
    for _ in range(count):
        view = ctx.pick(lambda v: v.category_slug not in avoid, what="a filler product")
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


def _refusal(kind: str, branch: str, rule: ReturnRule, title: str, oid: str,
             elig: LineEligibility, delivered: datetime) -> tuple[list[FactGoal], str]:
    """The fact to tell (why ``kind``, return or exchange, is refused: the eligibility's
    reason code) and the gold explanation."""
    verb = "returned" if kind == "return" else "exchanged"
    why = [fact(f"cannot_{kind}", oid, elig.reason_code)]
    if branch == "window":
        assert elig.window_ends is not None
        w = rule.window_days
        label = rule.label.lower()
        text = (f"I'm sorry, but the {title} from order {oid} can no longer be {verb}: "
                f"{label} can be returned or exchanged within {w} days of delivery, and it was "
                f"delivered on {_date(delivered)}, so the {w}-day window closed on "
                f"{_date(elig.window_ends)}.")
        return why, text
    if branch == "grocery":
        text = (f"I'm sorry, but the {title} from order {oid} can't be {verb}: grocery items "
                "are final sale and not returnable.")
        return why, text
    text = (f"I'm sorry, but the {title} from order {oid} was a clearance item sold as final "
            f"sale, so it can't be {verb}.")
    return why, text


def _since_delivery(ctx: GenContext, branch: str, rule: ReturnRule) -> float:
    """Days between delivery and now for the branch (inside or outside the window)."""
    rng, w = ctx.rng, rule.window_days
    default = _POLICIES.return_rule("").window_days
    tricky = ctx.params.policy_branching >= 2 and rng.random() < 0.6
    if branch == "ok":
        lo = default + 1.5 if tricky and w > default + 4 else 1.0
        return rng.uniform(lo, w - 1.5)
    if branch == "window":
        hi = default - 1.0 if tricky and w + 4 < default else w + 25.0
        return rng.uniform(w + 1.5, hi)
    return rng.uniform(1.0, 10.0)


# -- return -----------------------------------------------------------------------------------


def _return_target(ctx: GenContext, branch: str, avoid: set[str]) -> ProductView:
    pred: Callable[[ProductView], bool]
    if branch == "grocery":
        def pred(v: ProductView) -> bool:
            return not _returnable(v)
    elif branch == "final_sale":
        def pred(v: ProductView) -> bool:
            return v.final_sale and _returnable(v)
    else:
        def pred(v: ProductView) -> bool:
            return not v.final_sale and _returnable(v)
    return ctx.pick(lambda v: pred(v) and v.category_slug not in avoid,
                    what=f"a product for a {branch} return")


def _build_return(ctx: GenContext) -> TaskSpec:
    p, rng = ctx.params, ctx.rng
    seed, depth = ctx.session_seed(), p.history_depth
    avoid = _history_leaves(ctx, seed, depth)
    branch = _branch(ctx, ("window", "final_sale", "grocery"), (2, 1, 1))
    proceed = branch == "ok"
    option = _shipping(ctx)
    target = _return_target(ctx, branch, avoid)
    rule = _rule(target)
    since = _since_delivery(ctx, branch, rule)
    days_ago = since + _ship_hours(option)[1] / 24
    taken = avoid | {target.category_slug}

    variant = rng.choice(target.variants)
    qty = ret_qty = 1
    if p.constraints >= 3 and rng.random() < 0.5:
        qty = rng.randint(2, 3)
        ret_qty = rng.randint(1, qty - 1)
    n_lines = 1 if p.constraints <= 1 else rng.randint(2, min(3, p.constraints))
    picked = [(target, variant, qty, ret_qty)]
    reason = rng.choice(_return_reasons(target))
    if proceed and n_lines >= 2 and p.constraints >= 4 and rng.random() < 0.4:
        second = ctx.pick(lambda v: (not v.final_sale and _returnable(v)
                                     and _rule(v).window_days > since + 1
                                     and v.category_slug not in taken),
                          what="a second returnable product")
        taken.add(second.category_slug)
        picked.append((second, rng.choice(second.variants), 1, 1))
        reason = rng.choice(["changed_mind", "arrived_damaged", "not_as_described"])
    fillers = _fillers(ctx, n_lines - len(picked), taken)
    lines = _order_lines(ctx, [(v.variant_id, q) for _, v, q, _ in picked]
                         + [(f.variants[0].variant_id, q) for f, q in fillers])
    extras = []
    if p.distractors >= 3 and rng.random() < 0.5:
        miss = _near_miss(ctx, target, days_ago, {target.product_id})
        if miss is not None:
            extras.append(_past({rng.choice(miss[0].variants).variant_id: 1}, miss[1], option))
    past, index = _place(ctx, _past(lines, days_ago, option), extras)
    oid = order_id(FIRST_ORDER_NUMBER + depth + index)
    world = World(session_seed=seed, history_orders=depth, past_orders=past)
    items: list[dict[str, Any]] = [{"variant_id": v.variant_id, "quantity": r}
                                   for _, v, _, r in picked]

    def act(conn: Connection, sid: str) -> ReturnView:
        row = sessions.read_session(conn, sid)
        rid = returns.request_return(conn, row, parse_order_id(oid),
                                     [(parse_variant_id(i["variant_id"]), i["quantity"])
                                      for i in items], reason=reason, refund_to="original")
        view = orders.get_order(conn, sid, parse_order_id(oid))
        return next(r for r in view.returns if r.return_id == rid)

    built = preview_world(ctx.shop, world, [oid], action=act if proceed else None)
    order = built.orders[oid]
    if order.status != "delivered":
        raise _Retry(f"{oid} is {order.status}, not delivered")
    for _, v, _, _ in picked:
        elig = next(e for e in built.eligibility[oid] if e.variant_id == v.variant_id)
        if elig.eligible != proceed:
            raise _Retry(f"eligibility of {v.variant_id} is {elig.eligible}: {elig.reason}")
    if proceed and built.failure:
        raise _Retry(built.failure)

    # wording
    persona = rng.choice(PERSONAS)
    brand = rng.random() < 0.5
    noun = item_noun(target.title, target.category_slug)
    descs = [_describe(v, brand=brand) for v, _, _, _ in picked]
    when = ago_phrase(days_ago)
    order_in = not _omitted(ctx)
    reason_in = not _omitted(ctx)
    qty_in = not _omitted(ctx)
    reason_text = _return_reason_text(rng, reason, target)
    slots = [
        Slot(name="item", value=[v.variant_id for _, v, _, _ in picked],
             phrase=_cap(f"{join_words(descs)} I bought {when}."))
    ]
    slots.append(Slot(name="order", value=oid, phrase=f"It's order {oid}.", in_opening=order_in))
    slots.append(Slot(name="reason", value=reason, phrase=f"{reason_text}.",
                      in_opening=reason_in))
    if ret_qty < qty:
        slots.append(Slot(name="quantity", value=ret_qty,
                          phrase=f"Only {ret_qty} of {descs[0]}: I bought {qty}.",
                          in_opening=qty_in))
    request = f"I'd like to return {join_words(descs)} I bought {when}"
    request += f" (order {oid})." if order_in else "."
    if ret_qty < qty and qty_in:
        request += f" I bought {qty} of {descs[0]} but only want to send back {ret_qty}."
    if reason_in:
        request += f" {reason_text}."

    titles = {v.variant_id: _line(order, v.variant_id).title for _, v, _, _ in picked}
    gold = [_call("list_orders"), _call("get_order", order_id=oid),
            _call("check_return_eligibility", order_id=oid)]
    facts: list[FactGoal] = []
    if proceed:
        ret: ReturnView = built.outcome
        what = join_words([f"{i['quantity']} x {titles[i['variant_id']]}" for i in items])
        fee = ""
        if ret.fee_cents:
            pct = f"{rule.restocking_fee_percent}% " if len(items) == 1 else ""
            fee = f" (after the {pct}restocking fee of {money_phrases(ret.fee_cents)[0]})"
        gold += [
            _say(f"Shall I return {what} from order {oid} for a refund of "
                 f"{money_phrases(ret.refund_cents)[0]}{fee} to your original payment method?"),
            _call("request_return", order_id=oid, items=items, reason=reason,
                  refund_to="original"),
            _say(f"Done: return {ret.return_id} for order {oid} is approved, and "
                 f"{money_phrases(ret.refund_cents)[0]} is being refunded to your original "
                 "payment method."),
        ]
        description = (f"Return {what} ({', '.join(titles)}) from {oid}, reason {reason}, "
                       "refund to the original payment method.")
    else:
        v0 = picked[0][1]
        elig0 = next(e for e in built.eligibility[oid] if e.variant_id == v0.variant_id)
        facts, text = _refusal("return", branch, rule, titles[v0.variant_id], oid, elig0,
                               order.expected_delivery)
        gold += [tell(facts), _say(text)]
        description = (f"The shopper wants to return the {noun} ({v0.variant_id}) of {oid}, "
                       f"but it cannot be returned ({branch.replace('_', ' ')}): make no "
                       "return and say why.")
    intent = Intent(kind="return", request=request, slots=slots, order_id=oid,
                    lines=[(i["variant_id"], i["quantity"]) for i in items], reason=reason,
                    proceed=proceed, facts=facts)
    return _spec(ctx, world=world, intent=intent, persona=persona,
                 opening=_opening(ctx, persona, request), gold=gold, description=description)


@register("return")
def generate_return(ctx: GenContext) -> TaskSpec:
    """Return the right line(s) of a delivered order, or explain why the policy forbids it."""
    return _attempts(ctx, _build_return)


# -- exchange ---------------------------------------------------------------------------------


def _dimension_pairs(view: ProductView, dim: str) -> list[list[VariantView]]:
    """Groups of variants that differ only in option ``dim`` (in catalog order)."""
    groups: dict[tuple[tuple[str, str], ...], list[VariantView]] = {}
    for v in view.variants:
        if dim not in v.options:
            continue
        key = tuple(sorted((k, x) for k, x in v.options.items() if k != dim))
        groups.setdefault(key, []).append(v)
    return [g for g in groups.values() if len(g) >= 2]


def _exchangeable(view: ProductView, need_stock: int = 1) -> bool:
    return any(sum(v.stock >= need_stock for v in g) >= 1
               for dim in ("size", "color") for g in _dimension_pairs(view, dim))


def _swap_plan(rng: random.Random, group: list[VariantView], *, twist: bool,
               nearby: bool) -> tuple[VariantView, VariantView, VariantView | None]:
    """(ordered, replacement, sold-out first choice) from variants differing in one option.

    Sizes move to a neighbouring size; with ``twist`` the neighbour is sold out (the world
    sets its stock to 0) and the replacement is the next size in the same direction.
    """
    plans: list[tuple[VariantView, VariantView, VariantView | None]] = []
    if nearby:
        n = len(group)
        for i in range(n):
            for step in (1, -1):
                j, k = i + step, i + 2 * step
                if twist and 0 <= k < n and group[k].stock > 0:
                    plans.append((group[i], group[k], group[j]))
                elif not twist and 0 <= j < n and group[j].stock > 0:
                    plans.append((group[i], group[j], None))
    if not plans:
        plans = [(old, new, None) for new in group if new.stock > 0
                 for old in group if old is not new]
    return rng.choice(plans)


def _build_exchange(ctx: GenContext) -> TaskSpec:
    p, rng = ctx.params, ctx.rng
    seed, depth = ctx.session_seed(), p.history_depth
    avoid = _history_leaves(ctx, seed, depth)
    branch = _branch(ctx, ("window", "final_sale"), (2, 1))
    proceed = branch == "ok"
    option = _shipping(ctx)
    want_final = branch == "final_sale"
    target = ctx.pick(lambda v: (v.final_sale == want_final and _returnable(v)
                                 and _exchangeable(v) and v.category_slug not in avoid),
                      what=f"a product with sizes or colours for a {branch} exchange")
    dims = [d for d in ("size", "color") if _dimension_pairs(target, d)]
    dim = rng.choices(dims, [2 if d == "size" else 1 for d in dims])[0]
    group = rng.choice([g for g in _dimension_pairs(target, dim) if any(v.stock for v in g)])
    twist = proceed and dim == "size" and rng.random() < 1.5 * p.out_of_stock_rate
    old, new, first_choice = _swap_plan(rng, group, twist=twist, nearby=dim == "size")
    stock: dict[str, int] = {}
    if first_choice is not None:
        stock[first_choice.variant_id] = 0
    line_qty, qty = 1, 1
    if p.constraints >= 4 and rng.random() < 0.4:
        line_qty = 2
        qty = 2 if new.stock >= 2 and rng.random() < 0.5 else 1
    rule = _rule(target)
    since = _since_delivery(ctx, branch, rule)
    days_ago = since + _ship_hours(option)[1] / 24
    n_lines = 1 if p.constraints <= 1 else rng.randint(2, min(3, p.constraints))
    fillers = _fillers(ctx, n_lines - 1, avoid | {target.category_slug})
    lines = _order_lines(ctx, [(old.variant_id, line_qty)]
                         + [(f.variants[0].variant_id, q) for f, q in fillers])
    extras = []
    if p.distractors >= 3 and rng.random() < 0.5:
        miss = _near_miss(ctx, target, days_ago, {target.product_id})
        if miss is not None:
            extras.append(_past({rng.choice(miss[0].variants).variant_id: 1}, miss[1], option))
    past, index = _place(ctx, _past(lines, days_ago, option), extras)
    oid = order_id(FIRST_ORDER_NUMBER + depth + index)
    world = World(session_seed=seed, history_orders=depth, past_orders=past, stock=stock)
    reason = "wrong_size" if dim == "size" else "wrong_colour"

    def act(conn: Connection, sid: str) -> ExchangeView:
        row = sessions.read_session(conn, sid)
        xid = returns.request_exchange(conn, row, parse_order_id(oid),
                                       parse_variant_id(old.variant_id),
                                       parse_variant_id(new.variant_id), quantity=qty,
                                       reason=reason)
        view = orders.get_order(conn, sid, parse_order_id(oid))
        return next(x for x in view.exchanges if x.exchange_id == xid)

    built = preview_world(ctx.shop, world, [oid], product_ids=[target.product_id],
                        action=act if proceed else None)
    order = built.orders[oid]
    elig = next(e for e in built.eligibility[oid] if e.variant_id == old.variant_id)
    if order.status != "delivered" or elig.eligible != proceed:
        raise _Retry(f"{oid} is {order.status}; eligibility {elig.eligible}: {elig.reason}")
    session_stock = {v.variant_id: v.stock for v in built.products[target.product_id].variants}
    if session_stock[new.variant_id] < qty or (first_choice is not None
                                               and session_stock[first_choice.variant_id]):
        raise _Retry("the replacement stock is not what the task needs")
    if proceed and built.failure:
        raise _Retry(built.failure)

    # wording
    persona = rng.choice(PERSONAS)
    noun = item_noun(target.title, target.category_slug)
    g = _grammar(noun)
    desc = _describe(target, brand=rng.random() < 0.5)
    when = ago_phrase(days_ago)
    value = new.options[dim]
    if dim == "size":
        sizes = [v.options["size"] for v in group]
        small = sizes.index(new.options["size"]) > sizes.index(old.options["size"])
        reason_text = "{It} {is} too small".format(**g) if small else \
            "{It} {is} too big".format(**g)
        if first_choice is not None:
            want = (f"I'd like size {first_choice.options['size']} instead, or size {value} "
                    f"if {first_choice.options['size']} is sold out.")
        else:
            want = f"I need size {value} instead."
    else:
        reason_text = "I ordered the wrong colour"
        want = f"I'd like {g['them']} in {value} instead."
    order_in = not _omitted(ctx)
    reason_in = not _omitted(ctx)
    want_in = not _omitted(ctx, p.omitted_share / 2)
    qty_in = not _omitted(ctx)
    slots = [
        Slot(name="item", value=old.variant_id,
             phrase=_cap(f"{desc} ({options_phrase(old.options)}) I bought {when}.")),
        Slot(name="order", value=oid, phrase=f"It's order {oid}.", in_opening=order_in),
        Slot(name="reason", value=reason, phrase=f"{reason_text}.", in_opening=reason_in),
        Slot(name=dim, value=value, phrase=want, in_opening=want_in),
    ]
    if line_qty > 1:
        slots.append(Slot(name="quantity", value=qty, in_opening=qty_in,
                          phrase="Both of them." if qty == 2 else "Just one of the two."))
    request = (f"I'd like to exchange {desc} I bought {when} "
               f"({options_phrase(old.options)}{f', order {oid}' if order_in else ''}).")
    if reason_in:
        request += f" {reason_text}."
    if want_in:
        request += f" {want}"
    elif dim == "size":
        request += " I need a different size."
    else:
        request += " I'd like a different colour."
    if line_qty > 1 and qty_in:
        request += (" I bought two and want to swap both." if qty == 2
                    else " I bought two but only want to swap one.")

    title = _line(order, old.variant_id).title
    new_opts = options_phrase(new.options)
    gold = [_call("list_orders"), _call("get_order", order_id=oid)]
    facts: list[FactGoal] = []
    if proceed:
        x: ExchangeView = built.outcome
        diff = x.price_difference_cents
        if diff > 0:
            cost = f" The new one costs {money_phrases(diff)[0]} more, charged to your card."
        elif diff < 0:
            cost = f" The new one is cheaper: {money_phrases(-diff)[0]} comes back to you."
        else:
            cost = " There is no price difference."
        gold += [
            _call("get_product", product_id=target.product_id),
            _say(f"Shall I exchange {qty} x {title} ({options_phrase(old.options)}) from order "
                 f"{oid} for the same item ({new_opts})?{cost}"),
            _call("request_exchange", order_id=oid, variant_id=old.variant_id,
                  new_variant_id=new.variant_id, quantity=qty, reason=reason),
            _say(f"Done: exchange {x.exchange_id} for order {oid} is confirmed; the replacement "
                 f"({new_opts}) ships right away.{cost}"),
        ]
        description = (f"Exchange {qty} x {title} ({old.variant_id}) from {oid} for "
                       f"{new.variant_id} ({new_opts}), reason {reason}.")
    else:
        gold.append(_call("check_return_eligibility", order_id=oid))
        facts, text = _refusal("exchange", branch, rule, title, oid, elig,
                               order.expected_delivery)
        gold += [tell(facts), _say(text)]
        description = (f"The shopper wants to exchange {title} ({old.variant_id}) of {oid} "
                       f"for the one {new_opts}, but it cannot be exchanged "
                       f"({branch.replace('_', ' ')}): make no exchange and say why.")
    intent = Intent(kind="exchange", request=request, slots=slots, order_id=oid,
                    lines=[(old.variant_id, qty)], new_options=dict(new.options), reason=reason,
                    proceed=proceed, facts=facts)
    return _spec(ctx, world=world, intent=intent, persona=persona,
                 opening=_opening(ctx, persona, request), gold=gold, description=description)


@register("exchange")
def generate_exchange(ctx: GenContext) -> TaskSpec:
    """Exchange a delivered line for another size or colour, or explain why it cannot be."""
    return _attempts(ctx, _build_exchange)


# -- order status -----------------------------------------------------------------------------

def _status_hours(rng: random.Random, status: str, option: str) -> float:
    """Hours ago to place an order so that it is in ``status`` now."""
    ship, deliver = _ship_hours(option)
    processing = _POLICIES.processing_after.total_seconds() / 3600
    if status == "pending":
        return rng.uniform(0.1, processing - 0.3)
    if status == "processing":
        return rng.uniform(processing + 0.3, ship - 0.3)
    if status == "shipped":
        return rng.uniform(ship + 0.5, deliver - 1.0)
    return deliver + rng.uniform(8.0, 12 * 24.0)


def _build_order_status(ctx: GenContext) -> TaskSpec:
    p, rng = ctx.params, ctx.rng
    seed, depth = ctx.session_seed(), p.history_depth
    avoid = _history_leaves(ctx, seed, depth)
    status = rng.choice(["pending", "processing", "shipped", "shipped", "delivered"])
    option = rng.choice(["standard", "express", "next_day"]) if ctx.difficulty >= 2 \
        else "standard"
    hours = _status_hours(rng, status, option)
    n_lines = 1 if p.constraints <= 2 else rng.randint(1, 3)
    bought = _fillers(ctx, n_lines, set(avoid))
    main = bought[0][0]
    lines = _order_lines(ctx, [(rng.choice(v.variants).variant_id, q) for v, q in bought])
    extras = []
    if p.distractors >= 2 and rng.random() < 0.6:
        other_status = rng.choice([s for s in ("processing", "shipped", "delivered")
                                   if s != status])
        other_hours = _status_hours(rng, other_status, option)
        if _ago_bucket(other_hours / 24) != _ago_bucket(hours / 24):
            other = _fillers(ctx, 1, avoid | {v.category_slug for v, _ in bought})
            extras.append(_past({other[0][0].variants[0].variant_id: 1}, other_hours / 24,
                                option))
    past, index = _place(ctx, _past(lines, hours / 24, option), extras)
    oid = order_id(FIRST_ORDER_NUMBER + depth + index)
    world = World(session_seed=seed, history_orders=depth, past_orders=past)
    built = preview_world(ctx.shop, world, [oid])
    order = built.orders[oid]
    if order.status != status:
        raise _Retry(f"{oid} is {order.status}, wanted {status}")
    parcel = order.shipments[0]

    persona = rng.choice(PERSONAS)
    desc = _describe(main, brand=rng.random() < 0.5)
    when = ago_phrase(hours / 24)
    order_in = not _omitted(ctx)
    facts = [fact("order_status", oid, status)]
    asks: list[str] = []
    told = {
        "pending": f"Your order {oid} is still pending: it was just placed and hasn't been "
                   "processed yet.",
        "processing": f"Your order {oid} is processing: the warehouse is preparing it and it "
                      "hasn't shipped yet.",
        "shipped": f"Your order {oid} has shipped and is on its way with {parcel.carrier}.",
        "delivered": f"Your order {oid} was delivered on {_date(parcel.delivered_at)} by "
                     f"{parcel.carrier}.",
    }[status]
    extra_text: list[str] = []
    if status == "shipped":
        asks.append("Is there a tracking number?")
        facts.append(fact("tracking_number", oid, parcel.tracking_number))
        extra_text.append(f"The tracking number is {parcel.tracking_number}.")
    if status == "delivered":
        asks.append("Has it arrived yet? When?")
        facts.append(fact("delivered_on", oid, parcel.delivered_at))
    elif p.constraints >= (2 if status != "shipped" else 3):
        asks.append("When should it arrive?")
        facts.append(fact("expected_delivery", oid, order.expected_delivery))
        extra_text.append(f"It's expected to arrive on {_date(order.expected_delivery)}.")
    if status == "delivered" and p.constraints >= 4:
        asks.append("Which carrier brought it?")
        facts.append(fact("carrier", oid, parcel.carrier))
    what = f"my order {oid}" if order_in else f"my order with {desc} from {when}"
    request = rng.choice([f"Where is {what}?", f"Can you check on {what}?",
                          f"What's the status of {what}?"])
    if order_in and rng.random() < 0.5:
        request += f" It's {desc} I ordered {when}."
    request = " ".join([request, *asks])
    slots = [
        Slot(name="order", value=oid, phrase=f"It's order {oid}.", in_opening=order_in),
        Slot(name="item", value=main.product_id,
             phrase=f"It's {desc} I ordered {when}.", in_opening=True),
    ]
    gold = [_call("list_orders"), _call("get_order", order_id=oid),
            tell(facts), _say(" ".join([told, *extra_text]))]
    intent = Intent(kind="order_status", request=request, slots=slots, order_id=oid,
                    facts=facts)
    description = (f"Tell the shopper that {oid} ({main.title}) is {status}"
                   + (f" with tracking {parcel.tracking_number}" if status == "shipped" else "")
                   + (" and when" if len(facts) > 1 and status != "shipped" else "") + ".")
    return _spec(ctx, world=world, intent=intent, persona=persona,
                 opening=_opening(ctx, persona, request), gold=gold, description=description)


@register("order_status")
def generate_order_status(ctx: GenContext) -> TaskSpec:
    """Tell the shopper where an order is: status, tracking, delivery date."""
    return _attempts(ctx, _build_order_status)


# -- cancel -----------------------------------------------------------------------------------


def _build_cancel(ctx: GenContext) -> TaskSpec:
    p, rng = ctx.params, ctx.rng
    seed, depth = ctx.session_seed(), p.history_depth
    avoid = _history_leaves(ctx, seed, depth)
    refusals = ("shipped", "processing") if p.policy_branching >= 2 else ("shipped",)
    branch = _branch(ctx, refusals, (2, 1)[:len(refusals)])
    proceed = branch == "ok"
    option = _shipping(ctx)
    status = "pending" if proceed else branch
    hours = _status_hours(rng, status, option)
    n_lines = 1 if p.constraints <= 2 else rng.randint(1, 3)
    bought = _fillers(ctx, n_lines, set(avoid))
    main = bought[0][0]
    lines = _order_lines(ctx, [(rng.choice(v.variants).variant_id, q) for v, q in bought])
    extras = []
    if p.distractors >= 3 and rng.random() < 0.6:
        # another recent, still pending order: the shopper means the one with the named item
        other = _fillers(ctx, 1, avoid | {v.category_slug for v, _ in bought})
        other_hours = _status_hours(rng, "pending", option)
        extras.append(_past({other[0][0].variants[0].variant_id: 1}, other_hours / 24, option))
    past, index = _place(ctx, _past(lines, hours / 24, option), extras)
    oid = order_id(FIRST_ORDER_NUMBER + depth + index)
    world = World(session_seed=seed, history_orders=depth, past_orders=past)
    reason = rng.choice([r for r in _CANCEL_REASON_TEXT])

    def act(conn: Connection, sid: str) -> OrderView:
        return orders.cancel_order(conn, sid, parse_order_id(oid), reason)

    built = preview_world(ctx.shop, world, [oid], action=act if proceed else None)
    order = built.orders[oid]
    if order.status != status:
        raise _Retry(f"{oid} is {order.status}, wanted {status}")
    if proceed and built.failure:
        raise _Retry(built.failure)

    persona = rng.choice(PERSONAS)
    desc = _describe(main, brand=rng.random() < 0.5)
    when = ago_phrase(hours / 24)
    order_in = not _omitted(ctx)
    reason_in = not _omitted(ctx)
    reason_text = rng.choice(_CANCEL_REASON_TEXT[reason])
    slots = [
        Slot(name="order", value=oid, phrase=f"It's order {oid}.", in_opening=order_in),
        Slot(name="item", value=main.product_id, phrase=f"It's the order with {desc}.",
             in_opening=True),
        Slot(name="reason", value=reason, phrase=_cap(f"{reason_text}."),
             in_opening=reason_in),
    ]
    what = f"order {oid}" if order_in else "the order"
    request = f"Please cancel {what} with {desc} that I placed {when}"
    request += f" — {reason_text}." if reason_in else "."
    gold = [_call("list_orders"), _call("get_order", order_id=oid)]
    facts: list[FactGoal] = []
    if proceed:
        after: OrderView = built.outcome
        refunded = sum(x.amount_cents for x in after.payments if x.kind == "refund")
        gold += [
            _say(f"Shall I cancel order {oid} ({join_words([ln.title for ln in order.lines])},"
                 f" {money_phrases(order.total_cents)[0]})?"),
            _call("cancel_order", order_id=oid, reason=reason),
            _say(f"Order {oid} is cancelled; {money_phrases(refunded)[0]} will be refunded to "
                 "the payment method you used."),
        ]
        description = f"Cancel pending order {oid} ({main.title}), reason {reason}."
    else:
        if branch == "shipped":
            facts = [fact("cannot_cancel", oid, "already_shipped")]
            state = (f"has already shipped (tracking number {order.shipments[0].tracking_number})")
        else:
            facts = [fact("cannot_cancel", oid, "already_processing")]
            state = "is already processing at the warehouse"
        gold += [tell(facts), _say(
            f"I'm sorry, but order {oid} {state}, so it can no longer be cancelled: only pending "
            "orders can be. Once it is delivered you can return it for a refund.")]
        description = (f"The shopper wants to cancel {oid} ({main.title}), but it is {status}: "
                       "do not cancel; say why and that it can be returned after delivery.")
    intent = Intent(kind="cancel", request=request, slots=slots, order_id=oid, reason=reason,
                    proceed=proceed, facts=facts)
    return _spec(ctx, world=world, intent=intent, persona=persona,
                 opening=_opening(ctx, persona, request), gold=gold, description=description)


@register("cancel")
def generate_cancel(ctx: GenContext) -> TaskSpec:
    """Cancel a pending order, or explain that a processing or shipped one cannot be."""
    return _attempts(ctx, _build_cancel)
