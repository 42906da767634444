"""tau2's verdict rules (mcp_shop/tau2/verdict.py) on the fixture's tasks."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_shop.tau2 import load_tau2_retail
from mcp_shop.tau2.loader import Tau2Retail
from mcp_shop.tau2.records import Action, Task
from mcp_shop.tau2.verdict import action_checks, communicate_checks, tau2_verdict
from tests.fixtures.tau2_retail import make_fixture

FIXTURE = Path(make_fixture.__file__).resolve().parent


@pytest.fixture(scope="module")
def world() -> Tau2Retail:
    return load_tau2_retail(FIXTURE)


def test_communicate_ignores_case_and_the_messages_commas() -> None:
    texts = ["Your refund of $1,234.56 is on its way.", "", "The ORDER is Cancelled."]
    assert communicate_checks(["1234.56", "order is cancelled", "1,234.56", "paypal"],
                              texts) == [True, True, False, False]
    assert communicate_checks([], texts) == []


def test_actions_compare_the_named_arguments_or_those_the_call_gave() -> None:
    gold = Action(action_id="0", name="get_order_details", arguments={"order_id": "#W1"})
    any_summary = Action(action_id="1", name="transfer_to_human_agents",
                         arguments={"summary": "x"}, compare_args=[])
    some = Action(action_id="2", name="cancel_pending_order",
                  arguments={"order_id": "#W1", "reason": "no longer needed"},
                  compare_args=["order_id"])
    calls = [("get_order_details", {"order_id": "#W2"}),
             ("transfer_to_human_agents", {"summary": "something else"}),
             ("cancel_pending_order", {"order_id": "#W1", "reason": "ordered by mistake"})]
    assert action_checks([gold, any_summary, some], calls) == [False, True, True]
    # a call that leaves an argument out still matches (tau2's rule)
    assert action_checks([gold], [("get_order_details", {})]) == [True]
    assert action_checks([gold], [("get_user_details", {"order_id": "#W1"})]) == [False]


def _gold_episode(task: Task) -> tuple[list[str], list[tuple[str, dict]]]:
    crit = task.evaluation_criteria
    assert crit is not None
    say = [f"Done. For the record: {', '.join(crit.communicate_info or [])}."]
    return say, [(a.name, a.arguments) for a in crit.actions or []]


def test_the_gold_episode_passes_every_task_that_needs_no_judge(world: Tau2Retail) -> None:
    for task in world.tasks:
        texts, calls = _gold_episode(task)
        v = tau2_verdict(task, db_match=True, assistant_texts=texts, calls=calls)
        crit = task.evaluation_criteria
        assert crit is not None
        if "NL_ASSERTION" in crit.reward_basis and crit.nl_assertions:
            assert v.reward is None and v.components["NL_ASSERTION"] is None, task.id
            judged = tau2_verdict(task, db_match=True, assistant_texts=texts, calls=calls,
                                  nl_judgement=[True] * len(crit.nl_assertions))
            assert judged.reward == 1.0
        else:
            assert v.reward == 1.0, (task.id, v)
        assert v.basis == list(crit.reward_basis)
        assert tau2_verdict(task, db_match=False, assistant_texts=texts,
                            calls=calls).reward == 0.0
        assert tau2_verdict(task, db_match=True, assistant_texts=texts, calls=calls,
                            stopped_normally=False).reward == 0.0


def test_silence_fails_communicate_only_where_it_is_in_the_basis(world: Tau2Retail) -> None:
    for task in world.tasks:
        _, calls = _gold_episode(task)
        v = tau2_verdict(task, db_match=True, assistant_texts=[], calls=calls,
                         nl_judgement=[True] * len(task.evaluation_criteria.nl_assertions or [])
                         if task.evaluation_criteria else None)
        crit = task.evaluation_criteria
        assert crit is not None
        needs = "COMMUNICATE" in crit.reward_basis and bool(crit.communicate_info)
        assert v.reward == (0.0 if needs else 1.0), task.id


def test_judgements_must_match_the_assertions(world: Tau2Retail) -> None:
    task = next(t for t in world.tasks if t.evaluation_criteria
                and t.evaluation_criteria.nl_assertions)
    with pytest.raises(ValueError, match="NL assertions but 0 judgements"):
        tau2_verdict(task, db_match=True, assistant_texts=[], calls=[], nl_judgement=[])
    failed = tau2_verdict(task, db_match=True, assistant_texts=[], calls=[],
                          nl_judgement=[False] * len(task.evaluation_criteria.nl_assertions))
    assert failed.reward == 0.0


def test_a_task_without_gold_actions_skips_the_db_check(world: Tau2Retail) -> None:
    task = world.task("10").model_copy(deep=True)
    assert task.evaluation_criteria is not None
    task.evaluation_criteria.reward_basis = ["DB"]
    task.evaluation_criteria.actions = []  # an empty trajectory is still checked
    assert tau2_verdict(task, db_match=False, assistant_texts=[], calls=[]).reward == 0.0
    task.evaluation_criteria.actions = None  # no trajectory at all: tau2 passes the DB check
    assert tau2_verdict(task, db_match=False, assistant_texts=[], calls=[]).reward == 1.0
