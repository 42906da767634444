"""A fair shopper: it agrees only to proposals whose terms fit its goal and says what is wrong
otherwise (revealed goal part or not), answers the question it was asked, never repeats itself,
and says what is wrong after a wrong action."""

from __future__ import annotations

import re
from typing import Any

import pytest

from episodes.agents.heuristic import HeuristicAgent
from episodes.controller import EpisodeController
from episodes.generate import families, generate_task
from episodes.shopper import Shopper, ShopperReply
from tests.verifiers.builders import call, cart_line, catalog, order, product, state, task
from tests.verifiers.test_proposals import CUSTOMER, ORDER
from verifiers.types import (
    Intent,
    ItemGoal,
    MindChange,
    ProductMatch,
    ShopState,
    Slot,
    TaskSpec,
    TraceEntry,
)

MUG = product(4, brand="Acme", slug="home/kitchen", attributes={},
              variants=[({"color": "white"}, 2500, 9)])
PRODUCTS = catalog(MUG)
LOOKUPS = [call("get_customer", result=CUSTOMER, turn=1, seq=1),
           call("get_order", {"order_id": "O-1003"}, result=ORDER, turn=1, seq=2)]
CART = state(cart=[cart_line("V-000004-1", 2, 2500)])


def purchase(*, shipping_in_opening: bool) -> TaskSpec:
    return task(Intent(
        kind="purchase", request="Please order two Acme mugs.", payment_kind="paypal",
        shipping_option="express",
        items=[ItemGoal(match=ProductMatch(brand="Acme"), quantity=2, label="the mugs")],
        slots=[Slot(name="shipping", value="express", phrase="I need it by express",
                    in_opening=shipping_in_opening),
               Slot(name="payment", value="paypal", phrase="I'll pay with PayPal",
                    in_opening=False)]), family="purchase")


def ask(shopper: Shopper, message: str, *, turn: int = 1, now: ShopState = CART,
        before: ShopState = CART, new_calls: list[TraceEntry] | None = None) -> ShopperReply:
    trace = [*LOOKUPS, *(new_calls or [])]
    return shopper.reply(turn=turn, message=message, new_calls=new_calls or [], before=before,
                         state=now, trace=trace, messages=[], products=PRODUCTS)


@pytest.mark.parametrize("revealed", [True, False], ids=["revealed", "hidden"])
def test_objects_to_a_proposal_that_contradicts_the_goal(revealed: bool) -> None:
    shopper = Shopper(purchase(shipping_in_opening=revealed))
    r = ask(shopper, "Shall I place the order with PayPal and standard shipping?")
    assert r.confirmation is None and "I need it by express" in r.text
    r = ask(shopper, "Do you want me to place the order with Amex ending 8538 and express "
                     "shipping?", turn=2)
    assert r.confirmation is None and "Please use my PayPal" in r.text
    r = ask(shopper, "Is it OK if I place the order with PayPal and express shipping?", turn=3)
    assert r.confirmation is not None and r.text.startswith("Yes")
    terms = r.confirmation.terms
    assert terms is not None and terms.shipping == ["express"]
    assert [p.method_id for p in terms.payments] == ["PM-2"]


def return_task() -> TaskSpec:
    return task(Intent(kind="return", request="I'd like to return the red tees.",
                       order_id="O-1003", lines=[("V-000007-1", 2)], reason="wrong_size",
                       slots=[Slot(name="reason", value="wrong_size", phrase="they don't fit",
                                   in_opening=False)]), family="return")


@pytest.mark.parametrize(("message", "objection"), [
    ("Shall I return 2 x Trail Tee (red, M) from order O-1003 for a refund to a gift card "
     "(reason: wrong size)?", "refund to my original payment method"),
    ("Shall I return 2 x Trail Tee (red, M) from order O-1003 (reason: changed mind)?",
     "That's not why"),
    ("Shall I return 2 x Trail Tee (red, M) from order O-1003?", "they don't fit"),
    ("Shall I return 1 x Trail Tee (red, M) from order O-1003 (reason: wrong size)?",
     "return 2 of them, not 1"),
    ("Shall I return 2 x Trail Tee (blue, M) from order O-1003 (reason: wrong size)?",
     "not the item"),
    ("Shall I return 2 x Trail Tee (red, M) from order O-1002 (reason: wrong size)?",
     "not the right order"),
])
def test_objects_to_each_wrong_return_term(message: str, objection: str) -> None:
    r = ask(Shopper(return_task()), message)
    assert r.confirmation is None and objection in r.text


def test_naming_the_right_order_beside_an_excluded_one_is_fine() -> None:
    r = ask(Shopper(return_task()), "Ready for me to return 2 x Trail Tee (red, M) from order "
                                    "O-1003 (not O-1002), refunded to your original payment "
                                    "method, reason: wrong size?")
    assert r.confirmation is not None and r.confirmation.order_id == "O-1003"


def slots_task(level_change: MindChange | None = None) -> TaskSpec:
    return task(Intent(kind="discovery", request="I need running shoes.",
                       accept=ProductMatch(category="shoes"), change=level_change, slots=[
                           Slot(name="budget", phrase="under $80", in_opening=False),
                           Slot(name="size", phrase="size 10", in_opening=False),
                           Slot(name="color", phrase="in blue", in_opening=False)]))


def test_answers_the_slot_asked_in_the_order_asked() -> None:
    shopper = Shopper(slots_task())
    assert shopper.task.params.level >= 3
    r = ask(shopper, "What size do you need, and what's your budget?")
    assert r.text == "Size 10."
    r = ask(shopper, "And what's your budget?", turn=2)
    assert r.text == "Under $80."
    # asked about something its goal does not hold: no unrelated detail
    r = ask(shopper, "Any particular brand?", turn=3)
    assert "blue" not in r.text.lower()
    r = ask(shopper, "Which colour would you like?", turn=4)
    assert r.text == "In blue."


def test_no_sentence_twice_in_one_reply() -> None:
    change = MindChange(at_turn=1, slot="budget", say="Actually, I'd like to stay under $37.")
    r = ask(Shopper(slots_task(change)), "What's your budget?")
    assert r.text.count("stay under $37") == 1


def test_nudges_vary_and_never_restate_the_request_twice_in_a_row() -> None:
    t = slots_task()
    shopper = Shopper(t.model_copy(update={"params": t.params.model_copy(
        update={"patience": 50})}))
    said = [ask(shopper, "Hmm.", turn=i).text for i in range(1, 30)]
    request = shopper.intent.request
    for a, b in zip(said, said[1:], strict=False):
        assert a != b
        assert not (request in a and request in b)


def test_says_what_is_wrong_after_a_wrong_checkout() -> None:
    shopper = Shopper(purchase(shipping_in_opening=False))
    placed = order(1010, [("V-000004-1", 2, 2500)], shipping="standard",
                   payments=[("PM-2", "paypal", 5000)])
    checkout = call("checkout", {"payment_method_id": "PM-2"}, turn=2, seq=3,
                    result={"order_id": "O-1010", "lines": [], "payments": []})
    r = ask(shopper, "Done — your order O-1010 is placed.", turn=2, before=CART,
            now=state(orders=[placed]), new_calls=[checkout])
    assert "That's not what I wanted" in r.text and "express" in r.text
    assert "I'm still waiting" not in r.text


CASES = [(f, d, s) for f in families() for d in (2, 5, 8) for s in range(2)]


@pytest.fixture(scope="module")
def heuristic_records(ep_shop: Any) -> list[dict[str, Any]]:
    import anyio

    async def run() -> list[dict[str, Any]]:
        async with EpisodeController(ep_shop) as controller:
            return await controller.run(
                HeuristicAgent(), [generate_task(ep_shop, *c) for c in CASES], concurrency=2)

    return anyio.run(run)


def test_the_shopper_never_repeats_itself_over_many_episodes(
        heuristic_records: list[dict[str, Any]]) -> None:
    assert len(heuristic_records) >= 70
    for record in heuristic_records:
        said = [m["content"] for m in record["messages"] if m["role"] == "user"]
        for text in said:
            sentences = [s.strip().lower() for s in re.split(r"(?<=[.!?])\s+", text)
                         if s.strip()]
            assert len(sentences) == len(set(sentences)), (record["task_id"], text)
        for a, b in zip(said[1:], said[2:], strict=False):  # after the opening
            assert a != b, (record["task_id"], a)
