"""Hand-written SQL for the hot paths (cart, session lookup, trace), run on the driver.

A statement through SQLAlchemy Core costs about 90 us (construction, cache key, compile cache,
result processing); through ``exec_driver_sql`` about 20 us, most of it building result
metadata; on the DBAPI connection itself, a few microseconds. Statements here are written once
with ``?`` placeholders in SQL that both SQLite and PostgreSQL accept, converted to the
driver's paramstyle per dialect, and executed on the driver connection under the SQLAlchemy
``Connection``'s transaction (which SQLAlchemy began and will commit). Values come back raw, so
the helpers below normalise what differs between drivers (SQLite returns JSON and timestamps
as text). Rows are named tuples: indexable, unpackable, and readable by column name.
"""

from __future__ import annotations

import json
from collections import namedtuple
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

__all__ = [
    "SQLITE_DATETIME",
    "Rows",
    "Sql",
    "as_bool",
    "as_datetime",
    "as_json",
    "db_value",
    "fetch_all",
    "fetch_one",
    "insert",
    "run",
    "run_many",
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


_ROW_TYPES: dict[str, Any] = {}  # statement -> the named tuple of its rows


def _row_type(statement: str, description: Any) -> Any:
    cls = _ROW_TYPES.get(statement)
    if cls is None:
        names = tuple(d[0] for d in description)
        cls = _ROW_TYPES[statement] = namedtuple("Row", names, rename=True)  # type: ignore[misc]
    return cls


class Rows:
    """The result of one statement on the driver: the parts of SQLAlchemy's ``CursorResult``
    that the hot paths use."""

    __slots__ = ("_cursor", "_make")

    def __init__(self, cursor: Any, statement: str = "") -> None:
        self._cursor = cursor
        description = cursor.description
        self._make = None if description is None else _row_type(statement, description)._make

    @property
    def rowcount(self) -> int:
        """Rows changed by an UPDATE, INSERT or DELETE."""
        return int(self._cursor.rowcount)

    def keys(self) -> list[str]:
        """The column names."""
        return [d[0] for d in self._cursor.description or ()]

    def first(self) -> Any:
        """The first row, or None (the rest are discarded)."""
        row = self._cursor.fetchone() if self._make is not None else None
        self._cursor.close()
        return None if row is None else self._make(row)  # type: ignore[misc]

    def all(self) -> list[Any]:
        """Every row."""
        if self._make is None:
            return []
        make = self._make
        return [make(r) for r in self._cursor.fetchall()]

    fetchall = all

    def scalar_one(self) -> Any:
        """The one row's first column (ValueError unless exactly one row)."""
        rows = self.all()
        if len(rows) != 1:
            raise ValueError(f"expected exactly one row, got {len(rows)}")
        return rows[0][0]


def _driver(conn: Connection) -> Any:
    """The DBAPI connection under ``conn`` (inside the transaction ``conn`` began). Both
    drivers are synchronous, so it is also the driver's own connection (``driver_connection``,
    one property lookup more)."""
    return conn.connection.dbapi_connection


def run(conn: Connection, sql: Sql, params: Sequence[Any] = ()) -> Rows:
    """Execute ``sql`` with positional ``params`` on the driver; returns its rows."""
    statement = sql.text(conn)
    return Rows(_driver(conn).execute(statement, tuple(params)), statement)


def run_many(conn: Connection, sql: Sql, params: Sequence[Sequence[Any]]) -> None:
    """Execute ``sql`` once per parameter tuple (no result)."""
    _driver(conn).cursor().executemany(sql.text(conn), [tuple(p) for p in params])


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


_PLAIN = frozenset({int, str, float, bool, type(None)})  # passed to the driver as they are


def _converted(value: Any, sqlite: bool) -> Any:
    """``_db_value`` for a value that is not plain, the dialect known."""
    if isinstance(value, datetime):
        return value.strftime(SQLITE_DATETIME) if sqlite else value
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
    sqlite = conn.dialect.name == "sqlite"
    params = [tuple(v if v.__class__ in _PLAIN else _converted(v, sqlite)
                    for v in map(row.__getitem__, keys)) for row in batch]
    if many:
        return run_many(conn, sql, params)
    result = run(conn, sql, params[0])
    return result.scalar_one() if returning_id else result


def db_value(conn: Connection, value: Any) -> Any:
    """A parameter for a hand-written statement (datetimes in SQLAlchemy's SQLite format)."""
    return _db_value(conn, value)
