"""The runtime of the tau2 retail doors (``episodes.tau2.gym_env``, ``episodes.tau2.trl_env``):
a ``Tau2Runner`` held open on the background event loop of ``episodes.sync``, driven by
blocking calls, shared by every environment of one world, database, connection and user.

    runtime = shared_tau2_runtime("~/src/tau2-bench")      # or a loaded Tau2Retail
    episode, obs = runtime.start(task, policy="gym")
    step = runtime.step(episode, Action(message="Hello!"))

Which world: a tau2-bench checkout path (or its data directory, or its retail domain
directory), an already loaded ``Tau2Retail``, or with neither the ``MCP_SHOP_TAU2_PATH``
environment variable. Which database: the URL given, else ``MCP_SHOP_TAU2_DB``, else a SQLite
file of its own per world in the working directory, ``tau2-retail-<world hash>.db`` (a tau2
world needs a database of its own; the world is imported on first use, as ``shop-episodes run
--suite tau2-retail`` does into ``--tau2-db``). ``connect``: None (MCP in memory) or
``"direct"`` (the same server's tools in process, without the protocol).
"""

from __future__ import annotations

import atexit
import os
import threading
from pathlib import Path
from typing import Any

from episodes.sync import HeldRuntime
from episodes.tau2.env import Tau2Env
from episodes.tau2.episode import Tau2Episode, Tau2Runner, UserFactory, scripted_users
from episodes.tau2.judge import NLJudge
from episodes.tau2.tasks import Tau2Task, world_digest
from mcp_shop.tau2.loader import Tau2Retail, load_tau2_retail

__all__ = ["DB_VAR", "PATH_VAR", "Tau2Runtime", "default_tau2_db", "shared_tau2_runtime",
           "tau2_world"]

PATH_VAR = "MCP_SHOP_TAU2_PATH"
DB_VAR = "MCP_SHOP_TAU2_DB"

WorldSource = Tau2Retail | str | Path | None


class Tau2Runtime(HeldRuntime):
    """A ``Tau2Runner`` over one prepared world, held open on the background loop (thread-safe
    as ``HeldRuntime`` says)."""

    def __init__(self, env: Tau2Env, *, connect: str | None = None,
                 users: UserFactory = scripted_users, judge: NLJudge | None = None,
                 timeout: float | None = 600.0) -> None:
        self.env = env
        self.runner = Tau2Runner(env, users=users, connect=connect, judge=judge)
        super().__init__(self.runner, timeout=timeout)

    @property
    def world(self) -> Tau2Retail:
        return self.env.world

    def start(self, task: Tau2Task, *, policy: str = "") -> tuple[Tau2Episode, Any]:
        """A new episode of ``task``, reset: the episode and its first observation."""
        episode, obs = super().start(task, policy=policy)
        return episode, obs


_LOCK = threading.Lock()
_WORLDS: dict[str, Tau2Retail] = {}
_ENVS: dict[tuple[str, str], Tau2Env] = {}
_RUNTIMES: dict[tuple[str, str, str | None, int, int], tuple[Any, Tau2Runtime]] = {}


def tau2_world(source: WorldSource = None) -> Tau2Retail:
    """The world ``source`` names: itself if loaded, else loaded (once per process) from its
    path, else from ``$MCP_SHOP_TAU2_PATH``."""
    if isinstance(source, Tau2Retail):
        return source
    path = source if source is not None else os.environ.get(PATH_VAR, "").strip()
    if not path:
        raise ValueError(f"no tau2 world: give a tau2-bench checkout path (or a loaded "
                         f"world), or set {PATH_VAR}")
    key = str(Path(path).expanduser().resolve())
    with _LOCK:
        world = _WORLDS.get(key)
        if world is None:
            world = _WORLDS[key] = load_tau2_retail(key)
        return world


def default_tau2_db(world: Tau2Retail) -> str:
    """The database a door uses for ``world`` unless told: ``$MCP_SHOP_TAU2_DB``, else
    ``sqlite:///tau2-retail-<first 12 hex digits of the world's hash>.db`` (the working
    directory)."""
    return (os.environ.get(DB_VAR, "").strip()
            or f"sqlite:///tau2-retail-{world_digest(world)[:12]}.db")


def shared_tau2_runtime(source: WorldSource = None, db: str | None = None, *,
                        connect: str | None = None, users: UserFactory = scripted_users,
                        judge: NLJudge | None = None) -> Tau2Runtime:
    """The process's runtime for this world, database (default ``default_tau2_db``),
    connection, user factory and judge: the world imported and the runner opened once, closed
    at exit."""
    if connect not in (None, "direct"):
        raise ValueError(f"a tau2 door reaches its tools over MCP in memory (None) or "
                         f"'direct', not {connect!r}")
    world = tau2_world(source)
    url = db or default_tau2_db(world)
    digest = world_digest(world)
    with _LOCK:
        env = _ENVS.get((url, digest))
        if env is None:
            env = _ENVS[(url, digest)] = Tau2Env.open(world, url)
        key = (url, digest, connect, id(users), id(judge))
        held = _RUNTIMES.get(key)
        if (held is not None and held[0][0] is users and held[0][1] is judge
                and held[1].usable):
            return held[1]
        runtime = Tau2Runtime(env, connect=connect, users=users, judge=judge)
        _RUNTIMES[key] = ((users, judge), runtime)
        return runtime


@atexit.register
def _close_all() -> None:
    with _LOCK:
        held = [runtime for _, runtime in _RUNTIMES.values()]
        _RUNTIMES.clear()
    for runtime in held:
        runtime.close(timeout=5.0)
