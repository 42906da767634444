"""Bulk writers for the catalog load: one transaction on a raw DBAPI connection.

SQLite uses ``executemany`` with a rollback journal instead of the write-ahead log,
``synchronous=OFF`` and a large page cache, for the load only; PostgreSQL uses
``COPY ... FROM STDIN`` under an advisory lock so two builders never race.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any

from sqlalchemy import Engine

from mcp_shop.db import sqlite_path
from mcp_shop.locks import database_lock

__all__ = ["PostgresWriter", "SqliteWriter", "Writer"]


class Writer:
    """A write transaction for the catalog load (use as a context manager)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._raw: Any = None
        self.cur: Any = None
        self._held = contextlib.ExitStack()

    def __enter__(self) -> Writer:
        self._held.enter_context(self._lock())
        try:
            self._raw = self.engine.raw_connection()
            self.cur = self._raw.driver_connection.cursor()
        except BaseException:
            self._held.close()
            raise
        try:
            self._begin()
        except BaseException:
            self._close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if exc_type is None:
                self._commit()
            else:
                self._rollback()
        finally:
            self._close()

    def _lock(self) -> contextlib.AbstractContextManager[Any]:
        """What the load holds from start to end (nothing here)."""
        return contextlib.nullcontext()

    def _begin(self) -> None:
        raise NotImplementedError

    def _commit(self) -> None:
        self._raw.driver_connection.commit()

    def _rollback(self) -> None:
        self._raw.driver_connection.rollback()

    def _close(self) -> None:
        try:
            try:
                self.cur.close()
            finally:
                self._raw.close()
        finally:
            self._held.close()

    def execute(self, sql: str) -> None:
        """Run one statement (DDL) in the transaction."""
        self.cur.execute(sql)

    def query_one(self, sql: str) -> tuple | None:
        """The first row of a query, or None."""
        self.cur.execute(sql)
        return self.cur.fetchone()

    def copy(self, table: str, columns: Sequence[str], rows: Iterable[tuple]) -> None:
        """Append many rows to ``table`` as fast as the backend allows."""
        self.insert(table, columns, rows)

    def insert(self, table: str, columns: Sequence[str], rows: Iterable[tuple]) -> None:
        """Insert rows with a prepared statement."""
        raise NotImplementedError

    def analyze(self, tables: Sequence[str]) -> None:
        """Refresh the planner's statistics of ``tables``."""
        for table in tables:
            self.cur.execute(f"ANALYZE {table}")


class SqliteWriter(Writer):
    """``BEGIN IMMEDIATE`` + ``executemany``; durability pragmas relaxed during the load only.

    A load written through the write-ahead log is written twice (log, then checkpoint), so
    when no other connection has the database open the writer switches it to a rollback
    journal for the load and back to WAL afterwards. With other connections open SQLite
    refuses the switch and the load simply goes through the log.
    """

    _PRAGMAS = {"synchronous": "OFF", "cache_size": "-262144", "analysis_limit": "1000"}

    def _lock(self) -> contextlib.AbstractContextManager[Any]:
        """The database's lock, exclusively (``mcp_shop.locks``): a process connecting while
        the file is out of WAL mode would fail; it waits for the load instead."""
        return database_lock(sqlite_path(self.engine.url))

    def _begin(self) -> None:
        self._saved = {name: self.cur.execute(f"PRAGMA {name}").fetchone()[0]
                       for name in self._PRAGMAS}
        for name, value in self._PRAGMAS.items():
            self.cur.execute(f"PRAGMA {name}={value}")
        self._wal = self.cur.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        self._was_wal = self._wal
        if self._wal:
            # 'database is locked' when other connections have it open: keep the log then
            with contextlib.suppress(sqlite3.OperationalError):
                self._wal = self.cur.execute("PRAGMA journal_mode=DELETE").fetchone()[0] == "wal"
        self.cur.execute("BEGIN IMMEDIATE")

    def _commit(self) -> None:
        self.cur.execute("COMMIT")
        if self._wal:
            # Fold the load out of the log so the -wal file does not stay huge. Readers of an
            # older snapshot make the checkpoint wait: never wait for them (busy_timeout 0);
            # the log is then checkpointed later, as usual.
            timeout = self.cur.execute("PRAGMA busy_timeout").fetchone()[0]
            try:
                self.cur.execute("PRAGMA busy_timeout=0")
                with contextlib.suppress(sqlite3.OperationalError):
                    self.cur.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            finally:
                self.cur.execute(f"PRAGMA busy_timeout={int(timeout)}")

    def _rollback(self) -> None:
        conn = self._raw.driver_connection
        if conn.in_transaction:
            self.cur.execute("ROLLBACK")

    def _close(self) -> None:
        try:
            for name, value in getattr(self, "_saved", {}).items():
                self.cur.execute(f"PRAGMA {name}={value}")
            if getattr(self, "_was_wal", False) and not self._wal:
                self.cur.execute("PRAGMA journal_mode=WAL")
        finally:
            super()._close()

    def insert(self, table: str, columns: Sequence[str], rows: Iterable[tuple]) -> None:
        marks = ", ".join("?" * len(columns))
        self.cur.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)


class PostgresWriter(Writer):
    """``COPY ... FROM STDIN`` in one transaction holding an advisory lock on the schema."""

    def _begin(self) -> None:
        # one lock per schema: builds into other schemas of the database do not wait
        schema = self.cur.execute("SELECT current_schema()").fetchone()[0]
        digest = hashlib.sha256(f"mcp-shop-catalog:{schema}".encode()).digest()
        self.cur.execute("SELECT pg_advisory_xact_lock(%s)",
                         (int.from_bytes(digest[:8], "big", signed=True),))
        self.cur.execute("SET LOCAL maintenance_work_mem = '256MB'")

    def copy(self, table: str, columns: Sequence[str], rows: Iterable[tuple]) -> None:
        with self.cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as out:
            for row in rows:
                out.write_row(row)

    def insert(self, table: str, columns: Sequence[str], rows: Iterable[tuple]) -> None:
        marks = ", ".join(["%s"] * len(columns))
        self.cur.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                             list(rows))
