"""tau2-bench retail tasks as a TRL environment: ``GRPOTrainer(environment_factory=...)``,
the same door as the shop's own (``episodes.trl_env``), on a tau2 world.

    from datasets import Dataset
    from episodes.tau2.trl_env import Tau2ToolEnv, tau2_rows

    world = tau2_world("~/src/tau2-bench")
    dataset = Dataset.from_list(tau2_rows(world, split="train"))
    trainer = GRPOTrainer(model=..., args=GRPOConfig(...), train_dataset=dataset,
                          environment_factory=Tau2ToolEnv.factory(world))

TRL calls ``reset(**row)`` (the user's opening message is appended to the row's last user
message), exposes every public method as a tool and scores the rollout with
``get_reward()``. The tools are tau2's sixteen, one method each, made from the tool list the
tau2 surface's MCP server gives (``tools/list``): names, parameters, which are required, types
(a string, a list of strings, one of fixed values) and descriptions are the server's, so the
schemas TRL builds from the methods (``transformers.utils.get_json_schema``) say what the MCP
surface says (``episodes.tool_methods``, as for the shop's door). ``send_message`` talks to
the user (the scripted user by default). Each call is one step of a ``Tau2Episode``, so
results, errors, records and rewards are the tau2 runner's.

Which world and database: ``episodes.tau2.sync`` (a checkout path or a loaded world, else
``$MCP_SHOP_TAU2_PATH``; default database a SQLite file per world), so ``Tau2ToolEnv()`` with
no arguments works when the variables are set.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from episodes.tau2.episode import Tau2Episode, UserFactory, scripted_users
from episodes.tau2.judge import NLJudge
from episodes.tau2.sync import Tau2Runtime, WorldSource, shared_tau2_runtime
from episodes.tau2.tasks import Tau2Task, select_tasks, world_digest
from episodes.tool_methods import tool_method
from episodes.trl_env import EpisodeToolEnv
from mcp_shop.tau2.loader import Tau2Retail

__all__ = ["Tau2ToolEnv", "tau2_rows", "tool_method"]

_NO_POLICY: Any = object()


def tau2_rows(world: Tau2Retail, tasks: Iterable[Tau2Task] | None = None, *,
              split: str | None = None, system_prompt: str | None = _NO_POLICY,
              ) -> list[dict[str, Any]]:
    """Dataset rows for ``environment_factory=Tau2ToolEnv.factory(world)``, one per task
    (``tasks``, default those of ``split``, default every task).

    ``prompt`` is the conversation before the user speaks: the world's policy as the system
    message (what the LLM agent of ``shop-episodes run --suite tau2-retail`` is told;
    ``system_prompt`` replaces it, None leaves it out), then an empty user message that TRL
    fills with what ``reset`` returns. ``task_id`` (``tau2-retail/<id>``), ``family``,
    ``difficulty`` and ``seed`` identify the task, ``world`` the world's hash (``reset``
    checks it)."""
    chosen = list(tasks) if tasks is not None else select_tasks(world, split=split)
    policy = world.policy if system_prompt is _NO_POLICY else system_prompt
    digest = world_digest(world)
    rows = []
    for task in chosen:
        prompt = [{"role": "user", "content": ""}]
        if policy:
            prompt.insert(0, {"role": "system", "content": policy})
        rows.append({"prompt": prompt, "task_id": task.task_id, "family": task.family,
                     "difficulty": task.difficulty, "seed": task.seed, "world": digest})
    return rows


class Tau2ToolEnv(EpisodeToolEnv):
    """One tau2 retail episode at a time, driven through tool methods (TRL's environment
    contract). An instance is of a subclass holding one method per tool the world's MCP
    surface lists (made once per tool list, ``episodes.tool_methods``)."""

    def __init__(self, world: WorldSource = None, *, db: str | None = None,
                 connect: str | None = None, users: UserFactory = scripted_users,
                 judge: NLJudge | None = None) -> None:
        """Every argument is optional (TRL passes none): ``world`` (a tau2-bench checkout
        path or a loaded world; default ``$MCP_SHOP_TAU2_PATH``), ``db`` (default: a SQLite
        file per world), ``connect`` (None: MCP in memory; ``"direct"``), ``users`` (makes
        each episode's user; default the scripted user), ``judge`` (judges NL assertions;
        default none)."""
        self._runtime: Tau2Runtime = self._shared_runtime(world, db=db, connect=connect,
                                                          users=users, judge=judge)
        self._episode: Tau2Episode | None = None
        self._last = None

    @classmethod
    def _shared_runtime(cls, world: WorldSource = None, *, db: str | None = None,
                        connect: str | None = None, users: UserFactory = scripted_users,
                        judge: NLJudge | None = None) -> Tau2Runtime:
        return shared_tau2_runtime(world, db, connect=connect, users=users, judge=judge)

    @classmethod
    def factory(cls, world: WorldSource = None, *, db: str | None = None,
                connect: str | None = None, users: UserFactory = scripted_users,
                judge: NLJudge | None = None) -> Callable[[], Tau2ToolEnv]:
        """A zero-argument callable making environments bound to these settings (for
        ``environment_factory=``). A class method, as ``ShopToolEnv.factory``: TRL (1.16)
        takes the public functions of the instance's class for tools, which leaves class
        methods and properties out (a static method would be a tool)."""
        return functools.partial(cls, world, db=db, connect=connect, users=users, judge=judge)

    # -- the episode ------------------------------------------------------------------------

    def reset(self, **row: Any) -> str:
        """Start the episode of a dataset row's ``task_id`` (see ``tau2_rows``; other columns,
        such as ``prompt``, are ignored) and return the user's opening message."""
        world = self._runtime.world
        wanted = row.get("task_id")
        if not wanted:
            raise ValueError("the row has no task_id: rows come from tau2_rows")
        made_on = row.get("world")
        if made_on and made_on != world_digest(world):
            raise ValueError(f"task {wanted} belongs to another tau2 world ({str(made_on)[:12]}) "
                             "than this environment's; give the world the rows were made from")
        [task] = select_tasks(world, ids=[str(wanted)])
        return self._start(task)

    @property
    def record(self) -> dict[str, Any] | None:
        """The rollout record (the line ``shop-episodes run --suite tau2-retail`` writes) of
        the ended episode; None before the end."""
        episode = self._episode
        return episode.record() if episode is not None and episode.done else None

    @property
    def verdict(self) -> dict[str, Any] | None:
        """tau2's verdict of the ended episode (the record's ``tau2``); None before."""
        record = self.record
        return record["tau2"] if record is not None else None

    def _reward(self, episode: Tau2Episode) -> float:
        assert episode.score is not None
        return episode.score.reward

