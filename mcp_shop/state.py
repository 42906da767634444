"""Snapshots of one session's state, for diffs (verifiers) and for checking that a rejected
operation changed nothing.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, select

from mcp_shop.models import SESSION_TABLES, ShopSession, TraceEvent

__all__ = ["session_snapshot", "snapshot_bytes"]


def session_snapshot(conn: Connection, session_id: str, *,
                     include_trace: bool = False) -> dict[str, list[dict[str, Any]]]:
    """Every row of every per-session table for ``session_id``, by table, in key order."""
    out: dict[str, list[dict[str, Any]]] = {}
    for model in SESSION_TABLES:
        if model is TraceEvent and not include_trace:
            continue
        table = model.__table__  # type: ignore[union-attr,attr-defined]
        key = table.c.id if model is ShopSession else table.c.session_id
        rows = conn.execute(
            select(table).where(key == session_id).order_by(*table.primary_key.columns)
        ).mappings().all()
        out[table.name] = [
            {k: v for k, v in r.items() if include_trace or k != "trace_seq"} for r in rows
        ]
    return out


def snapshot_bytes(snapshot: dict[str, list[dict[str, Any]]]) -> bytes:
    """A canonical byte encoding of a snapshot (equal bytes = identical state)."""
    return json.dumps(snapshot, sort_keys=True, default=str).encode()
