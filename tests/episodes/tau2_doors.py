"""What the tests of the tau2 doors (Gym, TRL) share: the fixture world, a database of its own
per test module, the tau2 runner's records of the same episodes to compare the doors' records
with, and a wrong write (task 2 paid with PayPal instead of the gift card: a valid call that
leaves another state than the gold)."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

from episodes.agents.oracle import Replay
from episodes.controller import Action, Observation, Policy
from episodes.tau2.agents import Tau2Oracle, oracle_actions
from episodes.tau2.env import Tau2Env
from episodes.tau2.episode import Tau2Runner
from episodes.tau2.tasks import Tau2Task, select_tasks
from mcp_shop.tau2.loader import Tau2Retail
from tests.mcp_shop.tau2_shop import FIXTURE, world

__all__ = ["CONNECTS", "FIXTURE", "IDS", "runner_records", "wrong_payment", "world",
           "world_db"]

IDS = [str(i) for i in range(14)]  # the fixture's tasks
CONNECTS = [None, "direct"]


@pytest.fixture(scope="module")
def world_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('tau2doors') / 'tau2.db'}"


def wrong_payment(world: Tau2Retail) -> list[Action]:
    """Task 2's gold with the price difference paid by the user's PayPal."""
    actions = oracle_actions(world.task("2"))
    for a in actions:
        for call in a.tool_calls:
            if call.name == "modify_pending_order_items":
                call.arguments["payment_method_id"] = "paypal_5408496"
    return actions


class _Fixed:
    """A privileged agent playing fixed actions."""

    privileged = True
    name = "fixed"

    def __init__(self, actions: list[Action]) -> None:
        self.actions = actions

    def start(self, task: Any, obs: Observation, *, seed: int) -> Policy:
        return Replay([a.model_copy(deep=True) for a in self.actions])


def runner_records(env: Tau2Env, tasks: list[Tau2Task] | None = None, *,
                   actions: list[Action] | None = None, connect: str | None = None,
                   ) -> dict[str, dict[str, Any]]:
    """The tau2 runner's records of the oracle on ``tasks`` (default every task), or of fixed
    ``actions``, by task id."""
    chosen = tasks if tasks is not None else select_tasks(env.world)
    agent: Any = Tau2Oracle() if actions is None else _Fixed(actions)

    async def go() -> list[dict[str, Any]]:
        async with Tau2Runner(env, connect=connect) as runner:
            return await runner.run(agent, chosen, concurrency=4)

    return {r["task_id"]: json.loads(json.dumps(r)) for r in anyio.run(go)}
