"""Whether each intent of a task is done in a state (the "done when" table of
``docs/tasks.md``).

Pure functions over ``ShopState`` values, the trace and the messages; each returns typed
reasons, so that the shopper simulator can react to them and a report can file them.
Presentations come from ``verifiers.evidence`` (one reading for the shopper and the verifiers),
answers from ``verifiers.claims`` (facts stated with ``state_facts``), item-to-line matching
from ``verifiers.lines``; unintended effects and confirmations live in ``verifiers.effects``
and ``verifiers.confirm``.

An answer about an order (``order_status``, and a return, exchange or cancellation that must
not proceed) rests on that order read with a tool (``get_order``, ``check_return_eligibility``
or ``list_orders``), and a policy answer on a ``search_policy`` call, made in the turn the fact
was stated or earlier.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from mcp_shop import tool_catalog
from verifiers.claims import judge_claims, stated_claims
from verifiers.confirm import CONSEQUENTIAL_TOOLS, policy_violations
from verifiers.effects import unintended_effects
from verifiers.evidence import (
    MAX_PRESENTED,
    assistant_texts,
    assistant_turn_texts,
    presented_products,
)
from verifiers.lines import (
    Products,
    _gained,
    _item_lines,
    _line_fraction,
    _line_price,
    _line_reason,
    _quantities,
    _result,
    typed,
)
from verifiers.match import match_fraction, match_reason
from verifiers.state import product_of
from verifiers.types import (
    Intent,
    IntentResult,
    Message,
    ProductMatch,
    Reason,
    ShopState,
    TraceEntry,
)

__all__ = [
    "CONSEQUENTIAL_TOOLS",
    "MAX_PRESENTED",
    "assistant_texts",
    "assistant_turn_texts",
    "intent_status",
    "policy_violations",
    "presented_products",
    "unintended_effects",
]


# -- the intents ----------------------------------------------------------------------------


def intent_status(intent: Intent, before: ShopState, after: ShopState,
                  trace: Sequence[TraceEntry], messages: Sequence[Message],
                  products: Products, *, since_turn: int = 0,
                  until_turn: int | None = None) -> IntentResult:
    """Whether ``intent`` is done in ``after`` (compared with ``before``), per the "done when"
    table of ``docs/tasks.md``; presentations and stated facts count from turn ``since_turn``
    (facts until ``until_turn``, when the next intent began)."""
    kind = intent.kind
    if kind in ("discovery", "price_compare"):
        return _discovery(intent, trace, messages, products, since_turn)
    if kind == "substitution":
        return _substitution(intent, before, after, products)
    if kind in ("cart", "bundle"):
        return _cart(intent, before, after, products)
    if kind == "purchase":
        return _purchase(intent, before, after, products)
    answered = _answer_reqs(intent, trace, since_turn, until_turn)
    if kind in ("order_status", "policy"):
        return _result(answered)
    if kind == "return":
        return _return(intent, before, after, answered)
    if kind == "exchange":
        return _exchange(intent, before, after, products, answered)
    return _cancel(intent, before, after, answered)


_ORDER_READS = tool_catalog.ORDER_READ_TOOLS
Req = tuple[float, Reason | str]  # (credit, reason if unmet)


def _R(code: str, text: str, **params: Any) -> Reason:
    """A typed reason (``verifiers.reasons``)."""
    return Reason(code=code, params=params, text=text)


def _lookup_turn(intent: Intent, trace: Sequence[TraceEntry]) -> tuple[int | None, str]:
    """The first turn in which the agent read what an answer rests on, and what that is: the
    order (get_order, check_return_eligibility or list_orders) for an answer about an order,
    the policies (search_policy) for a policy answer. An answer resting on no read is only a
    guess."""
    if intent.kind == "policy":
        turns = [e.turn for e in trace if e.ok and e.tool == "search_policy"]
        return (min(turns) if turns else None), "the policies were never looked up"
    turns = [e.turn for e in trace if e.ok and e.tool in _ORDER_READS
             and (e.tool == "list_orders" or e.arguments.get("order_id") == intent.order_id)]
    return (min(turns) if turns else None), f"{intent.order_id} was never looked up"


def _answer_reqs(intent: Intent, trace: Sequence[TraceEntry], since_turn: int,
                 until_turn: int | None) -> list[Req]:
    """The answer requirements of ``intent`` (``verifiers.claims``): every fact it asks for
    stated right, after the look-up it rests on, and no fact of an asked kind stated wrong or
    about something else while the intent was current (turns ``since_turn`` to
    ``until_turn``)."""
    claims = stated_claims(trace, since_turn=since_turn, until_turn=until_turn)
    turn, never = _lookup_turn(intent, trace)
    return judge_claims(intent.facts, claims, lookup_turn=turn, lookup_missing=never)


def _discovery(intent: Intent, trace: Sequence[TraceEntry], messages: Sequence[Message],
               products: Products, since_turn: int) -> IntentResult:
    shown, too_many = presented_products(trace, since_turn=since_turn, messages=messages)
    if not shown:
        why = _R("no_products_presented", "no products presented")
        if too_many:
            why = _R("too_many_presented", f"too many products presented at once (more than "
                     f"{MAX_PRESENTED})", limit=MAX_PRESENTED)
        return IntentResult(done=False, reason=why.text, reasons=[why], progress=0.0)
    match = intent.accept
    if match is None:
        return IntentResult(done=True, reason="done", progress=1.0, effects=[shown[0][0]])
    first_reason: Reason | None = None
    best = 0.0
    for pid, _price in shown:
        facts = products.get(pid)
        if facts is None:
            first_reason = first_reason or _R("unknown_product", f"presented {pid}: unknown "
                                              f"product {pid}", product_id=pid)
            continue
        fails = match_reason(match, facts)
        if fails is None:
            return IntentResult(done=True, reason="done", progress=1.0, effects=[pid])
        first_reason = first_reason or fails.within(f"presented {pid}: ", product_id=pid)
        best = max(best, match_fraction(match, facts))
    return _result([(1.0, ""), (best, first_reason or "")])


def _substitution(intent: Intent, before: ShopState, after: ShopState,
                  products: Products) -> IntentResult:
    match = intent.accept or ProductMatch()
    want = intent.items[0].quantity if intent.items else 1
    gained = _gained(before, after)
    # (match credit, quantity credit, reason) of the best gained line
    best: tuple[float, float, Reason] = (0.0, 0.0, _R("missing_item",
                                                      "no new line in the cart"))
    for line in gained:
        why = _line_reason(match, line, products)
        if why is None and line.quantity == want:
            best = (1.0, 1.0, best[2])
            break
        if why is None:
            cand = (1.0, 0.0, _R("wrong_quantity", f"quantity of {line.variant_id} is "
                                 f"{line.quantity}, not {want}", variant_id=line.variant_id,
                                 quantity=line.quantity, wanted=want))
        else:
            cand = (_line_fraction(match, line, products) * 0.9, 0.0,
                    why.within(f"{line.variant_id} ", variant_id=line.variant_id))
        if cand[:2] > best[:2]:
            best = cand
    excluded = [ln.variant_id for ln in after.cart
                if ln.product_id in match.exclude_product_ids]
    reqs: list[Req] = [
        (best[0], best[2]), (best[1], "" if best[0] < 1.0 else best[2]),
        (0.0 if excluded else 1.0, _R("excluded_in_cart", "the cart still holds excluded "
                                      f"{', '.join(excluded)}", ids=excluded))]
    return _result(reqs, [ln.variant_id for ln in gained])


def _cart(intent: Intent, before: ShopState, after: ShopState,
          products: Products) -> IntentResult:
    lines = list(after.cart)
    assigned, reasons, credit = _item_lines(intent.items, lines, products)
    reqs: list[Req] = []
    missing = iter(reasons)
    for i, c in enumerate(credit):
        reqs.append((c, "" if i in assigned else next(missing)))
    used = set(assigned.values())
    if intent.kind == "cart" and intent.exact_cart:
        others = [ln.variant_id for j, ln in enumerate(lines) if j not in used]
        reqs.append((0.0 if others else 1.0, _R("other_lines", "other lines in the cart: "
                                                f"{', '.join(others)}", ids=others)))
    if intent.kind == "bundle":
        was = _quantities(before.cart)
        extra = [ln.variant_id for j, ln in enumerate(lines)
                 if j not in used and ln.quantity > was.get(ln.variant_id, 0)]
        reqs.append((0.0 if extra else 1.0, _R("other_lines", "other new lines in the cart: "
                                               f"{', '.join(extra)}", ids=extra)))
        if intent.budget_cents is not None:
            subtotal = sum((_line_price(ln, products) or 0) * ln.quantity for ln in lines)
            reqs.append((1.0 if subtotal <= intent.budget_cents else 0.0, _R(
                "over_budget", f"cart subtotal ${subtotal / 100:,.2f} is over the "
                f"${intent.budget_cents / 100:,.2f} budget", price_cents=subtotal,
                budget_cents=intent.budget_cents)))
    return _result(reqs, [lines[j].variant_id for j in sorted(used)])


def _same_code(a: str | None, b: str | None) -> bool:
    return (a or "").strip().casefold() == (b or "").strip().casefold()


def _purchase(intent: Intent, before: ShopState, after: ShopState,
              products: Products) -> IntentResult:
    had = {o.order_id for o in before.orders}
    new = [o for o in after.orders if o.order_id not in had]
    reqs: list[Req] = []
    if not new:
        # credit what is ready in the cart, so the shaped reward sees a purchase take shape
        reqs.append((0.0, _R("no_order", "no new order")))
        _, _, credit = _item_lines(intent.items, after.cart, products)
        reqs.extend((c * 0.5, "") for c in credit)
        if intent.code:
            reqs.append((0.5 if _same_code(after.cart_code, intent.code) else 0.0, ""))
        if intent.payment_kind:
            reqs.append((0.0, ""))
        if intent.shipping_option:
            reqs.append((0.0, ""))
        return _result(reqs)
    order = new[0]
    if len(new) > 1:
        reqs.append((0.0, _R("several_orders", f"{len(new)} orders were placed, not one: "
                             f"{', '.join(o.order_id for o in new)}",
                             ids=[o.order_id for o in new])))
    if order.status == "cancelled":
        reqs.append((0.0, _R("order_cancelled", f"order {order.order_id} is cancelled",
                             order_id=order.order_id)))
    assigned, reasons, credit = _item_lines(intent.items, order.lines, products)
    missing = iter(reasons)
    for i, c in enumerate(credit):
        reqs.append((c, "" if i in assigned else typed(next(missing)).within(
            f"{order.order_id} ", order_id=order.order_id)))
    used = set(assigned.values())
    others = [ln.variant_id for j, ln in enumerate(order.lines) if j not in used]
    reqs.append((0.0 if others else 1.0,
                 _R("other_lines", f"other lines in {order.order_id}: {', '.join(others)}",
                    ids=others)))
    if intent.code:
        reqs.append((1.0 if _same_code(order.code, intent.code) else 0.0,
                     _R("wrong_code", f"{order.order_id} has code {order.code or 'none'}, "
                        f"not {intent.code}", discount_code=order.code, wanted=intent.code)))
    if intent.payment_kind:
        charged = [p.kind for p in order.payments if p.direction == "charge"]
        reqs.append((1.0 if intent.payment_kind in charged else 0.0,
                     _R("wrong_payment", f"no charge to a {intent.payment_kind} in "
                        f"{order.order_id} (charged: {', '.join(charged) or 'nothing'})",
                        charged=charged, wanted=intent.payment_kind)))
    if intent.shipping_option:
        reqs.append((1.0 if order.shipping_option == intent.shipping_option else 0.0,
                     _R("wrong_shipping", f"{order.order_id} ships {order.shipping_option}, "
                        f"not {intent.shipping_option}", shipping=order.shipping_option,
                        wanted=intent.shipping_option)))
    reqs.insert(0, (1.0, ""))  # an order was placed
    return _result(reqs, [order.order_id])


def _merged(lines: Sequence[tuple[str, int]]) -> Counter[str]:
    out: Counter[str] = Counter()
    for vid, qty in lines:
        out[vid] += qty
    return out


def _fmt_lines(lines: Counter[str]) -> str:
    return ", ".join(f"{v} x{q}" for v, q in sorted(lines.items())) or "nothing"


def _not_proceeding(changed: list[str], what: str,
                    answered: list[Req]) -> IntentResult:
    """Success of an intent the shop forbids: no change, and the shopper told why (after the
    agent read the order)."""
    return _result([
        (0.0 if changed else 1.0, _R("forbidden_change", f"{what} {', '.join(changed)} was "
                                     "made though it should not be", ids=changed)),
        *answered,
    ])


def _return(intent: Intent, before: ShopState, after: ShopState,
            answered: list[Req]) -> IntentResult:
    had = {r.return_id for r in before.returns}
    new = [r for r in after.returns if r.return_id not in had and r.order_id == intent.order_id]
    if not intent.proceed:
        return _not_proceeding([r.return_id for r in new], "return", answered)
    if not new:
        return _result([(0.0, _R("no_return", f"no new return on {intent.order_id}",
                                  order_id=intent.order_id))])
    ret = new[0]
    want, got = _merged(intent.lines), _merged(ret.lines)
    reqs: list[Req] = [(1.0, "")]
    if len(new) > 1:
        reqs.append((0.0, _R("several_requests", f"{len(new)} returns on {intent.order_id}, "
                             "not one", ids=[r.return_id for r in new])))
    reqs.append((1.0 if got == want else 0.0,
                 _R("wrong_lines", f"{ret.return_id} covers {_fmt_lines(got)}, not "
                    f"{_fmt_lines(want)}", lines=dict(got), wanted=dict(want))))
    if intent.reason:
        reqs.append((1.0 if ret.reason == intent.reason else 0.0,
                     _R("wrong_reason", f"{ret.return_id} reason is {ret.reason}, not "
                        f"{intent.reason}", reason=ret.reason, wanted=intent.reason)))
    return _result(reqs, [ret.return_id])


def _exchange(intent: Intent, before: ShopState, after: ShopState, products: Products,
              answered: list[Req]) -> IntentResult:
    had = {x.exchange_id for x in before.exchanges}
    new = [x for x in after.exchanges
           if x.exchange_id not in had and x.order_id == intent.order_id]
    if not intent.proceed:
        return _not_proceeding([x.exchange_id for x in new], "exchange", answered)
    if not new:
        return _result([(0.0, _R("no_exchange", f"no new exchange on {intent.order_id}",
                                  order_id=intent.order_id))])
    x = new[0]
    reqs: list[Req] = [(1.0, "")]
    if len(new) > 1:
        reqs.append((0.0, _R("several_requests", f"{len(new)} exchanges on {intent.order_id}"
                             ", not one", ids=[x.exchange_id for x in new])))
    if intent.lines:
        vid, qty = intent.lines[0]
        reqs.append((1.0 if x.from_variant_id == vid else 0.0,
                     _R("wrong_lines", f"{x.exchange_id} exchanges {x.from_variant_id}, not "
                        f"{vid}", variant_id=x.from_variant_id, wanted=vid)))
        reqs.append((1.0 if x.quantity == qty else 0.0,
                     _R("wrong_lines", f"{x.exchange_id} quantity is {x.quantity}, not {qty}",
                        quantity=x.quantity, wanted=qty)))
    if intent.reason:
        reqs.append((1.0 if x.reason == intent.reason else 0.0,
                     _R("wrong_reason", f"{x.exchange_id} reason is {x.reason}, not "
                        f"{intent.reason}", reason=x.reason, wanted=intent.reason)))
    same = product_of(x.to_variant_id) == product_of(x.from_variant_id)
    reqs.append((1.0 if same else 0.0,
                 _R("wrong_replacement", f"{x.to_variant_id} is not a variant of the same "
                    "product", variant_id=x.to_variant_id)))
    if intent.new_options:
        facts = products.get(product_of(x.to_variant_id))
        variant = next((v for v in facts.variants if v.variant_id == x.to_variant_id),
                       None) if facts else None
        if variant is None:
            reqs.append((0.0, _R("wrong_replacement", f"unknown variant {x.to_variant_id}",
                                 variant_id=x.to_variant_id)))
        else:
            wrong = [f"{k} is {variant.options.get(k, 'missing')}, not {v}"
                     for k, v in intent.new_options.items()
                     if str(variant.options.get(k, "")).casefold() != v.casefold()]
            reqs.append((0.0 if wrong else 1.0, _R(
                "wrong_replacement", f"{x.to_variant_id} {'; '.join(wrong)}".replace(
                    "color is", "colour is"), variant_id=x.to_variant_id,
                options=dict(variant.options), wanted=dict(intent.new_options))))
    return _result(reqs, [x.exchange_id])


def _cancel(intent: Intent, before: ShopState, after: ShopState,
            answered: list[Req]) -> IntentResult:
    was = next((o for o in before.orders if o.order_id == intent.order_id), None)
    now = next((o for o in after.orders if o.order_id == intent.order_id), None)
    newly = (now is not None and now.status == "cancelled"
             and (was is None or was.status != "cancelled"))
    if not intent.proceed:
        return _not_proceeding([intent.order_id or ""] if newly else [], "cancellation of",
                               answered)
    if now is None:
        return _result([(0.0, _R("order_not_found", f"order {intent.order_id} not found",
                                  order_id=intent.order_id))])
    reqs: list[Req] = [
        (1.0 if newly else 0.0, _R("not_cancelled", f"order {intent.order_id} is "
                                   f"{now.status}, not cancelled", status=now.status))]
    if newly and intent.reason:
        reqs.append((1.0 if now.cancel_reason == intent.reason else 0.0, Reason(
            code="wrong_reason", params={"order_id": now.order_id,
                                         "reason": now.cancel_reason, "wanted": intent.reason},
            text=f"{now.order_id} was cancelled with reason {now.cancel_reason}, not "
                 f"{intent.reason}")))
    return _result(reqs, [now.order_id] if newly else [])

