"""Generators of the cart-building families: cart (exact variants and quantities) and purchase
(the same plus a discount code, a payment method and a shipping option, ending in one order).

Items are named by title and options ("2 of the Sonix Airwave Headphones in black"), so the
shopper's goal is exact. Distractors are sibling variants of the same products taken out of
stock; the gold variants are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from episodes.families.matching import eff_price, eff_stock, stocked, why_not
from episodes.families.phrases import (
    PERSONAS,
    item_label,
    join_words,
    money,
    option_phrase,
    options_phrase,
)
from episodes.families.planning import Retry, WorldPlan, assemble, retrying, volatility_events
from episodes.families.vocabulary import PAYMENT_WORDS
from episodes.generate import GenContext, GenerationError, register
from episodes.world import sandbox
from mcp_shop.errors import InvalidCode, ShopError
from mcp_shop.views import CustomerView, PaymentMethodView, ProductView, VariantView
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

__all__ = ["cart", "purchase"]

_SHIP_NAMES = {"standard": "standard", "express": "express", "next_day": "next-day"}


@dataclass
class _Pick:
    """One gold line: the product, its variant and quantity, and how the shopper names it."""

    view: ProductView
    variant: VariantView
    quantity: int
    hidden: str | None = None  # an option dimension left out of the opening

    @property
    def options(self) -> dict[str, str]:
        return dict(self.variant.options)

    def label(self, quantity: int | None = None) -> str:
        opts = {k: v for k, v in self.options.items() if k != self.hidden}
        return item_label(self.view.title, opts, self.quantity if quantity is None else quantity)

    def goal(self, quantity: int | None = None) -> ItemGoal:
        match = ProductMatch(product_ids=[self.view.product_id], options=self.options)
        return ItemGoal(match=match, quantity=self.quantity if quantity is None else quantity,
                        label=self.label(quantity))


def _pick_items(ctx: GenContext, world: World, n: int, *, multi_qty: bool,
                exclude: set[str] | None = None) -> list[_Pick]:
    """``n`` distinct in-stock products, each with a variant that has the stock wanted."""
    picks: list[_Pick] = []
    seen = set(exclude or ())
    for view in ctx.random_products(tries=400):
        if len(picks) == n:
            break
        if view.product_id in seen or not view.in_stock or view.title.lower() in PAYMENT_WORDS:
            continue  # (a 'Gift Card' line would read as named by '... with Gift card 9831')
        qty = ctx.rng.choice([1, 1, 2, 3]) if multi_qty else 1
        good = stocked(view, world, at_least=qty + 1)
        if not good:
            continue
        seen.add(view.product_id)
        picks.append(_Pick(view, ctx.rng.choice(good), qty))
    if len(picks) < n:
        raise Retry(f"found only {len(picks)} of {n} in-stock products")
    return picks


def _siblings(picks: list[_Pick], plan: WorldPlan) -> list[VariantView]:
    """Other variants of the gold products (near misses: same product, other options)."""
    return [v for p in picks for v in p.view.variants
            if v.variant_id not in plan.protected and v.variant_id not in plan.touched]


def _plant(ctx: GenContext, plan: WorldPlan, picks: list[_Pick]) -> None:
    """Distractors and stock-outs on sibling variants of the gold products."""
    p, rng = ctx.params, ctx.rng
    sibs = _siblings(picks, plan)
    rng.shuffle(sibs)
    for v in sibs[:p.distractors]:
        plan.set_stock(v, 0)
    for v in _siblings(picks, plan):
        if rng.random() < p.out_of_stock_rate:
            plan.set_stock(v, 0)


def _hide_option(ctx: GenContext, picks: list[_Pick]) -> Slot | None:
    """Leave one option (colour or size) of one item out of the opening, if the share says so
    and the dimension is unambiguous (no other item has it)."""
    roles = {id(p): ctx.vocab.role_names(p.view.category_slug) for p in picks}
    dims = [(p, d) for p in picks for d in p.options if roles[id(p)].get(d) in ("color", "size")
            and sum(d in q.options for q in picks) == 1]
    total = sum(len(p.options) for p in picks) + len(picks)
    if not dims or round(ctx.params.omitted_share * total) < 1:
        return None
    pick, dim = ctx.rng.choice(dims)
    pick.hidden = dim
    value, role = pick.options[dim], roles[id(pick)][dim]
    return Slot(name=role, value=value, phrase=option_phrase(dim, value, role),
                in_opening=False)


def _quantity_change(ctx: GenContext, picks: list[_Pick], avoid: _Pick | None
                     ) -> tuple[_Pick, int, MindChange] | None:
    """A pick whose quantity the shopper states differently at first (the final is gold), its
    first quantity, and the change of mind that corrects it."""
    pool = [p for p in picks if p is not avoid]
    if not pool:
        return None
    pick = ctx.rng.choice(pool)
    first = ctx.rng.choice([q for q in (1, 2, 3, 4) if q != pick.quantity])
    change = MindChange(at_turn=1, slot="quantity",
                        say=f"Actually, make it {pick.quantity} of the {pick.view.title}.",
                        new_value=pick.quantity, items=[q.goal() for q in picks])
    return pick, first, change


def _check_gold(picks: list[_Pick], world: World) -> None:
    """Every gold variant must satisfy its item's match in the task's world."""
    for pick in picks:
        reason = why_not(pick.view, pick.goal().match, world, pick.variant)
        if reason is not None:
            raise Retry(f"gold variant does not match: {reason}")


def _items_summary(picks: list[_Pick]) -> str:
    return join_words([f"{p.quantity} x {p.view.title}"
                       + (f" ({options_phrase(p.options)})" if p.options else "")
                       for p in picks])


# -- cart -------------------------------------------------------------------------------------


@register("cart")
def cart(ctx: GenContext) -> TaskSpec:
    """Build a cart of exact variants and quantities."""
    return retrying(ctx, _cart)


def _cart(ctx: GenContext) -> TaskSpec:
    p, rng = ctx.params, ctx.rng
    world = World(session_seed=ctx.session_seed())
    plan = WorldPlan(world)
    n = 1 + min(3, p.level // 3)
    picks = _pick_items(ctx, world, n, multi_qty=p.level >= 3)
    for pick in picks:
        plan.protected.add(pick.variant.variant_id)

    # lines already in the cart: one to raise to the wanted quantity, one to take out
    bump: _Pick | None = None
    drop: ProductView | None = None
    drop_variant: VariantView | None = None
    if p.level >= 4 and rng.random() < 0.7:
        if rng.random() < 0.5 or p.level >= 8:
            bump = rng.choice(picks)
            bump.quantity = max(bump.quantity, 2)
            if eff_stock(bump.variant, world) < bump.quantity:
                raise Retry("not enough stock to raise the line")
            world.cart[bump.variant.variant_id] = 1
        if bump is None or p.level >= 8:
            extra = _pick_items(ctx, world, 1, multi_qty=False,
                                exclude={q.view.product_id for q in picks})[0]
            drop, drop_variant = extra.view, extra.variant
            plan.protected.add(drop_variant.variant_id)
            world.cart[drop_variant.variant_id] = 1

    hidden = _hide_option(ctx, picks)
    change: MindChange | None = None
    first_qty: dict[int, int] = {}
    if p.changes_of_mind > 0:
        got = _quantity_change(ctx, picks, bump)
        if got is not None:
            pick, first, change = got
            first_qty[id(pick)] = first
    _plant(ctx, plan, picks)
    events = volatility_events(plan, [q.view for q in picks], p.stock_volatility, rng)
    _check_gold(picks, world)

    items = [q.goal(first_qty.get(id(q))) for q in picks]
    slots = [Slot(name="item", value=q.view.product_id, phrase=q.label(first_qty.get(id(q))))
             for q in picks]
    adds = [q.label(first_qty.get(id(q))) for q in picks if q is not bump]
    parts: list[str] = []
    if adds:
        parts.append(f"Please add {join_words(adds)} to my cart.")
    if bump is not None:
        raise_to = (f"one of the {bump.label(1).removeprefix('the ')} in my cart, make it "
                    f"{bump.quantity}")
        slots[picks.index(bump)].phrase = raise_to
        parts.append(f"I already have {raise_to}.")
    if hidden is not None:
        slots.append(hidden)
    if drop is not None:
        parts.append(f"And please take the {drop.title} out of my cart.")
        slots.append(Slot(name="item", value=drop.product_id,
                          phrase=f"take the {drop.title} out"))
    intent = Intent(kind="cart", request=" ".join(parts), slots=slots, items=items,
                    exact_cart=True, change=change)

    gold: list[GoldStep] = []
    if change is not None:
        gold.append(GoldStep(say="Got it, I'll set that up."))
    for q in picks:
        gold.append(GoldStep(tool="get_product", args={"product_id": q.view.product_id}))
    if drop_variant is not None:
        gold.append(GoldStep(tool="remove_from_cart",
                             args={"variant_id": drop_variant.variant_id}))
    for q in picks:
        if q is bump:
            gold.append(GoldStep(tool="update_cart_item", args={
                "variant_id": q.variant.variant_id, "quantity": q.quantity}))
        else:
            gold.append(GoldStep(tool="add_to_cart", args={
                "variant_id": q.variant.variant_id, "quantity": q.quantity}))
    total = sum(eff_price(q.variant, world) * q.quantity for q in picks)
    gold.append(GoldStep(say=f"Your cart now has {_items_summary(picks)} — {money(total)} in "
                             "total."))
    desc = f"Cart of exactly {len(picks)} line(s)"
    if bump is not None:
        desc += ", raising a line already in the cart"
    if drop is not None:
        desc += ", removing an unwanted line"
    return assemble(ctx, intent=intent, world=world, gold=gold, persona=rng.choice(PERSONAS),
                    description=desc + ".", scenario=events)


# -- purchase ---------------------------------------------------------------------------------

_SEEDED_CODES = ("FREESHIP", "WELCOME10", "SAVE20", "SHOES15", "SHOES15")
"""The session's own codes a purchase may use, where the shop accepts them on the gold cart
(a category code is listed twice: drawn more often when it applies)."""
_TASK_CODES = (("FLASH15", 15, "15% off, today only"), ("TAKE10", 10, "10% off your order"),
               ("VIP12", 12, "12% off for members"))


@register("purchase")
def purchase(ctx: GenContext) -> TaskSpec:
    """Cart items + discount code + payment + shipping, ending in one order."""
    return retrying(ctx, _purchase)


def _dry_run(ctx: GenContext, world: World, picks: list[_Pick], code: str | None
             ) -> tuple[CustomerView, int, int, bool]:
    """In a sandbox of the task's world with the gold lines in the cart: the customer and the
    cart's (subtotal, discount, free shipping) as the shop computes them."""
    with sandbox(ctx.shop, world) as (_, sid):
        customer = ctx.shop.get_customer(sid)
        try:
            for q in picks:
                ctx.shop.add_to_cart(sid, q.variant.variant_id, q.quantity)
            view = ctx.shop.apply_discount_code(sid, code) if code else ctx.shop.view_cart(sid)
        except ShopError as exc:
            raise Retry(f"the gold cart does not work out: {exc}") from None
    free = bool(view.code and view.code.free_shipping)
    return customer, view.subtotal_cents, view.discount_cents, free


def _codes_that_apply(ctx: GenContext, world: World, picks: list[_Pick],
                      codes: tuple[str, ...]) -> list[str]:
    """Those of the session's ``codes`` that the shop accepts on the gold cart (its own minimum
    spend, category and expiry rules decide), in the given order."""
    usable: list[str] = []
    with sandbox(ctx.shop, world) as (_, sid):
        for q in picks:
            ctx.shop.add_to_cart(sid, q.variant.variant_id, q.quantity)
        for code in dict.fromkeys(codes):
            try:
                ctx.shop.apply_discount_code(sid, code)
            except InvalidCode:
                continue
            ctx.shop.remove_discount_code(sid)
            usable.append(code)
    return [c for c in codes if c in usable]


def _purchase(ctx: GenContext) -> TaskSpec:
    p, rng = ctx.params, ctx.rng
    world = World(session_seed=ctx.session_seed())
    plan = WorldPlan(world)
    n = 1 + min(2, p.level // 4)
    picks = _pick_items(ctx, world, n, multi_qty=p.level >= 3)
    for pick in picks:
        plan.protected.add(pick.variant.variant_id)
    extras = ["code", "shipping", "payment"][:max(0, p.constraints - 1)]
    subtotal = sum(eff_price(q.variant, world) * q.quantity for q in picks)

    code: str | None = None
    if "code" in extras:
        usable = _codes_that_apply(ctx, world, picks, _SEEDED_CODES)
        usable.insert(1, "TASK")
        code = rng.choice(usable)
        if code == "TASK":
            name, value, text = rng.choice(_TASK_CODES)
            world.codes.append({"code": name, "kind": "percent", "value": value,
                                "description": text})
            code = name
    customer, sub, discount, free = _dry_run(ctx, world, picks, code)
    if sub != subtotal:
        raise GenerationError("cart subtotal differs from the gold prices")
    methods = {m.kind: m for m in reversed(customer.payment_methods)}
    card = next(m for m in customer.payment_methods if m.kind == "card")
    kind: str | None = None
    if "payment" in extras:
        clash = ctx.vocab.payment_titles  # a method whose label reads as a product's title
        kinds = [k for k in sorted(methods)
                 if not any(t in methods[k].label.lower() for t in clash)] or sorted(methods)
        kind = rng.choice(kinds)
    shipping = rng.choice(["standard", "express", "express", "next_day"]) \
        if "shipping" in extras else None
    ship = shipping or "standard"

    ship_cents = 0 if free else ctx.shop.policies.shipping_cost(ship, customer.tier,
                                                                sub - discount)
    total = sub - discount + ship_cents
    method: PaymentMethodView = methods[kind] if kind else card
    second: PaymentMethodView | None = None
    if method.kind == "gift_card" and (method.balance_cents or 0) < total:
        second = card

    hidden = _hide_option(ctx, picks)
    slots = [Slot(name="item", value=q.view.product_id, phrase=q.label()) for q in picks]
    if hidden is not None:
        slots.append(hidden)
    if code:
        slots.append(Slot(name="code", value=code, phrase=f"I have the code {code}"))
    if shipping:
        slots.append(Slot(name="shipping", value=shipping,
                          phrase=f"with {_SHIP_NAMES[shipping]} shipping"))
    if kind:
        slots.append(Slot(name="payment", value=kind, phrase=_pay_phrase(method, second)))
    movable = [s for s in slots if s.name in ("code", "shipping", "payment")]
    k = min(len(movable), round(p.omitted_share * len(movable)))
    for slot in rng.sample(movable, k):
        slot.in_opening = False

    change: MindChange | None = None
    first_qty: dict[int, int] = {}
    if p.changes_of_mind > 0:
        got = _quantity_change(ctx, picks, None)
        if got is not None:
            pick, first, change = got
            first_qty[id(pick)] = first
            for s in slots:
                if s.name == "item" and s.value == pick.view.product_id:
                    s.phrase = pick.label(first)
    _plant(ctx, plan, picks)
    events = volatility_events(plan, [q.view for q in picks], p.stock_volatility, rng)
    _check_gold(picks, world)

    said = {s.name: s.phrase for s in slots if s.in_opening}
    request = f"I'd like to order {join_words([q.label(first_qty.get(id(q))) for q in picks])}."
    if "code" in said:
        request += f" {said['code']}."
    tail = [said[k] for k in ("shipping", "payment") if k in said]
    if tail:
        request += f" Please send it {tail[0]}" if "shipping" in said else \
            f" Please {tail[0]}"
        if len(tail) == 2:
            request += f" and {tail[1]}"
        request += "."
    intent = Intent(kind="purchase", request=request, slots=slots,
                    items=[q.goal(first_qty.get(id(q))) for q in picks], code=code,
                    payment_kind=kind, shipping_option=shipping, change=change)

    gold: list[GoldStep] = []
    if change is not None:
        gold.append(GoldStep(say="Got it, I'll set that up."))
    for q in picks:
        gold.append(GoldStep(tool="get_product", args={"product_id": q.view.product_id}))
    for q in picks:
        gold.append(GoldStep(tool="add_to_cart", args={"variant_id": q.variant.variant_id,
                                                       "quantity": q.quantity}))
    if code:
        gold.append(GoldStep(tool="apply_discount_code", args={"code": code}))
    gold.append(GoldStep(tool="get_customer"))
    pay_text = method.label if second is None else \
        f"{method.label} ({money(method.balance_cents or 0)}) and {second.label} for the rest"
    with_code = f" with code {code}" if code else ""
    units = sum(q.quantity for q in picks)
    # product titles stay out of the question: words such as 'Cancelling' in a title must
    # not read as another action
    gold.append(GoldStep(say=f"Your cart has {units} item(s) in {len(picks)} line(s)"
                             f"{with_code}, total "
                             f"{money(total)} with {_SHIP_NAMES[ship]} shipping. Shall I place "
                             f"the order with {pay_text} and {_SHIP_NAMES[ship]} shipping?"))
    args: dict[str, Any] = {"payment_method_id": method.payment_method_id,
                            "shipping_option": ship}
    if second is not None:
        args["second_payment_method_id"] = second.payment_method_id
    gold.append(GoldStep(tool="checkout", args=args))
    gold.append(GoldStep(say="Done — your order is placed."))
    desc = f"Order {len(picks)} line(s)"
    if code:
        desc += f" with code {code}"
    if kind:
        desc += f", paying by {kind}"
    if shipping:
        desc += f", {shipping} shipping"
    return assemble(ctx, intent=intent, world=world, gold=gold, persona=rng.choice(PERSONAS),
                    description=desc + ".", scenario=events)


def _pay_phrase(method: PaymentMethodView, second: PaymentMethodView | None) -> str:
    if method.kind == "gift_card":
        return "pay with my gift card" + (", and my card for the rest" if second else "")
    if method.kind == "paypal":
        return "pay with my PayPal"
    return "put it on my card"
