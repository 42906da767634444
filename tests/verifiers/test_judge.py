"""Multi-intent tasks: an intent the shopper accepted and moved on from is judged in its
snapshot, not re-judged after later events; later actions are still judged over the episode."""

from __future__ import annotations

from tests.verifiers.builders import (
    call,
    cart_line,
    catalog,
    order,
    presented,
    product,
    say,
    state,
    task,
    tool_result,
    user,
)
from verifiers.reward import judge_intents, score
from verifiers.types import (
    Breakdown,
    Component,
    Confirmation,
    EpisodeInput,
    Intent,
    IntentSnapshot,
    ItemGoal,
    ProductMatch,
    ShopState,
)

BOOTS = product(1, variants=[({"size": "10"}, 9000, 5)])
SOLD_OUT_BOOTS = product(1, variants=[({"size": "10"}, 9000, 0)])  # after the flash sale
HAT = product(3, slug="electronics/audio/headphones", variants=[({"color": "red"}, 5000, 4)])
SOLD_OUT_HAT = product(3, variants=[({"color": "red"}, 5000, 0)])
WANT_BOOTS = ItemGoal(match=ProductMatch(product_ids=["P-000001"]), label="the boots")
CART = Intent(kind="cart", request="put the boots in my cart", items=[WANT_BOOTS])
PURCHASE = Intent(kind="purchase", request="buy the boots", items=[WANT_BOOTS])
SHOW = Intent(kind="discovery", request="show me headphones",
              accept=ProductMatch(category="electronics", max_price_cents=10000))
IN_CART = state(cart=[cart_line("V-000001-1", 1, 9000)])


def multi(first: Intent, *, at_accept: ShopState, after: ShopState, products: dict,
          snapshots: bool = True, trace: tuple = (),
          confirmations: tuple = ()) -> EpisodeInput:
    """Two intents: ``first`` done in turn 1 (the shopper moved on in its reply), then the
    discovery intent done in turn 2 by presenting P-000003; the flash sale hit after turn 1."""
    t = task(first, SHOW, family="multi")
    msgs = [user("Hi"), say("Done."), user("Great, thanks! One more thing: show me headphones"),
            tool_result({"hits": [{"product_id": "P-000003"}]}), say("How about P-000003?")]
    snap = IntentSnapshot(index=0, turn=1, intent=first, state=at_accept,
                          products=catalog(BOOTS, HAT))
    return EpisodeInput(
        task=t, before=state(), after=after, messages=msgs, products=products,
        trace=[*trace, presented(["P-000003"], turn=2, seq=9)], intent_turns=[0, 2],
        confirmations=list(confirmations), snapshots=[snap] if snapshots else [], turns=2)


def comp(b: Breakdown, name: str) -> Component:
    return next(c for c in b.components if c.name == name)


def test_an_accepted_cart_is_not_undone_by_a_later_flash_sale() -> None:
    sold_out = catalog(SOLD_OUT_BOOTS, HAT)
    added = (call("add_to_cart", {"variant_id": "V-000001-1"}, turn=1, seq=1),)
    b = score(multi(CART, at_accept=IN_CART, after=IN_CART, products=sold_out, trace=added))
    assert b.success, b.components
    # an input recorded without snapshots is judged the old way: on the final state
    old = score(multi(CART, at_accept=IN_CART, after=IN_CART, products=sold_out, trace=added,
                      snapshots=False))
    assert not old.success
    assert [(r.code, r.params["intent"]) for r in comp(old, "task").reasons] == [
        ("out_of_stock", 1)]


def test_an_intent_never_moved_on_from_is_judged_on_the_final_state() -> None:
    sold_out = catalog(SOLD_OUT_BOOTS, SOLD_OUT_HAT)
    inp = multi(CART, at_accept=IN_CART, after=IN_CART, products=sold_out)
    first, second = judge_intents(inp.task, inp.before, inp.after, inp.trace, inp.messages,
                                  inp.products, intent_turns=inp.intent_turns,
                                  snapshots=inp.snapshots)
    assert first.done and not second.done
    # the same episode with the headphones still in stock at the end: done
    stocked = inp.model_copy(update={"products": catalog(SOLD_OUT_BOOTS, HAT)})
    assert all(r.done for r in judge_intents(
        stocked.task, stocked.before, stocked.after, stocked.trace, stocked.messages,
        stocked.products, intent_turns=stocked.intent_turns, snapshots=stocked.snapshots))


def test_undoing_an_accepted_purchase_later_is_an_unintended_effect() -> None:
    placed = state(orders=[order(1001, [("V-000001-1", 1, 9000)])])
    cancelled = state(orders=[order(1001, [("V-000001-1", 1, 9000)], status="cancelled")])
    calls = (call("checkout", {"payment_method_id": "PM-1"}, turn=1, seq=1),
             call("cancel_order", {"order_id": "O-1001"}, turn=2, seq=2))
    yes = (Confirmation(turn=0, kind="checkout"),
           Confirmation(turn=1, kind="cancel", order_id="O-1001"))
    b = score(multi(PURCHASE, at_accept=placed, after=cancelled, products=catalog(BOOTS, HAT),
                    trace=calls, confirmations=yes))
    assert comp(b, "task").value == 1.0  # the purchase was done when the shopper moved on
    assert not b.success
    assert [(r.code, r.params) for r in comp(b, "unintended").reasons] == [
        ("unasked_cancellation", {"order_id": "O-1001"})]
