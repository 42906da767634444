"""Generators of the order_status and cancel families: tell the shopper where an order is, or
cancel a pending order (or say why a processing or shipped one cannot be)."""


import random

from sqlalchemy import Connection

from episodes.families.order_parts import (
    _CANCEL_REASON_TEXT,
    _ago_bucket,
    _attempts,
    _branch,
    _call,
    _cap,
    _date,
    _describe,
    _fillers,
    _history_leaves,
    _omitted,
    _opening,
    _order_lines,
    _past,
    _place,
    _Retry,
    _say,
    _ship_hours,
    _shipping,
    _spec,
    ago_phrase,
    money_phrases,
)
from episodes.families.phrases import PERSONAS, join_words
from episodes.families.telling import fact, tell
from episodes.generate import GenContext, register
from episodes.preview import FIRST_ORDER_NUMBER, preview_world
from mcp_shop import orders
from mcp_shop.ids import order_id, parse_order_id
from mcp_shop.policies import Policies
from mcp_shop.views import (
    OrderView,
)
from verifiers.types import FactGoal, Intent, Slot, TaskSpec, World

__all__ = ["generate_cancel", "generate_order_status"]


# -- order status -----------------------------------------------------------------------------

def _status_hours(rng: random.Random, policies: Policies, status: str, option: str) -> float:
    """Hours ago to place an order so that it is in ``status`` now."""
    ship, deliver = _ship_hours(policies, option)
    processing = policies.processing_after.total_seconds() / 3600
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
    hours = _status_hours(rng, ctx.shop.policies, status, option)
    n_lines = 1 if p.constraints <= 2 else rng.randint(1, 3)
    bought = _fillers(ctx, n_lines, set(avoid))
    main = bought[0][0]
    lines = _order_lines(ctx, [(rng.choice(v.variants).variant_id, q) for v, q in bought])
    extras = []
    if p.distractors >= 2 and rng.random() < 0.6:
        other_status = rng.choice([s for s in ("processing", "shipped", "delivered")
                                   if s != status])
        other_hours = _status_hours(rng, ctx.shop.policies, other_status, option)
        if _ago_bucket(other_hours / 24) != _ago_bucket(hours / 24):
            other = _fillers(ctx, 1, avoid | {v.category_slug for v, _ in bought},
                             {v.product_id for v, _ in bought})
            extras += [_past({view.variants[0].variant_id: 1}, other_hours / 24, option)
                       for view, _ in other]  # none when the catalog has no other product
    past, index = _place(ctx, _past(lines, hours / 24, option), extras)
    oid = order_id(FIRST_ORDER_NUMBER + depth + index)
    world = World(session_seed=seed, history_orders=depth, past_orders=past)
    built = preview_world(ctx.shop, world, [oid])
    order = built.orders[oid]
    if order.status != status:
        raise _Retry(f"{oid} is {order.status}, wanted {status}")
    parcel = order.shipments[0]

    persona = rng.choice(PERSONAS)
    desc = _describe(ctx, main, brand=rng.random() < 0.5)
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
    hours = _status_hours(rng, ctx.shop.policies, status, option)
    n_lines = 1 if p.constraints <= 2 else rng.randint(1, 3)
    bought = _fillers(ctx, n_lines, set(avoid))
    main = bought[0][0]
    lines = _order_lines(ctx, [(rng.choice(v.variants).variant_id, q) for v, q in bought])
    extras = []
    if p.distractors >= 3 and rng.random() < 0.6:
        # another recent, still pending order: the shopper means the one with the named item
        other = _fillers(ctx, 1, avoid | {v.category_slug for v, _ in bought},
                             {v.product_id for v, _ in bought})
        other_hours = _status_hours(rng, ctx.shop.policies, "pending", option)
        extras += [_past({view.variants[0].variant_id: 1}, other_hours / 24, option)
                   for view, _ in other]  # none when the catalog has no other product
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
    desc = _describe(ctx, main, brand=rng.random() < 0.5)
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
                 f" {money_phrases(order.total_cents)[0]}) (reason: {reason.replace('_', ' ')})?"),
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
