"""What the shopper objects to in a proposal: each term that contradicts its goal, whether that
part of the goal was revealed or not (the proposal is read by ``verifiers.proposals``, the same
reading the verifiers hold the calls to).

Every function here is pure: the proposal, the live intent, the state and the product facts.
"""

from __future__ import annotations

from typing import NamedTuple

from verifiers import match_product
from verifiers.proposal_terms import names_value
from verifiers.proposals import Proposal
from verifiers.state import product_of
from verifiers.terms import ItemTerm
from verifiers.types import Intent, ItemGoal, ProductFacts, ShopState

__all__ = ["Objection", "cart_problem", "objections"]

_PAY = {"paypal": "Please use my PayPal.", "card": "Please use my card.",
        "gift_card": "Please use my gift card (and my card for whatever it doesn't cover)."}
_SHIP = {"express": "No — I need it by express.", "next_day": "No — I need it next-day.",
         "standard": "Standard shipping is fine; I don't want to pay for faster."}


class Objection(NamedTuple):
    """A term the shopper will not agree to: the goal slot it concerns and what it says."""

    slot: str
    say: str


def objections(proposal: Proposal, intent: Intent, *, state: ShopState,
               products: dict[str, ProductFacts]) -> list[Objection]:
    """The shopper's objections to ``proposal`` (empty: it agrees). The action kind and
    whether the action is allowed at all are the caller's to check first."""
    terms = proposal.terms
    out: list[Objection] = []
    if intent.order_id is not None:
        if not terms.orders:
            out.append(Objection("order", "Which order do you mean? Please tell me the order "
                                          "number."))
        elif set(terms.orders) != {intent.order_id}:
            out.append(Objection("order", "No, that's not the right order."))
    if proposal.kind == "checkout":
        missing = cart_problem(intent, state, products)
        if missing:
            out.append(Objection("item", f"Not yet: {missing}."))
        out += _payment(intent, proposal)
        shipping = terms.shipping or ["standard"]
        if intent.shipping_option and shipping != [intent.shipping_option]:
            out.append(Objection("shipping", _SHIP[intent.shipping_option]))
        out += _checkout_items(intent, terms.items, products)
    if proposal.kind in ("return", "exchange"):
        out += _lines(intent, terms.items, proposal.kind)
    if proposal.kind == "return" and (terms.refund_to or ["original"]) != ["original"]:
        out.append(Objection("refund", "I'd like the refund to my original payment method."))
    if proposal.kind == "exchange" and intent.new_options:
        wanted = ", ".join(intent.new_options.values())
        if not all(names_value(terms.replacement, v) for v in intent.new_options.values()):
            out.append(Objection("replacement", f"No, I want the {wanted} one."))
    if proposal.kind != "checkout" and intent.reason and terms.reasons != [intent.reason]:
        why = next((s.phrase for s in intent.slots if s.name == "reason"), "")
        lead = "That's not why I want this: " if terms.reasons else "Please note the reason: "
        out.append(Objection("reason", lead + (why or intent.reason.replace("_", " "))
                             .rstrip(".") + "."))
    return out


def cart_problem(intent: Intent, state: ShopState,
                 products: dict[str, ProductFacts]) -> str | None:
    """What the cart lacks for a purchase (a wanted line, the code), or None."""
    for item in intent.items:
        ok = False
        for line in state.cart:
            facts = products.get(line.product_id)
            if facts is None or line.quantity != item.quantity:
                continue
            if match_product(item.match, facts, variant_id=line.variant_id,
                             price_cents=line.unit_price_cents) is None:
                ok = True
                break
        if not ok:
            return f"my cart doesn't have {item.label or 'what I asked for'} yet"
    if intent.code and state.cart_code != intent.code.upper():
        return f"the code {intent.code} isn't applied"
    return None


def _payment(intent: Intent, proposal: Proposal) -> list[Objection]:
    kinds = [p.kind for p in proposal.terms.payments]
    goal = intent.payment_kind
    if not kinds:
        return [Objection("payment", _PAY[goal] if goal else
                          "How will I be paying? Please tell me which card or account.")]
    if goal is None:
        return []
    fits = ("gift_card" in kinds and all(k in ("gift_card", "card", "paypal") for k in kinds)
            if goal == "gift_card" else all(k == goal for k in kinds))
    return [] if fits else [Objection("payment", _PAY[goal])]


def _checkout_items(intent: Intent, named: list[ItemTerm],
                    products: dict[str, ProductFacts]) -> list[Objection]:
    """Quantities the proposal names against the wanted ones (a named line that is a wanted
    item must come in the wanted quantity)."""
    out: list[Objection] = []
    for term in named:
        if term.quantity is None:
            continue
        for item in intent.items:
            fits = [v for v in term.variant_ids if _matches(item, v, products)]
            if fits and term.quantity != item.quantity:
                out.append(Objection("quantity", f"I want {item.quantity} of "
                                     f"{item.label or 'those'}, not {term.quantity}."))
                break
    return out


def _matches(item: ItemGoal, variant_id: str, products: dict[str, ProductFacts]) -> bool:
    facts = products.get(product_of(variant_id))
    return facts is not None and match_product(item.match, facts, variant_id=variant_id) is None


def _lines(intent: Intent, named: list[ItemTerm], kind: str) -> list[Objection]:
    wanted = dict(intent.lines)
    out: list[Objection] = []
    for term in named:
        hits = [v for v in term.variant_ids if v in wanted]
        if not hits:
            out.append(Objection("item", f"That's not the item I want to {kind}."))
        elif term.quantity is not None and term.quantity != wanted[hits[0]]:
            out.append(Objection("quantity", f"I want to {kind} {wanted[hits[0]]} of them, "
                                 f"not {term.quantity}."))
    return out
