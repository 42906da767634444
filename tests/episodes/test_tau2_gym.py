"""tau2 retail through the Gym door (``episodes.tau2.gym_env.Tau2RetailEnv``) on the fixture
world: the oracle's gold actions as text reach tau2 reward 1.0 on every task, over MCP in
memory and direct, with the tau2 runner's own records; a wrong write scores 0; unreadable
actions are not played, unknown tools and bad arguments fail as tool calls and change nothing;
Gymnasium's checker; seeded and named task choice."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest
from sqlalchemy import text

from episodes.controller import Action
from episodes.tau2.agents import oracle_actions
from mcp_shop.tau2.loader import Tau2Retail
from tests.episodes import tau2_doors as doors
from tests.episodes.records import adapter_comparable
from tests.episodes.tau2_doors import world, world_db

gym = pytest.importorskip("gymnasium")

from gymnasium.utils.env_checker import check_env  # noqa: E402

from episodes.tau2.gym_env import ENV_ID, Tau2RetailEnv  # noqa: E402

__all__ = ["world", "world_db"]  # fixtures


def text_actions(actions: list[Action]) -> list[str]:
    """Actions as the door reads them: a JSON tool call each, messages as plain text (every
    other one as a JSON message, to use both forms)."""
    out: list[str] = []
    for i, a in enumerate(actions):
        if a.tool_calls:
            out.extend(json.dumps({"tool": c.name, "arguments": c.arguments})
                       for c in a.tool_calls)
        if a.message is not None:
            out.append(a.message if i % 2 else json.dumps({"message": a.message}))
    return out


def play(env: Tau2RetailEnv, actions: list[str]) -> tuple[float, float, dict[str, Any]]:
    """Play ``actions`` to the end: (sum of rewards, last reward, last info)."""
    total, reward, info = 0.0, 0.0, dict[str, Any]()
    for action in actions:
        obs, r, terminated, truncated, info = env.step(action)
        assert obs in env.observation_space and "error" not in info, (action, info)
        total += float(r)
        reward = float(r)
        if terminated or truncated:
            assert terminated and not truncated
            break
    assert env.episode is not None and env.episode.done
    return total, reward, info


@pytest.mark.parametrize("connect", doors.CONNECTS, ids=["mcp", "direct"])
def test_gold_actions_reach_reward_1_with_the_runners_records(
        world: Tau2Retail, world_db: str, connect: str | None) -> None:
    env = Tau2RetailEnv(world=world, db=world_db, connect=connect)
    expected = doors.runner_records(env._runtime.env, connect=connect)
    for tid in doors.IDS:
        obs, info = env.reset(seed=1, options={"task_id": tid})
        assert info["task_id"] == f"tau2-retail/{tid}" and info["tau2_task_id"] == tid
        assert {t["function"]["name"] for t in info["tools"]} == {
            t["function"]["name"] for t in expected[info["task_id"]]["tools"]}
        record = expected[info["task_id"]]
        assert json.loads(obs)["shopper_message"] == record["messages"][0]["content"]
        total, reward, info = play(env, text_actions(oracle_actions(world.task(tid))))
        assert total == reward == 1.0 == info["record"]["reward"], tid
        assert info["success"] and info["stop_reason"] == "shopper_done"
        assert info["tau2"]["db_match"] is True and info["tau2"] == record["tau2"]
        assert info["record"]["policy"] == "gym"
        assert adapter_comparable(info["record"]) == adapter_comparable(record), tid
    env.close()


def test_a_wrong_write_gets_reward_0(world: Tau2Retail, world_db: str) -> None:
    env = Tau2RetailEnv(world=world, db=world_db, connect="direct")
    env.reset(options={"task_id": "2"})
    actions = doors.wrong_payment(world)
    total, reward, info = play(env, text_actions(actions))
    assert total == reward == 0.0 and not info["success"]
    assert info["tau2"]["db_match"] is False and info["tau2"]["reward"] == 0.0
    assert info["record"]["metrics"]["errors"] == 0  # every call was valid
    assert env.episode is not None
    [expected] = doors.runner_records(env._runtime.env, [env.episode.task],
                                actions=actions).values()
    assert adapter_comparable(info["record"]) == adapter_comparable(expected)


def test_bad_actions_change_nothing(world: Tau2Retail, world_db: str) -> None:
    """Unreadable text is not played (error, reward 0, the episode as it was); an unknown tool
    and bad arguments are played as failed tool calls whose results say what is wrong; none
    changes the world: the gold played after them still matches tau2's DB check."""
    env = Tau2RetailEnv(world=world, db=world_db)
    env.reset(options={"task_id": "0"})
    episode = env.episode
    assert episode is not None
    for action in ["  ", "{oops", '{"foo": 1}', '{"tool": 5}', '{"done": "yes"}',
                   '{"tool": "get_order_details", "arguments": [1]}']:
        obs, reward, terminated, truncated, info = env.step(action)
        assert info["error"] and json.loads(obs)["error"] == info["error"], action
        assert (reward, terminated, truncated) == (0.0, False, False)
    assert episode.calls == [] and len(episode.messages) == 1 and episode.turn == 0
    bad = [('{"tool": "teleport", "arguments": {}}', "teleport"),
           ('{"tool": "get_order_details", "arguments": {}}', "order_id"),
           ('{"tool": "get_order_details", "arguments": {"order_id": "#W0000000", "x": 1}}',
            "'x'"),
           ('{"tool": "cancel_pending_order", "arguments": {"order_id": "#W0000000", '
            '"reason": "bored"}}', "reason"),
           ('{"tool": "open_session", "arguments": {}}', "not available")]
    for action, said in bad:
        obs, reward, terminated, truncated, info = env.step(action)
        (result,) = json.loads(obs)["tool_results"]
        assert result["ok"] is False and said in result["content"], (action, result)
        assert (reward, terminated, truncated) == (0.0, False, False) and "error" not in info
    total, reward, info = play(env, text_actions(oracle_actions(world.task("0"))))
    assert reward == 1.0 and info["tau2"]["db_match"] is True
    assert info["record"]["metrics"]["errors"] == len(bad)
    calls = len(episode.calls)
    obs, reward, terminated, truncated, info = env.step('{"tool": "calculate", '
                                                        '"arguments": {"expression": "1+1"}}')
    assert "call reset()" in info["error"] and json.loads(obs)["done"] and reward == 0.0
    assert (terminated, truncated) == (True, False) and len(episode.calls) == calls


def test_gymnasium_env_checker_and_gym_make(world_db: str) -> None:
    made = gym.make(ENV_ID, tau2_path=str(doors.FIXTURE), db=world_db, split="test",
                    render_mode="ansi")
    assert made.spec is not None and made.spec.id == ENV_ID
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the checker's warnings are failures here
        check_env(made.unwrapped)
    made.reset(seed=3)
    made.step('{"tool": "list_all_product_types"}')
    transcript = made.render()
    assert isinstance(transcript, str) and transcript.startswith("User: ")
    assert "[call] list_all_product_types" in transcript
    made.close()


def test_task_choice(world: Tau2Retail, world_db: str) -> None:
    env = Tau2RetailEnv(world=world, db=world_db, split="test")
    assert [t.tau2_id for t in env.tasks] == ["9", "10", "11", "12", "13"]
    first = [env.reset(seed=s)[1]["tau2_task_id"] for s in (1, 2, 3, 1)]
    assert first[0] == first[3]
    other = Tau2RetailEnv(world=world, db=world_db, split="test")
    assert [other.reset(seed=s)[1]["tau2_task_id"] for s in (1, 2, 3, 1)] == first
    seen = {env.reset(seed=s)[1]["tau2_task_id"] for s in range(20)}
    assert seen <= {"9", "10", "11", "12", "13"} and len(seen) >= 4
    assert env.reset(options={"task_id": "tau2-retail/11"})[1]["tau2_task_id"] == "11"
    with pytest.raises(ValueError, match="no task '3' among this environment's tasks: 9, 10"):
        env.reset(options={"task_id": "3"})
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(options={"family": "cart"})
    named = Tau2RetailEnv(world=world, db=world_db, task_ids=["4", "tau2-retail/7"])
    assert [t.task_id for t in named.tasks] == ["tau2-retail/4", "tau2-retail/7"]
    with pytest.raises(ValueError, match=r"in memory \(None\) or .direct."):
        Tau2RetailEnv(world=world, db=world_db, connect="http://127.0.0.1:1/mcp")
    with pytest.raises(ValueError, match="not both"):
        Tau2RetailEnv(str(doors.FIXTURE), world=world, db=world_db)


def test_replaced_and_closed_episodes_leave_the_database(world: Tau2Retail,
                                                         world_db: str) -> None:
    env = Tau2RetailEnv(world=world, db=world_db)
    engine = env._runtime.env.shop.engine

    def sessions() -> int:
        with engine.connect() as conn:
            return int(conn.execute(text(
                "SELECT count(*) FROM shop_session WHERE surface = 'tau2-retail'")).scalar_one())

    before = sessions()
    env.reset(seed=0)
    assert sessions() == before + 1
    env.reset(seed=1)
    assert sessions() == before + 1
    env.close()
    assert sessions() == before and env.episode is None
