"""Answers are facts stated with state_facts, judged over the whole conversation."""

from __future__ import annotations

from tests.verifiers.builders import call, told
from verifiers.claims import same_value, stated_claims
from verifiers.intents import intent_status
from verifiers.types import FactGoal, Intent, TraceEntry

from .test_intents import DELIVERED

LOOKED = [call("get_order", {"order_id": "O-1001"})]
SEARCHED = [call("search_policy", {"query": "returns"})]
STATUS = Intent(kind="order_status", request="where is it?", order_id="O-1001",
                facts=[FactGoal(fact="order_status", about=["O-1001"], value="shipped"),
                       FactGoal(fact="tracking_number", about=["O-1001"], value="1Z999")])
WINDOW = Intent(kind="policy", request="how long to return headphones?", facts=[
    FactGoal(fact="return_window_days",
             about=["electronics", "electronics/audio", "electronics/audio/headphones"],
             value=15)])
REFUSAL = Intent(kind="return", request="return it", order_id="O-1001", proceed=False,
                 facts=[FactGoal(fact="cannot_return", about=["O-1001"], value="window_closed")])


def judged(intent: Intent, trace: list[TraceEntry], **kw: int | None):
    for seq, entry in enumerate(trace):
        entry.seq = seq
    return intent_status(intent, DELIVERED, DELIVERED, trace, [], {}, **kw)


def test_the_right_facts_answer_however_they_are_spread() -> None:
    one = [*LOOKED, told(("order_status", "O-1001", "shipped"), ("tracking_number", "O-1001",
                                                                 "1Z999"))]
    assert judged(STATUS, one).done
    spread = [*LOOKED, told(("tracking_number", "O-1001", "1z999")),
              told(("order_status", "O-1001", "shipped"), turn=2),
              told(("order_status", "O-1001", "shipped"), turn=3)]  # said again: still right
    assert judged(STATUS, spread).done
    # facts of kinds the shopper did not ask about are not judged
    extra = [*one, told(("carrier", "O-1001", "anything"), ("shipping_days", "express", 9))]
    assert judged(STATUS, extra).done


def test_a_hedge_over_turns_fails_whichever_comes_last() -> None:
    wrong_then_right = [*LOOKED, told(("order_status", "O-1001", "pending")),
                        told(("order_status", "O-1001", "shipped"),
                             ("tracking_number", "O-1001", "1Z999"), turn=2)]
    r = judged(STATUS, wrong_then_right)
    assert not r.done and r.reasons[0].code == "wrong_claim"
    assert r.reasons[0].params["stated"] == "pending"
    right_then_wrong = [*LOOKED, told(("order_status", "O-1001", "shipped"),
                                      ("tracking_number", "O-1001", "1Z999")),
                        told(("order_status", "O-1001", "delivered"), turn=2)]
    assert not judged(STATUS, right_then_wrong).done
    refusals = [*LOOKED, told(("cannot_return", "O-1001", "final_sale")),
                told(("cannot_return", "O-1001", "window_closed"), turn=2)]
    assert not judged(REFUSAL, refusals).done


def test_several_values_at_once_are_a_hedge() -> None:
    hedge = [*SEARCHED, told(("return_window_days", "electronics", 15),
                             ("return_window_days", "electronics", 30))]
    r = judged(WINDOW, hedge)
    assert not r.done and [x.code for x in r.reasons] == ["wrong_claim"]
    # an ancestor under the same rule is the same subject; another category is not the answer
    assert judged(WINDOW, [*SEARCHED, told(("return_window_days", "electronics/audio", 15))]).done
    dump = [*SEARCHED, told(("return_window_days", "electronics", 15),
                            ("return_window_days", "shoes", 60),
                            ("return_window_days", "*", 30))]
    r = judged(WINDOW, dump)
    assert not r.done and [x.code for x in r.reasons] == ["claim_about_other"]


def test_an_order_dump_is_not_an_answer_about_one_order() -> None:
    dump = [*LOOKED, told(("order_status", "O-1002", "delivered")),
            told(("order_status", "O-1001", "shipped"), ("tracking_number", "O-1001", "1Z999"),
                 turn=2),
            told(("order_status", "O-1003", "pending"), turn=3)]
    r = judged(STATUS, dump)
    assert not r.done
    assert {x.code for x in r.reasons} == {"claim_about_other"}


def test_facts_count_while_the_intent_is_current() -> None:
    trace = [*LOOKED, told(("order_status", "O-1001", "pending")),
             told(("order_status", "O-1001", "shipped"), ("tracking_number", "O-1001", "1Z999"),
                  turn=3)]
    assert not judged(STATUS, trace).done
    assert judged(STATUS, trace, since_turn=2).done
    # a later intent's facts (from turn 3) do not count against this one, nor for it
    assert not judged(STATUS, trace, since_turn=2, until_turn=3).done
    later = [*trace, told(("order_status", "O-1004", "delivered"), turn=5)]
    assert judged(STATUS, later, since_turn=2, until_turn=5).done


def test_values_compare_by_kind() -> None:
    assert same_value("Shipped ", "shipped")
    assert not same_value(True, 1) and not same_value(0, False)
    assert not same_value("15", 15)
    bad = told(("return_window_days", "electronics", 15))
    bad.ok = False
    assert stated_claims([bad]) == []
