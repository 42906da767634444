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

__all__ = [
    "SQLITE_DATETIME",
    "Sql",
    "as_bool",
    "as_datetime",
    "as_json",
    "db_value",
    "fetch_all",
    "fetch_one",
    "insert",
    "run",
]

# How SQLAlchemy stores DateTime on SQLite; hand-written writes must match it exactly, since
# SQLite compares timestamps as text.
SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"


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


def fetch_one(conn: Connection, sql: Sql, params: Sequence[Any] = ()) -> Any:
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


_INSERTS: dict[tuple[str, tuple[str, ...], bool], Sql] = {}


def _db_value(conn: Connection, value: Any) -> Any:
    """A Python value as the driver should receive it (SQLAlchemy's SQLite formats included)."""
    if isinstance(value, datetime):
        return value.strftime(SQLITE_DATETIME) if conn.dialect.name == "sqlite" else value
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


_DEFAULTS: dict[str, dict[str, Any]] = {}


def _scalar_defaults(table: Any) -> dict[str, Any]:
    """The table's Python-side scalar column defaults (what Core would have filled in)."""
    found = _DEFAULTS.get(table.name)
    if found is None:
        found = _DEFAULTS[table.name] = {
            c.name: c.default.arg for c in table.columns
            if c.default is not None and c.default.is_scalar
        }
    return found


def insert(conn: Connection, table: Any, rows: dict[str, Any] | Sequence[dict[str, Any]],
           *, returning_id: bool = False) -> Any:
    """INSERT one row (a dict) or many (a list of dicts with the same keys) into ``table``.

    With ``returning_id`` (one row only) the new row's ``id`` is returned.
    """
    many = not isinstance(rows, dict)
    batch: list[dict[str, Any]] = [rows] if isinstance(rows, dict) else list(rows)
    if not batch:
        return None
    defaults = _scalar_defaults(table)
    missing = {k: v for k, v in defaults.items() if k not in batch[0]}
    if missing:
        batch = [{**missing, **row} for row in batch]
    keys = tuple(batch[0])
    cache_key = (table.name, keys, returning_id)
    sql = _INSERTS.get(cache_key)
    if sql is None:
        text = (f"INSERT INTO {table.name} ({', '.join(keys)}) "
                f"VALUES ({', '.join('?' * len(keys))})")
        sql = _INSERTS[cache_key] = Sql(text + (" RETURNING id" if returning_id else ""))
    params = [tuple(_db_value(conn, row[k]) for k in keys) for row in batch]
    if many:
        return conn.exec_driver_sql(sql.text(conn), params)
    result = conn.exec_driver_sql(sql.text(conn), params[0])
    return result.scalar_one() if returning_id else result


def db_value(conn: Connection, value: Any) -> Any:
    """A parameter for a hand-written statement (datetimes in SQLAlchemy's SQLite format)."""
    return _db_value(conn, value)
