"""Database engines and transactions for the two backends: SQLite (default) and PostgreSQL.

Domain functions take an open SQLAlchemy ``Connection`` inside a transaction; ``write_tx`` and
``read_tx`` open one. On SQLite a write transaction starts with ``BEGIN IMMEDIATE`` so that two
writers never deadlock on a lock upgrade; on PostgreSQL writers lock their session row.

``unit_tx`` opens a write transaction that every ``write_tx`` / ``read_tx`` on the same engine
inside it joins, in the same thread or task: the server runs a shop call and writes its trace
record in one commit that way, so a call and its record stand or fall together and records
are numbered in commit order.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import Pool
from sqlalchemy.schema import CreateColumn
from sqlmodel import SQLModel

import mcp_shop.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from mcp_shop.errors import InvalidInput, InvalidState
from mcp_shop.locks import database_lock

__all__ = [
    "DB_ENV_VAR",
    "DEFAULT_DB_URL",
    "backend_name",
    "check_db_url",
    "create_schema",
    "ddl_tx",
    "default_db_url",
    "make_engine",
    "read_tx",
    "sqlite_path",
    "unit_tx",
    "write_tx",
]

DEFAULT_DB_URL = "sqlite:///shop.db"
DB_ENV_VAR = "MCP_SHOP_DB"

_VALID_URLS = ("sqlite:///shop.db (a file here), sqlite:////abs/path/shop.db or "
               "postgresql+psycopg://user@host:5432/dbname")


def default_db_url(environ: Mapping[str, str] | None = None) -> str:
    """The database every command line and environment uses unless told otherwise:
    ``$MCP_SHOP_DB`` when set (and not blank), else ``sqlite:///shop.db``."""
    env = os.environ if environ is None else environ
    return env.get(DB_ENV_VAR, "").strip() or DEFAULT_DB_URL


def check_db_url(url: str) -> URL:
    """``url`` parsed, if it is a SQLite or PostgreSQL URL; else ``InvalidInput`` saying
    what a valid one looks like."""
    try:
        u = make_url(url)
    except ArgumentError:
        hint = f" (for that file: sqlite:///{url})" if "://" not in url and url else ""
        raise InvalidInput(f"{url!r} is not a database URL{hint}; a valid one looks like "
                           f"{_VALID_URLS}", url=url) from None
    if u.get_backend_name() not in ("sqlite", "postgresql"):
        raise InvalidInput(f"unsupported database URL {url!r}: use {_VALID_URLS}", url=url)
    return u


def backend_name(engine: Engine) -> str:
    """'sqlite' or 'postgresql'."""
    return engine.dialect.name


def sqlite_path(url: str | URL) -> Path | None:
    """The file behind a SQLite URL (or an engine's ``url``), or None for in-memory databases
    and other backends."""
    u = url if isinstance(url, URL) else check_db_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def make_engine(url: str = DEFAULT_DB_URL, *, schema: str | None = None) -> Engine:
    """An engine for ``url``: ``sqlite:///path.db`` or ``postgresql+psycopg://user@host/db``.

    Args:
        url: the database URL; ``postgresql://`` is read as ``postgresql+psycopg://``.
        schema: PostgreSQL only: put every table in this schema (created if missing).
    """
    u = check_db_url(url)
    if u.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    if u.drivername == "postgresql":
        u = u.set(drivername="postgresql+psycopg")
    args = {"options": f"-csearch_path={schema}"} if schema else {}
    engine = create_engine(u, connect_args=args, pool_size=10, max_overflow=20,
                           pool_pre_ping=True)
    if schema:
        with engine.begin() as conn:  # one process at a time (see ddl_tx)
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext(%(k)s))",
                                 {"k": f"mcp-shop new schema {schema}"})
            conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    return engine


def _wal_mode(cur: Any, path: Path) -> None:
    """Put the connection's database in WAL mode. SQLite refuses at once ('database is
    locked') while another process fills the file out of WAL mode (a catalog build, an
    import: ``mcp_shop.catalog.bulk``), holding the database's lock (``mcp_shop.locks``):
    then wait for that lock and switch after the load."""
    try:
        cur.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc):
            raise
        with database_lock(path, shared=True):
            cur.execute("PRAGMA journal_mode=WAL")


def _sqlite_engine(url: str) -> Engine:
    path = sqlite_path(url)
    if path is None:
        raise InvalidInput(
            f"{url!r} is an in-memory SQLite database, which is private to one connection; "
            "use a file, e.g. sqlite:///shop.db (or sqlite:////tmp/shop.db)"
        )
    if path.is_dir():
        raise InvalidInput(f"{url!r} names a directory; name a file in it, e.g. "
                           f"sqlite:///{path / 'shop.db'}", url=url)
    if not path.parent.is_dir():
        raise InvalidInput(f"{url!r}: the directory {str(path.parent)!r} does not exist; "
                           "create it first or name a file in an existing directory",
                           url=url)
    # No cap on the pool's overflow: each thread keeps the connection of its last transaction
    # (see _take), so a capped pool could leave a busy thread waiting for a connection that
    # an idle one holds; SQLite's own locking (busy_timeout) orders the writers.
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                           max_overflow=-1)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _on_begin)
        cur = dbapi_conn.cursor()
        if path is not None:
            _wal_mode(cur, path)
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA cache_size=-65536")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("tx_mode", "DEFERRED")
        # On the driver connection: the same statement, without SQLAlchemy's result setup.
        driver: Any = conn.connection.driver_connection
        driver.execute(f"BEGIN {mode}")

    return engine


@contextmanager
def ddl_tx(engine: Engine) -> Iterator[Connection]:
    """A transaction for creating or upgrading tables: on PostgreSQL it first takes an advisory
    lock on the schema, so processes started side by side on a new schema create its tables
    one at a time (two concurrent ``CREATE TABLE`` of one name fail on PostgreSQL's catalog
    even with ``IF NOT EXISTS``); the later ones find the tables made and create nothing. On
    SQLite it holds the write lock from its start (``BEGIN IMMEDIATE``) for the same reason."""
    with engine.connect() as conn:
        conn.execution_options(tx_mode="IMMEDIATE")  # SQLite: the write lock from the start
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock("
                                     "hashtext('mcp-shop schema ' || current_schema()))")
            yield conn


def create_schema(engine: Engine) -> None:
    """Create every table that does not exist yet, and bring the tables of a database made by
    an earlier version up to date: a column added since is added with its default, an index
    added since is created (idempotent; safe for processes starting at once on one database,
    see ``ddl_tx``).

    Raises:
        InvalidState: a missing column has neither a default nor NULL to give the rows that
            exist (the message names it; such a database has to be rebuilt).
    """
    with ddl_tx(engine) as conn:
        SQLModel.metadata.create_all(conn)
        found = inspect(conn)
        columns = {key[1]: {c["name"] for c in cs}
                   for key, cs in found.get_multi_columns().items()}
        indexes = {key[1]: {ix["name"] for ix in ixs}
                   for key, ixs in found.get_multi_indexes().items()}
        missing = [(table, column) for table in SQLModel.metadata.sorted_tables
                   for column in table.columns if column.name not in columns.get(table.name, ())]
        new_indexes = [ix for table in SQLModel.metadata.sorted_tables for ix in table.indexes
                       if ix.name not in indexes.get(table.name, ())]
        for table, column in missing:
            _add_column(conn, table.name, column)
        for index in new_indexes:
            index.create(conn, checkfirst=True)


def _add_column(conn: Connection, table: str, column: Any) -> None:
    if not column.nullable and column.server_default is None:
        raise InvalidState(
            f"this database's table {table!r} has no column {column.name!r}, which this version "
            "needs and cannot fill in for the rows already there; build a new database (or "
            "schema) with this version", table=table, column=column.name)
    ddl = CreateColumn(column).compile(dialect=conn.dialect)
    quote = conn.dialect.identifier_preparer.quote
    conn.execute(text(f"ALTER TABLE {quote(table)} ADD COLUMN {ddl}"))


# The unit of work open in this thread or task, if any: (engine, its connection).
_UNIT: ContextVar[tuple[Engine, Connection] | None] = ContextVar("mcp_shop_unit", default=None)


def _joined(engine: Engine) -> Connection | None:
    unit = _UNIT.get()
    return unit[1] if unit is not None and unit[0] is engine else None


class _Idle(threading.local):
    """The connection this thread last finished a transaction on, kept for its next one."""

    held: tuple[Engine, Pool, Connection] | None = None


_IDLE = _Idle()


def _take(engine: Engine) -> Connection:
    """A connection for a new transaction: on SQLite the one this thread used last on
    ``engine`` if it is idle, else one from the engine's pool.

    Checking a connection out of SQLAlchemy's pool and back in (with its reset) costs more than
    a short transaction's own statements; a thread keeps at most one connection this way (of
    the last engine it used), which goes back to the pool when the thread ends or moves to
    another engine, or after ``engine.dispose()`` (which replaces the pool: the connections
    opened after it are new ones, as without this). PostgreSQL connections always come from
    the pool (its pre-ping checks them)."""
    held = _IDLE.held
    if held is not None and held[0] is engine:
        _IDLE.held = None
        if held[1] is engine.pool:
            return held[2]
        held[2].close()
    return engine.connect()


def _give_back(engine: Engine, conn: Connection, *, ok: bool) -> None:
    """After a transaction: keep a sound SQLite connection for this thread's next one, or
    return it to the pool (after a failure, or on PostgreSQL)."""
    if ok and engine.dialect.name == "sqlite" and not conn.closed and not conn.invalidated \
            and not conn.in_transaction():
        old, _IDLE.held = _IDLE.held, (engine, engine.pool, conn)
        if old is not None:
            old[2].close()
    else:
        conn.close()


@contextmanager
def write_tx(engine: Engine) -> Iterator[Connection]:
    """A transaction that may write: committed on success, rolled back on any exception.

    Inside ``unit_tx`` on the same engine it is the unit's transaction (an exception leaving
    it then rolls back the whole unit, when it leaves the unit too).
    """
    joined = _joined(engine)
    if joined is not None:
        yield joined
        return
    conn = _take(engine)
    ok = False
    try:
        conn.execution_options(tx_mode="IMMEDIATE")  # changes the connection in place
        with conn.begin():
            yield conn
        ok = True
    finally:
        _give_back(engine, conn, ok=ok)


@contextmanager
def unit_tx(engine: Engine) -> Iterator[Connection]:
    """A write transaction that the transactions opened inside it (same engine, same thread
    or task) join: everything in it commits once at the end or not at all.

    Code inside must not catch an error from a joined transaction and carry on, since that
    transaction's changes are only undone when the whole unit rolls back.
    """
    if _joined(engine) is not None:
        raise RuntimeError("unit_tx: a unit of work is already open on this engine")
    with write_tx(engine) as conn:
        token = _UNIT.set((engine, conn))
        try:
            yield conn
        finally:
            _UNIT.reset(token)


@contextmanager
def read_tx(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction (a consistent snapshot on both backends); inside ``unit_tx`` on
    the same engine, the unit's transaction."""
    joined = _joined(engine)
    if joined is not None:
        yield joined
        return
    conn = _take(engine)
    ok = False
    try:
        if conn.dialect.name == "postgresql":
            # READ COMMITTED would let each statement see other processes' newer commits.
            conn.execution_options(isolation_level="REPEATABLE READ")
        else:
            conn.execution_options(tx_mode="DEFERRED")
        with conn.begin():
            yield conn
        ok = True
    finally:
        _give_back(engine, conn, ok=ok)


def ping(engine: Engine) -> None:
    """Raise if the database cannot be reached."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
