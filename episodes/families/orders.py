"""Generators of the order families: return and exchange (order_status and cancel are in
``episodes.families.order_status``; shared parts in ``episodes.families.order_parts``).

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
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from episodes.families.order_parts import (  # noqa: F401 (re-exported)
    _CANCEL_REASON_TEXT,
    _DAY_SECONDS,
    _ago_bucket,
    _attempts,
    _branch,
    _call,
    _cap,
    _date,
    _describe,
    _fillers,
    _grammar,
    _history_leaves,
    _leaf,
    _line,
    _near_miss,
    _omitted,
    _opening,
    _order_lines,
    _outside,
    _past,
    _place,
    _plural,
    _Retry,
    _return_reason_text,
    _return_reasons,
    _returnable,
    _rule,
    _say,
    _ship_hours,
    _shipping,
    _spec,
    ago_phrase,
    date_phrases,
    days_phrases,
    item_noun,
    money_phrases,
    number_word,
)
from episodes.families.phrases import PERSONAS, join_words, options_phrase
from episodes.families.telling import fact, tell
from episodes.families.vocabulary import LeafVocab
from episodes.generate import GenContext, register
from episodes.preview import FIRST_ORDER_NUMBER, Built, preview_world
from episodes.world import sandbox
from mcp_shop import orders, returns, sessions
from mcp_shop.ids import order_id, parse_order_id, parse_variant_id
from mcp_shop.policies import ReturnRule
from mcp_shop.views import (
    ExchangeView,
    LineEligibility,
    ProductView,
    ReturnView,
    VariantView,
)
from verifiers.types import FactGoal, Intent, Slot, TaskSpec, World

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
    default = ctx.shop.policies.return_rule("").window_days
    tricky = ctx.params.policy_branching >= 2 and rng.random() < 0.6
    if branch == "ok":
        lo = default + 1.5 if tricky and w > default + 4 else 1.0
        return rng.uniform(lo, w - 1.5)
    if branch == "window":
        hi = default - 1.0 if tricky and w + 4 < default else w + 25.0
        return rng.uniform(w + 1.5, hi)
    return rng.uniform(1.0, 10.0)


# -- return -----------------------------------------------------------------------------------


def _return_refusals(ctx: GenContext, *, exchange: bool = False) -> dict[str, int]:
    """{refusal branch: weight} of the return (``exchange``: exchange) tasks this catalog can
    make: a closed window always; a final-sale item where some returnable leaf holds one (one
    with swappable variants for an exchange); a non-returnable category ('grocery') where some
    stocked leaf's rule forbids returns."""
    policies = ctx.shop.policies
    leaves = [x for x in ctx.vocab.leaves if x.products]
    out = {"window": 2}
    if any((x.final_swaps if exchange else x.final_sale)
           and policies.return_rule(x.slug).returnable for x in leaves):
        out["final_sale"] = 1
    if any(not policies.return_rule(x.slug).returnable for x in leaves):
        out["grocery"] = 1
    return out


def _return_target(ctx: GenContext, branch: str, avoid: set[str]) -> ProductView:
    rules = ctx.shop.policies

    def fits(leaf: LeafVocab) -> bool:
        ok = rules.return_rule(leaf.slug).returnable
        if branch == "grocery":
            return not ok
        if branch == "final_sale":
            return ok and leaf.final_sale > 0
        return ok and leaf.products > leaf.final_sale

    avoid = _outside(ctx, avoid, fits)
    pred: Callable[[ProductView], bool]
    if branch == "grocery":
        def pred(v: ProductView) -> bool:
            return not _returnable(ctx, v)
    elif branch == "final_sale":
        def pred(v: ProductView) -> bool:
            return v.final_sale and _returnable(ctx, v)
    else:
        def pred(v: ProductView) -> bool:
            return not v.final_sale and _returnable(ctx, v)
    return ctx.pick(lambda v: pred(v) and v.category_slug not in avoid,
                    what=f"a product for a {branch} return")


def _build_return(ctx: GenContext) -> TaskSpec:
    p, rng = ctx.params, ctx.rng
    seed, depth = ctx.session_seed(), p.history_depth
    avoid = _history_leaves(ctx, seed, depth)
    refusals = _return_refusals(ctx)
    branch = _branch(ctx, tuple(refusals), tuple(refusals.values()))
    proceed = branch == "ok"
    option = _shipping(ctx)
    target = _return_target(ctx, branch, avoid)
    rule = _rule(ctx, target)
    since = _since_delivery(ctx, branch, rule)
    days_ago = since + _ship_hours(ctx.shop.policies, option)[1] / 24
    taken = avoid | {target.category_slug}

    variant = rng.choice(target.variants)
    qty = ret_qty = 1
    if p.constraints >= 3 and rng.random() < 0.5:
        qty = rng.randint(2, 3)
        ret_qty = rng.randint(1, qty - 1)
    n_lines = 1 if p.constraints <= 1 else rng.randint(2, min(3, p.constraints))
    picked = [(target, variant, qty, ret_qty)]
    reason = rng.choice(_return_reasons(ctx, target))
    if proceed and n_lines >= 2 and p.constraints >= 4 and rng.random() < 0.4:
        blocked = _outside(ctx, taken, lambda leaf: ctx.shop.policies.return_rule(
            leaf.slug).window_days > since + 1 and leaf.products > leaf.final_sale)
        second = ctx.pick(lambda v: (not v.final_sale and _returnable(ctx, v)
                                     and _rule(ctx, v).window_days > since + 1
                                     and v.category_slug not in blocked
                                     and v.product_id != target.product_id),
                          what="a second returnable product")
        taken.add(second.category_slug)
        picked.append((second, rng.choice(second.variants), 1, 1))
        reason = rng.choice(["changed_mind", "arrived_damaged", "not_as_described"])
    fillers = _fillers(ctx, n_lines - len(picked), taken, {v.product_id for v, *_ in picked})
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
    noun = item_noun(target.title, _leaf(ctx, target))
    descs = [_describe(ctx, v, brand=brand) for v, _, _, _ in picked]
    when = ago_phrase(days_ago)
    order_in = not _omitted(ctx)
    reason_in = not _omitted(ctx)
    qty_in = not _omitted(ctx)
    reason_text = _return_reason_text(ctx, rng, reason, target)
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
                 f"{money_phrases(ret.refund_cents)[0]}{fee} to your original payment method "
                 f"(reason: {reason.replace('_', ' ')})?"),
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


def _role_dims(ctx: GenContext, view: ProductView) -> list[tuple[str, str]]:
    """(option name, role) of the product's size and colour dimensions, sizes first."""
    roles = ctx.vocab.role_names(view.category_slug)
    return [(n, r) for want in ("size", "color") for n, r in roles.items() if r == want]


def _exchangeable(ctx: GenContext, view: ProductView, need_stock: int = 1) -> bool:
    return any(sum(v.stock >= need_stock for v in g) >= 1
               for dim, _ in _role_dims(ctx, view) for g in _dimension_pairs(view, dim))


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
    refusals = {k: w for k, w in _return_refusals(ctx, exchange=True).items()
                if k != "grocery"}
    branch = _branch(ctx, tuple(refusals), tuple(refusals.values()))
    proceed = branch == "ok"
    option = _shipping(ctx)
    want_final = branch == "final_sale"
    rules = ctx.shop.policies
    avoid = _outside(ctx, avoid, lambda leaf: (
        rules.return_rule(leaf.slug).returnable
        and (leaf.final_swaps if want_final else leaf.swaps) > 0))
    target = ctx.pick(lambda v: (v.final_sale == want_final and _returnable(ctx, v)
                                 and _exchangeable(ctx, v) and v.category_slug not in avoid),
                      what=f"a product with sizes or colours for a {branch} exchange")
    dims = [(d, r) for d, r in _role_dims(ctx, target) if _dimension_pairs(target, d)]
    dim, role = rng.choices(dims, [2 if r == "size" else 1 for _, r in dims])[0]
    group = rng.choice([g for g in _dimension_pairs(target, dim) if any(v.stock for v in g)])
    twist = proceed and role == "size" and rng.random() < 1.5 * p.out_of_stock_rate
    old, new, first_choice = _swap_plan(rng, group, twist=twist, nearby=role == "size")
    stock: dict[str, int] = {}
    if first_choice is not None:
        stock[first_choice.variant_id] = 0
    line_qty, qty = 1, 1
    if p.constraints >= 4 and rng.random() < 0.4:
        line_qty = 2
        qty = 2 if new.stock >= 2 and rng.random() < 0.5 else 1
    rule = _rule(ctx, target)
    since = _since_delivery(ctx, branch, rule)
    days_ago = since + _ship_hours(ctx.shop.policies, option)[1] / 24
    n_lines = 1 if p.constraints <= 1 else rng.randint(2, min(3, p.constraints))
    fillers = _fillers(ctx, n_lines - 1, avoid | {target.category_slug}, {target.product_id})
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
    reason = "wrong_size" if role == "size" else "wrong_colour"

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
    noun = item_noun(target.title, _leaf(ctx, target))
    g = _grammar(noun)
    desc = _describe(ctx, target, brand=rng.random() < 0.5)
    when = ago_phrase(days_ago)
    value = new.options[dim]
    if role == "size":
        sizes = [v.options[dim] for v in group]
        small = sizes.index(new.options[dim]) > sizes.index(old.options[dim])
        reason_text = "{It} {is} too small".format(**g) if small else \
            "{It} {is} too big".format(**g)
        if first_choice is not None:
            want = (f"I'd like size {first_choice.options[dim]} instead, or size {value} "
                    f"if {first_choice.options[dim]} is sold out.")
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
        Slot(name=role, value=value, phrase=want, in_opening=want_in),
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
    elif role == "size":
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
                 f"{oid} for the same item ({new_opts}) (reason: {reason.replace('_', ' ')})?"
                 f"{cost}"),
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


from episodes.families.order_status import generate_cancel, generate_order_status  # noqa: E402,F401,I001
