"""Snapshots of one session's state, for diffs (verifiers) and for checking that a rejected
operation changed nothing.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from sqlalchemy import Connection

from mcp_shop.models import SESSION_TABLES, ShopSession, TraceEvent
from mcp_shop.sql import Sql, run

__all__ = ["session_snapshot", "snapshot_bytes"]


@cache
def _statements() -> tuple[tuple[str, Sql, bool], ...]:
    out = []
    for model in SESSION_TABLES:
        table = model.__table__  # type: ignore[union-attr,attr-defined]
        key = "id" if model is ShopSession else "session_id"
        order = ", ".join(c.name for c in table.primary_key.columns)
        cols = ", ".join(c.name for c in table.columns)
        out.append((table.name, Sql(f"SELECT {cols} FROM {table.name} WHERE {key} = ? "
                                    f"ORDER BY {order}"), model is TraceEvent))
    return tuple(out)


def session_snapshot(conn: Connection, session_id: str, *,
                     include_trace: bool = False) -> dict[str, list[dict[str, Any]]]:
    """Every row of every per-session table for ``session_id``, by table, in key order.

    Values are as the driver returns them (on SQLite, timestamps and JSON as text), which is
    what comparisons of two snapshots need; one statement per table through the driver keeps a
    snapshot near a millisecond, since the episode controller takes several per episode.
    """
    out: dict[str, list[dict[str, Any]]] = {}
    for name, sql, is_trace in _statements():
        if is_trace and not include_trace:
            continue
        result = run(conn, sql, (session_id,))
        keys = list(result.keys())
        rows = [dict(zip(keys, row, strict=True)) for row in result.fetchall()]
        if not include_trace:
            for r in rows:
                r.pop("trace_seq", None)
        out[name] = rows
    return out


def snapshot_bytes(snapshot: dict[str, list[dict[str, Any]]]) -> bytes:
    """A canonical byte encoding of a snapshot (equal bytes = identical state)."""
    return json.dumps(snapshot, sort_keys=True, default=str).encode()
