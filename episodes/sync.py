"""Synchronous access to the async episode controller, for trainers that call environments
from plain (non-async) code: TRL's ``environment_factory`` and Gymnasium.

One asyncio event loop runs in a daemon thread per process; each ``SyncController`` keeps an
``EpisodeController`` open on it (its MCP connection lives in one long-running task there) and
runs the episodes' coroutines on it. Many environment instances share one shop, one in-memory
MCP server and one connection:

    runtime = shared_controller(shop)                  # cached per (shop, connect, reward mode)
    episode, obs = runtime.start(task)
    step = runtime.step(episode, Action(message="Hello!"))

With no shop given, ``ShopSettings.from_env()`` says which one (environment variables, so
that classes built with no arguments can be configured):

    MCP_SHOP_DB             database URL (default sqlite:///shop.db)
    MCP_SHOP_CATALOG_SEED   catalog seed, used when the catalog is first built (default 0)
    MCP_SHOP_CATALOG_SIZE   catalog size, used when the catalog is first built (default 10000)
    MCP_SHOP_CONNECT        an http(s):// URL of a running server on the same database, a
                            stdio command line, or "direct" (the tools called in this process
                            without the MCP protocol: same results and records, faster);
                            unset: an in-memory MCP server in this process
    MCP_SHOP_REWARD_MODE    sparse (default), shaped or dense
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import os
import shlex
import threading
import weakref
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast, get_args

from episodes.controller import (
    Action,
    Episode,
    EpisodeController,
    Observation,
    RewardMode,
    StepResult,
)
from mcp_shop import Shop
from mcp_shop.db import DEFAULT_DB_URL, default_db_url
from verifiers.types import TaskSpec

__all__ = [
    "EpisodeOver",
    "HeldRuntime",
    "ShopSettings",
    "SyncController",
    "background_loop",
    "shared_controller",
    "shared_shop",
]

T = TypeVar("T")

DEFAULT_CATALOG_SIZE = 10_000
REWARD_MODES: tuple[str, ...] = get_args(RewardMode)


# -- the background event loop ----------------------------------------------------------------


class _LoopThread:
    """An asyncio event loop running forever in a daemon thread."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._main, name="episodes-sync-loop",
                                       daemon=True)
        self.thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the loop; its result arrives in the returned future."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and wait for its result (from any other thread)."""
        if threading.current_thread() is self.thread:
            coro.close()
            raise RuntimeError("a synchronous environment call was made from inside its own "
                               "event loop; call the async controller directly there")
        return self.submit(coro).result(timeout)


_LOOP: _LoopThread | None = None
_LOOP_LOCK = threading.Lock()


def background_loop() -> _LoopThread:
    """This process's background loop (started on first use, and again after a fork)."""
    global _LOOP
    with _LOOP_LOCK:
        if _LOOP is None or _LOOP.pid != os.getpid() or not _LOOP.thread.is_alive():
            _LOOP = _LoopThread()
        return _LOOP


# -- configuration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ShopSettings:
    """Which shop the environments use and how they reach it."""

    db: str = DEFAULT_DB_URL
    catalog_seed: int = 0
    catalog_size: int = DEFAULT_CATALOG_SIZE
    connect: str | tuple[str, ...] | None = None
    reward_mode: RewardMode = "sparse"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ShopSettings:
        """Settings from the ``MCP_SHOP_*`` environment variables (see the module docstring);
        a bad value is a ``ValueError`` naming the variable."""
        env = os.environ if environ is None else environ
        connect: str | tuple[str, ...] | None = None
        target = env.get("MCP_SHOP_CONNECT", "").strip()
        if target:
            connect = target if target.startswith(("http://", "https://")) \
                or target == "direct" else tuple(shlex.split(target))
        mode = env.get("MCP_SHOP_REWARD_MODE", "sparse").strip() or "sparse"
        if mode not in REWARD_MODES:
            raise ValueError(f"MCP_SHOP_REWARD_MODE={mode!r}: choose one of "
                             f"{', '.join(REWARD_MODES)}")
        return cls(db=default_db_url(env),
                   catalog_seed=_int_var(env, "MCP_SHOP_CATALOG_SEED", 0),
                   catalog_size=_int_var(env, "MCP_SHOP_CATALOG_SIZE", DEFAULT_CATALOG_SIZE),
                   connect=connect, reward_mode=cast(RewardMode, mode))


def _int_var(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not an integer") from None
    if value < 0:
        raise ValueError(f"{name}={text!r} must not be negative")
    return value


# -- the synchronous controller ---------------------------------------------------------------


class EpisodeOver(RuntimeError):
    """A step of an episode that has already ended (possibly by a step made meanwhile from
    another thread)."""


class HeldRuntime:
    """An async context manager (``held``) kept open on the background loop, and episodes of
    it driven by blocking calls: what ``SyncController`` (the shop's episodes) and the tau2
    doors' runtime (``episodes.tau2.sync``) share.

    ``held.episode(task, policy=...)`` makes an episode whose ``reset()`` and ``step(action)``
    are coroutines and whose ``done`` says it has ended. Thread-safe: environments in several
    threads may start and step episodes at once (each call is one coroutine on the shared
    loop); the steps of any one episode are serialised, so threads sharing an episode cannot
    interleave inside a step (tool budget, call ids)."""

    def __init__(self, held: Any, *, timeout: float | None = 600.0) -> None:
        """``timeout``: seconds to wait for any one call (None: no limit)."""
        self.held = held
        self.timeout = timeout
        self._loop = background_loop()
        self._stop: asyncio.Event | None = None
        self._closed = False
        self._locks: dict[int, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._host = self._loop.submit(self._hold(ready))
        ready.result(timeout)  # re-raises a failure to connect

    async def _hold(self, ready: concurrent.futures.Future[None]) -> None:
        """Keep ``held`` open in this one task (the MCP client's task groups must be entered
        and left by the same task) until ``close``."""
        self._stop = asyncio.Event()
        try:
            async with self.held:
                ready.set_result(None)
                await self._stop.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            raise

    @property
    def usable(self) -> bool:
        """Open, and its loop runs in this process (not a stale copy from before a fork)."""
        return (not self._closed and self._loop.pid == os.getpid()
                and self._loop.thread.is_alive())

    @property
    def tools(self) -> list[dict[str, Any]]:
        """The agent's tools in OpenAI function format (no session handle), as listed."""
        tools: list[dict[str, Any]] = self.held.tools
        return tools

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine that uses the held object and wait for its result."""
        if self._closed:
            coro.close()
            raise RuntimeError("this controller is closed")
        return self._loop.run(coro, self.timeout)

    def start(self, task: Any, *, policy: str = "") -> tuple[Any, Observation]:
        """A new episode of ``task``, reset: the episode and its first observation."""
        episode = self.held.episode(task, policy=policy)
        return episode, self.run(episode.reset())

    def release(self, episode: Any) -> None:
        """Done with ``episode`` (replaced or dropped by a door): its session leaves the
        database; its record stays readable (it holds the trace)."""
        episode.close()

    def step(self, episode: Any, action: Action) -> StepResult:
        """One step of ``episode``, never concurrent with another step of it; ``EpisodeOver``
        if it has ended (also when another thread ended it while this one waited)."""
        with self._episode_lock(episode):
            if episode.done:
                raise EpisodeOver("the episode is over: reset() a new one")
            result: StepResult = self.run(episode.step(action))
            return result

    def _episode_lock(self, episode: Any) -> threading.Lock:
        """The lock serialising ``episode``'s steps (dropped when the episode is collected;
        episodes are unhashable dataclasses, hence the id key)."""
        key = id(episode)
        with self._locks_guard:
            lock = self._locks.get(key)
            if lock is None:
                lock = self._locks[key] = threading.Lock()
                # no lock in the callback: it may run from a collection inside this block
                weakref.finalize(episode, self._locks.pop, key, None)
            return lock

    def close(self, timeout: float | None = None) -> None:
        """Close the held object (idempotent); wait at most ``timeout`` seconds (default:
        the call timeout)."""
        if self._closed:
            return
        self._closed = True
        stop = self._stop
        if stop is not None and self._loop.thread.is_alive():
            self._loop.loop.call_soon_threadsafe(stop.set)
            with contextlib.suppress(Exception):  # closing is best effort
                self._host.result(self.timeout if timeout is None else timeout)


class SyncController(HeldRuntime):
    """An ``EpisodeController`` held open on the background loop, driven by blocking calls
    (thread-safe as ``HeldRuntime`` says)."""

    def __init__(self, shop: Shop, *, connect: str | tuple[str, ...] | None = None,
                 reward_mode: RewardMode = "sparse", timeout: float | None = 600.0) -> None:
        """``timeout``: seconds to wait for any one call (None: no limit)."""
        self.controller = EpisodeController(shop, connect=connect, reward_mode=reward_mode)
        super().__init__(self.controller, timeout=timeout)

    @property
    def shop(self) -> Shop:
        return self.controller.shop

    @property
    def reward_mode(self) -> RewardMode:
        return self.controller.reward_mode

    @property
    def tools(self) -> list[dict[str, Any]]:
        """The agent's tools in OpenAI function format (no session handle)."""
        return self.controller.tools

    def start(self, task: TaskSpec, *, policy: str = "") -> tuple[Episode, Observation]:
        """A new episode of ``task``, reset: the episode and its first observation."""
        episode, obs = super().start(task, policy=policy)
        return episode, obs

    def release(self, episode: Any) -> None:
        """As ``HeldRuntime.release``, unless the controller keeps sessions."""
        self.controller.release(episode)


# -- process-wide caches ----------------------------------------------------------------------

_SHOPS: dict[tuple[str, int, int], Shop] = {}
_CONTROLLERS: dict[tuple[int, Any, str], tuple[Shop, SyncController]] = {}
_CACHE_LOCK = threading.Lock()


def shared_shop(settings: ShopSettings | None = None) -> Shop:
    """The process's ``Shop`` for ``settings`` (default: from the environment), opened once;
    the catalog is generated on first use of a new database."""
    s = settings or ShopSettings.from_env()
    key = (s.db, s.catalog_seed, s.catalog_size)
    with _CACHE_LOCK:
        shop = _SHOPS.get(key)
        if shop is None:
            shop = _SHOPS[key] = Shop.open(s.db, seed=s.catalog_seed, size=s.catalog_size)
        return shop


def shared_controller(shop: Shop | None = None, *,
                      connect: str | tuple[str, ...] | None = None,
                      reward_mode: RewardMode | None = None,
                      settings: ShopSettings | None = None) -> SyncController:
    """The process's ``SyncController`` for this shop, connection and reward mode, opened once
    and closed at exit. With no ``shop``, the one ``settings`` (default: the environment) name,
    and its ``connect`` and ``reward_mode`` unless given here."""
    if shop is None:
        s = settings or ShopSettings.from_env()
        shop = shared_shop(s)
        connect = s.connect if connect is None else connect
        reward_mode = s.reward_mode if reward_mode is None else reward_mode
    mode: RewardMode = reward_mode or "sparse"
    key = (id(shop), connect, mode)
    with _CACHE_LOCK:
        held = _CONTROLLERS.get(key)
        if held is not None and held[0] is shop and held[1].usable:
            return held[1]
        runtime = SyncController(shop, connect=connect, reward_mode=mode)
        _CONTROLLERS[key] = (shop, runtime)
        return runtime


@atexit.register
def _close_all() -> None:
    with _CACHE_LOCK:
        held = list(_CONTROLLERS.values())
        _CONTROLLERS.clear()
    for _, runtime in held:
        runtime.close(timeout=5.0)
