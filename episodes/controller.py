"""The episode controller: seeds a task's world, plays the shopper, lets an agent act through the
shop's MCP tools, reads the server's trace and scores the outcome with the verifiers.

    controller = EpisodeController(shop)                # in-memory MCP server over ``shop``
    async with controller:
        episode = controller.episode(task)
        obs = await episode.reset()
        while not (step := await episode.step(action)).done: ...
        records = await controller.run(agent, tasks, concurrency=16)

The agent only ever reaches the shop through its MCP tools: over an MCP client (in memory by
default, or the URL of a running HTTP server, or a stdio command), or, for trainers in the same
process, called directly without the protocol (``EpisodeController(shop, connect="direct")``:
same results, errors, validation and trace records; see ``episodes.links``). The controller
injects the session handle into every call, so agents never see it. The controller itself uses
the Python API for what the agent must not do: building the world, reading state and the trace.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import marshal
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio

from episodes.episode import (
    ENV_VERSION,
    HIDDEN_TOOLS,
    MAX_IDLE_STEPS,
    MUTATING_TOOLS,
    Episode,
    RewardMode,
)
from episodes.links import Connect, make_link, openai_tool
from episodes.records import FunctionTool
from episodes.steps import (
    Action,
    Agent,
    Observation,
    Policy,
    StepResult,
    ToolRequest,
    ToolResult,
    start_policy,
)
from mcp_shop import Shop
from mcp_shop.db import write_tx
from mcp_shop.pruning import delete_sessions
from verifiers.types import TaskSpec

__all__ = [
    "ENV_VERSION",
    "HIDDEN_TOOLS",
    "MAX_IDLE_STEPS",
    "MUTATING_TOOLS",
    "Action",
    "Agent",
    "Episode",
    "EpisodeController",
    "RewardMode",
    "Observation",
    "Policy",
    "StepResult",
    "ToolRequest",
    "ToolResult",
    "play_in_order",
    "start_policy",
]

# Sessions of finished episodes that ``run`` removes together, in one transaction: most left
# in the database at once (a crash leaves at most these, ordinary sessions that ``mcp-shop
# prune`` removes); one removal per session costs about three times as much CPU
REMOVAL_BATCH = 32


# -- the controller ---------------------------------------------------------------------------


_FROZEN = [0]  # controllers open in this process (see _freeze_gc)


def _freeze_gc() -> None:
    """While controllers are open, keep the objects that existed when the first one opened
    (the catalog, the server, the modules: most of the process's objects, all long-lived) out
    of Python's cyclic garbage collection: a full collection would walk them all for nothing
    every few hundred episodes (about 5-10% of an episode's CPU time on the direct path).
    The last controller to close gives them back (``gc.unfreeze``), so nothing is kept for
    good."""
    if _FROZEN[0] == 0:
        gc.freeze()
    _FROZEN[0] += 1


def _unfreeze_gc() -> None:
    if _FROZEN[0] > 0:
        _FROZEN[0] -= 1
        if _FROZEN[0] == 0:
            gc.unfreeze()


async def play_in_order(play: Callable[..., Awaitable[dict[str, Any]]], tasks: Sequence[Any],
                        *, concurrency: int = 1, trials: int = 1,
                        on_done: Callable[[dict[str, Any]], Any] | None = None,
                        ) -> list[dict[str, Any]]:
    """``await play(task, trial=t)`` for every task ``trials`` times, up to ``concurrency`` at
    once; ``on_done(record)`` (awaited if it returns an awaitable) as each ends; the records in
    task order, the trials of a task together."""
    jobs = [(task, t) for task in tasks for t in range(trials)]
    records: list[dict[str, Any] | None] = [None] * len(jobs)
    limiter = anyio.CapacityLimiter(max(1, concurrency))

    async def one(k: int, task: Any, trial: int) -> None:
        async with limiter:
            records[k] = await play(task, trial=trial)
        if on_done is not None:
            result = on_done(records[k])  # type: ignore[arg-type]
            if isinstance(result, Awaitable):
                await result

    async with anyio.create_task_group() as tg:
        for k, (task, trial) in enumerate(jobs):
            tg.start_soon(one, k, task, trial)
    return [r for r in records if r is not None]


class EpisodeController:
    """Runs episodes against one shop, through one MCP connection (or the direct path)."""

    def __init__(self, shop: Shop, *, connect: Connect = None,
                 reward_mode: RewardMode = "sparse",
                 rephraser: Callable[[str, str], str] | None = None,
                 keep_sessions: bool = False) -> None:
        """``connect``: None for an in-memory MCP server over ``shop``; ``"direct"`` for that
        server's tools called in process without the MCP protocol (same results, errors,
        validation and trace records; for trainers); an ``http(s)://`` URL of a running server
        on the same database; or a stdio command (list of words).
        ``keep_sessions``: keep each episode's shop session in the database after the episode
        (by default it is removed, with every row it owns, once the record is built: the record
        holds its trace; ``run`` removes its episodes' sessions in batches, see ``run``)."""
        self.shop = shop
        self.keep_sessions = keep_sessions
        self.reward_mode: RewardMode = reward_mode
        self.rephraser = rephraser
        self._link = make_link(shop, connect)
        self.tools: list[dict[str, Any]] = []
        self._record_tools: tuple[list[dict[str, Any]], list[FunctionTool], bytes] | None = None
        self._gc_frozen = False
        self._runs = 0  # run() calls in progress: their episodes' sessions go in batches
        self._finished: list[str] = []  # sessions of their finished episodes not removed yet

    async def __aenter__(self) -> EpisodeController:
        await self._link.__aenter__()
        listed = await self._link.list_tools()
        self.tools = [openai_tool(t) for t in listed if t.name not in HIDDEN_TOOLS]
        if not self._gc_frozen:
            _freeze_gc()
            self._gc_frozen = True
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            self._remove_finished()
            await self._link.__aexit__(*exc)
        finally:
            if self._gc_frozen:
                self._gc_frozen = False
                _unfreeze_gc()

    def record_tools(self) -> tuple[list[FunctionTool], bytes]:
        """``tools`` as every record holds them: validated once, and their record data (JSON
        values) held ``marshal``-ed, from which each record gets its own copy (a third of the
        cost of parsing it from JSON), rather than validated and serialised per episode. The
        bytes never leave the process."""
        held = self._record_tools
        if held is None or held[0] is not self.tools:
            validated = [FunctionTool.model_validate(t) for t in self.tools]
            held = self._record_tools = (self.tools, validated, marshal.dumps(
                [t.model_dump(mode="json") for t in validated]))
        return held[1], held[2]

    def episode(self, task: TaskSpec, *, policy: str = "", trial: int = 0) -> Episode:
        return Episode(self, task, policy=policy, trial=trial)

    def release(self, episode: Episode) -> None:
        """Done with ``episode``: remove its shop session unless ``keep_sessions`` (call it
        after the record is built; environments that step episodes themselves call it when
        an episode is replaced or closed)."""
        if not self.keep_sessions:
            episode.close()

    async def run(self, agent: Agent, tasks: Sequence[TaskSpec], *, concurrency: int = 1,
                  trials: int = 1, on_done: Callable[[dict[str, Any]], Any] | None = None,
                  ) -> list[dict[str, Any]]:
        """Run ``agent`` on every task (``trials`` times each) with up to ``concurrency``
        episodes in flight; returns the rollout records in task order.

        The sessions of finished episodes are removed ``REMOVAL_BATCH`` at a time, and all of
        them by the time this returns or raises (unless ``keep_sessions``)."""
        self._runs += 1
        try:
            return await play_in_order(functools.partial(self.run_episode, agent), tasks,
                                       concurrency=concurrency, trials=trials, on_done=on_done)
        finally:
            self._runs -= 1
            self._remove_finished()

    def _retire(self, episode: Episode) -> None:
        """``release`` for an episode ``run`` played: its session joins the batch removed
        next (at once when no ``run`` is in progress)."""
        if self.keep_sessions or self._runs == 0:
            self.release(episode)
            return
        if episode.session_id and not episode.closed:
            self._finished.append(episode.session_id)
        episode.closed = True
        if len(self._finished) >= REMOVAL_BATCH:
            self._remove_finished()

    def _remove_finished(self) -> None:
        """Remove the sessions ``_retire`` set aside, in one transaction."""
        if self._finished:
            ids, self._finished = self._finished, []
            with write_tx(self.shop.engine) as conn:
                delete_sessions(conn, ids)

    async def run_episode(self, agent: Agent, task: TaskSpec, *, trial: int = 0
                          ) -> dict[str, Any]:
        """One full episode of ``agent`` on ``task``; returns its rollout record."""
        episode = self.episode(task, policy=agent.name, trial=trial)
        try:
            obs = await episode.reset()
            seed = int.from_bytes(hashlib.sha256(
                f"{task.task_id}:{task.seed}:{trial}".encode()).digest()[:4], "big")
            policy = start_policy(agent, task, obs, seed=seed, trial=trial)
            while True:
                action = await policy.act(obs)
                step = await episode.step(action)
                obs = step.observation
                if step.done:
                    break
            return episode.record()  # built before the session goes (it holds the trace)
        finally:
            self._retire(episode)
