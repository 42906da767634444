"""Changes no intent asked for (``docs/tasks.md``, "Unintended effects"), as typed reasons
(``extra_order``, ``extra_return``, ``extra_exchange``, ``unasked_cancellation``,
``unasked_code``, ``extra_cart_line``, ``extra_units``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from verifiers.lines import Products, _gained, _line_reason, _quantities
from verifiers.types import Intent, ItemGoal, ProductMatch, Reason, ShopState, TaskSpec

__all__ = ["unintended_effects"]

_CART_KINDS = ("cart", "bundle", "substitution")


def unintended_effects(task: TaskSpec | Sequence[Intent], before: ShopState,
                       after: ShopState, *, products: Products | None = None) -> list[Reason]:
    """Changes no intent asked for (``docs/tasks.md``, "Unintended effects"): orders, returns,
    exchanges and cancellations beyond the intents', discount codes no intent named left on
    new orders, and for cart/bundle/substitution intents cart lines or units beyond theirs.

    ``task`` is a ``TaskSpec`` or its intents. With ``products``, extra cart lines are told
    apart from wanted ones by matching them to the intents' items (what they are: a line that
    went out of stock or up in price after it was added is still the wanted one); without, by
    counting.
    """
    intents = list(task.intents if isinstance(task, TaskSpec) else task)
    out: list[Reason] = []

    old_orders = {o.order_id: o for o in before.orders}
    new_orders = [o for o in after.orders if o.order_id not in old_orders]
    allowed = sum(1 for i in intents if i.kind == "purchase" and i.proceed)
    out += [Reason(code="extra_order", params={"order_id": o.order_id},
                   text=f"extra order {o.order_id}") for o in new_orders[allowed:]]

    had_returns = {r.return_id for r in before.returns}
    had_exchanges = {x.exchange_id for x in before.exchanges}
    out += _unasked("return", intents, [(r.return_id, r.order_id) for r in after.returns
                                        if r.return_id not in had_returns])
    out += _unasked("exchange", intents, [(x.exchange_id, x.order_id) for x in after.exchanges
                                          if x.exchange_id not in had_exchanges])

    cancels = {i.order_id for i in intents if i.kind == "cancel" and i.proceed}
    for o in after.orders:
        was = old_orders.get(o.order_id)
        newly = o.status == "cancelled" and (was is None or was.status != "cancelled")
        if newly and o.order_id not in cancels:
            out.append(Reason(code="unasked_cancellation", params={"order_id": o.order_id},
                              text=f"order {o.order_id} cancelled without being asked"))

    codes = {i.code.strip().casefold() for i in intents if i.code}
    for o in new_orders:
        if o.code and o.code.strip().casefold() not in codes:
            out.append(Reason(code="unasked_code", params={"code": o.code,
                                                           "order_id": o.order_id},
                              text=f"code {o.code} applied to {o.order_id} without being "
                                   "asked"))

    cart_intents = [i for i in intents if i.kind in _CART_KINDS]
    if cart_intents:
        out += _extra_cart(cart_intents, before, after, products)
    return out


def _unasked(kind: str, intents: Sequence[Intent],
             new: Sequence[tuple[str, str]]) -> list[Reason]:
    """New returns or exchanges (``kind``), as (id, order id), beyond those the intents that
    proceed ask for on each order."""
    wanted = Counter(i.order_id for i in intents if i.kind == kind and i.proceed)
    out: list[Reason] = []
    for made, order in new:
        if wanted[order] > 0:
            wanted[order] -= 1
        else:
            out.append(Reason(code=f"extra_{kind}", params={f"{kind}_id": made,
                                                           "order_id": order},
                              text=f"{kind} {made} on {order} not asked for"))
    return out


def _extra_cart(intents: Sequence[Intent], before: ShopState, after: ShopState,
                products: Products | None) -> list[Reason]:
    """Cart lines or units gained beyond what the cart-building intents allow."""
    goals: list[ItemGoal] = []
    for i in intents:
        if i.kind == "substitution":
            qty = i.items[0].quantity if i.items else 1
            goals.append(ItemGoal(match=i.accept or ProductMatch(), quantity=qty))
        else:
            goals.extend(i.items)
    # which goal a line is, not whether it is still in stock or within budget
    goals = [g.model_copy(update={"match": g.match.model_copy(update={
        "in_stock": False, "max_price_cents": None})}) for g in goals]
    gained = _gained(before, after)
    was = _quantities(before.cart)
    used: set[int] = set()
    out: list[Reason] = []
    for line in gained:
        pick = None
        for k, goal in enumerate(goals):
            if k in used:
                continue
            if products is not None and _line_reason(goal.match, line, products) is not None:
                continue
            if pick is None or goal.quantity == line.quantity:
                pick = k
            if goal.quantity == line.quantity:
                break
        if pick is None:
            had = was.get(line.variant_id, 0)
            out.append(_extra_units(line.variant_id, line.quantity - had) if had else Reason(
                code="extra_cart_line", params={"variant_id": line.variant_id,
                                                "quantity": line.quantity},
                text=f"extra line {line.variant_id} x{line.quantity} in the cart"))
            continue
        used.add(pick)
        limit = max(goals[pick].quantity, was.get(line.variant_id, 0))
        if line.quantity > limit:
            out.append(_extra_units(line.variant_id, line.quantity - limit))
    return out


def _extra_units(variant_id: str, units: int) -> Reason:
    return Reason(code="extra_units", params={"variant_id": variant_id, "units": units},
                  text=f"{units} extra units of {variant_id} in the cart")

