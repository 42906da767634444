"""tau2-bench retail tasks as a Gymnasium environment: the same text door as the shop's own
(``episodes.gym_env``), on a tau2 world.

    import gymnasium as gym
    import episodes.tau2.gym_env  # registers "McpShopTau2Retail-v0"

    env = gym.make("McpShopTau2Retail-v0", tau2_path="~/src/tau2-bench", split="test")
    obs, info = env.reset(seed=7)                 # or options={"task_id": "3"}
    obs, reward, terminated, truncated, info = env.step(
        '{"tool": "find_user_id_by_email", "arguments": {"email": "..."}}')
    obs, reward, terminated, truncated, info = env.step("Shall I cancel order #W...?")

Actions and observations are the shop env's (``episodes.gym_env.parse_action``; JSON text with
``shopper_message``, here the user's message, ``tool_results``, ``turn``, ``done`` and, after
an unreadable action, ``error``); an unreadable action is not played (error in the
observation and ``info["error"]``, reward 0), nor is an action after the end. The episode is
``episodes.tau2.episode.Tau2Episode``: the tools are tau2's sixteen (the session handle is
added), a message goes to the user (the scripted user by default; ``users=``: any
``UserFactory``, such as one making ``LLMUser``s), ``{"done": true}`` ends the episode.

The reward is 0 until the end, then the record's reward: tau2's reward (or, when NL
assertions were not judged, the product of the judged components; see
``episodes.tau2.scoring``). ``info`` carries ``task_id`` (``tau2-retail/<id>``),
``tau2_task_id``, ``family`` and ``difficulty`` (on reset also ``tools``); at the end
``success``, ``stop_reason``, ``tau2_reward``, ``tau2`` (tau2's verdict: reward, components,
DB match, ...) and ``record``, the rollout record ``shop-episodes run --suite tau2-retail``
writes for the same episode.

Which world and database: see ``episodes.tau2.sync`` (a checkout path or a loaded world;
default database a SQLite file per world). Which task on ``reset(seed=...)``:
``options={"task_id": ID}`` (a tau2 id or ``tau2-retail/<id>``, among the env's tasks) or
``options={"task": Tau2Task}``, else one of the env's tasks (``split``, ``task_ids``) drawn
with the seeded generator.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym

from episodes.gym_env import ACTION_MAX_LENGTH, OBSERVATION_MAX_LENGTH, TextEnv
from episodes.tau2.episode import Tau2Episode, UserFactory, scripted_users
from episodes.tau2.judge import NLJudge
from episodes.tau2.sync import Tau2Runtime, shared_tau2_runtime
from episodes.tau2.tasks import TASK_PREFIX, Tau2Task, select_tasks
from mcp_shop.tau2.loader import Tau2Retail

__all__ = ["ENV_ID", "Tau2RetailEnv"]

ENV_ID = "McpShopTau2Retail-v0"


class Tau2RetailEnv(TextEnv):
    """One tau2 retail episode per reset; text in, text out (see the module docstring)."""

    _user_label = "User"

    def __init__(self, tau2_path: str | Path | None = None, *, world: Tau2Retail | None = None,
                 db: str | None = None, split: str | None = None,
                 task_ids: Sequence[str] | None = None, connect: str | None = None,
                 users: UserFactory = scripted_users, judge: NLJudge | None = None,
                 render_mode: str | None = None,
                 max_observation_length: int = OBSERVATION_MAX_LENGTH,
                 max_action_length: int = ACTION_MAX_LENGTH) -> None:
        """``tau2_path`` or ``world``: the tau2 world (default ``$MCP_SHOP_TAU2_PATH``);
        ``db``: the database it is imported into (default: a SQLite file per world);
        ``split``, ``task_ids``: the tasks drawn from (default every task); ``connect``: None
        (MCP in memory) or ``"direct"``; ``users``: makes each episode's user (default the
        scripted user); ``judge``: judges NL assertions (default: not judged)."""
        super().__init__(render_mode=render_mode, max_observation_length=max_observation_length,
                         max_action_length=max_action_length)
        if tau2_path is not None and world is not None:
            raise ValueError("give tau2_path or world, not both")
        self._runtime: Tau2Runtime = shared_tau2_runtime(
            world if world is not None else tau2_path, db, connect=connect, users=users,
            judge=judge)
        self.world = self._runtime.world
        self.split = split
        self.tasks: list[Tau2Task] = select_tasks(
            self.world, split=split, ids=list(task_ids) if task_ids is not None else None)
        if not self.tasks:
            raise ValueError(f"no tasks to play (split {split!r}, task_ids {task_ids!r})")
        self._episode: Tau2Episode | None = None

    @property
    def episode(self) -> Tau2Episode | None:
        """The tau2 episode being played (for its messages, verdict and record)."""
        return self._episode

    # -- what the text door asks ------------------------------------------------------------

    def _base_info(self) -> dict[str, Any]:
        assert self._episode is not None
        task = self._episode.task
        return {"task_id": task.task_id, "tau2_task_id": task.tau2_id, "family": task.family,
                "difficulty": task.difficulty}

    def _end_flags(self) -> tuple[bool, bool]:
        assert self._episode is not None
        rollout = self._episode.rollout()
        return rollout.terminated, rollout.truncated

    def _end_info(self, info: dict[str, Any]) -> None:
        if self._episode is not None and self._episode.done:
            record = self._episode.record()
            info.update(tau2=copy.deepcopy(record["tau2"]), record=record)

    def _pick_task(self, options: dict[str, Any]) -> Tau2Task:
        unknown = sorted(set(options) - {"task_id", "task"})
        if unknown:
            raise ValueError(f"unknown reset option(s) {', '.join(map(repr, unknown))}: "
                             "expected 'task_id' or 'task'")
        task = options.get("task")
        if task is not None:
            if not isinstance(task, Tau2Task):
                raise ValueError(f"options['task'] must be a Tau2Task, not "
                                 f"{type(task).__name__}")
            return task
        wanted = options.get("task_id")
        if wanted is not None:
            key = str(wanted).removeprefix(TASK_PREFIX)
            for t in self.tasks:
                if t.tau2_id == key:
                    return t
            known = ", ".join(t.tau2_id for t in self.tasks[:20])
            raise ValueError(f"no task {wanted!r} among this environment's tasks: {known}"
                             f"{' ...' if len(self.tasks) > 20 else ''}")
        return self.tasks[int(self.np_random.integers(len(self.tasks)))]


if ENV_ID not in gym.registry:
    gym.register(id=ENV_ID, entry_point="episodes.tau2.gym_env:Tau2RetailEnv")
