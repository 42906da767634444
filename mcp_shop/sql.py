"""Hand-written SQL for the hot paths (cart, session lookup, trace), run through the driver.

A statement through SQLAlchemy Core costs about 90 us (construction, cache key, compile cache,
result processing); the same statement through ``exec_driver_sql`` about 20 us. Statements here
are written once with ``?`` placeholders in SQL that both SQLite and PostgreSQL accept, and
converted to the driver's paramstyle per dialect. Values come back raw, so the helpers below
normalise what differs between drivers (SQLite returns JSON and timestamps as text).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

__all__ = ["Sql", "as_bool", "as_datetime", "as_json", "fetch_all", "fetch_one", "run"]


class Sql:
    """One statement, with its text for each dialect computed once."""

    __slots__ = ("_pg", "sqlite")

    def __init__(self, sqlite: str, *, pg: str | None = None) -> None:
        self.sqlite = " ".join(sqlite.split())
        source = " ".join(pg.split()) if pg is not None else self.sqlite
        self._pg = source.replace("%", "%%").replace("?", "%s")

    def text(self, conn: Connection) -> str:
        """The statement for ``conn``'s dialect."""
        return self.sqlite if conn.dialect.name == "sqlite" else self._pg


def run(conn: Connection, sql: Sql, params: Sequence[Any] = ()) -> Any:
    """Execute ``sql`` with positional ``params``; returns the driver-level result."""
    return conn.exec_driver_sql(sql.text(conn), tuple(params))


def fetch_one(conn: Connection, sql: Sql, params: Sequence[Any] = ()) -> Any | None:
    """The first row, or None."""
    return run(conn, sql, params).first()


def fetch_all(conn: Connection, sql: Sql, params: Sequence[Any] = ()) -> list[Any]:
    """Every row."""
    return list(run(conn, sql, params).all())


def as_json(value: Any) -> Any:
    """A JSON column's value: parsed from text on SQLite, already parsed on PostgreSQL."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def as_datetime(value: Any) -> datetime | None:
    """A timestamp column's value as a naive datetime (SQLite stores ISO text)."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def as_bool(value: Any) -> bool:
    """A boolean column's value (SQLite stores 0/1)."""
    return bool(value)
