"""``EpisodeStore``: the env server's episodes in the shop's database (table ``env_episode``), so
that any number of server processes on one database serve any episode: a reset on one process,
the next step on another.

A row per episode of a pool (servers with the same database and ``--pool`` share episodes):
its snapshot (``episodes.http_env.snapshot``, written after the reset and after every step),
its version (one more per write), its record once finished, its step count, when it was last
used, and a step lease. A step first claims the episode (one atomic UPDATE: only a live,
running episode without a lease), so concurrent steps on one episode are serialised across
processes: the loser gets a 409. The lease names its holder and runs out ``LEASE_SECONDS``
after its last renewal (the step renews it while it runs), so an episode whose step died with
its process is recognised and dropped rather than continued from a state its shop session no
longer matches. A dropped episode keeps a row without its snapshot ("gone": why), so its id
gets a 404 that says why. A reset that replaces an episode (a WebSocket session's next reset)
hides it while the new one is built (``gone`` says it is being replaced, its snapshot kept, its
``lease_owner`` the reset's): it no longer counts against the cap, and the reset's outcome
either retires it (``settle``) or brings it back (``abandon``); a hidden episode whose reset
died with its process is retired by the next sweep. Resets take the pool's lock (PostgreSQL:
an advisory lock; SQLite: its write lock) so the cap on episodes holds across processes.

Times are wall-clock seconds (``time.time``) of the process writing them: hosts sharing a
database need synchronised clocks (NTP), to well under the idle timeout.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    delete,
    func,
    insert,
    inspect,
    or_,
    select,
    text,
    update,
)

from mcp_shop.db import ddl_tx, read_tx, write_tx

__all__ = ["EPISODES", "LEASE_SECONDS", "REPLACED", "EpisodeStore", "Row"]

LEASE_SECONDS = 30.0  # a step's claim lasts this long after its last renewal
_META = MetaData()
EPISODES = Table(
    "env_episode", _META,
    Column("pool", String(100), primary_key=True),
    Column("episode_id", String(255), primary_key=True),
    Column("version", Integer, nullable=False, default=0),
    Column("session_id", String(100), nullable=True),  # the episode's shop session
    Column("snapshot", Text, nullable=True),  # NULL while a reset builds it, and once gone
    Column("record", Text, nullable=True),  # the rollout record (JSON), once done
    Column("done", Boolean, nullable=False, default=False),
    Column("stop_reason", String(40), nullable=False, default=""),
    Column("steps", Integer, nullable=False, default=0),
    Column("last_used", Float, nullable=False),
    Column("lease_until", Float, nullable=True),
    Column("lease_owner", String(64), nullable=True),
    Column("gone", Text, nullable=True),  # why the episode is gone; NULL while it lives
    Column("gone_at", Float, nullable=True),
    Index("ix_env_episode_pool_used", "pool", "last_used"),
)
_E = EPISODES.c
_HEAD = [c for c in EPISODES.columns if c.name not in ("snapshot", "record")]
# ``gone`` of an episode hidden while a reset replaces it (restorable while it has a snapshot)
REPLACED = "it was replaced by a newer reset of its WebSocket session"


@dataclass(frozen=True)
class Row:
    """One episode's row, as read at ``now``."""

    episode_id: str
    version: int
    started: bool  # its reset is over (it has a snapshot)
    snapshot: str | None  # None when not started, or when the reader has this version
    record: str | None
    done: bool
    stop_reason: str
    steps: int
    leased: bool  # a step holds it (its lease has not run out)
    lease_lapsed: bool  # a step claimed it and its lease ran out: the step died
    gone: str | None


class EpisodeStore:
    """The episodes of one pool in ``engine``'s database (the table is created if missing)."""

    def __init__(self, engine: Engine, *, pool: str = "default",
                 clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.pool = pool
        self.clock = clock
        with ddl_tx(engine) as conn:  # servers starting side by side: one creates the table
            _META.create_all(conn, checkfirst=True)
            have = {c["name"] for c in inspect(conn).get_columns(EPISODES.name)}
        missing = sorted({c.name for c in EPISODES.columns} - have)
        if missing:
            raise ValueError(f"the database's {EPISODES.name} table is of another version "
                             f"(it has no {', '.join(missing)}); it holds only the env "
                             f"server's live episodes: drop it (DROP TABLE {EPISODES.name}) "
                             "and start the servers again")
        self._dropped: list[str] = []  # shop sessions of episodes dropped since take_dropped
        self._lock_key = int.from_bytes(
            hashlib.sha256(f"env_episode:{pool}".encode()).digest()[:8], "big", signed=True)

    def _live(self) -> Any:
        return and_(_E.pool == self.pool, _E.gone.is_(None))

    def _one(self, episode_id: str) -> Any:
        return and_(_E.pool == self.pool, _E.episode_id == episode_id)

    # -- reads --------------------------------------------------------------------------------

    def get(self, episode_id: str, *, touch: bool = False,
            cached: int | None = None) -> Row | None:
        """The episode's row (None: no row), marked as used now when ``touch``; its snapshot
        is left out when it is version ``cached`` (the caller has that one in memory)."""
        now = self.clock()
        with (write_tx if touch else read_tx)(self.engine) as conn:
            if touch:
                conn.execute(update(EPISODES).where(self._one(episode_id), _E.gone.is_(None))
                             .values(last_used=now))
            return self._read(conn, episode_id, now, cached)

    def _read(self, conn: Connection, episode_id: str, now: float,
              cached: int | None) -> Row | None:
        found = conn.execute(select(*_HEAD, _E.snapshot.is_not(None).label("started"))
                             .where(self._one(episode_id))).first()
        if found is None:
            return None
        m = found._mapping
        snapshot = record = None
        if m["done"] or (m["started"] and m["version"] != cached):
            snapshot, record = conn.execute(select(_E.snapshot, _E.record).where(
                self._one(episode_id))).one()
            if m["version"] == cached:
                snapshot = None
        lease = m["lease_until"]
        return Row(episode_id=episode_id, version=m["version"], started=bool(m["started"]),
                   snapshot=snapshot, record=record, done=bool(m["done"]),
                   stop_reason=m["stop_reason"], steps=m["steps"],
                   leased=lease is not None and lease >= now,
                   lease_lapsed=lease is not None and lease < now, gone=m["gone"])

    def counts(self) -> tuple[int, int]:
        """Live episodes of the pool, and those still running."""
        with read_tx(self.engine) as conn:
            total, done = conn.execute(
                select(func.count(), func.count().filter(_E.done.is_(True)))
                .where(self._live())).one()
        return int(total), int(total) - int(done)

    # -- dropping -----------------------------------------------------------------------------

    def _drop(self, conn: Connection, where: Any, reason: str, now: float,
              sessions: list[str]) -> int:
        """Drop the live episodes ``where`` selects (their shop sessions added to
        ``sessions``, for ``take_dropped`` once the transaction committed); how many."""
        found = conn.execute(update(EPISODES).where(self._live(), where).values(
            gone=reason, gone_at=now, snapshot=None, record=None, lease_until=None,
            lease_owner=None).returning(_E.session_id)).all()
        sessions.extend(sid for (sid,) in found if sid)
        return len(found)

    def take_dropped(self) -> list[str]:
        """The shop sessions of the episodes this store dropped since the last call."""
        out, self._dropped = self._dropped, []
        return out

    def _idle(self, idle_timeout: float, now: float) -> Any:
        return and_(_E.last_used < now - idle_timeout,
                    or_(_E.lease_until.is_(None), _E.lease_until < now))

    def sweep(self, idle_timeout: float, reason: str) -> int:
        """Drop the episodes nobody used for ``idle_timeout`` seconds (not those a step
        holds); how many."""
        now = self.clock()
        sessions: list[str] = []
        with write_tx(self.engine) as conn:
            n = self._drop(conn, self._idle(idle_timeout, now), reason, now, sessions)
            self._retire(conn, self._orphaned(now), sessions)
        self._dropped += sessions
        return n

    def _hidden(self) -> Any:
        """Episodes hidden while a reset replaces them."""
        return and_(_E.pool == self.pool, _E.gone == REPLACED, _E.snapshot.is_not(None))

    def _orphaned(self, now: float) -> Any:
        """Hidden episodes whose replacing reset no longer holds a lease (its process died)."""
        other = EPISODES.alias("holder")
        holder = select(other.c.episode_id).where(
            other.c.pool == self.pool, other.c.lease_owner == _E.lease_owner,
            other.c.episode_id != _E.episode_id, other.c.lease_until >= now)
        return ~holder.exists()

    def _retire(self, conn: Connection, where: Any, sessions: list[str]) -> None:
        """Make hidden episodes ``where`` selects gone for good (shop sessions to remove)."""
        found = conn.execute(update(EPISODES).where(self._hidden(), where).values(
            snapshot=None, record=None, lease_owner=None).returning(_E.session_id)).all()
        sessions.extend(sid for (sid,) in found if sid)

    def drop(self, episode_id: str, reason: str, *, only_running: bool = False) -> bool:
        """Drop a live episode no step holds (with ``only_running``, only if it is not done);
        False when there was none such."""
        now = self.clock()
        where = and_(_E.episode_id == episode_id,
                     or_(_E.lease_until.is_(None), _E.lease_until < now))
        if only_running:
            where = and_(where, _E.done.is_(False))
        sessions: list[str] = []
        with write_tx(self.engine) as conn:
            n = self._drop(conn, where, reason, now, sessions)
        self._dropped += sessions
        return n > 0

    def drop_lapsed(self, episode_id: str, reason: str) -> bool:
        """Drop an episode whose step's lease ran out (its process died mid-step)."""
        now = self.clock()
        sessions: list[str] = []
        with write_tx(self.engine) as conn:
            n = self._drop(conn, and_(_E.episode_id == episode_id, _E.lease_until < now),
                           reason, now, sessions)
        self._dropped += sessions
        return n > 0

    # -- reset --------------------------------------------------------------------------------

    def reserve(self, episode_id: str, owner: str, *, max_episodes: int, idle_timeout: float,
                idle_reason: str, room_reason: str, replaces: str | None = None) -> int | None:
        """Hold a place for a new episode (leased by ``owner`` until ``commit``): idle
        episodes are dropped first, then, if the pool is full, its least recently used
        finished one. ``replaces``: an episode the new one takes over from; if it is still
        running and no step holds it, its place counts as free and it is hidden (not dropped)
        until ``settle`` or ``abandon``. None when reserved; -1 when ``episode_id`` is in use;
        else the number of running episodes that fill the pool. Refused, it changes
        nothing but the idle episodes' expiry."""
        now = self.clock()
        sessions: list[str] = []
        with write_tx(self.engine) as conn:
            got = self._reserve(conn, episode_id, owner, max_episodes, idle_timeout,
                                idle_reason, room_reason, now, sessions, replaces)
        self._dropped += sessions
        return got

    def _reserve(self, conn: Connection, episode_id: str, owner: str, max_episodes: int,
                 idle_timeout: float, idle_reason: str, room_reason: str, now: float,
                 sessions: list[str], replaces: str | None) -> int | None:
        if conn.dialect.name == "postgresql":  # resets of a pool, one at a time
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": self._lock_key})
        self._drop(conn, self._idle(idle_timeout, now), idle_reason, now, sessions)
        if conn.execute(select(_E.episode_id).where(
                self._live(), _E.episode_id == episode_id)).first() is not None:
            return -1
        replaced: Any = None if replaces is None else and_(
            self._live(), _E.episode_id == replaces, _E.done.is_(False),
            or_(_E.lease_until.is_(None), _E.lease_until < now))
        freed = replaced is not None and conn.execute(
            select(_E.episode_id).where(replaced)).first() is not None
        live = conn.execute(select(func.count()).where(self._live())).scalar_one() - freed
        if live >= max_episodes:
            oldest = conn.execute(
                select(_E.episode_id).where(self._live(), _E.done.is_(True),
                                            or_(_E.lease_until.is_(None),
                                                _E.lease_until < now))
                .order_by(_E.last_used).limit(1)).scalar_one_or_none()
            if oldest is None:
                return int(live)
            self._drop(conn, _E.episode_id == oldest, room_reason, now, sessions)
        if freed:
            conn.execute(update(EPISODES).where(replaced).values(
                gone=REPLACED, gone_at=now, lease_until=None, lease_owner=owner))
        self._trim_gone(conn, 10 * max_episodes)
        conn.execute(delete(EPISODES).where(self._one(episode_id)))  # a gone one's row
        conn.execute(insert(EPISODES).values(
            pool=self.pool, episode_id=episode_id, version=0, done=False, stop_reason="",
            steps=0, last_used=now, lease_until=now + LEASE_SECONDS, lease_owner=owner))
        return None

    def _trim_gone(self, conn: Connection, keep: int) -> None:
        gone = and_(_E.pool == self.pool, _E.gone.is_not(None), _E.snapshot.is_(None))
        if conn.execute(select(func.count()).where(gone)).scalar_one() <= keep:
            return
        cutoff = conn.execute(select(_E.gone_at).where(gone).order_by(_E.gone_at.desc())
                              .offset(keep).limit(1)).scalar_one_or_none()
        if cutoff is not None:
            conn.execute(delete(EPISODES).where(gone, _E.gone_at <= cutoff))

    def abandon(self, episode_id: str, owner: str, *, replaces: str | None = None) -> None:
        """Remove a reservation whose reset failed, and bring back the episode ``replaces``
        if ``owner``'s reservation hid it."""
        with write_tx(self.engine) as conn:
            conn.execute(delete(EPISODES).where(self._one(episode_id),
                                                _E.lease_owner == owner,
                                                _E.snapshot.is_(None)))
            if replaces is not None:
                conn.execute(update(EPISODES).where(
                    self._hidden(), _E.episode_id == replaces, _E.lease_owner == owner)
                    .values(gone=None, gone_at=None, lease_owner=None,
                            last_used=self.clock()))

    def settle(self, replaces: str, owner: str) -> None:
        """The reset by ``owner`` succeeded: the episode it hid is gone for good."""
        sessions: list[str] = []
        with write_tx(self.engine) as conn:
            self._retire(conn, and_(_E.episode_id == replaces, _E.lease_owner == owner),
                         sessions)
        self._dropped += sessions

    # -- steps --------------------------------------------------------------------------------

    def claim(self, episode_id: str, owner: str, *, cached: int | None = None) -> Row | None:
        """Lease a live, running episode that no step holds, for a step by ``owner``, and
        read it (as ``get``, in the same transaction); None when it cannot be claimed."""
        now = self.clock()
        with write_tx(self.engine) as conn:
            if conn.dialect.name == "postgresql":  # a lease lost in a database crash is moot
                conn.execute(text("SET LOCAL synchronous_commit TO OFF"))
            claimed = conn.execute(update(EPISODES).where(
                self._live(), _E.episode_id == episode_id, _E.snapshot.is_not(None),
                _E.done.is_(False), _E.lease_until.is_(None)).values(
                lease_until=now + LEASE_SECONDS, lease_owner=owner, last_used=now)
            ).rowcount > 0
            return self._read(conn, episode_id, now, cached) if claimed else None

    def renew(self, episode_id: str, owner: str) -> bool:
        """Extend ``owner``'s lease (a step still running); False if it no longer holds it."""
        now = self.clock()
        with write_tx(self.engine) as conn:
            return conn.execute(update(EPISODES).where(
                self._one(episode_id), _E.lease_owner == owner).values(
                lease_until=now + LEASE_SECONDS)).rowcount > 0

    def commit(self, episode_id: str, owner: str, snapshot: str | None, *, done: bool,
               stop_reason: str, record: str | None, step: bool,
               session_id: str | None = None) -> bool:
        """Write the episode's new state and end ``owner``'s lease (``snapshot`` None: end the
        lease only); False if ``owner`` no longer held it (the episode was dropped)."""
        values: dict[str, Any] = {"lease_until": None, "lease_owner": None,
                                  "last_used": self.clock()}
        if snapshot is not None:
            values.update(snapshot=snapshot, record=record, done=done,
                          stop_reason=stop_reason, version=_E.version + 1)
        if step:
            values["steps"] = _E.steps + 1
        if session_id is not None:
            values["session_id"] = session_id
        with write_tx(self.engine) as conn:
            return conn.execute(update(EPISODES).where(
                self._live(), _E.episode_id == episode_id, _E.lease_owner == owner)
                .values(**values)).rowcount > 0
