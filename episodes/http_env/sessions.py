"""``EpisodeTable``: the episodes of one controller (reset, step, state, record, close), with
the limits on how many are kept and for how long. The episodes live in the database
(``EpisodeStore``: a snapshot after every reset and step), so every server process on the same
database and pool serves every episode; a process keeps the episodes it last touched in memory
too, and uses that copy only while it is still the stored version. Error texts name a reset as
the client's door does (``reset_as``: ``POST /reset`` on plain HTTP, ``reset`` on the
WebSocket)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from episodes.controller import (
    Action,
    Episode,
    EpisodeController,
    Observation,
    StepResult,
    ToolRequest,
)
from episodes.http_env.protocol import EnvError, ResetBody, _parse, id_problem
from episodes.http_env.snapshot import SnapshotError, dump_episode, load_episode
from episodes.http_env.store import LEASE_SECONDS, EpisodeStore, Row
from episodes.http_env.task_source import TASK_CACHE_SIZE, TaskSource
from mcp_shop import Shop
from mcp_shop.errors import ShopError
from verifiers.types import TaskSpec

__all__ = [
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_MAX_EPISODES",
    "DEFAULT_POOL",
    "TASK_CACHE_SIZE",
    "EpisodeTable",
    "Started",
    "Stepped",
    "task_summary",
]

DEFAULT_MAX_EPISODES = 1024
DEFAULT_IDLE_TIMEOUT = 900.0  # seconds
DEFAULT_POOL = "default"
_SWEEP_EVERY = 1.0  # seconds between two sweeps for idle episodes (per process)

log = logging.getLogger("episodes.http_env")

# What building a task's world raises when the world does not fit the shop (unknown codes or
# variants, values out of range, ...): the client's task is at fault, so 422, not 500.
_WORLD_ERRORS = (ShopError, KeyError, TypeError, OverflowError, ValueError)


@dataclass(frozen=True)
class Started:
    """A started episode: its id, the episode, and its first observation."""

    episode_id: str
    episode: Episode
    observation: Observation


@dataclass(frozen=True)
class Stepped:
    """A step's episode (as the step left it) and result."""

    episode: Episode
    result: StepResult


@dataclass
class EpisodeTable:
    """The episodes of one pool, served by one controller: reset, step, state, record, close.

    ``clock`` (wall-clock seconds, shared by the processes of a pool) only measures idleness;
    it never reaches the shop. ``store`` defaults to the pool ``pool`` in the shop's database.

    An episode's shop session is removed (``mcp_shop.pruning``; its trace lives on in the
    record) once the episode is done, or with ``expose_session`` (the client may still read it
    over ``/mcp``) once the episode is dropped (closed, expired, evicted, its WebSocket gone);
    ``keep_sessions`` keeps them all.
    """

    controller: EpisodeController
    tasks: Sequence[TaskSpec] = ()
    max_episodes: int = DEFAULT_MAX_EPISODES
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    expose_session: bool = False
    keep_sessions: bool = False
    clock: Callable[[], float] = time.time
    pool: str = DEFAULT_POOL
    store: EpisodeStore | None = None
    loop: asyncio.AbstractEventLoop | None = None  # the server's (set when it starts)
    _db: EpisodeStore = field(init=False, repr=False)
    _source: TaskSource = field(init=False, repr=False)
    _cache: OrderedDict[str, tuple[int, Episode]] = field(default_factory=OrderedDict)
    _swept: float = float("-inf")

    def __post_init__(self) -> None:
        self._source = TaskSource(self.controller.shop, self.tasks)
        self._db = self.store or EpisodeStore(self.controller.shop.engine, pool=self.pool,
                                              clock=self.clock)

    @property
    def shop(self) -> Shop:
        return self.controller.shop

    def counts(self) -> dict[str, int]:
        """Episodes kept (by every process of the pool), and those still running."""
        self._sweep(force=True)
        episodes, running = self._db.counts()
        return {"episodes": episodes, "running": running}

    # -- reset --------------------------------------------------------------------------------

    async def reset(self, body: object, reset_as: str = "POST /reset", *,
                    replaces: str | None = None) -> Started:
        """Start the episode a reset body names (see ``ResetBody``); error texts start with
        ``reset_as``.

        ``replaces``: the episode the new one takes over from (a WebSocket session's current
        one). If it is still running and no step holds it, its place counts as free, so a
        session can reset at the cap (--max-episodes); it is dropped only once the new episode
        has started. A refused reset (bad body or task, episode_id in use, the pool full, a
        world the shop cannot build) leaves it running as it was. A reset naming
        ``replaces`` itself as episode_id is refused (409, as any id in use while its episode
        is kept): an id names one episode, and the current one goes on."""
        req = _parse(ResetBody, body, reset_as, endpoint="POST /reset")
        try:
            task = self._source.task(req)
        except EnvError as exc:
            raise EnvError(exc.status, f"{reset_as}: {exc.message}") from None
        episode_id = req.episode_id or secrets.token_urlsafe(16)
        owner = secrets.token_hex(8)
        full = self._db.reserve(
            episode_id, owner, max_episodes=self.max_episodes, idle_timeout=self.idle_timeout,
            idle_reason=self._idle_reason, room_reason="it was finished and made room for a "
            f"newer episode (the server keeps {self.max_episodes})", replaces=replaces)
        self._forget()
        if full == -1:
            mine = (" (this session's current episode, which goes on)"
                    if episode_id == replaces else "")
            raise EnvError(409, f"{reset_as}: episode_id {req.episode_id!r} is in use{mine}; "
                           "leave episode_id out and the server picks a fresh one")
        if full is not None:
            raise EnvError(429, f"{reset_as}: {full} episodes are running, the most this "
                           f"server keeps (--max-episodes {self.max_episodes}); finish or "
                           "close some (POST /close, or end their WebSocket sessions), or wait "
                           f"for idle ones to expire after {self.idle_timeout:g} s")
        self._cache.pop(episode_id, None)
        episode = self.controller.episode(task, policy=req.policy, trial=req.trial)
        try:
            async with self._holding(episode_id, owner):  # the opening may take a while
                obs = await episode.reset()
        except _WORLD_ERRORS as exc:  # a hand-written task whose world the shop rejects
            self._db.abandon(episode_id, owner, replaces=replaces)
            self._forget([episode.session_id])
            detail = str(exc) or type(exc).__name__
            if isinstance(exc, KeyError):  # str(KeyError('x')) is just "'x'"
                detail = f"missing or unknown key {detail}"
            raise EnvError(422, f"{reset_as}: task {task.task_id}'s world cannot be built on "
                           f"this shop: {detail}") from None
        except BaseException:
            self._db.abandon(episode_id, owner, replaces=replaces)
            self._forget([episode.session_id])
            raise
        try:
            self._save(episode_id, owner, episode, version=0, step=False)
        except BaseException:
            self._db.abandon(episode_id, owner, replaces=replaces)
            raise
        if replaces is not None:
            self._cache.pop(replaces, None)
            self._db.settle(replaces, owner)
            self._forget()
        return Started(episode_id, episode, obs)

    @property
    def _idle_reason(self) -> str:
        return f"it expired after {self.idle_timeout:g} s without a request"

    def _sweep(self, *, force: bool = False) -> None:
        now = self.clock()
        if force or now - self._swept >= _SWEEP_EVERY or now < self._swept:
            self._swept = now
            self._db.sweep(self.idle_timeout, self._idle_reason)
            self._forget()

    def _forget(self, sessions: Sequence[str] = ()) -> None:
        """Remove the shop sessions of the episodes dropped meanwhile, and ``sessions``
        (unless ``keep_sessions``; a session already gone is fine)."""
        from mcp_shop.pruning import remove_session

        for sid in [*self._db.take_dropped(), *sessions]:
            if sid and not self.keep_sessions:
                try:
                    remove_session(self.shop.engine, sid, missing_ok=True)
                except Exception:  # the episode is gone either way; the sweep is best effort
                    log.exception("could not remove shop session %s", sid)

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
                   reset_as: str = "POST /reset") -> Stepped:
        """Run ``action`` in the episode: 404 unknown, 409 over or busy (a step of it is
        running, in this process or another)."""
        episode_id = self._required(episode_id, "POST /step")
        self._sweep()
        owner = secrets.token_hex(8)
        row = self._db.claim(episode_id, owner, cached=self._version(episode_id))
        if row is None:
            self._refuse_step(episode_id, reset_as)
        assert row is not None
        try:
            episode = self._load(row)
        except BaseException:
            self._db.commit(episode_id, owner, None, done=False, stop_reason="", record=None,
                            step=False)
            raise
        if self.expose_session:
            episode.stale = True  # tools may have been called over /mcp meanwhile
        try:
            async with self._holding(episode_id, owner):
                result = await episode.step(action)
        finally:
            self._save(episode_id, owner, episode, version=row.version, step=True)
        return Stepped(episode, result)

    def _refuse_step(self, episode_id: str, reset_as: str) -> None:
        """Why a step could not claim the episode, as an ``EnvError``."""
        row = self._row(episode_id, reset_as)
        if row.lease_lapsed and self._db.drop_lapsed(episode_id, _CUT_OFF):
            self._cache.pop(episode_id, None)
            self._forget()
            self._row(episode_id, reset_as)  # 404, saying why
        if row.leased or not row.started:
            raise EnvError(409, f"episode {episode_id}: its previous step is still running; "
                           "send one step at a time and wait for its answer")
        if row.done:
            raise EnvError(409, f"episode {episode_id} is over ({row.stop_reason}); its "
                           "record is in the last observation and at GET /record; start a "
                           f"new episode with {reset_as}")
        raise EnvError(409, f"episode {episode_id} changed while this step was being "
                       "started; send it again")

    @contextlib.asynccontextmanager
    async def _holding(self, episode_id: str, owner: str) -> AsyncIterator[None]:
        """Renew the step's lease while it runs."""

        async def renew() -> None:
            while True:
                await asyncio.sleep(LEASE_SECONDS / 3)
                try:
                    self._db.renew(episode_id, owner)
                except Exception:  # the database is away: the step's commit will say so
                    log.exception("episode %s: its step's lease could not be renewed",
                                  episode_id)

        renewer = asyncio.ensure_future(renew())
        try:
            yield
        finally:
            renewer.cancel()

    def _save(self, episode_id: str, owner: str, episode: Episode, *, version: int,
              step: bool) -> None:
        """Store the episode's new state and end the lease; keep it in memory as that version."""
        self._cache.pop(episode_id, None)
        try:
            snapshot = dump_episode(episode)
            record = None
            if episode.done and episode.breakdown is not None:
                record = json.dumps(episode.record(), default=str, allow_nan=True)
        except Exception:  # a bug: say so, and do not let the episode go on from old state
            log.exception("episode %s: its state could not be stored", episode_id)
            self._db.commit(episode_id, owner, None, done=False, stop_reason="", record=None,
                            step=step)
            self._db.drop(episode_id, "its state could not be stored (see the server's log)")
            self._forget()
            raise
        finished = episode.done and not self.expose_session  # its session is not needed now
        if not self._db.commit(episode_id, owner, snapshot, done=episode.done,
                               stop_reason=episode.stop_reason, record=record, step=step,
                               session_id="" if finished else episode.session_id):
            raise EnvError(409, f"episode {episode_id} was dropped while this step ran; start "
                           "a new one")
        if finished:
            self._forget([episode.session_id])
        self._cache[episode_id] = (version + 1, episode)
        while len(self._cache) > self.max_episodes:
            self._cache.popitem(last=False)

    def _version(self, episode_id: str) -> int | None:
        """The version of the episode this process has in memory, if any."""
        cached = self._cache.get(episode_id)
        return cached[0] if cached is not None else None

    def _load(self, row: Row) -> Episode:
        """The episode of ``row``: the copy in memory if it is that version, else the stored
        snapshot (409 when it was written by an incompatible server)."""
        cached = self._cache.get(row.episode_id)
        if cached is not None and cached[0] == row.version:
            self._cache.move_to_end(row.episode_id)
            return cached[1]
        assert row.snapshot is not None
        try:
            episode = load_episode(self.controller, row.snapshot)
        except SnapshotError as exc:
            raise EnvError(409, f"episode {row.episode_id} cannot be continued here: "
                           f"{exc}") from None
        self._cache[row.episode_id] = (row.version, episode)
        while len(self._cache) > self.max_episodes:
            self._cache.popitem(last=False)
        return episode

    # -- reads --------------------------------------------------------------------------------

    def episode(self, episode_id: str | None, what: str = "GET /state",
                reset_as: str = "POST /reset") -> Episode:
        """The live episode ``episode_id`` (422 without one, 404 unknown or gone)."""
        row = self._row(self._required(episode_id, what), reset_as)
        if not row.started:
            raise EnvError(409, f"episode {episode_id} is still starting; ask again")
        return self._load(row)

    def steps(self, episode_id: str) -> int:
        """Steps taken in a live episode so far (0 for an unknown one)."""
        row = self._db.get(episode_id, cached=self._version(episode_id))
        return row.steps if row is not None and row.gone is None else 0

    def record(self, episode_id: str | None) -> dict[str, Any]:
        """The rollout record of a finished episode (409 while it runs)."""
        row = self._row(self._required(episode_id, "GET /record"), "POST /reset")
        if row.record is None:
            turn = self._load(row).turn if row.started else 0
            raise EnvError(409, f"episode {episode_id} is still running (turn {turn}); "
                           "its record exists once a step answers done: true")
        record: dict[str, Any] = json.loads(row.record)
        return record

    def close(self, episode_id: str | None) -> None:
        """Forget an episode now (409 while a step of it runs)."""
        episode_id = self._required(episode_id, "POST /close")
        self._row(episode_id)
        self._cache.pop(episode_id, None)
        dropped = self._db.drop(episode_id, "it was closed")
        self._forget()
        if not dropped:
            self._row(episode_id)  # gone meanwhile: 404
            raise EnvError(409, f"episode {episode_id}: a step is running; close it after")

    def release(self, episode_id: str) -> None:
        """The client that ran the episode went away (a WebSocket session ended): drop the
        episode if it is still running; a finished one stays for GET /record."""
        if self._db.drop(episode_id, "its WebSocket session ended before it was done",
                         only_running=True):
            self._cache.pop(episode_id, None)
            self._forget()

    def _required(self, episode_id: str | None, what: str) -> str:
        if not episode_id:
            raise EnvError(422, f"{what}: the query needs episode_id (from POST /reset), e.g. "
                           f"{what.split()[1]}?episode_id=...")
        problem = id_problem(episode_id)
        if problem is not None:  # no episode has it, and PostgreSQL could not even look
            raise EnvError(404, f"unknown episode {episode_id!r}: {problem}; start one with "
                           "POST /reset")
        return episode_id

    def _row(self, episode_id: str, reset_as: str = "POST /reset") -> Row:
        """The live episode's row, marked as used (404 unknown or gone, saying why)."""
        self._sweep()
        row = self._db.get(episode_id, touch=True, cached=self._version(episode_id))
        if row is None or row.gone is not None:
            self._cache.pop(episode_id, None)
            why = f"it is gone: {row.gone}" if row is not None else "no episode has this id"
            raise EnvError(404, f"unknown episode {episode_id!r}: {why}; start one with "
                           f"{reset_as}")
        return row


_CUT_OFF = ("a step of it was cut off (the server process running it stopped), so its state "
            "and its shop session no longer agree")


def task_summary(task: TaskSpec) -> dict[str, Any]:
    """The task's id, family, difficulty and seed."""
    return {"task_id": task.task_id, "family": task.family, "difficulty": task.difficulty,
            "seed": task.seed}
