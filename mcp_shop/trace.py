"""The per-session trace of tool calls, written by the server and read by the episode
controller. The shop itself never reads it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, select, update

from mcp_shop.models import ShopSession, TraceEvent

__all__ = ["TraceRecord", "read_trace", "record_call"]

T = TraceEvent.__table__
S = ShopSession.__table__


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


def record_call(conn: Connection, session_id: str, *, tool: str, arguments: dict[str, Any],
                ok: bool, error_code: str | None = None, error_message: str | None = None,
                result: Any = None, result_digest: str | None = None,
                latency_ms: float = 0.0) -> int:
    """Append a call to the session's trace; returns its sequence number."""
    row = conn.execute(select(S.c.trace_seq, S.c.clock).where(S.c.id == session_id)
                       .with_for_update()).one()
    seq = row.trace_seq + 1
    conn.execute(update(S).where(S.c.id == session_id).values(trace_seq=seq))
    conn.execute(T.insert().values(
        session_id=session_id, seq=seq, tool=tool, arguments=arguments, ok=ok,
        error_code=error_code, error_message=error_message, result=result,
        result_digest=result_digest, latency_ms=latency_ms, clock=row.clock))
    return seq


def read_trace(conn: Connection, session_id: str) -> list[TraceRecord]:
    """The session's calls in order."""
    rows = conn.execute(select(T).where(T.c.session_id == session_id).order_by(T.c.seq))
    return [TraceRecord.model_validate(dict(r._mapping)) for r in rows]
