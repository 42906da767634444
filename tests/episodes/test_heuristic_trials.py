"""Repeated trials of the heuristic: trial 0 plays the fixed behaviour whatever the seed, later
trials draw their behaviour choices from the trial's seed, and every trial is reproducible."""

from __future__ import annotations

from typing import Any

import pytest

from episodes.agents.heuristic import HeuristicAgent
from episodes.agents.heuristic.style import DEFAULT, style_for
from episodes.controller import EpisodeController, Observation, Policy
from episodes.generate import families, generate_task
from verifiers.types import TaskSpec

TRIALS = 4


def _timeless(record: dict[str, Any]) -> dict[str, Any]:
    """The record without its timing fields (wall time, tool latencies)."""
    out = dict(record)
    out["metrics"] = {k: x for k, x in record["metrics"].items() if k != "wall_time_s"}
    out["trace"] = [{k: x for k, x in t.items() if k != "latency_ms"} for t in record["trace"]]
    return out


def _calls(record: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(t["tool"], t["arguments"]) for t in record["trace"]]


class _NoTrial:
    """The heuristic started the way an agent without ``trial`` is (a wrapper passing only a
    seed, here a different one), i.e. its default behaviour."""

    name = "heuristic"
    privileged = False

    def start(self, task: TaskSpec | None, obs: Observation, *, seed: int) -> Policy:
        return HeuristicAgent().start(task, obs, seed=seed ^ 0x5A5A5A)


class _Recorder:
    """Remembers the seed and trial each episode was started with, then ends it."""

    name = "recorder"
    privileged = False

    def __init__(self) -> None:
        self.started: list[tuple[int, int]] = []

    def start(self, task: TaskSpec | None, obs: Observation, *, seed: int,
              trial: int = 0) -> Policy:
        self.started.append((seed, trial))
        return HeuristicAgent().start(task, obs, seed=seed, trial=trial)


@pytest.fixture(scope="module")
def fixed_tasks(ep_shop: Any) -> list[TaskSpec]:
    return [generate_task(ep_shop, family, d, seed) for family in families()
            for d in (1, 4) for seed in (3, 4)]


@pytest.fixture(scope="module")
def trial_records(ep_shop: Any, fixed_tasks: list[TaskSpec]) -> list[dict[str, Any]]:
    import anyio

    async def run() -> list[dict[str, Any]]:
        async with EpisodeController(ep_shop) as controller:
            return await controller.run(HeuristicAgent(), fixed_tasks, trials=TRIALS,
                                        concurrency=4)

    return anyio.run(run)


def test_style_of_trial_zero_is_the_default_whatever_the_seed() -> None:
    for seed in (0, 1, 2**31 + 5):
        assert style_for(seed, 0) == (DEFAULT, None)


def test_later_trials_draw_their_style_from_the_seed() -> None:
    drawn = [style_for(seed, 1)[0] for seed in range(40)]
    assert drawn == [style_for(seed, 1)[0] for seed in range(40)]
    assert len(set(drawn)) > 10
    assert any(s != DEFAULT for s in drawn)
    # the seed decides, not the trial number: the controller already folds the trial in
    assert style_for(99, 1)[0] == style_for(99, 3)[0]


def test_negative_trial_is_refused() -> None:
    with pytest.raises(ValueError, match="trial must be 0 or more"):
        style_for(5, -1)


def test_records_in_trial_order(trial_records: list[dict[str, Any]],
                                fixed_tasks: list[TaskSpec]) -> None:
    assert [(r["task_id"], r["trial"]) for r in trial_records] == [
        (t.task_id, k) for t in fixed_tasks for k in range(TRIALS)]


def test_some_task_has_trials_with_different_tool_calls(
        trial_records: list[dict[str, Any]]) -> None:
    by_task: dict[str, list[dict[str, Any]]] = {}
    for r in trial_records:
        by_task.setdefault(r["task_id"], []).append(r)
    varied = {t for t, rs in by_task.items()
              if len({repr(_calls(r)) for r in rs}) > 1}
    assert varied, "every task played the same tool calls on every trial"
    # more than one journey varies (searching, checkout, orders)
    assert len({t.split("-")[0] for t in varied}) >= 3, sorted(varied)


async def test_same_task_and_trial_gives_the_same_record(
        ep_shop: Any, fixed_tasks: list[TaskSpec],
        trial_records: list[dict[str, Any]]) -> None:
    again = {}
    async with EpisodeController(ep_shop) as controller:
        for task in fixed_tasks[::3]:
            for trial in (1, 3):
                again[(task.task_id, trial)] = await controller.run_episode(
                    HeuristicAgent(), task, trial=trial)
    first = {(r["task_id"], r["trial"]): r for r in trial_records}
    for key, record in again.items():
        assert _timeless(record) == _timeless(first[key]), key


async def test_trial_zero_plays_the_default_behaviour(
        ep_shop: Any, fixed_tasks: list[TaskSpec],
        trial_records: list[dict[str, Any]]) -> None:
    first = {r["task_id"]: r for r in trial_records if r["trial"] == 0}
    async with EpisodeController(ep_shop) as controller:
        for task in fixed_tasks:
            default = await controller.run_episode(_NoTrial(), task, trial=0)
            assert _timeless(default) == _timeless(first[task.task_id]), task.task_id


async def test_controller_tells_the_trial_to_agents_that_take_it(
        ep_shop: Any, fixed_tasks: list[TaskSpec]) -> None:
    recorder = _Recorder()
    async with EpisodeController(ep_shop) as controller:
        await controller.run(recorder, fixed_tasks[:1], trials=3, concurrency=1)
    assert [trial for _, trial in recorder.started] == [0, 1, 2]
    assert len({seed for seed, _ in recorder.started}) == 3
