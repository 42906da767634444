"""Removing sessions: one session and every row it owns, or many at once in batches.

A session owns a row in ``shop_session`` and every row of every table with a ``session_id``
column (stock and price overrides, customer, addresses, payment methods, codes, cart, orders and
their lines, payments, shipments, returns, exchanges, the trace). The tables are read from the
SQLModel metadata, children before parents, so a table added later is removed with the rest
without a change here. The catalog is never touched.

Each removal is one transaction per batch of sessions: bulk ``DELETE ... WHERE session_id IN
(...)`` per table, every one served by an index whose first column is ``session_id``. The
session rows are locked first (``FOR UPDATE`` on PostgreSQL; SQLite's write lock), so a call in
flight on a session finishes before its session goes, and calls after it get "unknown
session_id".

Which sessions are old: sessions keep no wall-clock time (their clocks are simulated, so that
every row is a function of the seed), but every session's customer row takes the next id of one
counter when the session opens, so ``shop_session.customer_id`` orders sessions by opening on
both backends. ``prune_sessions(keep=N)`` keeps the N sessions opened last.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, Table
from sqlmodel import SQLModel

from mcp_shop.db import backend_name, read_tx, sqlite_path, write_tx
from mcp_shop.errors import InvalidInput, NotFound
from mcp_shop.models import ShopSession
from mcp_shop.sessions import check_handle, lock_session
from mcp_shop.sql import Sql, fetch_all, fetch_one, run

__all__ = [
    "DEFAULT_BATCH",
    "PruneResult",
    "database_size",
    "delete_session",
    "delete_sessions",
    "prune_sessions",
    "remove_session",
    "select_sessions",
    "session_tables",
    "vacuum",
]

DEFAULT_BATCH = 200  # sessions removed per transaction by a bulk prune
SESSION_TABLE: str = ShopSession.__table__.name  # type: ignore[attr-defined]
SESSION_KEY = "session_id"


def session_tables(metadata: MetaData | None = None,
                   session: Table | None = None) -> tuple[Table, ...]:
    """Every table a session owns rows in, children before parents (the order rows must be
    deleted in), ending with the session table itself: by default the shop's tables
    (``SQLModel.metadata``, ``shop_session``)."""
    if metadata is None:
        return _shop_tables()
    assert session is not None
    owned = [t for t in reversed(metadata.sorted_tables)
             if SESSION_KEY in t.c and t is not session]
    return (*owned, session)


@cache
def _shop_tables() -> tuple[Table, ...]:
    return session_tables(SQLModel.metadata, ShopSession.__table__)  # type: ignore[attr-defined]


def _key(table: Table) -> str:
    return "id" if table.name == SESSION_TABLE else SESSION_KEY


@dataclass
class PruneResult:
    """What a removal removed (or, for a dry run, would remove)."""

    sessions: int = 0
    rows: dict[str, int] = field(default_factory=dict)  # table name -> rows
    dry_run: bool = False

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def add(self, other: PruneResult) -> None:
        self.sessions += other.sessions
        for name, n in other.rows.items():
            self.rows[name] = self.rows.get(name, 0) + n


def _in_list(conn: Connection, column: str, n: int) -> str:
    """``column IN (?, ...)`` on SQLite, ``column = ANY(?)`` (one array) on PostgreSQL."""
    if conn.dialect.name == "postgresql":
        return f"{column} = ANY(?)"
    return f"{column} IN ({', '.join('?' * n)})"


def _params(conn: Connection, ids: Sequence[str]) -> tuple[Any, ...]:
    return (list(ids),) if conn.dialect.name == "postgresql" else tuple(ids)


def _lock_existing(conn: Connection, ids: Sequence[str]) -> list[str]:
    """The sessions of ``ids`` that exist, their rows locked until the transaction ends (in id
    order, so that two removers never deadlock)."""
    where = _in_list(conn, "id", len(ids))
    sql = Sql(f"SELECT id FROM {SESSION_TABLE} WHERE {where} ORDER BY id",
              pg=f"SELECT id FROM {SESSION_TABLE} WHERE {where} ORDER BY id FOR UPDATE")
    return [row[0] for row in fetch_all(conn, sql, _params(conn, ids))]


def _delete_rows(conn: Connection, ids: Sequence[str], *, count_only: bool) -> dict[str, int]:
    """Rows of the sessions ``ids`` per table, deleted unless ``count_only``. On PostgreSQL
    the deletes are one statement (a data-modifying CTE per table; the foreign keys are
    checked at its end), so a removal costs one round trip, not one per table. Each table's
    condition gets the ids as its own parameter, so the planner sees them (an index scan)."""
    tables = session_tables()
    params = _params(conn, ids) * len(tables)
    if count_only and conn.dialect.name == "postgresql":
        counts = ", ".join(f"(SELECT count(*) FROM {t.name} WHERE {_key(t)} = ANY(?))"
                           for t in tables)
        found = fetch_one(conn, Sql(f"SELECT {counts}"), params)
        return {t.name: int(n) for t, n in zip(tables, found, strict=True)}
    if conn.dialect.name == "postgresql":
        steps = ", ".join(f"d{i} AS (DELETE FROM {t.name} WHERE {_key(t)} = ANY(?) "
                          "RETURNING 1)" for i, t in enumerate(tables))
        totals = ", ".join(f"(SELECT count(*) FROM d{i})" for i in range(len(tables)))
        found = fetch_one(conn, Sql(f"WITH {steps} SELECT {totals}"), params)
        return {t.name: int(n) for t, n in zip(tables, found, strict=True)}
    rows: dict[str, int] = {}
    for table in tables:  # SQLite: in process, a statement per table costs microseconds
        where = _in_list(conn, _key(table), len(ids))
        if count_only:
            n = fetch_one(conn, Sql(f"SELECT count(*) FROM {table.name} WHERE {where}"),
                          _params(conn, ids))[0]
        else:
            n = run(conn, Sql(f"DELETE FROM {table.name} WHERE {where}"),
                    _params(conn, ids)).rowcount
        rows[table.name] = int(n)
    return rows


def delete_sessions(conn: Connection, session_ids: Sequence[str], *,
                    dry_run: bool = False) -> PruneResult:
    """Delete the sessions ``session_ids`` and every row they own, inside ``conn``'s
    transaction (a write transaction unless ``dry_run``, which only counts). Ids of sessions
    that do not exist (any more) are skipped; a malformed id is ``InvalidInput`` and deletes
    nothing."""
    ids = sorted({check_handle(s) for s in session_ids})
    if not ids:
        return PruneResult(dry_run=dry_run)
    found = _lock_existing(conn, ids) if not dry_run else [
        row[0] for row in fetch_all(conn, Sql(
            f"SELECT id FROM {SESSION_TABLE} WHERE {_in_list(conn, 'id', len(ids))}"),
            _params(conn, ids))]
    if not found:
        return PruneResult(dry_run=dry_run)
    return PruneResult(sessions=len(found), rows=_delete_rows(conn, found, count_only=dry_run),
                       dry_run=dry_run)


def delete_session(conn: Connection, session_id: str) -> PruneResult:
    """Delete one session and every row it owns, inside ``conn``'s write transaction.

    Raises:
        InvalidInput: a malformed handle.
        NotFound: no such session.
    """
    lock_session(conn, session_id)  # NotFound / InvalidInput; waits for calls in flight
    return PruneResult(sessions=1, rows=_delete_rows(conn, [session_id], count_only=False))


def remove_session(engine: Engine, session_id: str, *, missing_ok: bool = False) -> PruneResult:
    """Delete one session and every row it owns, in one transaction of its own (what the
    episode controller calls once an episode's record is built).

    ``missing_ok``: a session that no longer exists is no error (an empty result)."""
    try:
        with write_tx(engine) as conn:
            return delete_session(conn, session_id)
    except NotFound:
        if missing_ok:
            return PruneResult()
        raise


# Sessions newest first. Keys are handed out in opening order, so a session's customer key
# says when it was opened: a native session's one shopper, a tau2 session's first customer
# (it has many; ShopSession.customer_id is NULL). The templates of installed tau2 worlds are
# part of the world, like the catalog: never selected.
_BY_OPENING = (
    f"SELECT id FROM {SESSION_TABLE} WHERE surface <> 'tau2-retail-template' "
    "ORDER BY coalesce(customer_id, (SELECT min(c.id) FROM customer c "
    f"WHERE c.session_id = {SESSION_TABLE}.id)) DESC NULLS LAST, id DESC")


def select_sessions(conn: Connection, *, keep: int | None = None,
                    session_ids: Iterable[str] | None = None) -> list[str]:
    """The sessions a prune would remove, oldest opened first.

    Args:
        keep: keep the ``keep`` sessions opened last; every other one is selected.
        session_ids: only these (malformed ids are ``InvalidInput``; unknown ones are left
            out).

    With neither, every session is selected. The template sessions of installed tau2 worlds
    (``mcp-shop import-tau2``) never are.
    """
    if keep is not None and (isinstance(keep, bool) or not isinstance(keep, int) or keep < 0):
        raise InvalidInput(f"keep must be a whole number >= 0, got {keep!r}", keep=keep)
    wanted = None if session_ids is None else {check_handle(s) for s in session_ids}
    rows = fetch_all(conn, Sql(_BY_OPENING))
    newest_first = [r[0] for r in rows]
    chosen = newest_first[keep or 0:]
    if wanted is not None:
        chosen = [s for s in chosen if s in wanted]
    chosen.reverse()
    return chosen


def prune_sessions(engine: Engine, *, keep: int | None = None,
                   session_ids: Iterable[str] | None = None, dry_run: bool = False,
                   batch: int = DEFAULT_BATCH,
                   progress: Callable[[int, int], None] | None = None) -> PruneResult:
    """Remove old sessions (see ``select_sessions``) in transactions of ``batch`` sessions
    each, so that a big prune never holds one huge transaction; ``progress(done, total)`` is
    called after each batch. ``dry_run`` counts what would go and removes nothing.

    Sessions opened while a prune runs are never selected; a session removed meanwhile by
    someone else is skipped.
    """
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= 10_000:
        raise InvalidInput(f"batch must be from 1 to 10,000 sessions, got {batch!r}",
                           batch=batch)
    with read_tx(engine) as conn:
        chosen = select_sessions(conn, keep=keep, session_ids=session_ids)
    total = PruneResult(dry_run=dry_run)
    if progress is not None:
        progress(0, len(chosen))
    for start in range(0, len(chosen), batch):
        part = chosen[start:start + batch]
        tx = read_tx if dry_run else write_tx
        with tx(engine) as conn:
            total.add(delete_sessions(conn, part, dry_run=dry_run))
        if progress is not None:
            progress(min(start + batch, len(chosen)), len(chosen))
    if not total.rows:
        total.rows = {t.name: 0 for t in session_tables()}
    return total


# -- size and space ----------------------------------------------------------------------------

_PG_SIZE = Sql("SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
               "JOIN pg_namespace n ON n.oid = c.relnamespace "
               "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm')")


def database_size(engine: Engine) -> int:
    """Bytes the shop's data takes: a SQLite file (with its write-ahead log), or on
    PostgreSQL every table of the current schema with its indexes and TOAST."""
    path = sqlite_path(str(engine.url))
    if backend_name(engine) == "sqlite":
        if path is None:
            return 0
        return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal"))
                   if p.exists())
    with read_tx(engine) as conn:
        return int(fetch_one(conn, _PG_SIZE)[0])


def vacuum(engine: Engine) -> None:
    """Give the space of removed rows back: on SQLite, rewrite the file (``VACUUM``, which
    needs room for a copy and the write lock while it runs) and empty the write-ahead log; on
    PostgreSQL, ``VACUUM ANALYZE`` the session tables (their space is reused, not returned)."""
    if backend_name(engine) == "sqlite":
        raw = engine.raw_connection()
        try:
            driver: Any = raw.driver_connection
            driver.execute("VACUUM")
            driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in session_tables():
            conn.exec_driver_sql(f"VACUUM ANALYZE {table.name}")
