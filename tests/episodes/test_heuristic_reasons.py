"""The heuristic and the shopper's objection to a proposed reason: the heuristic reads the reason
the objection gives and proposes that one, never the reason objected to again."""

from __future__ import annotations

import re
from typing import Any

import pytest

from episodes.agents.heuristic import HeuristicAgent
from episodes.controller import EpisodeController
from episodes.generate import generate_task

_PROPOSED = re.compile(r"\(reason: ([a-z ]+)\)\?$")
_OBJECTION = "That's not why I want this"


@pytest.fixture(scope="module")
def order_records(ep_shop: Any) -> list[dict[str, Any]]:
    import anyio

    tasks = [generate_task(ep_shop, family, d, seed) for family in ("cancel", "return",
                                                                     "exchange")
             for d in range(3, 9) for seed in range(3)]

    async def run() -> list[dict[str, Any]]:
        async with EpisodeController(ep_shop) as controller:
            return await controller.run(HeuristicAgent(), tasks, concurrency=2)

    return anyio.run(run)


def _turns(record: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in record["messages"]
            if m["role"] in ("user", "assistant") and m.get("content")]


def test_a_reason_objection_is_read_before_proposing_again(
        order_records: list[dict[str, Any]]) -> None:
    objected = 0
    for rec in order_records:
        proposed: str | None = None
        turns = _turns(rec)
        for k, (role, text) in enumerate(turns):
            if role == "assistant" and (m := _PROPOSED.search(text)):
                proposed = m.group(1)
            if role != "user" or _OBJECTION not in text or proposed is None:
                continue
            objected += 1
            later = [(r, t) for r, t in turns[k + 1:] if r == "assistant"
                     and _PROPOSED.search(t)]
            assert later, (rec["task_id"], "no proposal after the objection")
            again = _PROPOSED.search(later[0][1])
            assert again is not None and again.group(1) != proposed, (rec["task_id"], proposed)
            reply = next(t for r, t in turns[turns.index(later[0]) + 1:] if r == "user")
            assert _OBJECTION not in reply, (rec["task_id"], again.group(1), reply)
            proposed = None
    assert objected >= 3, objected


def test_the_reason_agreed_is_the_reason_used(order_records: list[dict[str, Any]]) -> None:
    calls = {"cancel_order", "request_return", "request_exchange"}
    for rec in order_records:
        proposals = [m.group(1) for r, t in _turns(rec) if r == "assistant"
                     and (m := _PROPOSED.search(t))]
        for entry in rec["trace"]:
            if entry["tool"] in calls and proposals:
                assert entry["arguments"]["reason"].replace("_", " ") == proposals[-1]


def test_a_reason_it_cannot_read_is_asked_for() -> None:
    from episodes.agents.heuristic.returns import _Returns
    from episodes.controller import Observation

    def shopper(text: str) -> Observation:
        return Observation(shopper_message=text, turn=1)

    policy = _Returns(Observation(shopper_message="I'd like to return order O-1001.", turn=0))
    agree = policy._agree(lambda why: f"Shall I return it (reason: {why})?",
                          lambda text: "changed_mind" if "changed my mind" in text else None,
                          "other", "return")
    sent = [next(agree).message]
    sent.append(agree.send(shopper("That's not why I want this: it's complicated.")).message)
    sent.append(agree.send(shopper("Well, I changed my mind about it.")).message)
    with pytest.raises(StopIteration) as done:
        agree.send(shopper("Yes, please go ahead."))
    assert sent == ["Shall I return it (reason: other)?",
                    "Sorry about that: what's the reason for the return?",
                    "Shall I return it (reason: changed_mind)?"]
    assert done.value.value == "changed_mind"


def test_the_heuristic_hears_a_yes_through_typos() -> None:
    from episodes.agents.heuristic.reading import _agrees

    for yes in ("Yes, please go ahead.", "Ys, please go ahead.", "Yse, plase go ahead.",
                "Yes, pleaes go ahed."):
        assert _agrees(yes), yes
    for no in ("No — I need it by express.", "That's not why I want this: it broke.",
               "Not yet: my cart doesn't have the shoes yet.", "Why?"):
        assert not _agrees(no), no


def test_the_heuristic_reads_a_doubled_letter_as_the_word_meant() -> None:
    from episodes.agents.heuristic.vocab import _clean

    assert _clean("What warrranty does it come with?") == "What warranty does it come with?"
    assert _clean("Can I returrn it?") == "Can I return it?"
