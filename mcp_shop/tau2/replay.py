"""tau2's DB check on shop sessions: the gold actions replayed on a fresh copy of the world, and
the agent's session compared with it by tau2's database hash.

tau2 judges the database by replay (docs/tau2-retail.md section 6): a fresh environment from
the world, the task's gold actions replayed on it (a gold action that fails is logged and
skipped), and SHA-256 over each database dumped as sorted-key JSON compared. Here the gold is
replayed on a fresh tau2 session of the same world through the same tool functions the agent
used (:func:`mcp_shop.tau2.tools.call_tau2_tool`), each call atomic (a refused call leaves
nothing; for the DB check the whole gold session lives in one transaction, each call in a
savepoint, and is rolled back once hashed), and both sessions are read back in tau2's layout by the
projection and hashed as :func:`mcp_shop.tau2.world.db_hash` hashes
:func:`mcp_shop.tau2.projection.project_session` (:func:`mcp_shop.tau2.projection.state_hash`
builds the same text from bulk reads). The agent's session is read live, where tau2 replays the
agent's recorded calls: with deterministic tools the two agree.

The gold's hash depends only on the world and the gold calls, so it is kept per (world, calls)
for the life of the process: a second episode of the same task replays nothing.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from mcp_shop.db import read_tx, write_tx
from mcp_shop.tau2.projection import state_hash
from mcp_shop.tau2.records import Task
from mcp_shop.tau2.session_world import open_tau2_session, open_tau2_session_in, world_of
from mcp_shop.tau2.tools import call_tau2_tool
from mcp_shop.tau2.tools_common import Tau2ToolError

__all__ = ["DbCheck", "FailedCall", "GoldReplay", "db_check", "gold_hash", "replay_calls",
           "replay_gold", "session_hash"]

Call = tuple[str, Mapping[str, Any]]


@dataclass(frozen=True)
class FailedCall:
    """A call the tools refused (and skipped): its place in the trajectory, tool, error code
    and tau2's message."""

    index: int
    tool: str
    code: str
    message: str

    def text(self) -> str:
        return f"#{self.index} {self.tool}: {self.code}: {self.message}"


@dataclass(frozen=True)
class GoldReplay:
    """A fresh session of the world with the gold actions replayed, and the calls skipped."""

    session_id: str
    failures: tuple[FailedCall, ...]


@dataclass(frozen=True)
class DbCheck:
    """tau2's DB check of an episode: ``match`` when the agent's session hashes like the gold
    replay's; ``actual`` the agent's hash, ``expected`` the gold's, and the gold calls that
    failed (skipped, as tau2 skips them)."""

    match: bool
    actual: str
    expected: str
    failed_gold_calls: tuple[FailedCall, ...]


def replay_calls(engine: Engine, session_id: str, calls: Sequence[Call]) -> list[FailedCall]:
    """Run ``calls`` in order on a tau2 session, each in its own transaction; a call the tools
    refuse (:class:`Tau2ToolError`) is skipped and returned, having changed nothing. Any other
    exception is a fault and propagates."""
    failures = []
    for index, (name, arguments) in enumerate(calls):
        try:
            with write_tx(engine) as conn:
                call_tau2_tool(conn, session_id, name, arguments)
        except Tau2ToolError as exc:
            failures.append(FailedCall(index, str(name), exc.code, exc.message))
    return failures


def task_calls(task: Task) -> list[Call]:
    """The task's gold actions as (tool, arguments) calls."""
    return [(a.name, dict(a.arguments)) for a in task.gold_actions()]


def replay_gold(engine: Engine, world_key: str, task: Task) -> GoldReplay:
    """A fresh session of world ``world_key`` with ``task``'s gold actions replayed through the
    tau2 tools (failures skipped and reported). The caller removes the session when done."""
    session_id = open_tau2_session(engine, world_key)
    return GoldReplay(session_id, tuple(replay_calls(engine, session_id, task_calls(task))))


def session_hash(engine: Engine, session_id: str) -> str:
    """tau2's hash of the world a tau2 session holds now (``world.db_hash`` of its
    projection, built from bulk reads: :func:`mcp_shop.tau2.projection.state_hash`)."""
    with read_tx(engine) as conn:
        return state_hash(conn, session_id)


_GOLD: dict[tuple[str, str], tuple[str, tuple[FailedCall, ...]]] = {}
_GOLD_LOCK = threading.Lock()


def forget_gold_hashes() -> None:
    """Drop every kept gold hash (the next check of each task replays its gold again)."""
    with _GOLD_LOCK:
        _GOLD.clear()


def _gold_rolled_back(engine: Engine, world_key: str,
                      task: Task) -> tuple[str, tuple[FailedCall, ...]]:
    """``task``'s gold replayed on a fresh copy of the world inside a savepoint that is rolled
    back (each call in a savepoint of its own, a refused one rolled back to it, as
    ``replay_calls`` runs each in a transaction): the hash of the result and the calls that
    failed. Nothing of the copy is committed, so there is no session to remove (inside a
    ``db.unit_tx`` the savepoint is the unit's)."""
    with write_tx(engine) as conn:
        scratch = conn.begin_nested()
        try:
            session_id = open_tau2_session_in(conn, world_key)
            failures = []
            for index, (name, arguments) in enumerate(task_calls(task)):
                savepoint = conn.begin_nested()
                try:
                    call_tau2_tool(conn, session_id, name, arguments)
                except Tau2ToolError as exc:
                    savepoint.rollback()
                    failures.append(FailedCall(index, str(name), exc.code, exc.message))
                else:
                    savepoint.commit()
            return state_hash(conn, session_id), tuple(failures)
        finally:
            scratch.rollback()


def gold_hash(engine: Engine, world_key: str, task: Task, *,
              cache: bool = True) -> tuple[str, tuple[FailedCall, ...]]:
    """The hash of the world after ``task``'s gold actions, and the gold calls that failed
    (replayed on a fresh copy of the world that is never committed; kept per world and
    calls)."""
    key = (world_key, json.dumps(task_calls(task), sort_keys=True, default=str))
    with _GOLD_LOCK:
        found = _GOLD.get(key) if cache else None
    if found is not None:
        return found
    found = _gold_rolled_back(engine, world_key, task)
    if cache:
        with _GOLD_LOCK:
            _GOLD[key] = found
    return found


def db_check(engine: Engine, agent_session_id: str, task: Task, *,
             world_key: str | None = None, cache: bool = True) -> DbCheck:
    """tau2's DB check of the agent's tau2 session against ``task``'s gold replayed on its
    world (``world_key``, by default the world the agent's session holds)."""
    if world_key is None:
        with read_tx(engine) as conn:
            world_key = world_of(conn, agent_session_id)
    expected, failures = gold_hash(engine, world_key, task, cache=cache)
    actual = session_hash(engine, agent_session_id)
    return DbCheck(actual == expected, actual, expected, failures)
