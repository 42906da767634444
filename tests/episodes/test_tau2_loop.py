"""The tau2 episode loop, users, oracle and scoring over the reference stand-in of the tau2
tools (tests/episodes/tau2_fake_env.py): fast, no database. Expected verdicts come from the
fixture's task data (what each task basis and communicate strings are), not from the code
under test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from episodes.records import parse_record
from episodes.tau2.agents import Tau2Oracle, oracle_actions
from episodes.tau2.episode import Tau2Runner
from episodes.tau2.tasks import Tau2Task, select_tasks
from episodes.tau2.users import STOP, TRANSFER, ScriptedUser, first_person
from mcp_shop.tau2 import load_tau2_retail
from mcp_shop.tau2.loader import Tau2Retail
from tests.episodes.tau2_fake_env import FakeEnv
from tests.fixtures.tau2_retail import make_fixture

FIXTURE = Path(make_fixture.__file__).resolve().parent
NL_TASKS = {"4", "9", "10", "12"}  # the fixture's tasks whose basis holds NL_ASSERTION
COMMUNICATE_TASKS = {"0", "2", "3", "5", "7", "8", "13"}


@pytest.fixture(scope="module")
def world() -> Tau2Retail:
    return load_tau2_retail(FIXTURE)


async def _run(world: Tau2Retail, agent: Any, tasks: list[Tau2Task], trials: int = 1,
               ) -> list[dict[str, Any]]:
    async with Tau2Runner(FakeEnv(world)) as runner:
        return await runner.run(agent, tasks, trials=trials, concurrency=4)


async def test_the_oracle_passes_every_task(world: Tau2Retail) -> None:
    tasks = select_tasks(world)
    records = await _run(world, Tau2Oracle(), tasks)
    assert [r["task_id"] for r in records] == [f"tau2-retail/{i}" for i in range(14)]
    for r in records:
        parse_record(r, r["task_id"])
        tau2 = r["tau2"]
        tid = tau2["task_id"]
        assert tau2["db_match"] is True, tid
        assert all(tau2["communicate"]), tid
        assert r["stop_reason"] == "shopper_done", tid
        assert r["reward"] == 1.0 and r["success"] is True, tid
        if tid in NL_TASKS:
            assert tau2["reward"] is None and tau2["components"]["NL_ASSERTION"] is None
            assert tau2["reward_scope"].startswith("judged components")
        else:
            assert tau2["reward"] == 1.0 and tau2["reward_scope"] == "tau2"
        own = {c["name"]: c for c in r["reward_components"]}
        assert own["policy"]["value"] == 1.0, tid
        # task 2's gold pays with the user's gift card without looking the user up, so the
        # id was shown by nothing before the write
        invented = [] if tid != "2" else ["gift_card_9090155"]
        assert own["hallucination"]["value"] == (0.0 if invented else 1.0), tid
        assert [x["params"]["ids"] for x in own["hallucination"]["reasons"]] == \
            ([invented] if invented else [])


async def test_wrong_oracles_lose_what_they_skip(world: Tau2Retail) -> None:
    tasks = select_tasks(world)
    skip = await _run(world, Tau2Oracle("skip-write"), tasks)
    for r in skip:
        tid = r["tau2"]["task_id"]
        writes = next(t.gold_writes for t in tasks if t.tau2_id == tid)
        assert r["tau2"]["db_match"] is (writes == 0), tid
        assert r["success"] is (writes == 0), tid
    silent = await _run(world, Tau2Oracle("silent"), tasks)
    for r in silent:
        tid = r["tau2"]["task_id"]
        assert r["tau2"]["db_match"] is True
        if tid in COMMUNICATE_TASKS:
            assert r["tau2"]["components"]["COMMUNICATE"] == 0.0 and r["reward"] == 0.0, tid
        else:
            assert r["reward"] == 1.0, tid


async def test_trials_group_and_ids_are_stable(world: Tau2Retail) -> None:
    tasks = select_tasks(world, split="test")
    one = await _run(world, Tau2Oracle(), tasks, trials=2)
    two = await _run(world, Tau2Oracle(), tasks, trials=2)
    assert [r["rollout_id"] for r in one] == [r["rollout_id"] for r in two]
    assert len({r["rollout_id"] for r in one}) == 10
    assert [r["group_id"] for r in one[:2]] == ["tau2-retail/9"] * 2
    assert [r["trial"] for r in one[:2]] == [0, 1]


async def test_the_scripted_user() -> None:
    world = load_tau2_retail(FIXTURE)
    task = world.task("1")
    user = ScriptedUser(task)
    opening = await user.opening()
    assert opening.startswith("Hi. My order #W9894600 should go to my cabin")
    answer = await user.reply("Could you give me your email?", [])
    assert answer.text == "I do not remember which email I used." and answer.stop is None
    answer = await user.reply("What is your name and zip code?", [])
    assert answer.text == "I am Dmitri Halvorsen. My zip code is 55802."
    answer = await user.reply("Shall I change the address?", [])
    assert answer.text == "Yes, please go ahead."
    assert (await user.reply("It is done.", [])).stop == STOP
    user = ScriptedUser(task)  # statements without a question: once "Okay.", twice stop
    assert (await user.reply("Let me look it up.", [])).text == "Okay."
    assert (await user.reply("Which one?", [])).stop is None
    assert (await user.reply("Let me look it up.", [])).text == "Okay."
    assert (await user.reply("Your address is now 5 Birch Point Road.", [])).stop == STOP
    assert (await user.reply("One moment.", [("transfer_to_human_agents", True)])).stop \
        == TRANSFER
    assert first_person("You are sure your card is yours.") == "I am sure my card is mine."
    assert first_person("Ask what your balance is.") == "I would like to know what my balance is."


def test_oracle_actions_ask_before_each_write(world: Tau2Retail) -> None:
    actions = oracle_actions(world.task("0"))
    assert [a.tool_calls[0].name if a.tool_calls else a.message for a in actions] == [
        "find_user_id_by_email", "get_user_details", "get_order_details",
        'Shall I call cancel_pending_order with {"order_id": "#W2875821", "reason": '
        '"no longer needed"}?', "cancel_pending_order", "Done. 137.56."]


class _Loop:
    """An agent repeating one action for ever."""

    privileged = False

    def __init__(self, name: str, action: Any) -> None:
        self.name = name
        self.action = action

    def start(self, task: Any, obs: Any, *, seed: int) -> Any:
        action = self.action

        class _Policy:
            async def act(self, obs: Any) -> Any:
                return action

        return _Policy()


@pytest.mark.parametrize(("action", "termination", "stop_reason", "messages"), [
    # each step adds a tool-call message and its result: 200 messages after 100 steps
    ({"tool_calls": [{"name": "list_all_product_types"}]}, "max_steps", "turn_budget", 201),
    # ten failed calls (an unknown order) end it
    ({"tool_calls": [{"name": "get_order_details", "arguments": {"order_id": "#W0"}}]},
     "too_many_errors", "tool_budget", 21),
    ({}, "agent_idle", "agent_idle", 1),
    # twelve failing calls at once: the last two are not made, but answered
    ({"tool_calls": [{"name": "get_order_details", "arguments": {"order_id": "#W0"}}] * 12},
     "too_many_errors", "tool_budget", 14),
])
async def test_budgets_end_an_episode_with_no_reward(world: Tau2Retail, action: dict[str, Any],
                                                     termination: str, stop_reason: str,
                                                     messages: int) -> None:
    from episodes.controller import Action

    [r] = await _run(world, _Loop("loop", Action.model_validate(action)),
                     select_tasks(world, ids=["7"]))
    assert r["tau2"]["termination"] == termination and r["stop_reason"] == stop_reason
    assert r["truncated"] is True and r["reward"] == 0.0 and r["tau2"]["reward"] == 0.0
    assert len(r["messages"]) == messages
    assert [c["name"] for c in r["reward_components"]][0] == "tau2_stop"
    assert r["metrics"]["tool_calls"] == len(r["trace"]) <= 100


def test_writes_on_a_user_never_located_are_reported_not_scored() -> None:
    """tau2's policy asks the agent to locate the user (by email, or name and zip) before
    acting on their data; the tools do not enforce it. Our ``authentication`` component says
    which writes came first, and changes no reward."""
    from episodes.tau2.scoring import Tau2Call, unauthenticated_writes

    def call(name: str, content: Any, ok: bool = True) -> Tau2Call:
        return Tau2Call(0, name, {}, ok, content)

    order = {"order_id": "#W0000001", "user_id": "ana_p_1"}
    found = call("find_user_id_by_email", {"result": "ana_p_1"})
    assert unauthenticated_writes([found, call("cancel_pending_order", order)]) == []
    assert unauthenticated_writes([call("cancel_pending_order", order)]) == [
        ("cancel_pending_order", "ana_p_1")]
    other = call("find_user_id_by_name_zip", {"result": "bo_q_2"})
    assert unauthenticated_writes([other, call("modify_user_address",
                                                {"user_id": "ana_p_1"})]) == [
        ("modify_user_address", "ana_p_1")]
    failed_find = call("find_user_id_by_email", "Error: User not found", ok=False)
    refused_write = call("cancel_pending_order", "Error: not pending", ok=False)
    assert unauthenticated_writes([failed_find, refused_write]) == []  # nothing was written
    reads = [call("get_order_details", order), call("cancel_pending_order", order)]
    assert unauthenticated_writes(reads) == [("cancel_pending_order", "ana_p_1")]


async def test_the_oracle_locates_every_user_it_writes_for_on_the_fixture(
        world: Tau2Retail) -> None:
    records = await _run(world, Tau2Oracle(), select_tasks(world))
    for r in records:
        auth = {c["name"]: c for c in r["reward_components"]}["authentication"]
        assert auth["value"] == 1.0 and auth["weight"] == 0.0, r["task_id"]
