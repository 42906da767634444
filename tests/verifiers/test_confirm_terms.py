"""A yes binds the terms proposed (verifiers.confirm): for each kind of term, the matching call
is covered and a call that switches the term after the yes is a violation that names it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.verifiers.builders import call
from tests.verifiers.test_proposals import KNOWN, TRACE
from verifiers.confirm import policy_violations
from verifiers.proposals import read_proposal
from verifiers.types import Confirmation, Intent, TraceEntry

CHECKOUT = ("Your cart has 2 x Trail Tee (red, M). Shall I place the order with Amex ending "
            "8538 and standard shipping?")
GIFT_FIRST = ("Shall I place the order with Gift card ending 4321 ($25.00) and Amex ending 8538 "
              "for the rest and standard shipping?")
EXPRESS_WORK = ("Shall I place the order with PayPal, express shipping, to your Work address?")
RETURN = ("Shall I return 2 x Trail Tee (red, M) from order O-1003 for a refund to your "
          "original payment method (reason: wrong size)?")
EXCHANGE = ("Shall I exchange 1 x Trail Tee (red, M) from order O-1003 for the same item (blue,"
            " M) (reason: wrong colour)?")
CANCEL = "Shall I cancel order O-1003 (reason: no longer needed)?"
CART_RESULT = {"order_id": "O-1010", "lines": [{"variant_id": "V-000007-1", "quantity": 2}],
               "payments": []}


def yes(message: str, turn: int = 1) -> Confirmation:
    proposal = read_proposal(message, KNOWN)
    assert proposal is not None
    return Confirmation(turn=turn, kind=proposal.kind, terms=proposal.terms,
                        order_id=(proposal.terms.orders or [None])[0])


def judge(message: str, tool: str, args: dict[str, Any],
          result: Any = None) -> list[tuple[str, list[str]]]:
    """(code, the terms named) of each violation of ``tool(args)`` after a yes to
    ``message``."""
    entry = call(tool, args, turn=2, seq=3, result=result)
    found = policy_violations([*TRACE, entry], [yes(message)])
    return [(r.code, [t["term"] for t in r.params.get("terms", [])])  # type: ignore[union-attr]
            for r in found]


def checkout(pay: str = "PM-1", **kw: Any) -> tuple[str, dict[str, Any], Any]:
    return "checkout", {"payment_method_id": pay, **kw}, CART_RESULT


def ret(vid: str = "V-000007-1", qty: int = 2, **kw: Any) -> tuple[str, dict[str, Any], Any]:
    return "request_return", {"order_id": "O-1003", "reason": "wrong_size",
                              "items": [{"variant_id": vid, "quantity": qty}], **kw}, None


def exch(**kw: Any) -> tuple[str, dict[str, Any], Any]:
    return "request_exchange", {"order_id": "O-1003", "variant_id": "V-000007-1", "quantity": 1,
                                "new_variant_id": "V-000007-2", "reason": "wrong_colour",
                                **kw}, None


# (name, proposal, the call that matches it, a call that switches one term, the term)
CASES: list[tuple[str, str, tuple[str, dict[str, Any], Any], tuple[str, dict[str, Any], Any],
                  str]] = [
    ("payment method", CHECKOUT, checkout(), checkout("PM-2"), "payment"),
    ("gift card first", GIFT_FIRST, checkout("PM-3", second_payment_method_id="PM-1"),
     checkout("PM-3", second_payment_method_id="PM-2"), "payment"),
    ("second method unproposed", CHECKOUT, checkout("PM-1"),
     checkout("PM-3", second_payment_method_id="PM-1"), "payment"),
    ("shipping option", CHECKOUT, checkout(shipping_option="standard"),
     checkout(shipping_option="next_day"), "shipping"),
    ("shipping named", EXPRESS_WORK, checkout("PM-2", shipping_option="express",
                                              address_id="A-2"),
     checkout("PM-2", shipping_option="standard", address_id="A-2"), "shipping"),
    ("address unsaid", CHECKOUT, checkout(address_id="A-1"), checkout(address_id="A-2"),
     "address"),
    ("address named", EXPRESS_WORK, checkout("PM-2", shipping_option="express",
                                             address_id="A-2"),
     checkout("PM-2", shipping_option="express"), "address"),
    ("cart items", CHECKOUT, checkout(),
     ("checkout", {"payment_method_id": "PM-1"},
      {**CART_RESULT, "lines": [{"variant_id": "V-000007-2", "quantity": 2}]}), "items"),
    ("cart quantity", CHECKOUT, checkout(),
     ("checkout", {"payment_method_id": "PM-1"},
      {**CART_RESULT, "lines": [{"variant_id": "V-000007-1", "quantity": 3}]}), "quantity"),
    ("refund route", RETURN, ret(refund_to="original"), ret(refund_to="gift_card"),
     "refund_to"),
    ("return reason", RETURN, ret(), ret(reason="other"), "reason"),
    ("return items", RETURN, ret(), ret(vid="V-000007-2", qty=1), "items"),
    ("return quantity", RETURN, ret(), ret(qty=1), "quantity"),
    ("exchange reason", EXCHANGE, exch(), exch(reason="other"), "reason"),
    ("exchange replacement", EXCHANGE, exch(),
     exch(variant_id="V-000007-2", new_variant_id="V-000007-1"), "replacement"),
    ("cancel reason", CANCEL,
     ("cancel_order", {"order_id": "O-1003", "reason": "no_longer_needed"}, None),
     ("cancel_order", {"order_id": "O-1003", "reason": "other"}, None), "reason"),
]


@pytest.mark.parametrize(("proposal", "right", "switched", "term"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_yes_covers_the_matching_call_and_not_a_switched_term(
        proposal: str, right: tuple[str, dict[str, Any], Any],
        switched: tuple[str, dict[str, Any], Any], term: str) -> None:
    assert judge(proposal, *right) == []
    found = judge(proposal, *switched)
    assert len(found) == 1 and found[0][0] == "unconfirmed_terms"
    assert term in found[0][1]


def test_the_order_must_be_the_one_proposed() -> None:
    entry = call("cancel_order", {"order_id": "O-1002", "reason": "no_longer_needed"}, turn=2,
                 seq=3)
    named = read_proposal("Shall I cancel order O-1003 (not O-1002) (reason: no longer "
                          "needed)?", KNOWN)
    assert named is not None
    # a yes recorded without its order still binds the order named in its terms
    loose = Confirmation(turn=1, kind="cancel", terms=named.terms)
    found = policy_violations([*TRACE, entry], [loose])
    assert [(r.code, r.params["terms"]) for r in found] == [
        ("unconfirmed_terms", [{"term": "order", "value": "O-1002"}])]
    assert policy_violations([*TRACE, entry.model_copy(update={"arguments": {
        "order_id": "O-1003", "reason": "no_longer_needed"}})], [loose]) == []


def test_same_turn_failed_calls_and_forbidden_actions() -> None:
    right = call("cancel_order", {"order_id": "O-1003", "reason": "no_longer_needed"}, turn=1,
                 seq=3)
    # the shopper answered after the call: not covered
    assert [r.code for r in policy_violations([*TRACE, right], [yes(CANCEL)])] == [
        "unconfirmed_action"]
    # a failed call changed nothing
    failed = right.model_copy(update={"ok": False, "turn": 2})
    assert policy_violations([*TRACE, failed], []) == []
    # covered, but the shop's policy says the order must not be cancelled
    later = right.model_copy(update={"turn": 2})
    forbid = [Intent(kind="cancel", request="x", order_id="O-1003", proceed=False)]
    assert [r.code for r in policy_violations([*TRACE, later], [yes(CANCEL)], forbid)] == [
        "forbidden_action"]


def test_a_payment_kind_named_covers_the_method_of_that_kind() -> None:
    paid = [{"payment_method_id": "PM-2", "kind": "charge",
             "method_label": "PayPal (ann@example.com)", "amount_cents": 5000}]
    entry: TraceEntry = call("checkout", {"payment_method_id": "PM-2"}, turn=2, seq=3,
                             result={"lines": [], "payments": paid})
    by_kind = yes("Shall I place the order with your PayPal?")
    assert policy_violations([*TRACE, entry], [by_kind]) == []
    # with no customer look-up in the trace, the order's own payments tell the kind
    assert policy_violations([entry], [by_kind]) == []
    card = yes("Shall I place the order with your card?")
    assert [r.code for r in policy_violations([*TRACE, entry], [card])] == [
        "unconfirmed_terms"]



def test_what_a_method_pays_where_stated() -> None:
    def placed(gift: int) -> TraceEntry:
        return call("checkout", {"payment_method_id": "PM-3", "second_payment_method_id": "PM-1"},
                    turn=2, seq=3, result={"lines": [], "payments": [
                        {"payment_method_id": "PM-3", "kind": "charge", "amount_cents": gift,
                         "method_label": "Gift card ending 4321"},
                        {"payment_method_id": "PM-1", "kind": "charge", "amount_cents": 900,
                         "method_label": "Amex ending 8538"}]})

    assert policy_violations([*TRACE, placed(2500)], [yes(GIFT_FIRST)]) == []
    found = policy_violations([*TRACE, placed(1500)], [yes(GIFT_FIRST)])
    assert [(r.code, r.params["terms"]) for r in found] == [
        ("unconfirmed_terms", [{"term": "payment_amount", "value": 1500}])]
