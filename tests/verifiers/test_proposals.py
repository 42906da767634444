"""The one reading of a proposal (verifiers.proposals): how people ask, which action, and the
terms named, resolved against what the trace showed."""

from __future__ import annotations

import pytest

from tests.verifiers.builders import call
from verifiers.proposals import Known, asks_confirmation, known_from_trace, read_proposal

CUSTOMER = {
    "customer_id": "C-1", "name": "Ann Lee", "tier": "standard",
    "addresses": [
        {"address_id": "A-1", "label": "Home", "line1": "12 Oak St", "city": "Austin",
         "is_default": True},
        {"address_id": "A-2", "label": "Work", "line1": "400 Commerce Pkwy", "city": "Dallas",
         "is_default": False}],
    "payment_methods": [
        {"payment_method_id": "PM-1", "kind": "card", "label": "Amex ending 8538",
         "balance_cents": None, "is_default": True},
        {"payment_method_id": "PM-2", "kind": "paypal", "label": "PayPal (ann@example.com)",
         "balance_cents": None, "is_default": False},
        {"payment_method_id": "PM-3", "kind": "gift_card", "label": "Gift card ending 4321",
         "balance_cents": 2500, "is_default": False}],
}
ORDER = {"order_id": "O-1003", "lines": [
    {"variant_id": "V-000007-1", "title": "Trail Tee", "options": {"color": "red", "size": "M"},
     "quantity": 2},
    {"variant_id": "V-000007-2", "title": "Trail Tee", "options": {"color": "blue", "size": "M"},
     "quantity": 1},
    {"variant_id": "V-000009-1", "title": "Greeting Card Set", "options": {}, "quantity": 1}]}
TRACE = [call("get_customer", result=CUSTOMER, seq=1),
         call("get_order", {"order_id": "O-1003"}, result=ORDER, seq=2)]
KNOWN = known_from_trace(TRACE)

# (message, action): at least twenty ways of asking
ASKS = [
    ("Shall I cancel order O-1003?", "cancel"),
    ("Should I cancel order O-1003 for you?", "cancel"),
    ("Do you want me to cancel order O-1003?", "cancel"),
    ("Is it OK if I cancel order O-1003?", "cancel"),
    ("Should we go ahead and return the Trail Tee from O-1003?", "return"),
    ("Ready for me to place the order with PayPal?", "checkout"),
    ("Would you like me to exchange the Trail Tee from O-1003 for the blue one?", "exchange"),
    ("Want me to place the order now?", "checkout"),
    ("Can I go ahead and cancel O-1003?", "cancel"),
    ("Okay to return the Trail Tee from order O-1003?", "return"),
    ("May I place the order with your Amex ending 8538?", "checkout"),
    ("Shall we swap the Trail Tee (red, M) in O-1003 for size L?", "exchange"),
    ("Would it be alright if I cancel order O-1003?", "cancel"),
    ("Are you happy for me to check out with standard shipping?", "checkout"),
    ("Do I have your go-ahead to return the Trail Tee from O-1003?", "return"),
    ("Let me know if I should cancel order O-1003.", "cancel"),
    ("Please confirm I should place the order with PayPal.", "checkout"),
    ("Good to place the order with express shipping?", "checkout"),
    ("I can cancel order O-1003 for you — shall I?", "cancel"),
    ("I can return the Trail Tee from O-1003 for a refund. Shall I go ahead?", "return"),
    ("Could I complete the purchase with your PayPal?", "checkout"),
    ("Your cart is ready. Would you like me to buy it with express shipping?", "checkout"),
    ("I'll cancel order O-1003 right away, is that okay?", "cancel"),
    ("Return the Trail Tee from O-1003 for a refund to your original payment method — "
     "sound good?", "return"),
    ("I will cancel order O-1003 for you. OK?", "cancel"),
    ("Cancel O-1003, okay?", "cancel"),
    ("I'll place the order with PayPal and express shipping. Proceed?", "checkout"),
]
NOT_ASKING = [
    "I have cancelled order O-1003.",
    "Your order O-1003 has been placed with standard shipping.",
    "You can return items within 30 days of delivery.",
    "I can't cancel order O-1003: it has already shipped.",
    "Which order would you like to return?",
    "What's the reason for the return?",
    "Would you like me to look for a cheaper option?",
    "Let me know if you need anything else.",
    "Done: return R-1 for order O-1003 is approved.",
    "Here are two headphones that fit your budget. Do you like either?",
    "You returned it last week, right?",
    "I exchanged the Trail Tee for the blue one. Anything else?",
    "Okay.",
]


@pytest.mark.parametrize(("message", "kind"), ASKS, ids=[m[:40] for m, _ in ASKS])
def test_ways_of_asking_are_recognised(message: str, kind: str) -> None:
    assert asks_confirmation(message) == kind
    proposal = read_proposal(message, KNOWN)
    assert proposal is not None and proposal.kind == kind


@pytest.mark.parametrize("message", NOT_ASKING, ids=[m[:40] for m in NOT_ASKING])
def test_statements_and_other_questions_are_not_proposals(message: str) -> None:
    assert asks_confirmation(message) is None
    assert read_proposal(message, KNOWN) is None


def test_checkout_terms_payment_methods_shipping_address() -> None:
    p = read_proposal("Your cart has 2 x Trail Tee (red, M) ($40.00 before shipping). Shall I "
                      "place the order with Gift card ending 4321 ($25.00) and Amex ending "
                      "8538 for the rest, express shipping, to your Work address?", KNOWN)
    assert p is not None and p.kind == "checkout"
    t = p.terms
    assert [(x.method_id, x.kind, x.amount_cents) for x in t.payments] == [
        ("PM-3", "gift_card", 2500), ("PM-1", "card", None)]
    assert t.shipping == ["express"] and t.addresses == ["A-2"]
    assert [(i.variant_ids, i.quantity) for i in t.items] == [(["V-000007-1"], 2)]
    # by kind and by id; 'next-day'; the default address; a title with 'Card' is no payment
    p = read_proposal("Shall I buy 1 x Greeting Card Set with PayPal and next-day delivery "
                      "to your default address?", KNOWN)
    assert p is not None
    assert [(x.method_id, x.kind) for x in p.terms.payments] == [("PM-2", "paypal")]
    assert p.terms.shipping == ["next_day"] and p.terms.addresses == ["A-1"]
    p = read_proposal("Shall I check out with PM-1 and ship to A-2 at 400 Commerce Pkwy?",
                      KNOWN)
    assert p is not None
    assert [x.method_id for x in p.terms.payments] == ["PM-1"] and p.terms.addresses == ["A-2"]
    # without the customer's methods, a kind is still read
    p = read_proposal("Shall I place the order with your card?", Known())
    assert p is not None and [(x.method_id, x.kind) for x in p.terms.payments] == [
        (None, "card")]


def test_order_terms_and_exclusions() -> None:
    p = read_proposal("Shall I cancel order O-1003 (not O-1002)?", KNOWN)
    assert p is not None and p.terms.orders == ["O-1003"]
    assert p.terms.excluded_orders == ["O-1002"]
    p = read_proposal("Shall I cancel O-1003 rather than O-1001, and also O-1004?", KNOWN)
    assert p is not None and p.terms.orders == ["O-1003", "O-1004"]


def test_return_terms_items_refund_route_reason() -> None:
    p = read_proposal("Shall I return 1 x Trail Tee (blue, M) from order O-1003 for a refund "
                      "of $20.00 to your original payment method (reason: wrong size)?", KNOWN)
    assert p is not None and p.kind == "return"
    t = p.terms
    assert [(i.variant_ids, i.quantity) for i in t.items] == [(["V-000007-2"], 1)]
    assert t.refund_to == ["original"] and t.reasons == ["wrong_size"]
    p = read_proposal("Shall I return two of the Trail Tee from O-1003 as store credit on a "
                      "gift card, since it arrived damaged?", KNOWN)
    assert p is not None
    assert p.terms.refund_to == ["gift_card"] and p.terms.reasons == ["arrived_damaged"]
    # a title names every variant of it unless the options narrow it
    assert [(i.variant_ids, i.quantity) for i in p.terms.items] == [
        (["V-000007-1", "V-000007-2"], 2)]


def test_options_are_read_as_whole_words() -> None:
    known = Known(variants={"V-000008-1": ("Rain Coat", {"size": "M", "color": "maroon"}),
                            "V-000008-2": ("Rain Coat", {"size": "XL", "color": "maroon"})})
    p = read_proposal("Shall I buy 1 x Rain Coat (XL, maroon) with PayPal?", known)
    assert p is not None and [i.variant_ids for i in p.terms.items] == [["V-000008-2"]]


def test_exchange_terms_item_and_replacement() -> None:
    p = read_proposal("Shall I exchange 1 x Trail Tee (red, M) from order O-1003 for the same "
                      "item (blue, M) (reason: wrong colour)?", KNOWN)
    assert p is not None and p.kind == "exchange"
    assert [i.variant_ids for i in p.terms.items] == [["V-000007-1"]]
    assert "blue" in p.terms.replacement and "red" not in p.terms.replacement
    assert p.terms.reasons == ["wrong_colour"]


def test_cancel_reasons() -> None:
    for text, code in [("no longer needed", "no_longer_needed"),
                       ("ordered by mistake", "ordered_by_mistake"),
                       ("found better price", "found_better_price"),
                       ("shipping too slow", "shipping_too_slow"), ("other", "other")]:
        p = read_proposal(f"Shall I cancel order O-1003 (reason: {text})?", KNOWN)
        assert p is not None and p.terms.reasons == [code], text
