"""``EpisodeTable``: the live episodes of one controller (reset, step, state, record,
close), with the limits on how many are kept and for how long. Error texts name a reset as the
client's door does (``reset_as``: ``POST /reset`` on plain HTTP, ``reset`` on the WebSocket)."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from episodes.controller import (
    Action,
    Episode,
    EpisodeController,
    Observation,
    StepResult,
    ToolRequest,
)
from episodes.difficulty import MAX_DIFFICULTY
from episodes.http_env.protocol import EnvError, ResetBody, _parse
from episodes.tasks import catalog_mismatch
from mcp_shop import Shop
from mcp_shop.errors import ShopError
from verifiers.types import TaskSpec

__all__ = [
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_MAX_EPISODES",
    "TASK_CACHE_SIZE",
    "EpisodeTable",
    "Started",
    "task_summary",
]

DEFAULT_MAX_EPISODES = 1024
DEFAULT_IDLE_TIMEOUT = 900.0  # seconds
TASK_CACHE_SIZE = 512  # generated tasks kept (generation is deterministic)

# What building a task's world raises when the world does not fit the shop (unknown codes or
# variants, values out of range, ...): the client's task is at fault, so 422, not 500.
_WORLD_ERRORS = (ShopError, KeyError, TypeError, OverflowError, ValueError)


@dataclass(frozen=True)
class Started:
    """A started episode: its id, the episode, and its first observation."""

    episode_id: str
    episode: Episode
    observation: Observation


@dataclass
class _Live:
    episode: Episode
    last_used: float
    busy: bool = False
    steps: int = 0


@dataclass
class EpisodeTable:
    """The live episodes of one controller: reset, step, state, record, close.

    ``clock`` (monotonic seconds) only measures idleness; it never reaches the shop.
    """

    controller: EpisodeController
    tasks: Sequence[TaskSpec] = ()
    max_episodes: int = DEFAULT_MAX_EPISODES
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    expose_session: bool = False
    clock: Callable[[], float] = time.monotonic
    loop: asyncio.AbstractEventLoop | None = None  # the server's (set when it starts)
    _live: OrderedDict[str, _Live] = field(default_factory=OrderedDict)
    _gone: OrderedDict[str, str] = field(default_factory=OrderedDict)
    _generated: OrderedDict[tuple[str, int, int], TaskSpec] = field(default_factory=OrderedDict)
    _by_id: dict[str, TaskSpec] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._by_id = {t.task_id: t for t in self.tasks}

    @property
    def shop(self) -> Shop:
        return self.controller.shop

    def counts(self) -> dict[str, int]:
        """Episodes kept, and those still running."""
        self._sweep()
        running = sum(1 for x in self._live.values() if not x.episode.done)
        return {"episodes": len(self._live), "running": running}

    # -- reset --------------------------------------------------------------------------------

    async def reset(self, body: object, reset_as: str = "POST /reset") -> Started:
        """Start the episode a reset body names (see ``ResetBody``); error texts start with
        ``reset_as``."""
        req = _parse(ResetBody, body, reset_as, endpoint="POST /reset")
        try:
            task = self._task(req)
            if req.episode_id is not None and req.episode_id in self._live:
                raise EnvError(409, f"episode_id {req.episode_id!r} is in use; leave "
                               "episode_id out and the server picks a fresh one")
            self._make_room()
        except EnvError as exc:
            raise EnvError(exc.status, f"{reset_as}: {exc.message}") from None
        episode = self.controller.episode(task, policy=req.policy, trial=req.trial)
        try:
            obs = await episode.reset()
        except _WORLD_ERRORS as exc:  # a hand-written task whose world the shop rejects
            detail = str(exc) or type(exc).__name__
            if isinstance(exc, KeyError):  # str(KeyError('x')) is just "'x'"
                detail = f"missing or unknown key {detail}"
            raise EnvError(422, f"{reset_as}: task {task.task_id}'s world cannot be built on "
                           f"this shop: {detail}") from None
        episode_id = req.episode_id or secrets.token_urlsafe(16)
        self._gone.pop(episode_id, None)
        self._live[episode_id] = _Live(episode, self.clock())
        return Started(episode_id, episode, obs)

    def _task(self, req: ResetBody) -> TaskSpec:
        forms = "give either family and difficulty (and seed, default 0), or task (a TaskSpec " \
                "object), or task_id (a task of the server's --tasks file)"
        named = [k for k in ("family", "task", "task_id") if getattr(req, k) is not None]
        if len(named) != 1:
            found = f"got {' and '.join(named)}" if named else "got none of them"
            raise EnvError(422, f"{forms}; {found}")
        if req.family is None and (req.difficulty is not None or req.seed is not None):
            raise EnvError(422, "difficulty and seed go with family (a task or "
                           "task_id brings its own)")
        if req.task is not None:
            return self._given_task(req.task)
        if req.task_id is not None:
            return self._listed_task(req.task_id)
        assert req.family is not None
        if req.difficulty is None:
            raise EnvError(422, f"family needs a difficulty (0 to {MAX_DIFFICULTY})")
        return self._generated_task(req.family, req.difficulty, req.seed or 0)

    def _given_task(self, doc: dict[str, Any]) -> TaskSpec:
        from episodes.tasks import _with_defaults

        try:
            task = TaskSpec.model_validate(_with_defaults(doc))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"])
            raise EnvError(422, f"task is not a valid task: {where}: "
                           f"{first['msg']} ({exc.error_count()} problem(s); the schema is "
                           "`shop-episodes tasks --schema`)") from None
        except (TypeError, ValueError, OverflowError) as exc:
            raise EnvError(422, f"task is not a valid task: {exc} (the schema is "
                           "`shop-episodes tasks --schema`)") from None
        problem = catalog_mismatch(task, self.shop)
        if problem:
            raise EnvError(422, f"{problem}")
        return task

    def _listed_task(self, task_id: str) -> TaskSpec:
        if not self._by_id:
            raise EnvError(422, "this server was started without --tasks, so there "
                           "is no task_id to pick; give family and difficulty, or a task")
        task = self._by_id.get(task_id)
        if task is None:
            some = ", ".join(list(self._by_id)[:5])
            raise EnvError(404, f"no task {task_id!r} in the server's --tasks "
                           f"({len(self._by_id)} tasks, e.g. {some})")
        return task

    def _generated_task(self, family: str, difficulty: int, seed: int) -> TaskSpec:
        from episodes.generate import GenerationError, families, generate_task

        known = families()
        if family not in known:
            raise EnvError(422, f"unknown family {family!r}; families are "
                           f"{', '.join(known)}")
        key = (family, difficulty, seed)
        task = self._generated.get(key)
        if task is None:
            try:
                task = generate_task(self.shop, family, difficulty, seed)
            except (GenerationError, ValueError) as exc:
                raise EnvError(422, f"cannot generate {family} d{difficulty} "
                               f"seed {seed}: {exc}; try another seed") from None
            self._generated[key] = task
            while len(self._generated) > TASK_CACHE_SIZE:
                self._generated.popitem(last=False)
        self._generated.move_to_end(key)
        return task

    def _make_room(self) -> None:
        """Drop idle episodes; if the table is still full, the least recently used finished
        one; if every episode is running, refuse."""
        self._sweep()
        if len(self._live) < self.max_episodes:
            return
        for episode_id, live in self._live.items():  # least recently used first
            if live.episode.done and not live.busy:
                self._drop(episode_id, "it was finished and made room for a newer episode "
                           f"(the server keeps {self.max_episodes})")
                return
        raise EnvError(429, f"{len(self._live)} episodes are running, the most "
                       f"this server keeps (--max-episodes {self.max_episodes}); finish or "
                       "close some (POST /close, or end their WebSocket sessions), or wait "
                       "for idle ones to expire after "
                       f"{self.idle_timeout:g} s")

    def _sweep(self) -> None:
        now = self.clock()
        while self._live:
            episode_id, live = next(iter(self._live.items()))
            if live.busy or now - live.last_used <= self.idle_timeout:
                return
            self._drop(episode_id, f"it expired after {self.idle_timeout:g} s without a request")

    def _drop(self, episode_id: str, reason: str) -> None:
        self._live.pop(episode_id, None)
        self._gone[episode_id] = reason
        while len(self._gone) > 10 * self.max_episodes:
            self._gone.popitem(last=False)

    # -- step ---------------------------------------------------------------------------------

    def action(self, tool_calls: Sequence[tuple[str, dict[str, Any]]], message: str | None,
               done: bool) -> Action:
        """An action for ``step``, refused (422, nothing run) if it does nothing or names a
        tool the agents are not offered."""
        if not tool_calls and message is None and not done:
            raise EnvError(422, "step: the action does nothing: give tool_calls, a message to "
                           "the shopper, or done: true")
        names = {t["function"]["name"] for t in self.controller.tools}
        unknown = sorted({name for name, _ in tool_calls} - names)
        if unknown:
            raise EnvError(422, f"step: unknown tool {unknown[0]!r} (the action was not run); "
                           f"the tools are {', '.join(sorted(names))}")
        return Action(tool_calls=[ToolRequest(name=n, arguments=a) for n, a in tool_calls],
                      message=message, done=done)

    async def step(self, episode_id: str | None, action: Action,
                   reset_as: str = "POST /reset") -> StepResult:
        """Run ``action`` in the episode: 404 unknown, 409 over or busy."""
        episode_id = self._required(episode_id, "POST /step")
        live = self._get(episode_id, reset_as)
        episode = live.episode
        if live.busy:
            raise EnvError(409, f"episode {episode_id}: its previous step is still running; "
                           "send one step at a time and wait for its answer")
        if episode.done:
            raise EnvError(409, f"episode {episode_id} is over ({episode.stop_reason}); its "
                           "record is in the last observation and at GET /record; start a "
                           f"new episode with {reset_as}")
        live.busy = True
        live.steps += 1
        try:
            if self.expose_session:
                episode.stale = True  # tools may have been called over /mcp meanwhile
            return await episode.step(action)
        finally:
            live.busy = False
            self._touch(episode_id)

    # -- reads --------------------------------------------------------------------------------

    def episode(self, episode_id: str | None, what: str = "GET /state",
                reset_as: str = "POST /reset") -> Episode:
        """The live episode ``episode_id`` (422 without one, 404 unknown or gone)."""
        return self._get(self._required(episode_id, what), reset_as).episode

    def steps(self, episode_id: str) -> int:
        """Steps taken in a live episode so far (0 for an unknown one)."""
        live = self._live.get(episode_id)
        return live.steps if live is not None else 0

    def record(self, episode_id: str | None) -> dict[str, Any]:
        """The rollout record of a finished episode (409 while it runs)."""
        episode = self.episode(episode_id, "GET /record")
        if not episode.done:
            raise EnvError(409, f"episode {episode_id} is still running (turn {episode.turn}); "
                           "its record exists once a step answers done: true")
        return episode.record()

    def close(self, episode_id: str | None) -> None:
        """Forget an episode now (409 while a step of it runs)."""
        episode_id = self._required(episode_id, "POST /close")
        live = self._get(episode_id)
        if live.busy:
            raise EnvError(409, f"episode {episode_id}: a step is running; close it after")
        self._drop(episode_id, "it was closed")

    def release(self, episode_id: str) -> None:
        """The client that ran the episode went away (a WebSocket session ended): drop the
        episode if it is still running; a finished one stays for GET /record."""
        live = self._live.get(episode_id)
        if live is not None and not live.episode.done and not live.busy:
            self._drop(episode_id, "its WebSocket session ended before it was done")

    def _required(self, episode_id: str | None, what: str) -> str:
        if not episode_id:
            raise EnvError(422, f"{what}: the query needs episode_id (from POST /reset), e.g. "
                           f"{what.split()[1]}?episode_id=...")
        return episode_id

    def _get(self, episode_id: str, reset_as: str = "POST /reset") -> _Live:
        self._sweep()
        live = self._live.get(episode_id)
        if live is None:
            reason = self._gone.get(episode_id)
            why = f"it is gone: {reason}" if reason else "no episode has this id"
            raise EnvError(404, f"unknown episode {episode_id!r}: {why}; start one with "
                           f"{reset_as}")
        self._touch(episode_id)
        return live

    def _touch(self, episode_id: str) -> None:
        live = self._live.get(episode_id)
        if live is not None:
            live.last_used = self.clock()
            self._live.move_to_end(episode_id)


def task_summary(task: TaskSpec) -> dict[str, Any]:
    """The task's id, family, difficulty and seed."""
    return {"task_id": task.task_id, "family": task.family, "difficulty": task.difficulty,
            "seed": task.seed}
