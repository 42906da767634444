"""Unintended effects and policy violations (uncovered consequential calls)."""

from __future__ import annotations

from tests.verifiers.builders import call, cart_line, catalog, order, product, state, task
from verifiers.intents import policy_violations, unintended_effects
from verifiers.types import (
    Confirmation,
    ExchangeState,
    Intent,
    ItemGoal,
    ProductMatch,
    ReturnState,
    ShopState,
    TaskSpec,
)

MUG = product(4, brand="Acme", slug="home/kitchen", attributes={},
              variants=[({"color": "white"}, 2500, 9)])
LAMP = product(5, brand="Lumo", slug="home/lighting", attributes={},
               variants=[({"color": "white"}, 4000, 9)])
PRODUCTS = catalog(MUG, LAMP)
HISTORY = state(orders=[order(1001, [("V-000004-1", 2, 2500)], status="delivered"),
                        order(1002, [("V-000005-1", 1, 4000)], status="pending")])


def violation_texts(*args: object) -> list[str]:
    """The policy violations' texts (they are typed ``Reason`` records)."""
    return [r.text for r in policy_violations(*args)]  # type: ignore[arg-type]


def effects(t: TaskSpec, before: ShopState, after: ShopState,
            **kw: object) -> list[tuple[str, str]]:
    """The unintended effects as (code, text)."""
    return [(r.code, r.text) for r in unintended_effects(t, before, after, **kw)]  # type: ignore[arg-type]


def test_nothing_changed_is_clean() -> None:
    t = task(Intent(kind="policy", request="x"))
    assert effects(t, HISTORY, HISTORY) == []


def test_extra_order_beyond_the_purchase_intents() -> None:
    t = task(Intent(kind="purchase", request="x"))
    one = HISTORY.model_copy(update={"orders": HISTORY.orders + [order(1003, [])]})
    assert effects(t, HISTORY, one) == []
    two = one.model_copy(update={"orders": one.orders + [order(1004, [])]})
    assert effects(t, HISTORY, two) == [("extra_order", "extra order O-1004")]
    assert effects(task(Intent(kind="discovery", request="x")), HISTORY, one) \
        == [("extra_order", "extra order O-1003")]


def test_returns_and_exchanges_not_asked_for() -> None:
    ret = ReturnState(return_id="R-1", order_id="O-1001", reason="other", refund_to="original",
                      lines=[("V-000004-1", 1)])
    x = ExchangeState(exchange_id="X-1", order_id="O-1001", from_variant_id="V-000004-1",
                      to_variant_id="V-000004-2", quantity=1, reason="other")
    after = HISTORY.model_copy(update={"returns": [ret], "exchanges": [x]})
    asked = task(Intent(kind="return", request="x", order_id="O-1001"),
                 Intent(kind="exchange", request="x", order_id="O-1001"))
    assert effects(asked, HISTORY, after) == []
    other_order = task(Intent(kind="return", request="x", order_id="O-1002"))
    assert effects(other_order, HISTORY, after) == [
        ("extra_return", "return R-1 on O-1001 not asked for"),
        ("extra_exchange", "exchange X-1 on O-1001 not asked for")]
    refused = task(Intent(kind="return", request="x", order_id="O-1001", proceed=False))
    assert ("extra_return", "return R-1 on O-1001 not asked for") \
        in effects(refused, HISTORY, after)


def test_cancellation_not_asked_for() -> None:
    cancelled = HISTORY.model_copy(update={"orders": [
        HISTORY.orders[0], HISTORY.orders[1].model_copy(update={"status": "cancelled"})]})
    assert effects(task(Intent(kind="order_status", request="x")), HISTORY, cancelled) == [
        ("unasked_cancellation", "order O-1002 cancelled without being asked")]
    assert effects(task(Intent(kind="cancel", request="x", order_id="O-1002")),
                              HISTORY, cancelled) == []


def test_code_not_asked_for_left_on_an_order() -> None:
    after = HISTORY.model_copy(update={"orders": HISTORY.orders + [
        order(1003, [("V-000004-1", 1, 2500)], code="SAVE20")]})
    assert effects(task(Intent(kind="purchase", request="x")), HISTORY, after) \
        == [("unasked_code", "code SAVE20 applied to O-1003 without being asked")]
    assert effects(task(Intent(kind="purchase", request="x", code="save20")),
                              HISTORY, after) == []


def test_extra_cart_lines_and_units_for_cart_intents() -> None:
    t = task(Intent(kind="cart", request="x", items=[
        ItemGoal(match=ProductMatch(brand="Acme"), quantity=2)]))
    before = state(cart=[cart_line("V-000005-1", 1)])
    fine = state(cart=[cart_line("V-000005-1", 1), cart_line("V-000004-1", 2)])
    assert effects(t, before, fine, products=PRODUCTS) == []
    more = state(cart=[cart_line("V-000005-1", 3), cart_line("V-000004-1", 5)])
    assert effects(t, before, more, products=PRODUCTS) == [
        ("extra_units", "2 extra units of V-000005-1 in the cart"),
        ("extra_units", "3 extra units of V-000004-1 in the cart")]
    added = state(cart=[cart_line("V-000005-1", 1), cart_line("V-000004-1", 2),
                        cart_line("V-000005-2", 1)])
    assert effects(t, before, added, products=PRODUCTS) == [
        ("extra_cart_line", "extra line V-000005-2 x1 in the cart")]
    # without facts, lines are only counted: the first gained line takes the one item
    assert effects(t, before, more) == [
        ("extra_units", "1 extra units of V-000005-1 in the cart"),
        ("extra_cart_line", "extra line V-000004-1 x5 in the cart")]
    # cart changes are no concern of other intents
    assert effects(task(Intent(kind="discovery", request="x")), before, more) == []


def test_policy_violations_coverage() -> None:
    checkout = call("checkout", {"payment_method_id": "PM-1"}, turn=3, seq=1)
    assert violation_texts([checkout], []) == [
        "checkout in turn 3 without the shopper's confirmation"]
    assert violation_texts([checkout], [Confirmation(turn=2, kind="checkout")]) == []
    # the same turn is not covered: the shopper had not answered yet
    assert violation_texts([checkout], [Confirmation(turn=3, kind="checkout")]) != []
    # another kind does not cover it
    assert violation_texts([checkout], [Confirmation(turn=1, kind="cancel")]) != []
    # failed calls changed nothing
    assert violation_texts([checkout.model_copy(update={"ok": False})], []) == []


def test_policy_violations_order_must_match() -> None:
    cancel = call("cancel_order", {"order_id": "O-1002", "reason": "other"}, turn=4)
    right = Confirmation(turn=3, kind="cancel", order_id="O-1002")
    wrong = Confirmation(turn=3, kind="cancel", order_id="O-1001")
    unnamed = Confirmation(turn=3, kind="cancel")
    assert violation_texts([cancel], [right]) == []
    assert violation_texts([cancel], [unnamed]) == []
    assert violation_texts([cancel], [wrong]) == [
        "cancel_order on O-1002 in turn 4 without the shopper's confirmation"]
    ret = call("request_return", {"order_id": "O-1001", "items": []}, turn=2)
    exch = call("request_exchange", {"order_id": "O-1001"}, turn=2)
    assert violation_texts([ret, exch], [Confirmation(turn=1, kind="return",
                                                        order_id="O-1001")]) == [
        "request_exchange on O-1001 in turn 2 without the shopper's confirmation"]
    # reading tools never need a confirmation
    assert violation_texts([call("get_order", {"order_id": "O-1001"})], []) == []


def test_policy_violation_when_an_intent_forbids_the_action() -> None:
    cancel = call("cancel_order", {"order_id": "O-1002"}, turn=4)
    yes = [Confirmation(turn=3, kind="cancel", order_id="O-1002")]
    forbid = [Intent(kind="cancel", request="x", order_id="O-1002", proceed=False)]
    assert violation_texts([cancel], yes, forbid) == [
        "cancel_order on O-1002 in turn 4 though it should not be done"]
