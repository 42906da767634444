"""The per-session trace of tool calls, written by the server and read by the episode
controller. The shop itself never reads it.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, select

from mcp_shop.errors import NotFound
from mcp_shop.models import ShopSession, TraceEvent
from mcp_shop.sql import Sql, fetch_one, run

__all__ = ["TraceRecord", "read_trace", "record_call"]

T = TraceEvent.__table__  # type: ignore[attr-defined]
S = ShopSession.__table__  # type: ignore[attr-defined]


class TraceRecord(BaseModel):
    """One recorded call."""

    seq: int
    tool: str
    arguments: dict[str, Any]
    ok: bool
    error_code: str | None
    error_message: str | None
    result: Any
    result_digest: str | None
    latency_ms: float
    clock: Any


_BUMP = Sql("UPDATE shop_session SET trace_seq = trace_seq + 1 WHERE id = ? "
            "RETURNING trace_seq, clock")
_EVENT = Sql("""INSERT INTO trace_event (session_id, seq, tool, arguments, ok, error_code,
                error_message, result, result_digest, latency_ms, clock)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""")


def record_call(conn: Connection, session_id: str, *, tool: str, arguments: dict[str, Any],
                ok: bool, error_code: str | None = None, error_message: str | None = None,
                result: Any = None, result_digest: str | None = None,
                latency_ms: float = 0.0, result_json: str | None = None) -> int:
    """Append a call to the session's trace; returns its sequence number.

    ``result_json``, when given, is ``result`` already serialised (the server has that text
    from computing the digest). Raises NotFound for an unknown session (nothing is written
    then).
    """
    row = fetch_one(conn, _BUMP, (session_id,))
    if row is None:
        raise NotFound("unknown session_id: open a session with open_session first")
    seq, clock = row
    if result_json is None and result is not None:
        result_json = json.dumps(result, default=str)
    run(conn, _EVENT, (session_id, seq, tool, json.dumps(arguments, default=str), ok, error_code,
                       error_message, result_json, result_digest, latency_ms, clock))
    return int(seq)


def read_trace(conn: Connection, session_id: str) -> list[TraceRecord]:
    """The session's calls in order."""
    rows = conn.execute(select(T).where(T.c.session_id == session_id).order_by(T.c.seq))
    return [TraceRecord.model_validate(dict(r._mapping)) for r in rows]
