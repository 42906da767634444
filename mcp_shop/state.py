"""Snapshots of one session's state, for diffs (verifiers) and for checking that a rejected
operation changed nothing.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from sqlalchemy import Connection

from mcp_shop.models import SESSION_TABLES, ShopSession, TraceEvent
from mcp_shop.sql import Sql

__all__ = ["session_snapshot", "snapshot_bytes"]


@cache
def _statements(include_trace: bool) -> tuple[tuple[str, Sql, tuple[str, ...]], ...]:
    """Per table: its name, the statement reading a session's rows, and its column names.
    Without the trace, the trace table is left out and so is ``trace_seq`` (the trace's
    length), whose column is then not read."""
    out = []
    for model in SESSION_TABLES:
        if model is TraceEvent and not include_trace:
            continue
        table = model.__table__  # type: ignore[union-attr,attr-defined]
        key = "id" if model is ShopSession else "session_id"
        order = ", ".join(c.name for c in table.primary_key.columns)
        names = tuple(c.name for c in table.columns
                      if include_trace or c.name != "trace_seq")
        out.append((table.name, Sql(f"SELECT {', '.join(names)} FROM {table.name} "
                                    f"WHERE {key} = ? ORDER BY {order}"), names))
    return tuple(out)


def session_snapshot(conn: Connection, session_id: str, *,
                     include_trace: bool = False) -> dict[str, list[dict[str, Any]]]:
    """Every row of every per-session table for ``session_id``, by table, in key order.

    Values are as the driver returns them (on SQLite, timestamps and JSON as text), which is
    what comparisons of two snapshots need; one statement per table on the driver keeps a
    snapshot near a millisecond, since the episode controller takes several per episode.
    """
    driver = conn.connection.dbapi_connection
    assert driver is not None
    sqlite = conn.dialect.name == "sqlite"
    params = (session_id,)
    out: dict[str, list[dict[str, Any]]] = {}
    cursor = driver.cursor()  # one for every table (a new one per statement costs more)
    try:
        for name, sql, names in _statements(include_trace):
            cursor.execute(sql.sqlite if sqlite else sql.text(conn), params)
            out[name] = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        cursor.close()
    return out


def snapshot_bytes(snapshot: dict[str, list[dict[str, Any]]]) -> bytes:
    """A canonical byte encoding of a snapshot (equal bytes = identical state)."""
    return json.dumps(snapshot, sort_keys=True, default=str).encode()
