"""Helpers shared by the episode tests: rollout records with their timing taken out, and the
controller's own oracle records to compare adapters against."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import partial
from typing import Any

import anyio

from episodes.agents import OracleAgent
from episodes.controller import EpisodeController
from verifiers.types import TaskSpec


def untimed(record: dict[str, Any], *, drop: Sequence[str] = ()) -> dict[str, Any]:
    """A copy of a rollout record without its timing fields (checked to be there and >= 0)
    and without the ``drop`` keys: what must be equal between two runs of the same episode."""
    out = json.loads(json.dumps(record, default=str))
    assert out["metrics"].pop("wall_time_s") >= 0
    for entry in out["trace"]:
        assert entry.pop("latency_ms") >= 0
    for key in drop:
        out.pop(key)
    return out


# What an adapter's record (TRL, Gym) shares with the controller's record of the same episode.
adapter_comparable = partial(untimed, drop=("policy", "rollout_id"))


def oracle_records(shop: Any, tasks: Sequence[TaskSpec]) -> dict[str, dict[str, Any]]:
    """The controller's rollouts of the tasks' gold solutions, by task id."""

    async def run() -> list[dict[str, Any]]:
        async with EpisodeController(shop) as controller:
            return await controller.run(OracleAgent(), tasks, concurrency=4)

    return {r["task_id"]: r for r in anyio.run(run)}
