"""The Gymnasium environment (``episodes.gym_env.ShopEnv``): Gymnasium's own checker, text
actions (JSON tool calls, messages, unreadable text), seeded task choice, and full gold
episodes that score exactly as the controller scores them."""

from __future__ import annotations

import json
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.episodes.records import adapter_comparable

gym = pytest.importorskip("gymnasium")

from gymnasium.utils.env_checker import check_env  # noqa: E402

from episodes.agents.oracle import gold_actions  # noqa: E402
from episodes.controller import Observation, ToolResult  # noqa: E402
from episodes.gym_env import (  # noqa: E402
    ENV_ID,
    MIN_OBSERVATION_LENGTH,
    ActionError,
    ShopEnv,
    parse_action,
)
from episodes.sync import ShopSettings  # noqa: E402
from tests.conftest import TEST_SEED, TEST_SIZE  # noqa: E402
from verifiers.types import TaskSpec  # noqa: E402

CASES = [("purchase", 2, 8), ("return", 5, 3), ("exchange", 4, 3), ("substitution", 3, 2),
         ("order_status", 2, 5), ("bundle", 4, 1), ("price_compare", 3, 3), ("cancel", 6, 2)]


comparable = adapter_comparable


@pytest.fixture
def env(ep_shop: Any) -> ShopEnv:
    return ShopEnv(ep_shop, families=["purchase", "return", "cart"], difficulties=[1, 3])


def gold_text_actions(task: TaskSpec) -> list[str]:
    """The gold solution as text actions: a JSON tool call each, messages as plain text (and
    every other one as a JSON message, to use both forms)."""
    out = []
    for i, action in enumerate(gold_actions(task.gold)):
        if action.message is not None:
            out.append(action.message if i % 2 else json.dumps({"message": action.message}))
        else:
            (call,) = action.tool_calls
            out.append(json.dumps({"tool": call.name, "arguments": call.arguments}))
    return out


@pytest.mark.parametrize("case", range(len(CASES)), ids=[c[0] for c in CASES])
def test_gold_episode_scores_as_the_controller(env: ShopEnv, tasks: list[TaskSpec],
                                               oracle_records: dict[str, dict[str, Any]],
                                               case: int) -> None:
    task = tasks[case]
    expected = oracle_records[task.task_id]
    obs, info = env.reset(seed=case, options={"task": task.model_dump()})
    assert json.loads(obs)["shopper_message"] == expected["messages"][0]["content"]
    assert info["task_id"] == task.task_id and info["tools"]
    total = 0.0
    for action in gold_text_actions(task):
        obs, reward, terminated, truncated, info = env.step(action)
        assert obs in env.observation_space
        assert "error" not in info, info
        total += float(reward)
        if terminated or truncated:
            break
    assert terminated and not truncated
    assert info["success"] and info["stop_reason"] == expected["stop_reason"]
    assert total == reward == expected["reward"] == 1.0
    assert [c for c in info["breakdown"]["components"]] == expected["reward_components"]
    assert env.episode is not None
    assert comparable(env.episode.record()) == comparable(expected)
    calls = len(env.episode.calls)
    obs, reward, terminated, truncated, info = env.step("Anything else?")  # not played
    assert json.loads(obs)["done"] and "call reset()" in info["error"] and reward == 0.0
    assert (terminated, truncated) == (True, False) and len(env.episode.calls) == calls


def test_gymnasium_env_checker(env: ShopEnv) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the checker's warnings are failures here
        check_env(env, skip_render_check=True)


def test_gym_make_and_full_checker(ep_shop: Any) -> None:
    """Registered under ENV_ID; made from settings (deep-copyable, as gym.make needs), and
    checked with the render modes and the seeded-determinism checks of registered envs."""
    settings = ShopSettings(db=str(ep_shop.engine.url), catalog_seed=TEST_SEED,
                            catalog_size=TEST_SIZE)
    made = gym.make(ENV_ID, settings=settings, families=["cart"], difficulties=[2],
                    render_mode="ansi")
    assert made.spec is not None and made.spec.id == ENV_ID
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(made.unwrapped)
    made.reset(seed=3)
    made.step('{"tool": "view_cart"}')
    text = made.render()
    assert isinstance(text, str) and text.startswith("Shopper: ") and "[call] view_cart" in text
    made.close()


def test_seeded_resets_choose_tasks_deterministically(env: ShopEnv, ep_shop: Any) -> None:
    first = [env.reset(seed=s)[1]["task_id"] for s in (1, 2, 3, 1)]
    assert first[0] == first[3]
    other = ShopEnv(ep_shop, families=["purchase", "return", "cart"], difficulties=[1, 3])
    assert [other.reset(seed=s)[1]["task_id"] for s in (1, 2, 3, 1)] == first
    env.reset(seed=11)
    follow = [env.reset()[1]["task_id"] for _ in range(3)]  # unseeded: the generator goes on
    env.reset(seed=11)
    assert [env.reset()[1]["task_id"] for _ in range(3)] == follow
    seen = {env.reset(seed=s)[1]["task_id"] for s in range(12)}
    assert len(seen) > 6
    assert {t.split("-")[0] for t in seen} <= {"purchase", "return", "cart"}
    assert {t.split("-")[1] for t in seen} <= {"d1", "d3"}
    _, info = env.reset(seed=4, options={"family": "policy", "difficulty": 2, "task_seed": 77})
    assert info["task_id"] == "policy-d2-s0000077"
    _, info = env.reset(seed=4, options={"family": "cancel"})
    assert info["family"] == "cancel" and info["difficulty"] in (1, 3)
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(options={"level": 3})


def test_a_fixed_task_pool(ep_shop: Any, tasks: list[TaskSpec]) -> None:
    env = ShopEnv(ep_shop, tasks=tasks[:3])
    ids = {env.reset(seed=s)[1]["task_id"] for s in range(10)}
    assert ids <= {t.task_id for t in tasks[:3]} and len(ids) > 1
    obs, _ = env.reset(seed=0, options={"task": tasks[4].model_dump_json()})
    assert env.episode is not None and env.episode.task == tasks[4]


def test_unreadable_actions_are_reported_not_played(env: ShopEnv) -> None:
    obs0, _ = env.reset(seed=5)
    bad = ["   ", "{not json", '{"foo": 1}', "{}", '{"tool": 5}', '{"tool_calls": "x"}',
           '{"done": "yes"}', '{"message": 3}', '{"tool": "view_cart", "arguments": [1]}',
           '{"tool": "view_cart", "arguments": "{oops"}', '{"tool": "view_cart", "x": 1}',
           '{"tool_calls": [{"arguments": {}}]}', '{"message": null}']
    for action in bad:
        obs, reward, terminated, truncated, info = env.step(action)
        doc = json.loads(obs)
        assert doc["error"] == info["error"] and info["error"], action
        assert (reward, terminated, truncated) == (0.0, False, False)
        assert obs in env.observation_space
        assert doc["turn"] == 0 and info["tool_calls"] == 0
    assert env.episode is not None and env.episode.calls == [] and env.episode.turn == 0
    # a tool the shop does not have is played, and fails as a tool call
    obs, _, terminated, _, info = env.step('{"name": "teleport", "arguments": "{}"}')
    (result,) = json.loads(obs)["tool_results"]
    assert not result["ok"] and not terminated and "error" not in info
    obs, _, _, _, _ = env.step('{"tool_calls": [{"name": "view_cart"}, {"tool": "get_customer",'
                               ' "arguments": null}], "message": "Checking your cart."}')
    doc = json.loads(obs)
    assert [r["name"] for r in doc["tool_results"]] == ["view_cart", "get_customer"]
    assert doc["shopper_message"] and doc["turn"] == 1
    obs, reward, terminated, truncated, info = env.step('{"done": true}')
    assert terminated and not truncated and info["stop_reason"] == "agent_done"
    assert not info["success"] and "breakdown" in info and reward == info["breakdown"]["reward"]


def test_parse_action() -> None:
    assert parse_action("Hello there").message == "Hello there"
    assert parse_action("  {\"message\": \"hi\"}").message == "hi"
    call = parse_action('{"tool": "get_product", "arguments": {"product_id": "P-000001"}}')
    assert call.tool_calls[0].name == "get_product" and call.message is None
    assert call.tool_calls[0].arguments == {"product_id": "P-000001"}
    both = parse_action('{"tool_calls": [{"name": "view_cart"}], "done": true}')
    assert both.done and both.tool_calls[0].arguments == {}
    with pytest.raises(ActionError, match="not valid JSON"):
        parse_action("{oops")
    with pytest.raises(ActionError, match="does nothing"):
        parse_action('{"done": false}')
    with pytest.raises(ActionError, match="text"):
        parse_action(42)  # type: ignore[arg-type]


def test_long_observations_are_cut_to_the_space(ep_shop: Any) -> None:
    env = ShopEnv(ep_shop, max_observation_length=3000)
    env.reset(seed=1)
    obs, *_ = env.step('{"tool": "list_categories", "arguments": {"depth": 4}}')
    assert len(obs) <= 3000 and obs in env.observation_space
    assert "[truncated]" in json.loads(obs)["tool_results"][0]["content"]


def test_observations_never_exceed_the_space(ep_shop: Any) -> None:
    """Every observation fits max_observation_length, keeping (a head of) the shopper's
    message when the tool results have to go; limits too small for that are refused."""
    with pytest.raises(ValueError, match="max_observation_length"):
        ShopEnv(ep_shop, max_observation_length=60)
    with pytest.raises(ValueError, match="max_observation_length"):
        ShopEnv(ep_shop, max_observation_length=MIN_OBSERVATION_LENGTH - 1)
    env = ShopEnv(ep_shop, max_observation_length=MIN_OBSERVATION_LENGTH)
    obs, _ = env.reset(seed=1)
    assert len(obs) <= MIN_OBSERVATION_LENGTH and obs in env.observation_space
    assert env.episode is not None
    opening = str(env.episode.messages[0].content)
    message = json.loads(obs)["shopper_message"]
    assert message == opening or (message.endswith("[truncated]") and opening.startswith(
        message.removesuffix(" ...[truncated]")))
    calls = [{"name": "list_categories", "arguments": {"depth": 4}}] * 3
    obs, *_ = env.step(json.dumps({"tool_calls": calls, "message": "One moment please."}))
    doc = json.loads(obs)
    assert len(obs) <= MIN_OBSERVATION_LENGTH and obs in env.observation_space
    assert doc["tool_results"] == [] and "too long" in doc["error"]
    assert doc["shopper_message"]  # the shopper's reply is kept
    long = Observation(shopper_message="\u00e9" * 5000, turn=3, tool_results=[
        ToolResult(name="view_cart", arguments={"x": "y" * 900}, ok=True, content="z" * 900)
    ] * 20)
    for limit in (MIN_OBSERVATION_LENGTH, 300, 1000, 5000):
        env = ShopEnv(ep_shop, max_observation_length=limit)
        for error in (None, "\x00" * 3000):
            text = env._render_obs(long, error=error)
            doc = json.loads(text)
            assert len(text) <= limit and text in env.observation_space, (limit, error)
            assert doc["shopper_message"].startswith("\u00e9") and doc["turn"] == 3


def test_one_environment_stepped_from_several_threads(ep_shop: Any) -> None:
    """Steps are serialised per episode: the tool budget holds, and actions after the end
    give the "over" observation instead of raising."""
    env = ShopEnv(ep_shop)
    env.reset(seed=3)
    assert env.episode is not None
    budget = env.episode.task.limits.max_tool_calls
    action = '{"tool": "search_products", "arguments": {"query": "tent"}}'

    def hammer(_: int) -> list[tuple[Any, ...]]:
        return [env.step(action) for _ in range(budget // 4 + 6)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        steps = [s for batch in pool.map(hammer, range(4)) for s in batch]
    assert env.episode.done and len(env.episode.calls) == budget
    ids = [m.tool_call_id for m in env.episode.messages if m.role == "tool"]
    assert len(ids) == len(set(ids))
    over = [s for s in steps if "error" in s[4]]
    assert over and all("episode is over" in s[4]["error"] and s[1] == 0.0 for s in over)
    for obs, *_ in over:
        assert json.loads(obs)["done"] and obs in env.observation_space


def test_constructor_checks(ep_shop: Any) -> None:
    with pytest.raises(ValueError, match="unknown family"):
        ShopEnv(ep_shop, families=["groceries"])
    with pytest.raises(ValueError, match="render_mode"):
        ShopEnv(ep_shop, render_mode="rgb_array")
    env = ShopEnv(ep_shop, render_mode="human")
    with pytest.raises(RuntimeError, match="reset"):
        env.step("hello")
    env.reset(seed=2)
    assert env.render() is None


def test_replaced_and_closed_episodes_leave_the_database(ep_shop: Any,
                                                         tasks: list[TaskSpec]) -> None:
    """A reset removes the previous episode's shop session, close() the current one; the
    records stay readable."""
    from mcp_shop.db import read_tx
    from mcp_shop.errors import NotFound
    from mcp_shop.sessions import read_session

    def exists(sid: str) -> bool:
        with read_tx(ep_shop.engine) as conn:
            try:
                read_session(conn, sid)
            except NotFound:
                return False
            return True

    env = ShopEnv(ep_shop, tasks=tasks[:2])
    env.reset(options={"task": tasks[0].model_dump_json()})
    first = env.episode
    assert first is not None and exists(first.session_id)
    env.reset(options={"task": tasks[1].model_dump_json()})
    second = env.episode
    assert second is not None and exists(second.session_id)
    assert not exists(first.session_id)
    env.close()
    assert not exists(second.session_id)
    assert first.task.task_id == tasks[0].task_id
