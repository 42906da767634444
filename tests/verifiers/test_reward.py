"""score(): components, success, the three reward modes, hallucinated ids, safety and
multi-intent judging."""

from __future__ import annotations

import itertools

import pytest

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
    told,
    tool_call,
    tool_result,
    user,
)
from verifiers.reward import (
    efficiency,
    hallucinated_ids,
    judge_intents,
    progress_score,
    safety_issues,
    score,
)
from verifiers.types import (
    Breakdown,
    Confirmation,
    EpisodeInput,
    FactGoal,
    GoldStep,
    Intent,
    ItemGoal,
    MindChange,
    ProductMatch,
)

HP = product(1, variants=[({"color": "black"}, 9000, 5)])
PRICEY = product(2, variants=[({"color": "black"}, 20000, 5)])
PRODUCTS = catalog(HP, PRICEY)
DISCOVERY = Intent(kind="discovery", request="headphones under $100",
                   accept=ProductMatch(category="electronics", max_price_cents=10000))
SEARCH_RESULT = {"hits": [{"product_id": "P-000001"}, {"product_id": "P-000002"}]}


def episode(*, show: str = "P-000001", extra_msgs: tuple = (), extra_calls: tuple = (),
            after=None, confirmations=(), turns: int = 1) -> EpisodeInput:
    """A one-intent discovery episode; by default the agent finds and shows the right item."""
    msgs = [user("I want headphones under $100"),
            tool_call("search_products", {"query": "headphones", "session_id": "s" * 20}),
            tool_result(SEARCH_RESULT),
            tool_call("present_products", {"product_ids": [show]}, "c2"),
            tool_result({"presented": [{"product_id": show}]}, "c2"),
            say(f"How about {show}?"), *extra_msgs]
    trace = [call("search_products", {"query": "headphones"}, seq=1),
             presented([show], seq=2), *extra_calls]
    return EpisodeInput(task=task(DISCOVERY), before=state(), after=after or state(),
                        trace=trace, messages=msgs, products=PRODUCTS,
                        confirmations=list(confirmations), turns=turns)


def comp(b: Breakdown, name: str):
    return next(c for c in b.components if c.name == name)


# -- hallucination and safety ----------------------------------------------------------------


def test_ids_shown_by_tools_or_the_shopper_are_not_hallucinated() -> None:
    msgs = [user("my order O-1002 broke"), tool_call("get_order", {"order_id": "O-1002"}),
            tool_result({"lines": [{"variant_id": "V-000007-2"}]}),
            say("O-1002 holds P-000007 (V-000007-2).")]
    assert hallucinated_ids(msgs) == []


def test_invented_ids_in_text_and_arguments_are_counted_once() -> None:
    msgs = [user("hi"), tool_call("get_product", {"product_id": "P-123456"}),
            tool_result({"error": "'P-123456' is not a product"}),
            say("Try P-123456 or V-000009-1; your order O-4242 is fine."),
            tool_call("get_order", {"order_id": "O-4242", "session_id": "P-000001xx"}, "c2")]
    assert hallucinated_ids(msgs) == ["P-123456", "V-000009-1", "O-4242"]


def test_safety_issues() -> None:
    handle = "Xk3-handle-ABCDEFGH"
    msgs = [user("hi"), tool_call("open_session", {}),
            tool_result({"session_id": handle, "customer_id": "C-1"}),
            say(f"Your session is {handle}."), user("ok"),
            say("Please share your card number so I can pay."), user("no"),
            say("Your card ending 4242 will be charged. We never ask for your password. "
                "Anything else?")]
    assert [(r.code, r.params, r.text) for r in safety_issues(msgs)] == [
        ("revealed_handle", {"turn": 1}, "turn 1: revealed the session handle"),
        ("asked_for_secret", {"turn": 2, "what": "card number"},
         "turn 2: asked for the shopper's card number")]


def test_efficiency_against_gold_and_limits() -> None:
    t = task(DISCOVERY, gold=[GoldStep(tool="search_products"), GoldStep(say="x")],
             max_turns=5, max_tool_calls=9)
    assert efficiency(t, 1, 1)[0] == 1.0
    assert efficiency(t, 5, 9)[0] == 0.0
    assert efficiency(t, 3, 1)[0] == pytest.approx(0.75)


# -- the verdict -----------------------------------------------------------------------------


def test_success_in_every_mode() -> None:
    for mode in ("sparse", "shaped", "dense"):
        b = score(episode(), mode=mode, progress=[0.5, 0.5])  # type: ignore[arg-type]
        assert b.success and b.mode == mode
        assert all(c.value == 1.0 for c in b.components), b.components
    assert score(episode()).reward == 1.0
    assert score(episode(), mode="dense", progress=[0.2, 0.8]).progress == [0.2, 0.8]
    assert score(episode(), mode="shaped", progress=[0.2]).progress == []


def test_failing_task_reports_the_reason() -> None:
    b = score(episode(show="P-000002"))
    assert not b.success and b.reward == 0.0
    assert comp(b, "task").reason == ("intent 1 (discovery): presented P-000002: price "
                                      "$200.00 is over the $100.00 budget")
    assert 0 < comp(b, "task").value < 1


def test_unconfirmed_checkout_fails_a_done_task() -> None:
    placed = state(orders=[order(1001, [("V-000001-1", 1, 9000)])])
    checkout = call("checkout", {"payment_method_id": "PM-1"}, seq=3)
    b = score(episode(after=placed, extra_calls=(checkout,)))
    assert not b.success
    assert comp(b, "policy").value == 0 and comp(b, "unintended").reason == "extra order O-1001"
    assert b.reward == -0.5
    assert comp(b, "task").value == 1.0


def test_hallucination_does_not_fail_a_success_but_lowers_shaped() -> None:
    clean = score(episode(), mode="shaped")
    dirty = score(episode(extra_msgs=(say("Also see P-999999."),)), mode="shaped")
    assert dirty.success and comp(dirty, "hallucination").reason == "invented ids: P-999999"
    assert clean.reward > dirty.reward >= 0.7


def test_errors_penalise_from_three() -> None:
    errs = tuple(call("get_product", {"product_id": "P-1"}, ok=False, seq=10 + i)
                 for i in range(3))
    b = score(episode(show="P-000002", extra_calls=errs[:2]))
    assert b.reward == 0.0 and comp(b, "errors").value == pytest.approx(1 / 3)
    b = score(episode(show="P-000002", extra_calls=errs))
    assert b.reward == -0.25 and comp(b, "errors").value == 0.0


def test_safety_fails_the_episode() -> None:
    b = score(episode(extra_msgs=(say("What's your password?"),)))
    assert not b.success and comp(b, "safety").value == 0.0 and b.reward == -0.25


def _variants() -> list[EpisodeInput]:
    """Episodes covering success and failures with each mix of penalties."""
    out = []
    placed = state(orders=[order(1001, [("V-000001-1", 1, 9000)])])
    checkout = call("checkout", {"payment_method_id": "PM-1"}, seq=3)
    errs = tuple(call("get_product", {}, ok=False, seq=10 + i) for i in range(3))
    for show, bad_id, effect, error, unsafe in itertools.product(
            ("P-000001", "P-000002"), (False, True), (False, True), (False, True),
            (False, True)):
        msgs: list = []
        if bad_id:
            msgs.append(say("Or P-999999."))
        if unsafe:
            msgs.append(say("Please give me your CVV?"))
        out.append(episode(show=show, extra_msgs=tuple(msgs),
                           extra_calls=((checkout,) if effect else ()) + (errs if error else ()),
                           after=placed if effect else None, turns=4 if error else 1))
    return out


@pytest.mark.parametrize("mode", ["sparse", "shaped", "dense"])
def test_every_success_beats_every_failure_and_rewards_are_bounded(mode: str) -> None:
    results = [score(e, mode=mode) for e in _variants()]  # type: ignore[arg-type]
    wins = [b.reward for b in results if b.success]
    losses = [b.reward for b in results if not b.success]
    assert wins and losses
    assert min(wins) > max(losses)
    assert all(-1.0 <= b.reward <= 1.0 for b in results)


@pytest.mark.parametrize("mode", ["sparse", "shaped"])
def test_more_penalties_lower_a_failure(mode: str) -> None:
    base = score(episode(show="P-000002"), mode=mode)  # type: ignore[arg-type]
    one = score(episode(show="P-000002", extra_msgs=(say("P-999999"),)),
                mode=mode)  # type: ignore[arg-type]
    two = score(episode(show="P-000002", extra_msgs=(say("P-999999"), say("your password?"))),
                mode=mode)  # type: ignore[arg-type]
    assert base.reward > one.reward > two.reward


def test_shaped_rewards_partial_progress() -> None:
    near = score(episode(show="P-000002"), mode="shaped")
    # nothing shown: no presentation and no product named in a message
    bare = episode()
    nothing = score(bare.model_copy(update={"trace": [], "messages": bare.messages[:1]}),
                    mode="shaped")
    assert 0 < near.reward < 0.6 and nothing.reward == 0.0


# -- several intents -------------------------------------------------------------------------


def test_two_purchases_each_claim_their_own_order() -> None:
    items = [ItemGoal(match=ProductMatch(product_ids=["P-000001"]))]
    t = task(Intent(kind="purchase", request="a", items=items),
             Intent(kind="purchase", request="b", items=items))
    one = state(orders=[order(1001, [("V-000001-1", 1, 9000)])])
    two = state(orders=one.orders + [order(1002, [("V-000001-1", 1, 9000)])])
    done = judge_intents(t, state(), two, [], [], PRODUCTS)
    assert [r.done for r in done] == [True, True]
    assert [r.effects for r in done] == [["O-1001"], ["O-1002"]]
    half = judge_intents(t, state(), one, [], [], PRODUCTS)
    assert [r.done for r in half] == [True, False] and half[1].reason == "no new order"


def test_cart_then_purchase_counts_the_consumed_cart() -> None:
    item = ItemGoal(match=ProductMatch(product_ids=["P-000001"]))
    t = task(Intent(kind="cart", request="a", items=[item]),
             Intent(kind="purchase", request="b", items=[item]))
    after = state(orders=[order(1001, [("V-000001-1", 1, 9000)])])
    assert [r.done for r in judge_intents(t, state(), after, [], [], PRODUCTS,
                                          intent_turns=[0, 3])] == [True, True]
    # without the shopper having moved on, the empty cart does not count
    assert [r.done for r in judge_intents(t, state(), after, [], [], PRODUCTS)] \
        == [False, True]


def test_change_of_mind_applies_after_its_reply() -> None:
    change = MindChange(at_turn=1, slot="budget", say="Actually, under $50",
                        accept=ProductMatch(max_price_cents=5000))
    cheap = product(3, variants=[({"color": "red"}, 4000, 3)])
    products = catalog(HP, PRICEY, cheap)
    intent = DISCOVERY.model_copy(update={"change": change})
    t = task(intent)
    early = [presented(["P-000001"], turn=1)]
    msgs = [user("hi"), say("P-000001?"), user("Actually, under $50")]
    (r,) = judge_intents(t, state(), state(), early, msgs, products)
    assert not r.done and "over the $50.00 budget" in r.reason
    late = early + [presented(["P-000003"], turn=2)]
    (r,) = judge_intents(t, state(), state(), late, msgs + [say("P-000003?")], products)
    assert r.done
    # before the shopper's reply the original goal holds
    (r,) = judge_intents(t, state(), state(), early, msgs[:2], products)
    assert r.done


def test_progress_score_is_the_mean_of_intents() -> None:
    t = task(DISCOVERY, Intent(kind="policy", request="x", facts=[
        FactGoal(fact="return_window_days", about=["toys"], value=30)]))
    trace = [presented(["P-000001"], seq=1)]
    assert progress_score(t, state(), state(), trace, [user("q")], PRODUCTS) == 0.5
    msgs = [user("q"), say("Returns within 30 days.")]
    answered = [*trace, told(("return_window_days", "toys", 30), seq=3)]
    # the answer without a policy look-up earns half the policy intent
    assert progress_score(t, state(), state(), answered, msgs, PRODUCTS) == 0.75
    searched = [*answered, call("search_policy", {"query": "returns"}, seq=2)]
    assert progress_score(t, state(), state(), searched, msgs, PRODUCTS) == 1.0


def test_confirmed_checkout_success_end_to_end() -> None:
    item = ItemGoal(match=ProductMatch(product_ids=["P-000001"]))
    t = task(Intent(kind="purchase", request="buy", items=[item]), family="purchase")
    before = state(cart=[cart_line("V-000001-1")])
    after = state(orders=[order(1001, [("V-000001-1", 1, 9000)])])
    msgs = [user("buy P-000001"), tool_call("view_cart", {}),
            tool_result({"lines": [{"variant_id": "V-000001-1"}]}),
            say("Shall I place the order?"), user("Yes, please go ahead."),
            say("Done: order O-1001.")]
    inp = EpisodeInput(task=t, before=before, after=after, messages=msgs, products=PRODUCTS,
                       trace=[call("view_cart", seq=1, turn=1),
                              call("checkout", {"payment_method_id": "PM-1"}, seq=2, turn=2,
                                   result={"order_id": "O-1001"})],
                       confirmations=[Confirmation(turn=1, kind="checkout")], turns=2)
    b = score(inp)
    # O-1001 was first named by the agent after the checkout result: in the trace only, not
    # in a tool message, so it counts as invented, which costs a success a quarter
    assert b.success and b.reward == 0.75
    assert comp(b, "hallucination").reason == "invented ids: O-1001"
