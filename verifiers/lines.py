"""Matching wanted items to cart or order lines, and building intent results from requirements.

A cart line's price is its product facts' variant price (the session price when the facts were
read), else the line's own ``unit_price_cents``; an order line's price is the price paid.
``IntentResult.progress`` is the share of the intent's requirements met, where a product
requirement that is not met counts the share of its matching rules that hold, so near misses
earn part of the credit.

Requirements are (credit, reason-if-unmet) pairs; a reason is a typed ``Reason`` (its code is
what reports read) or, until its call site is typed, a plain sentence, which ``_result`` files
under the generic code ``intent_unmet``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from verifiers.match import match_fraction, match_reason
from verifiers.types import (
    CartLine,
    IntentResult,
    ItemGoal,
    OrderLineState,
    ProductFacts,
    ProductMatch,
    Reason,
    ShopState,
)

Products = Mapping[str, ProductFacts]
Line = CartLine | OrderLineState
Why = Reason | str  # a requirement's reason: typed, or a sentence not yet typed


# -- matching items to lines ----------------------------------------------------------------


def _line_price(line: Line, products: Products) -> int | None:
    """The price to judge a line at: paid (order lines) or current (cart lines, from facts)."""
    if isinstance(line, OrderLineState):
        return line.unit_price_cents
    facts = products.get(line.product_id)
    if facts is not None:
        for v in facts.variants:
            if v.variant_id == line.variant_id:
                return v.price_cents
    return line.unit_price_cents or None


def _line_reason(match: ProductMatch, line: Line, products: Products) -> Reason | None:
    """None when a line's variant matches ``match``, else why not."""
    facts = products.get(line.product_id)
    if facts is None:
        return Reason(code="unknown_product", params={"product_id": line.product_id},
                      text=f"unknown product {line.product_id}")
    return match_reason(match, facts, variant_id=line.variant_id,
                        price_cents=_line_price(line, products))


def _line_fraction(match: ProductMatch, line: Line, products: Products) -> float:
    facts = products.get(line.product_id)
    if facts is None:
        return 0.0
    return match_fraction(match, facts, variant_id=line.variant_id,
                          price_cents=_line_price(line, products))


def _assign(n_items: int, n_lines: int, fits: Callable[[int, int], bool]) -> dict[int, int]:
    """A maximum matching of items to distinct lines (item -> line) by augmenting paths."""
    owner: dict[int, int] = {}  # line -> item

    def place(item: int, seen: set[int]) -> bool:
        for line in range(n_lines):
            if line in seen or not fits(item, line):
                continue
            seen.add(line)
            if line not in owner or place(owner[line], seen):
                owner[line] = item
                return True
        return False

    for item in range(n_items):
        place(item, set())
    return {item: line for line, item in owner.items()}


def _label(item: ItemGoal, index: int) -> str:
    return item.label or f"item {index + 1}"


def _item_lines(items: Sequence[ItemGoal], lines: Sequence[Line], products: Products
                ) -> tuple[dict[int, int], list[Reason], list[float]]:
    """Assign items to lines (variant match and exact quantity); for each item left over, why
    (the closest line's failure) and its partial credit."""
    ok = [[_line_reason(it.match, ln, products) is None and ln.quantity == it.quantity
           for ln in lines] for it in items]
    assigned = _assign(len(items), len(lines), lambda i, j: ok[i][j])
    reasons: list[Reason] = []
    credit: list[float] = []
    for i, item in enumerate(items):
        if i in assigned:
            credit.append(1.0)
            continue
        label = _label(item, i)
        best: tuple[float, Reason] = (0.0, Reason(code="missing_item", params={"item": label},
                                                  text=f"no line for {label}"))
        for line in lines:
            why = _line_reason(item.match, line, products)
            frac = _line_fraction(item.match, line, products)
            if why is None:
                frac, why = 0.75, Reason(
                    code="wrong_quantity", params={"variant_id": line.variant_id,
                                                   "have": line.quantity,
                                                   "want": item.quantity},
                    text=f"quantity of {line.variant_id} is {line.quantity}, not "
                         f"{item.quantity}")
                why = why.within(f"{label}: ", item=label)
            else:
                frac *= 0.5
                why = why.within(f"{label}: {line.variant_id} ", item=label,
                                 variant_id=line.variant_id)
            if frac > best[0]:
                best = (frac, why)
        reasons.append(best[1])
        credit.append(best[0])
    return assigned, reasons, credit


def _quantities(lines: Sequence[CartLine]) -> dict[str, int]:
    return {ln.variant_id: ln.quantity for ln in lines}


def _gained(before: ShopState, after: ShopState) -> list[CartLine]:
    """Cart lines that are new or hold more units than at the start."""
    was = _quantities(before.cart)
    return [ln for ln in after.cart if ln.quantity > was.get(ln.variant_id, 0)]


def typed(why: Why) -> Reason:
    """A requirement's reason as a ``Reason``: a sentence not yet typed gets ``intent_unmet``."""
    if isinstance(why, Reason):
        return why
    return Reason(code="intent_unmet", text=why or "not done")


def _result(reqs: Sequence[tuple[float, Why]], effects: Sequence[str] = ()) -> IntentResult:
    """An IntentResult from (credit, reason-if-unmet) requirements; a reason is a ``Reason``
    or a sentence (see ``typed``), an empty sentence meaning none."""
    if not reqs:
        return IntentResult(done=True, reason="done", progress=1.0, effects=list(effects))
    if all(credit >= 1.0 for credit, _ in reqs):
        return IntentResult(done=True, reason="done", progress=1.0, effects=list(effects))
    unmet = [typed(why) for credit, why in reqs if credit < 1.0 and why]
    progress = sum(min(max(c, 0.0), 1.0) for c, _ in reqs) / len(reqs)
    unmet = unmet or [typed("")]
    return IntentResult(done=False, reason="; ".join(r.text for r in unmet), reasons=unmet,
                        progress=min(progress, 0.99))

