"""The episode controller end to end: solvability (the oracle solves every family at every
difficulty), discrimination (random fails), reward hacking, determinism, budgets and the
reset/step API."""

from __future__ import annotations

import json
from typing import Any

import pytest

from episodes.agents import OracleAgent, RandomAgent, make_agent
from episodes.agents.adversarial import ADVERSARIAL_AGENTS, AdversarialAgent
from episodes.controller import Action, EpisodeController, ToolRequest
from episodes.generate import families, generate_task
from tests.episodes.records import untimed
from verifiers.types import FAMILIES, TaskSpec

DIFFICULTIES = range(0, 11)


strip_timing = untimed

def test_every_family_has_a_generator() -> None:
    assert set(families()) == set(FAMILIES)


@pytest.mark.parametrize("family", FAMILIES)
async def test_oracle_solves_every_difficulty(ep_shop: Any, family: str) -> None:
    """A sample of the solvability check (`shop-episodes check` runs 50 seeds per cell)."""
    tasks = [generate_task(ep_shop, family, d, seed) for d in DIFFICULTIES for seed in (1, 2)]
    async with EpisodeController(ep_shop) as controller:
        records = await controller.run(OracleAgent(), tasks, concurrency=4)
    failed = [(r["task_id"], r["stop_reason"],
               [c["reason"] for c in r["reward_components"] if c["value"] < 1])
              for r in records if not r["success"]]
    assert not failed, failed
    assert all(r["stop_reason"] == "shopper_done" for r in records)
    assert all(r["reward"] == 1.0 for r in records)


async def test_random_agent_almost_never_succeeds(ep_shop: Any) -> None:
    tasks = [generate_task(ep_shop, f, d, s) for f in FAMILIES for d in (0, 3, 6)
             for s in (1, 2)]
    async with EpisodeController(ep_shop) as controller:
        records = await controller.run(RandomAgent(), tasks, concurrency=8)
    rate = sum(r["success"] for r in records) / len(records)
    assert rate <= 0.05, rate


@pytest.fixture(scope="module")
def hacking_refs(ep_shop: Any) -> tuple[list[TaskSpec], list[dict[str, Any]],
                                         list[dict[str, Any]]]:
    """The reward-hacking tasks with the oracle's and the heuristic's records of them, played
    once for every strategy (the records are deterministic: see
    ``test_same_task_and_agent_give_identical_records``)."""
    import anyio

    tasks = [generate_task(ep_shop, f, d, 5) for f in FAMILIES for d in (0, 4)]

    async def run() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with EpisodeController(ep_shop) as controller:
            honest = await controller.run(OracleAgent(), tasks, concurrency=8)
            heuristic = await controller.run(make_agent("heuristic"), tasks, concurrency=8)
        return honest, heuristic

    return tasks, *anyio.run(run)


@pytest.mark.parametrize("strategy", ADVERSARIAL_AGENTS)
async def test_reward_hacking_never_succeeds(
        ep_shop: Any, strategy: str,
        hacking_refs: tuple[list[TaskSpec], list[dict[str, Any]], list[dict[str, Any]]]) -> None:
    tasks, honest, heuristic = hacking_refs
    async with EpisodeController(ep_shop) as controller:
        hacked = await controller.run(AdversarialAgent(strategy), tasks, concurrency=8)
    assert not [r["task_id"] for r in hacked if r["success"]]
    for h, o in zip(hacked, honest, strict=True):
        assert h["task_id"] == o["task_id"]
        assert h["reward"] < o["reward"], (h["task_id"], h["reward"], o["reward"])
    mean = sum(r["reward"] for r in hacked) / len(hacked)
    honest_mean = sum(r["reward"] for r in heuristic) / len(heuristic)
    assert mean < honest_mean, (strategy, mean, honest_mean)


async def test_same_task_and_agent_give_identical_records(ep_shop: Any) -> None:
    tasks = [generate_task(ep_shop, f, 5, 9) for f in FAMILIES]
    async with EpisodeController(ep_shop) as controller:
        first = await controller.run(RandomAgent(), tasks, concurrency=4)
        second = await controller.run(RandomAgent(), tasks, concurrency=1)
        oracle_a = await controller.run(OracleAgent(), tasks, concurrency=3)
        oracle_b = await controller.run(OracleAgent(), tasks, concurrency=6)
    assert [strip_timing(r) for r in first] == [strip_timing(r) for r in second]
    assert [strip_timing(r) for r in oracle_a] == [strip_timing(r) for r in oracle_b]


async def test_records_never_carry_the_session_handle(ep_shop: Any) -> None:
    task = generate_task(ep_shop, "purchase", 2, 3)
    async with EpisodeController(ep_shop) as controller:
        episode = controller.episode(task, policy="oracle")
        await episode.reset()
        from episodes.agents.oracle import gold_actions

        for action in gold_actions(task.gold):
            step = await episode.step(action)
            if step.done:
                break
        record = episode.record()
    assert record["success"]
    assert episode.session_id not in json.dumps(record, default=str)
    assert all("session_id" not in t["function"]["parameters"].get("properties", {})
               for t in record["tools"])
    assert "open_session" not in {t["function"]["name"] for t in record["tools"]}
    roles = [m["role"] for m in record["messages"]]
    assert roles[0] == "user" and "assistant" in roles and "tool" in roles
    calls = [tc for m in record["messages"] if m.get("tool_calls") for tc in m["tool_calls"]]
    assert [e["tool"] for e in record["trace"]] == [c["function"]["name"] for c in calls]


async def test_step_api_budgets_and_errors(ep_shop: Any) -> None:
    task = generate_task(ep_shop, "discovery", 0, 4)
    task = task.model_copy(update={"limits": task.limits.model_copy(
        update={"max_tool_calls": 3, "max_turns": 50})})
    async with EpisodeController(ep_shop) as controller:
        episode = controller.episode(task)
        with pytest.raises(RuntimeError, match="reset"):
            await episode.step(Action(message="hi"))
        obs = await episode.reset()
        assert obs.shopper_message and obs.turn == 0 and obs.tools
        step = await episode.step(Action(tool_calls=[
            ToolRequest(name="open_session", arguments={}),
            ToolRequest(name="get_product", arguments={"product_id": "P-999999"}),
        ]))
        assert not step.done and step.observation.shopper_message is None
        assert [r.ok for r in step.observation.tool_results] == [False, False]
        assert "not available" in step.observation.tool_results[0].content
        assert "P-999999" in step.observation.tool_results[1].content
        step = await episode.step(Action(tool_calls=[
            ToolRequest(name="view_cart"), ToolRequest(name="view_cart")]))
        assert step.truncated and step.info["stop_reason"] == "tool_budget"
        assert len(step.observation.tool_results) == 1  # the call over budget was not made
        assert step.info["success"] is False
        with pytest.raises(RuntimeError, match="over"):
            await episode.step(Action(message="hello?"))
        trace = episode.record()["trace"]
        assert [e["tool"] for e in trace] == ["get_product", "view_cart"]


async def test_turn_budget_and_patience(ep_shop: Any) -> None:
    task = generate_task(ep_shop, "discovery", 0, 6)
    async with EpisodeController(ep_shop) as controller:
        episode = controller.episode(task)
        await episode.reset()
        steps = 0
        while True:
            step = await episode.step(Action(message="Lovely weather today."))
            steps += 1
            if step.done:
                break
    assert step.info["stop_reason"] == "shopper_quit"
    assert steps == task.params.patience + 1
    assert not step.info["success"]

    short = task.model_copy(update={"limits": task.limits.model_copy(update={"max_turns": 2})})
    async with EpisodeController(ep_shop) as controller:
        episode = controller.episode(short)
        await episode.reset()
        await episode.step(Action(message="Let me think."))
        step = await episode.step(Action(message="Still thinking."))
    assert step.truncated and step.info["stop_reason"] == "turn_budget"


async def test_agent_done_ends_the_episode_unsolved(ep_shop: Any) -> None:
    task = generate_task(ep_shop, "cart", 1, 2)
    async with EpisodeController(ep_shop) as controller:
        episode = controller.episode(task)
        await episode.reset()
        step = await episode.step(Action(done=True))
    assert step.terminated and step.info["stop_reason"] == "agent_done"
    assert not step.info["success"] and step.reward <= 0


@pytest.mark.parametrize("mode", ["shaped", "dense"])
async def test_reward_modes_through_the_controller(ep_shop: Any, mode: str) -> None:
    """Shaped rewards put every success above every failure; dense mode pays progress per
    step, and its steps add up to the progress made."""
    tasks = [generate_task(ep_shop, f, 3, 12) for f in ("cart", "purchase", "return")]
    async with EpisodeController(ep_shop, reward_mode=mode) as controller:  # type: ignore[arg-type]
        good = await controller.run(OracleAgent(), tasks)
        bad = await controller.run(RandomAgent(), tasks)
        episode = controller.episode(tasks[1])  # purchase: code, then order, pay progress
        await episode.reset()
        initial = episode.last_progress
        from episodes.agents.oracle import gold_actions

        rewards = []
        for action in gold_actions(tasks[1].gold):
            step = await episode.step(action)
            rewards.append(step.reward)
            if step.done:
                break
    assert all(r["success"] and r["reward_mode"] == mode for r in good)
    assert min(r["reward"] for r in good) > max(r["reward"] for r in bad)
    assert all(-1 <= r["reward"] <= 1 for r in good + bad)
    if mode == "dense":
        assert episode.progress, "dense mode records per-step progress"
        assert any(p > 0 for p in episode.progress)
        assert sum(episode.progress) == pytest.approx(episode.last_progress - initial, abs=1e-4)
        assert any(r > 0 for r in rewards[:-1])  # progress paid before the end
    else:
        assert all(r == 0 for r in rewards[:-1])  # nothing before the end


async def test_refused_hidden_calls_keep_the_trace_aligned(ep_shop: Any) -> None:
    """An open_session attempt (refused by the controller, never sent) must not shift the
    turns of the server's trace: the gold solution still succeeds after one."""
    from episodes.agents.oracle import gold_actions

    task = generate_task(ep_shop, "purchase", 2, 0)
    actions = [Action(tool_calls=[ToolRequest(name="open_session")]), *gold_actions(task.gold)]
    async with EpisodeController(ep_shop) as controller:
        episode = controller.episode(task)
        await episode.reset()
        for action in actions:
            step = await episode.step(action)
            if step.done:
                break
        record = episode.record()
    assert record["success"], record["reward_components"]
    assert record["trace"][0]["tool"] != "open_session"


async def test_no_flash_sale_after_the_shopper_is_done(ep_shop: Any) -> None:
    """A scenario event due in the turn the shopper says goodbye does not change the verdict."""
    from verifiers.types import ScenarioEvent

    task = generate_task(ep_shop, "discovery", 0, 2)
    target = next(g.args["product_ids"][0] for g in task.gold if g.tool == "present_products")
    variants = [v.variant_id for v in ep_shop.get_product(
        ep_shop.open_session(seed=1).session_id, target).variants]
    drained = task.model_copy(update={"scenario": [
        ScenarioEvent(turn=t, stock={v: 0 for v in variants}) for t in (1, 2, 3)]})
    async with EpisodeController(ep_shop) as controller:
        [record] = await controller.run(OracleAgent(), [drained])
    assert record["success"], record["reward_components"]


async def test_empty_actions_end_the_episode(ep_shop: Any) -> None:
    task = generate_task(ep_shop, "cart", 0, 1)
    async with EpisodeController(ep_shop) as controller:
        episode = controller.episode(task)
        await episode.reset()
        steps = [await episode.step(Action()) for _ in range(3)]
    assert [s.done for s in steps] == [False, False, True]
    assert steps[-1].info["stop_reason"] == "agent_idle" and steps[-1].truncated
