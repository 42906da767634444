"""The heuristic agent: solves most low-difficulty tasks of every family without privileged
information, never opens a session, is deterministic, and does worse on hard tasks."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from episodes.agents.heuristic import HeuristicAgent
from episodes.controller import EpisodeController
from episodes.generate import families, generate_task
from verifiers.types import TaskSpec

SEEDS = range(3)


def _tasks(shop: Any, difficulties: tuple[int, ...], seeds: range) -> list[TaskSpec]:
    return [generate_task(shop, family, d, seed) for family in families()
            for d in difficulties for seed in seeds]


def _calls(record: dict[str, Any]) -> list[str]:
    return [c["function"]["name"] for m in record["messages"] for c in m.get("tool_calls") or []]


@pytest.fixture(scope="module")
def low_records(ep_shop: Any) -> list[dict[str, Any]]:
    import anyio

    async def run() -> list[dict[str, Any]]:
        async with EpisodeController(ep_shop) as controller:
            return await controller.run(HeuristicAgent(), _tasks(ep_shop, (0, 1), SEEDS),
                                        concurrency=1)

    return anyio.run(run)


def test_agent_is_not_privileged() -> None:
    agent = HeuristicAgent()
    assert agent.name == "heuristic"
    assert agent.privileged is False


def test_solves_most_low_difficulty_tasks(low_records: list[dict[str, Any]]) -> None:
    by_family: dict[str, list[bool]] = defaultdict(list)
    for rec in low_records:
        by_family[rec["family"]].append(bool(rec["success"]))
    overall = sum(sum(v) for v in by_family.values()) / sum(len(v) for v in by_family.values())
    assert overall >= 0.7, {f: f"{sum(v)}/{len(v)}" for f, v in by_family.items()}
    solved = [f for f, v in by_family.items() if any(v)]
    assert len(solved) >= 0.8 * len(by_family), {f: sum(v) for f, v in by_family.items()}


def test_never_opens_a_session(low_records: list[dict[str, Any]]) -> None:
    for rec in low_records:
        assert "open_session" not in _calls(rec), rec["task_id"]


async def test_deterministic(ep_shop: Any) -> None:
    tasks = [generate_task(ep_shop, family, 2, 7) for family in families()]
    async with EpisodeController(ep_shop) as controller:
        first = [await controller.run_episode(HeuristicAgent(), t) for t in tasks]
        second = [await controller.run_episode(HeuristicAgent(), t) for t in tasks]
    for a, b in zip(first, second, strict=True):
        assert a["messages"] == b["messages"], a["task_id"]
        assert a["success"] == b["success"]


async def test_worse_at_high_difficulty(ep_shop: Any,
                                        low_records: list[dict[str, Any]]) -> None:
    hard = [generate_task(ep_shop, family, d, seed) for family in families()
            for d in (12, 20) for seed in SEEDS]
    async with EpisodeController(ep_shop) as controller:
        records = await controller.run(HeuristicAgent(), hard, concurrency=1)
    low = sum(bool(r["success"]) for r in low_records) / len(low_records)
    high = sum(bool(r["success"]) for r in records) / len(records)
    assert high < low, (low, high)
