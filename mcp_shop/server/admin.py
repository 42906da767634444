"""Dev and test controls for a session served by another process: move its simulated clock and
read its trace straight from the database. Not exposed to MCP clients.

    from mcp_shop.server import admin
    admin.advance_clock("sqlite:///shop.db", session_id, days=6)
    calls = admin.read_trace("sqlite:///shop.db", session_id)

In the serving process itself, use ``server.shop.advance_clock(...)`` and
``server.shop.trace(...)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Engine

from mcp_shop import sessions
from mcp_shop.db import make_engine, read_tx, write_tx
from mcp_shop.trace import TraceRecord
from mcp_shop.trace import read_trace as _read_trace

__all__ = ["advance_clock", "read_trace"]


@contextmanager
def _engine(db: str | Engine, schema: str | None) -> Iterator[Engine]:
    if isinstance(db, Engine):
        yield db
        return
    engine = make_engine(db, schema=schema)
    try:
        yield engine
    finally:
        engine.dispose()


def advance_clock(db: str | Engine, session_id: str, *, days: float = 0, hours: float = 0,
                  schema: str | None = None) -> datetime:
    """Move a session's simulated clock forward (orders move with it); returns the new time.

    Args:
        db: the database URL (or an engine) the server uses.
        session_id: the session's handle.
        days: how many days forward.
        hours: how many hours forward.
        schema: PostgreSQL schema, if the server uses one.
    """
    with _engine(db, schema) as engine, write_tx(engine) as conn:
        return sessions.advance_clock(conn, session_id, sessions.clock_step(days, hours))


def read_trace(db: str | Engine, session_id: str, *,
               schema: str | None = None) -> list[TraceRecord]:
    """Every recorded tool call of a session, in order."""
    with _engine(db, schema) as engine, read_tx(engine) as conn:
        sessions.read_session(conn, session_id)
        return _read_trace(conn, session_id)
