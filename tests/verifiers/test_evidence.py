"""One reading of what was shown: the shopper and the verifiers read presentations alike."""

from __future__ import annotations

from tests.verifiers.builders import presented, say, user
from verifiers.evidence import MAX_PRESENTED, presented_products, turn_presented


def test_a_product_named_in_a_message_is_shown() -> None:
    msgs = [user("find me headphones"), say("How about P-000001? It is wireless.")]
    shown, over = presented_products([], messages=msgs)
    assert shown == [("P-000001", None)] and over == 0
    assert turn_presented([], "How about P-000001?") == ([("P-000001", None)], False)


def test_the_cap_counts_named_and_presented_products_of_a_turn_together() -> None:
    pids = [f"P-00000{i}" for i in range(1, MAX_PRESENTED)]
    calls = [presented(pids)]
    text = "Or P-000008, or P-000009."
    shown, over = turn_presented(calls, text)
    assert over and len({p for p, _ in shown}) == MAX_PRESENTED + 1
    msgs = [user("q"), say(text)]
    assert presented_products(calls, messages=msgs) == ([], 1)
    # the same products over two turns are within the cap
    two = [user("q"), say("Or P-000008."), user("more?"), say("And P-000009.")]
    shown, over = presented_products(calls, messages=two)
    assert over == 0 and [p for p, _ in shown][-2:] == ["P-000008", "P-000009"]


def test_presentations_count_from_since_turn() -> None:
    msgs = [user("q"), say("P-000001"), user("no"), say("P-000002")]
    assert presented_products([], messages=msgs, since_turn=2)[0] == [("P-000002", None)]
