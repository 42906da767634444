"""tau2 retail episodes in worker processes (``shop-episodes run --suite tau2-retail
--workers N``) or on a Ray cluster (``--ray``): the runner spec (``episodes.parallel.
RunnerSpec``) the worker pools open, so tau2 runs spread as the shop's own do, with the
records back in task order, those of one process but for timing.

Each worker gets the loaded world with the spec (no tau2 checkout is needed where it runs)
and opens its own ``Tau2Env`` on the run's database: on PostgreSQL the same database; on
SQLite the file at the same path on its machine (the world is imported there under a lock if
it is missing, once per machine), copied privately for the worker (SQLite lets one process
write at a time; the copies are deleted at the end). The user and the judge are made as the
run's options say (``user_factory``, ``judge_of``); the agent from its name and the world's
policy (``make_tau2_agent``).
"""

from __future__ import annotations

import argparse
import dataclasses
from functools import partial
from typing import Any

from episodes.parallel import BatchWorker, RunnerSpec, fill_lock, private_copy, remove_copy
from episodes.tau2.tasks import Tau2Task

__all__ = ["Tau2Spec", "Tau2Worker", "worker_options"]

_OPTIONS = ("direct", "keep_sessions")
_PREFIXES = ("user", "judge")  # --user, --user-llm-*, --judge, --judge-llm-*


def worker_options(args: argparse.Namespace) -> dict[str, Any]:
    """The run's options a tau2 worker needs (the user's, the judge's, --direct,
    --keep-sessions), as the command line names them."""
    return {k: v for k, v in vars(args).items() if k in _OPTIONS or k.startswith(_PREFIXES)}


@dataclasses.dataclass(frozen=True)
class Tau2Spec(RunnerSpec):
    """The tau2 world (``world``, a loaded ``Tau2Retail``) on ``db``, played with the run's
    ``options`` (``worker_options``)."""

    world: Any = None
    options: dict[str, Any] = dataclasses.field(default_factory=dict)

    def open(self, private_dir: str | None) -> Tau2Worker:
        return Tau2Worker(self, private_dir)

    def dump(self, task: Any) -> dict[str, Any]:
        return dict(task.to_json())


class Tau2Worker(BatchWorker):
    """One worker's ``Tau2Env`` and its runner (opened once, kept for every batch)."""

    def __init__(self, spec: Tau2Spec, private_dir: str | None) -> None:
        from episodes.tau2.cli import judge_of, user_factory
        from episodes.tau2.env import Tau2Env, prepare_database
        super().__init__()
        with fill_lock(spec.db):  # the world there, imported once if missing
            shop, _ = prepare_database(spec.db, spec.world)
            shop.engine.dispose()
        self.copy = private_copy(spec.db, private_dir)
        self.env = Tau2Env.open(spec.world, spec.db if self.copy is None
                                else f"sqlite:///{self.copy}")
        options = argparse.Namespace(**spec.options)
        self.runner_options = {
            "users": user_factory(options), "judge": judge_of(options),
            "connect": "direct" if spec.options.get("direct") else None,
            "keep_sessions": bool(spec.options.get("keep_sessions"))}

    def run_batch(self, agent_name: str, tasks: list[dict[str, Any]], trials: int,
                  concurrency: int, reward_mode: str) -> list[dict[str, Any]]:
        """The records of ``agent_name`` on ``tasks`` (``Tau2Task.to_json``), in task order
        (``reward_mode``: tau2's reward is its own, as in one process)."""
        from episodes.tau2.agents import make_tau2_agent
        from episodes.tau2.episode import Tau2Runner

        agent = make_tau2_agent(agent_name, self.env.world.policy)
        chosen = [Tau2Task.from_json(t) for t in tasks]
        return self.play("tau2", partial(Tau2Runner, self.env, **self.runner_options),
                         partial(_run, agent, chosen, trials, concurrency))

    def close(self) -> None:
        """Close the runner, the event loop and the database; delete the private copy."""
        self.close_loop()
        self.env.shop.engine.dispose()
        remove_copy(self.copy)
        self.copy = None


async def _run(agent: Any, tasks: list[Tau2Task], trials: int, concurrency: int,
               runner: Any) -> list[dict[str, Any]]:
    return list(await runner.run(agent, tasks, trials=trials, concurrency=concurrency))
